// VS/NAT header rewriting: one address and one port of a packet change, and every checksum
// that covers them is adjusted incrementally (RFC 1624 eqn. 3) instead of recomputed, so
// the cost does not depend on the payload length. The director uses it both ways:
//   in  (client → VIP:vport): destination  → RIP:rport   (side NAT_DST)
//   out (RS → client):        source RIP:rport → VIP:vport (side NAT_SRC)
// ICMP errors carry the offending packet's header, which travelled the other way, so
// translating one rewrites the outer address on one side and the quoted addresses/ports on
// the other side, then fixes the quoted IPv4 header checksum, the quoted TCP/UDP checksum
// (when the quote is long enough to hold it) and the ICMP checksum over all of that.
//
// Every function trusts offsets the parse stage has already checked (headers present in
// the buffer) and never throws; the return value says what could be rewritten.
//
//   IPv4 header                         TCP header            UDP header
//   12  source address                  0 source port         0 source port
//   16  destination address             2 destination port    2 destination port
//   10  header checksum                 16 checksum           6 checksum (0 = none)
import { foldSum, sumBytes, updateChecksum16 } from './checksum.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './ip-protocol.js';

/** Rewrite the source address and port (reply path, RS → client). */
export const NAT_SRC = 0;
/** Rewrite the destination address and port (forward path, client → RS). */
export const NAT_DST = 1;
export type NatSide = typeof NAT_SRC | typeof NAT_DST;

/** Results of the ICMP error translators. */
export const NAT_ICMP_OK = 0;
/** The quoted packet is too short to hold its IP header and the 8 bytes of ports (RFC 792). */
export const NAT_ICMP_TRUNCATED = 1;
/** The quoted packet is not TCP or UDP (nothing to map it back to). */
export const NAT_ICMP_NOT_TCP_UDP = 2;

const V4_SRC = 12;
const V4_DST = 16;
const V4_CSUM = 10;
const V6_SRC = 8;
const V6_DST = 24;

/** Offset of the L4 checksum field, or -1 for a protocol without ports. */
function l4ChecksumOffset(protocol: number): number {
  return protocol === IPPROTO_TCP ? 16 : protocol === IPPROTO_UDP ? 6 : -1;
}

/** Reads the big-endian 16-bit word at off. */
function get16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

function put16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v & 0xff;
}

/**
 * Replaces the 16-bit word at `off` by `word` and adjusts the checksums at csumA and csumB
 * (either may be -1: not covered). A UDP checksum of 0 means "none" and is left alone by
 * passing udpA/udpB; a UDP checksum that becomes 0 is sent as 0xffff (RFC 768).
 */
function replaceWord(buf: Uint8Array, off: number, word: number, csumA: number, udpA: boolean, csumB: number, udpB: boolean): void {
  const old = get16(buf, off);
  if (old === word) return;
  put16(buf, off, word);
  adjust(buf, csumA, udpA, old, word);
  adjust(buf, csumB, udpB, old, word);
}

function adjust(buf: Uint8Array, csumOff: number, udp: boolean, oldWord: number, newWord: number): void {
  if (csumOff < 0) return;
  const c = get16(buf, csumOff);
  if (udp && c === 0) return;
  let n = updateChecksum16(c, oldWord, newWord);
  if (udp && n === 0) n = 0xffff;
  put16(buf, csumOff, n);
}

/**
 * Rewrites one side of an IPv4 packet to addr:port (addr an unsigned 32-bit address, port
 * 0..65535). `l4Off` is the TCP/UDP header's offset, or -1 for a non-first fragment (only
 * the IPv4 header changes then: the first fragment carries the L4 checksum, which covers
 * the addresses through the pseudo-header and is fixed when that fragment passes).
 * `protocol` other than TCP/UDP changes the address only. Updates the IPv4 header checksum
 * and the TCP/UDP checksum; a UDP checksum of 0 stays 0.
 */
export function natRewriteIpv4(buf: Uint8Array, ipOff: number, l4Off: number, protocol: number, side: NatSide, addr: number, port: number): void {
  const aOff = ipOff + (side === NAT_SRC ? V4_SRC : V4_DST);
  const ipCsum = ipOff + V4_CSUM;
  const rel = l4Off >= 0 ? l4ChecksumOffset(protocol) : -1;
  const l4Csum = rel >= 0 ? l4Off + rel : -1;
  const udp = protocol === IPPROTO_UDP;
  replaceWord(buf, aOff, addr >>> 16, ipCsum, false, l4Csum, udp);
  replaceWord(buf, aOff + 2, addr & 0xffff, ipCsum, false, l4Csum, udp);
  if (l4Csum >= 0) replaceWord(buf, l4Off + (side === NAT_SRC ? 0 : 2), port, l4Csum, udp, -1, false);
}

/**
 * IPv6 counterpart: the 16-byte address at addrBuf[addrOff] replaces the source or
 * destination; no IP header checksum, so only the TCP/UDP checksum (pseudo-header and
 * port) changes. `l4Off` -1 for a non-first fragment.
 */
export function natRewriteIpv6(
  buf: Uint8Array,
  ipOff: number,
  l4Off: number,
  protocol: number,
  side: NatSide,
  addrBuf: Uint8Array,
  addrOff: number,
  port: number,
): void {
  const aOff = ipOff + (side === NAT_SRC ? V6_SRC : V6_DST);
  const rel = l4Off >= 0 ? l4ChecksumOffset(protocol) : -1;
  const l4Csum = rel >= 0 ? l4Off + rel : -1;
  const udp = protocol === IPPROTO_UDP;
  for (let i = 0; i < 16; i += 2) replaceWord(buf, aOff + i, get16(addrBuf, addrOff + i), l4Csum, udp, -1, false);
  if (l4Csum >= 0) replaceWord(buf, l4Off + (side === NAT_SRC ? 0 : 2), port, l4Csum, udp, -1, false);
}

