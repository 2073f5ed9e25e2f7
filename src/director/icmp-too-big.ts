// "Too big" answers to clients (ICMPv6 Packet Too Big for IPv6, below). An inner IPv4 packet with DF set that does not fit the
// tunnel gets ICMP type 3 code 4 (RFC 792, next-hop MTU per RFC 1191) from the VIP it was
// sent to, quoting its IP header plus 8 bytes, so the client's TCP lowers its segment size.
// The message is built in the headroom in front of the offending packet: its quoted part
// stays where it is, and only the ICMP header, a new IP header and Ethernet go in front.
//
//   before:                          [eth 14][IP hlen][8 bytes][rest ...]
//   after:  [eth 14][IP 20][ICMP 8][IP hlen][8 bytes]      (starts 28 bytes earlier)
import { pseudoHeaderSumV6At } from '../wire/checksum.js';
import { copyMac, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, ICMPV4_HEADER_LENGTH, writeIcmpv4Error } from '../wire/icmpv4.js';
import { ICMPV6_HEADER_LENGTH, ICMPV6_PACKET_TOO_BIG, writeIcmpv6Message } from '../wire/icmpv6.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../wire/ip-protocol.js';
import { writeOuterIpv4Fields } from '../wire/ipip.js';
import { readIpv4 } from '../wire/ipv4-address.js';
import { copyIpv6 } from '../wire/ipv6-address.js';

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

/** Bytes of headroom writePacketTooBigV6 needs in front of the offending IPv6 header. */
export const PACKET_TOO_BIG_HEADROOM = 14 + 40 + ICMPV6_HEADER_LENGTH;
/** An ICMPv6 error may not exceed the minimum MTU (RFC 4443 §2.4 c). */
const ICMPV6_ERROR_MAX = 1280;

/**
 * Writes an ICMPv6 Packet Too Big (RFC 4443 §3.2) for the IPv6 packet at data[ip ..
 * ip+total), from its destination (the VIP) to its source, quoting as much of it as keeps
 * the error within 1280 bytes, with `mtu` (bytes) in the MTU field. Returns the frame
 * offset; the frame is packetTooBigFrameLength(total) bytes. The caller guarantees
 * PACKET_TOO_BIG_HEADROOM bytes in front of `ip`.
 */
export function writePacketTooBigV6(data: Uint8Array, ip: number, total: number, mtu: number, ourMac: Uint8Array, kernelMac: Uint8Array): number {
  const quoted = Math.min(total, ICMPV6_ERROR_MAX - 40 - ICMPV6_HEADER_LENGTH);
  const icmp = ip - ICMPV6_HEADER_LENGTH;
  const h = icmp - 40;
  const bodyLen = ICMPV6_HEADER_LENGTH + quoted;
  data[h] = 0x60;
  data[h + 1] = 0;
  data[h + 2] = 0;
  data[h + 3] = 0;
  data[h + 4] = bodyLen >>> 8;
  data[h + 5] = bodyLen;
  data[h + 6] = IPPROTO_ICMPV6;
  data[h + 7] = ICMP_ERROR_TTL;
  copyIpv6(data, ip + 24, data, h + 8); // from the VIP
  copyIpv6(data, ip + 8, data, h + 24); // to the client
  writeIcmpv6Message(data, icmp, ICMPV6_PACKET_TOO_BIG, 0, mtu >>> 0, quoted, pseudoHeaderSumV6At(data, h + 8, h + 24, IPPROTO_ICMPV6, bodyLen));
  const eth = h - 14;
  copyMac(kernelMac, 0, data, eth);
  copyMac(ourMac, 0, data, eth + 6);
  data[eth + 12] = ETHERTYPE_IPV6 >>> 8;
  data[eth + 13] = ETHERTYPE_IPV6 & 0xff;
  return eth;
}

/** Frame length of writePacketTooBigV6's output. */
export function packetTooBigFrameLength(total: number): number {
  return PACKET_TOO_BIG_HEADROOM + Math.min(total, ICMPV6_ERROR_MAX - 40 - ICMPV6_HEADER_LENGTH);
}
