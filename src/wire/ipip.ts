// IP-in-IP encapsulation for VS/TUN: IPv4-in-IPv4 (protocol 4, RFC 2003), IPv6-in-IPv4
// (protocol 41, RFC 4213), IPv4-in-IPv6 (next header 4) and IPv6-in-IPv6 (41, RFC 2473).
// The director writes the outer header into headroom in front of the inner packet; the
// agent checks outer and inner before handing the inner packet to its TUN.
import { E_NO_HEADROOM, type WireErrorCode } from './errors.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from './ip-protocol.js';
import { writeIpv4 } from './ipv4-address.js';
import { IPV4_HEADER_LENGTH } from './ipv4.js';
import { copyIpv6 } from './ipv6-address.js';
import { IPV6_HEADER_LENGTH } from './ipv6.js';

/** Outer protocol / next-header value for an inner packet of IP version 4 or 6; -1 otherwise. */
export function ipipProtocolFor(innerVersion: number): number {
  return innerVersion === 4 ? IPPROTO_IPIP : innerVersion === 6 ? IPPROTO_IPV6 : -1;
}

/**
 * Parameters of an outer IPv4 header. On the data path keep one instance and overwrite
 * its fields per packet (no allocation).
 */
export interface OuterIpv4Params {
  /** Outer source (DIP), unsigned 32-bit. */
  src: number;
  /** Outer destination (RIP), unsigned 32-bit. */
  dst: number;
  /** IPPROTO_IPIP (4) or IPPROTO_IPV6 (41). */
  protocol: number;
  /** Inner packet length in bytes. */
  innerLength: number;
  ttl: number;
  dontFragment: boolean;
  /** Identification field (16 bits). */
  id: number;
  /** DSCP/ECN byte; RFC 6040 says copy the inner ECN. Default 0. */
  tos?: number;
}

/**
 * Writes a 20-byte outer IPv4 header (checksum filled) immediately in front of the inner
 * packet at buf[innerOff]; the encapsulated packet then starts at innerOff - 20. Returns
 * 20, or 0 with nothing written when there is no headroom or the result would exceed
 * 65535 bytes.
 */
export function writeOuterIpv4(buf: Uint8Array, innerOff: number, p: OuterIpv4Params): number {
  return writeOuterIpv4Fields(buf, innerOff, p.src, p.dst, p.protocol, p.innerLength, p.ttl, p.dontFragment, p.id, p.tos ?? 0);
}

/** writeOuterIpv4 with positional arguments, for callers that hold no params object. */
export function writeOuterIpv4Fields(
  buf: Uint8Array,
  innerOff: number,
  src: number,
  dst: number,
  protocol: number,
  innerLength: number,
  ttl: number,
  dontFragment: boolean,
  id: number,
  tos: number,
): number {
  const o = innerOff - IPV4_HEADER_LENGTH;
  const total = IPV4_HEADER_LENGTH + innerLength;
  if (o < 0 || total > 0xffff || innerOff + innerLength > buf.length) return 0;
  buf[o] = 0x45;
  buf[o + 1] = tos;
  buf[o + 2] = total >>> 8;
  buf[o + 3] = total;
  buf[o + 4] = id >>> 8;
  buf[o + 5] = id;
  buf[o + 6] = dontFragment ? 0x40 : 0;
  buf[o + 7] = 0;
  buf[o + 8] = ttl;
  buf[o + 9] = protocol;
  buf[o + 10] = 0;
  buf[o + 11] = 0;
  writeIpv4(buf, o + 12, src);
  writeIpv4(buf, o + 16, dst);
  // The header checksum from the values just written, 16-bit word by word (RFC 1071),
  // instead of reading the 20 bytes back: each value masked as its bytes store it.
  let sum =
    (0x4500 | (tos & 0xff)) +
    total +
    (id & 0xffff) +
    (dontFragment ? 0x4000 : 0) +
    (((ttl & 0xff) << 8) | (protocol & 0xff)) +
    (src >>> 16) +
    (src & 0xffff) +
    (dst >>> 16) +
    (dst & 0xffff);
  // Nine 16-bit words sum below 2^20: two end-around folds reach 16 bits.
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  // The complement's low 16 bits: each byte store keeps its own 8.
  const c = ~sum;
  buf[o + 10] = c >>> 8;
  buf[o + 11] = c;
  return IPV4_HEADER_LENGTH;
}

/** Parameters of an outer IPv6 header; addresses are 16 bytes read from src[srcOff], dst[dstOff]. */
export interface OuterIpv6Params {
  src: Uint8Array;
  srcOff?: number;
  dst: Uint8Array;
  dstOff?: number;
  /** IPPROTO_IPIP (4) or IPPROTO_IPV6 (41). */
  nextHeader: number;
  innerLength: number;
  hopLimit: number;
  trafficClass?: number;
  /** 20-bit flow label; a hash of the inner flow spreads tunnels over ECMP paths (RFC 6438). */
  flowLabel?: number;
}

/**
 * Writes a 40-byte outer IPv6 header in front of the inner packet at buf[innerOff]. Returns
 * 40, or 0 with nothing written when there is no headroom or the inner packet is over
 * 65535 bytes.
 */
export function writeOuterIpv6(buf: Uint8Array, innerOff: number, p: OuterIpv6Params): number {
  const o = innerOff - IPV6_HEADER_LENGTH;
  if (o < 0 || p.innerLength > 0xffff || innerOff + p.innerLength > buf.length) return 0;
  const tc = p.trafficClass ?? 0;
  const fl = p.flowLabel ?? 0;
  buf[o] = 0x60 | ((tc >> 4) & 0x0f);
  buf[o + 1] = ((tc & 0x0f) << 4) | ((fl >> 16) & 0x0f);
  buf[o + 2] = fl >> 8;
  buf[o + 3] = fl;
  buf[o + 4] = p.innerLength >>> 8;
  buf[o + 5] = p.innerLength;
  buf[o + 6] = p.nextHeader;
  buf[o + 7] = p.hopLimit;
  copyIpv6(p.src, p.srcOff ?? 0, buf, o + 8);
  copyIpv6(p.dst, p.dstOff ?? 0, buf, o + 24);
  return IPV6_HEADER_LENGTH;
}

/** Numeric code for writeOuter* returning 0, for drop counters. */
export const IPIP_WRITE_NO_HEADROOM: WireErrorCode = E_NO_HEADROOM;

// The decapsulator moved to tunnel-decap.ts (it also reads GUE, and gue.ts writes through this file).
export { IpipDecap } from './tunnel-decap.js';
