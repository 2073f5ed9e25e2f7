// IPIP encapsulation (RFC 2003) into the headroom in front of a received frame, as IPVS's
// ip_vs_tunnel_xmit builds it: outer source DIP, destination RIP, TTL 64, TOS copied from
// the inner header, protocol 4, a fresh identification and header checksum. DF is the
// caller's choice: copied from the inner header, and cleared when an inner packet without
// DF is too big for the tunnel, so that the path may fragment the outer packet.
// A new Ethernet header (to the kernel's MAC, from ours) goes in front. The inner IP
// packet is not touched.
//
//   before:            [eth 14][inner IP ...]
//   after:  [eth 14][outer IP 20][inner IP ...]     (starts 20 bytes earlier)
import { finalizeChecksum, sumBytes } from '../wire/checksum.js';
import { copyMac, ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import { IPPROTO_IPIP } from '../wire/ip-protocol.js';
import { writeIpv4 } from '../wire/ipv4-address.js';

export const OUTER_IPV4_LENGTH = 20;
export const ENCAP_TTL = 64;
/** Bytes the encapsulated frame needs in front of the inner IP header. */
export const ENCAP_HEADROOM = 14 + OUTER_IPV4_LENGTH;

/**
 * Encapsulates the inner IPv4 packet at data[ip .. ip+innerLength) in place and returns
 * the offset of the new frame (ip - 34); its length is innerLength + 34. The caller
 * guarantees ip - 34 is inside the packet's slot. `id` is the outer identification,
 * `df` the outer DF bit.
 */
export function encapIpip(
  data: Uint8Array,
  ip: number,
  innerLength: number,
  dip: number,
  rip: number,
  id: number,
  df: boolean,
  srcMac: Uint8Array,
  dstMac: Uint8Array,
): number {
  const o = ip - OUTER_IPV4_LENGTH;
  const total = innerLength + OUTER_IPV4_LENGTH;
  data[o] = 0x45;
  data[o + 1] = data[ip + 1]; // TOS/DSCP+ECN
  data[o + 2] = total >>> 8;
  data[o + 3] = total;
  data[o + 4] = id >>> 8;
  data[o + 5] = id;
  data[o + 6] = df ? 0x40 : 0;
  data[o + 7] = 0;
  data[o + 8] = ENCAP_TTL;
  data[o + 9] = IPPROTO_IPIP;
  data[o + 10] = 0;
  data[o + 11] = 0;
  writeIpv4(data, o + 12, dip);
  writeIpv4(data, o + 16, rip);
  const c = finalizeChecksum(sumBytes(data, o, OUTER_IPV4_LENGTH));
  data[o + 10] = c >>> 8;
  data[o + 11] = c;
  const e = o - 14;
  copyMac(dstMac, 0, data, e);
  copyMac(srcMac, 0, data, e + 6);
  data[e + 12] = ETHERTYPE_IPV4 >>> 8;
  data[e + 13] = ETHERTYPE_IPV4 & 0xff;
  return e;
}
