// Generic UDP Encapsulation (draft-ietf-intarea-gue): an alternative to IP-in-IP where
// the network only passes UDP, and where the UDP source port gives ECMP and RSS entropy.
// Variant 0 has a 4-byte header (plus optional extension words); variant 1 is "direct IP
// encapsulation": the UDP payload is the inner IPv4/IPv6 packet itself, recognised by the
// first two bits 01, which every IPv4 (0100) and IPv6 (0110) version nibble starts with.
import { finalizeChecksum, pseudoHeaderSumV4, sumBytes } from './checksum.js';
import { E_BAD_VERSION, E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';
import { IPPROTO_UDP } from './ip-protocol.js';
import { writeOuterIpv4Fields } from './ipip.js';
import { UDP_HEADER_LENGTH } from './udp.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |0x0|C|   Hlen  |  Proto/ctype  |             Flags             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                  Extension fields (Hlen words)                ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const VER_C_HLEN = 0;
const PROTO_CTYPE = 1;
const FLAGS = 2;
export const GUE_HEADER_LENGTH = 4;
/** The UDP port IANA assigned to GUE. */
export const GUE_PORT = 6080;

const EMPTY = new Uint8Array(0);

/** Re-bindable view over a GUE payload (the UDP payload), variant 0 or 1. */
export class GueView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static checked(buf: Uint8Array, off = 0, len = buf.length - off): GueView | WireError {
    const v = new GueView();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /**
   * Binds without allocation. Variant 0 needs its header and extension words in len;
   * variant 1 needs an IPv4 or IPv6 version nibble. Variants 2 and 3 are bad-version.
   */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < 1 || off + len > buf.length) return E_TRUNCATED;
    const first = buf[off];
    const variant = first >> 6;
    if (variant === 0) {
      if (len < GUE_HEADER_LENGTH || GUE_HEADER_LENGTH + ((first & 0x1f) << 2) > len) return E_TRUNCATED;
    } else if (variant === 1) {
      const version = first >> 4;
      if (version !== 4 && version !== 6) return E_BAD_VERSION;
    } else {
      return E_BAD_VERSION;
    }
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /** 0 (GUE header) or 1 (direct IP encapsulation). */
  get variant(): number {
    return this.buf[this.off] >> 6;
  }
  /** C bit: a control message rather than encapsulated data (variant 0 only). */
  get controlMessage(): boolean {
    return this.variant === 0 && (this.buf[this.off + VER_C_HLEN] & 0x20) !== 0;
  }
  /** Header length in bytes: 4 + extension words for variant 0, 0 for variant 1. */
  get headerLength(): number {
    return this.variant === 0 ? GUE_HEADER_LENGTH + ((this.buf[this.off + VER_C_HLEN] & 0x1f) << 2) : 0;
  }
  /**
   * IP protocol of the payload (variant 0 data: Proto field; variant 1: 4 or 41 from the
   * IP version); for a control message, the control type.
   */
  get protocol(): number {
    if (this.variant === 0) return this.buf[this.off + PROTO_CTYPE];
    return this.buf[this.off] >> 4 === 4 ? 4 : 41;
  }
  get flags(): number {
    return this.variant === 0 ? (this.buf[this.off + FLAGS] << 8) | this.buf[this.off + FLAGS + 1] : 0;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  get payloadLength(): number {
    return this.len - this.headerLength;
  }
}

/** Plain form of a variant-0 GUE header, or a marker for variant 1 (no header bytes). */
export type GueHeader =
  | { variant: 0; controlMessage: boolean; protocol: number; flags: number; extensions: Uint8Array }
  | { variant: 1; ipVersion: 4 | 6 };

export const GueHeader = {
  /** Parses the GUE header at buf[off] (the UDP payload runs to buf.length). Never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<GueHeader> {
    const v = new GueView();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    if (v.variant === 1) return { ok: true, value: { variant: 1, ipVersion: buf[off] >> 4 === 4 ? 4 : 6 }, byteLength: 0 };
    return {
      ok: true,
      value: { variant: 0, controlMessage: v.controlMessage, protocol: v.protocol, flags: v.flags, extensions: buf.slice(off + GUE_HEADER_LENGTH, off + v.headerLength) },
      byteLength: v.headerLength,
    };
  },
  /** Writes the header at buf[off]; returns its length (0 for variant 1). Throws RangeError on bad extensions or no room. */
  emit(h: GueHeader, buf: Uint8Array, off = 0): number {
    if (h.variant === 1) return 0;
    if (h.extensions.length % 4 !== 0 || h.extensions.length > 31 * 4) throw new RangeError(`GueHeader.extensions: ${h.extensions.length} bytes; must be whole 32-bit words, at most 31`);
    const len = GueHeader.byteLength(h);
    if (off < 0 || off + len > buf.length) throw new RangeError(`GueHeader.emit: need ${len} bytes at offset ${off}, buffer is ${buf.length}`);
    buf[off + VER_C_HLEN] = (h.controlMessage ? 0x20 : 0) | (h.extensions.length >> 2);
    buf[off + PROTO_CTYPE] = h.protocol;
    buf[off + FLAGS] = h.flags >>> 8;
    buf[off + FLAGS + 1] = h.flags;
    buf.set(h.extensions, off + GUE_HEADER_LENGTH);
    return len;
  },
  byteLength(h: GueHeader): number {
    return h.variant === 1 ? 0 : GUE_HEADER_LENGTH + h.extensions.length;
  },
};

/** Parameters of a UDP (+ GUE) header in front of an inner packet; reuse one instance per worker. */
export interface UdpGueParams {
  /** Entropy for ECMP/RSS: derive it from a hash of the inner flow. */
  sourcePort: number;
  /** Usually GUE_PORT. */
  destinationPort: number;
  /** 0 writes a 4-byte GUE header with Proto = `protocol`; 1 writes none (direct IP). */
  variant: 0 | 1;
  /** Inner IP protocol for variant 0: 4 or 41. */
  protocol: number;
  innerLength: number;
}

/** Parameters of an outer IPv4 + UDP (+ GUE) header; reuse one instance per worker. */
export interface OuterUdpGueParams extends UdpGueParams {
  src: number;
  dst: number;
  ttl: number;
  dontFragment: boolean;
  id: number;
  /** Compute the UDP checksum (covers the whole inner packet); false sends 0, allowed over IPv4. */
  udpChecksum: boolean;
}

/**
 * Writes UDP (checksum 0, for the caller to fill once the IP header is there) and, for
 * variant 0, the 4-byte GUE header immediately in front of the inner packet at
 * buf[innerOff]. Returns the bytes written (12 or 8): the UDP header starts that far in
 * front. The caller guarantees the room and a UDP length within 65535.
 */
export function writeUdpGue(buf: Uint8Array, innerOff: number, p: UdpGueParams): number {
  const gueLen = p.variant === 0 ? GUE_HEADER_LENGTH : 0;
  const udpOff = innerOff - gueLen - UDP_HEADER_LENGTH;
  const udpLen = UDP_HEADER_LENGTH + gueLen + p.innerLength;
  if (p.variant === 0) {
    const g = innerOff - GUE_HEADER_LENGTH;
    buf[g] = 0;
    buf[g + 1] = p.protocol;
    buf[g + 2] = 0;
    buf[g + 3] = 0;
  }
  buf[udpOff] = p.sourcePort >>> 8;
  buf[udpOff + 1] = p.sourcePort;
  buf[udpOff + 2] = p.destinationPort >>> 8;
  buf[udpOff + 3] = p.destinationPort;
  buf[udpOff + 4] = udpLen >>> 8;
  buf[udpOff + 5] = udpLen;
  buf[udpOff + 6] = 0;
  buf[udpOff + 7] = 0;
  return UDP_HEADER_LENGTH + gueLen;
}

/**
 * Writes IPv4 + UDP (+ 4-byte GUE header for variant 0) immediately in front of the inner
 * packet at buf[innerOff]. Returns the bytes written (32 or 28), or 0 with nothing written
 * when the headroom is short or the result exceeds 65535 bytes.
 */
export function writeOuterUdpGue(buf: Uint8Array, innerOff: number, p: OuterUdpGueParams): number {
  const gueLen = p.variant === 0 ? GUE_HEADER_LENGTH : 0;
  const udpOff = innerOff - gueLen - UDP_HEADER_LENGTH;
  const udpLen = UDP_HEADER_LENGTH + gueLen + p.innerLength;
  if (udpOff - 20 < 0 || udpLen + 20 > 0xffff || innerOff + p.innerLength > buf.length) return 0;
  writeUdpGue(buf, innerOff, p);
  if (p.udpChecksum) {
    const c = finalizeChecksum(sumBytes(buf, udpOff, udpLen, pseudoHeaderSumV4(p.src, p.dst, IPPROTO_UDP, udpLen))) || 0xffff;
    buf[udpOff + 6] = c >>> 8;
    buf[udpOff + 7] = c;
  }
  const ipLen = writeOuterIpv4Fields(buf, udpOff, p.src, p.dst, IPPROTO_UDP, udpLen, p.ttl, p.dontFragment, p.id, 0);
  return ipLen + UDP_HEADER_LENGTH + gueLen;
}
