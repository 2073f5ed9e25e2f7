// "Too big" answers to clients. An inner IPv4 packet with DF set that does not fit the
// tunnel gets ICMP type 3 code 4 (RFC 792, next-hop MTU per RFC 1191) from the VIP it was
// sent to, quoting its IP header plus 8 bytes, so the client's TCP lowers its segment size.
// The message is built in the headroom in front of the offending packet: its quoted part
// stays where it is, and only the ICMP header, a new IP header and Ethernet go in front.
//
//   before:                          [eth 14][IP hlen][8 bytes][rest ...]
//   after:  [eth 14][IP 20][ICMP 8][IP hlen][8 bytes]      (starts 28 bytes earlier)
import { copyMac, ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import { ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, ICMPV4_HEADER_LENGTH, writeIcmpv4Error } from '../wire/icmpv4.js';
import { IPPROTO_ICMP } from '../wire/ip-protocol.js';
import { writeOuterIpv4Fields } from '../wire/ipip.js';
import { readIpv4 } from '../wire/ipv4-address.js';

/** Bytes of headroom writeFragNeededV4 needs in front of the offending IP header. */
export const FRAG_NEEDED_HEADROOM = 14 + 20 + ICMPV4_HEADER_LENGTH;
const ICMP_ERROR_TTL = 64;
/** Precedence "internetwork control", as Linux marks the ICMP errors it sends. */
const ICMP_ERROR_TOS = 0xc0;

/**
 * Writes the frag-needed frame for the IPv4 packet at data[ip .. ip+total) (header length
 * hlen) and returns its frame offset; the frame is fragNeededFrameLength(hlen, total) bytes.
 * `mtu` is the next-hop MTU to report (bytes, 16 bits), `id` the IP identification. The
 * caller guarantees FRAG_NEEDED_HEADROOM bytes in front of `ip` belong to the packet.
 */
export function writeFragNeededV4(data: Uint8Array, ip: number, hlen: number, total: number, mtu: number, id: number, ourMac: Uint8Array, kernelMac: Uint8Array): number {
  const quoted = Math.min(total, hlen + 8);
  const icmp = ip - ICMPV4_HEADER_LENGTH;
  const src = readIpv4(data, ip + 16); // the VIP the client sent to
  const dst = readIpv4(data, ip + 12); // the client
  writeIcmpv4Error(data, icmp, ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, mtu & 0xffff, quoted);
  writeOuterIpv4Fields(data, icmp, src, dst, IPPROTO_ICMP, ICMPV4_HEADER_LENGTH + quoted, ICMP_ERROR_TTL, false, id, ICMP_ERROR_TOS);
  const eth = icmp - 20 - 14;
  copyMac(kernelMac, 0, data, eth);
  copyMac(ourMac, 0, data, eth + 6);
  data[eth + 12] = ETHERTYPE_IPV4 >>> 8;
  data[eth + 13] = ETHERTYPE_IPV4 & 0xff;
  return eth;
}

/** Frame length of writeFragNeededV4's output. */
export function fragNeededFrameLength(hlen: number, total: number): number {
  return FRAG_NEEDED_HEADROOM + Math.min(total, hlen + 8);
}