/**
 * Translates an ICMPv4 error (destination unreachable, time exceeded, ...) at icmpOff whose
 * message ends at icmpEnd. `side` is the OUTER side to rewrite: NAT_SRC when the error
 * goes out to the client (its source becomes the VIP; the quoted client → RIP:rport packet
 * becomes client → VIP:vport), NAT_DST when it comes in from the client side (its
 * destination becomes the RIP; the quoted VIP:vport → client packet becomes RIP:rport →
 * client). Returns NAT_ICMP_OK, or a NAT_ICMP_* reason and leaves the packet unchanged.
 */
export function natRewriteIcmpv4Error(buf: Uint8Array, ipOff: number, icmpOff: number, icmpEnd: number, side: NatSide, addr: number, port: number): number {
  const q = icmpOff + 8;
  if (q + 20 > icmpEnd) return NAT_ICMP_TRUNCATED;
  const qIhl = (buf[q] & 0x0f) * 4;
  const qProto = buf[q + 9];
  const qL4 = q + qIhl;
  if (qIhl < 20 || qL4 + 8 > icmpEnd) return NAT_ICMP_TRUNCATED;
  const rel = l4ChecksumOffset(qProto);
  if (rel < 0) return NAT_ICMP_NOT_TCP_UDP;
  const icmpCsum = icmpOff + 2;
  // Outer header: its checksum only (ICMPv4 has no pseudo-header).
  const outer = ipOff + (side === NAT_SRC ? V4_SRC : V4_DST);
  replaceWord(buf, outer, addr >>> 16, ipOff + V4_CSUM, false, -1, false);
  replaceWord(buf, outer + 2, addr & 0xffff, ipOff + V4_CSUM, false, -1, false);
  // The quoted packet travelled the other way: the opposite side holds VIP or RIP.
  const inner = q + (side === NAT_SRC ? V4_DST : V4_SRC);
  const innerPort = qL4 + (side === NAT_SRC ? 2 : 0);
  const udp = qProto === IPPROTO_UDP;
  const qL4Csum = qL4 + rel + 2 <= icmpEnd ? qL4 + rel : -1;
  // Everything that changes in the quote (addresses, port, both quoted checksums) lies in
  // [q, regionEnd): the ICMP checksum moves by the difference of that region's sums.
  const regionEnd = qL4Csum >= 0 ? qL4Csum + 2 : qL4 + 8;
  const before = foldSum(sumBytes(buf, q, regionEnd - q));
  replaceWord(buf, inner, addr >>> 16, q + V4_CSUM, false, qL4Csum, udp);
  replaceWord(buf, inner + 2, addr & 0xffff, q + V4_CSUM, false, qL4Csum, udp);
  replaceWord(buf, innerPort, port, qL4Csum, udp, -1, false);
  adjust(buf, icmpCsum, false, before, foldSum(sumBytes(buf, q, regionEnd - q)));
  return NAT_ICMP_OK;
}

/**
 * ICMPv6 counterpart (RFC 4443 errors: the quote starts with the 40-byte IPv6 header; the
 * quoted transport header is expected right after it, as IPVS expects). The ICMPv6
 * checksum covers a pseudo-header, so the outer address change moves it too.
 */
export function natRewriteIcmpv6Error(
  buf: Uint8Array,
  ipOff: number,
  icmpOff: number,
  icmpEnd: number,
  side: NatSide,
  addrBuf: Uint8Array,
  addrOff: number,
  port: number,
): number {
  const q = icmpOff + 8;
  const qL4 = q + 40;
  if (qL4 + 8 > icmpEnd) return NAT_ICMP_TRUNCATED;
  const qProto = buf[q + 6];
  const rel = l4ChecksumOffset(qProto);
  if (rel < 0) return NAT_ICMP_NOT_TCP_UDP;
  const icmpCsum = icmpOff + 2;
  const outer = ipOff + (side === NAT_SRC ? V6_SRC : V6_DST);
  const inner = q + (side === NAT_SRC ? V6_DST : V6_SRC);
  const innerPort = qL4 + (side === NAT_SRC ? 2 : 0);
  const udp = qProto === IPPROTO_UDP;
  const qL4Csum = qL4 + rel + 2 <= icmpEnd ? qL4 + rel : -1;
  const regionEnd = qL4Csum >= 0 ? qL4Csum + 2 : qL4 + 8;
  const before = foldSum(sumBytes(buf, q, regionEnd - q));
  for (let i = 0; i < 16; i += 2) {
    const w = get16(addrBuf, addrOff + i);
    // The outer address is in the ICMPv6 pseudo-header.
    replaceWord(buf, outer + i, w, icmpCsum, false, -1, false);
    replaceWord(buf, inner + i, w, qL4Csum, udp, -1, false);
  }
  replaceWord(buf, innerPort, port, qL4Csum, udp, -1, false);
  adjust(buf, icmpCsum, false, before, foldSum(sumBytes(buf, q, regionEnd - q)));
  return NAT_ICMP_OK;
}

/** True for the protocols whose packets NAT can map (ports present). */
export function natMappable(protocol: number): boolean {
  return protocol === IPPROTO_TCP || protocol === IPPROTO_UDP;
}

/** True for ICMP protocol numbers of either family (errors are translated, not mapped). */
export function isIcmpProtocol(protocol: number): boolean {
  return protocol === IPPROTO_ICMP || protocol === IPPROTO_ICMPV6;
}
