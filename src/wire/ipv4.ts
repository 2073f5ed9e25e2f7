// IPv4 (RFC 791). The data path reads addresses as u32, writes outer headers, and must
// recognise fragments (only the first carries ports) and options (IHL > 5).
import { finalizeChecksum, sumBytes, verifyChecksum } from './checksum.js';
import {
  E_BAD_CHECKSUM,
  E_BAD_HEADER_LENGTH,
  E_BAD_OPTION,
  E_BAD_TOTAL_LENGTH,
  E_BAD_VERSION,
  E_TRUNCATED,
  WIRE_OK,
  parseFailure,
  wireErrorName,
  type ParseResult,
  type WireError,
  type WireErrorCode,
} from './errors.js';
import { ipv4ToString, parseIpv4, readIpv4, writeIpv4 } from './ipv4-address.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version|  IHL  |   DSCP    |ECN|          Total Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |Flags|      Fragment Offset    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options                    |    Padding    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const VER_IHL = 0;
const DSCP_ECN = 1;
const TOTAL_LENGTH = 2;
const IDENTIFICATION = 4;
const FLAGS_FRAGMENT = 6;
const TTL = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SOURCE = 12;
const DESTINATION = 16;
export const IPV4_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;

const FLAG_RESERVED = 0x8000;
/** Bits of flagsFragment: don't fragment, more fragments, the fragment offset (8-byte units). */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;
const FLAG_DF = IPV4_FLAG_DF;
const FLAG_MF = IPV4_FLAG_MF;
const OFFSET_MASK = IPV4_FRAGMENT_OFFSET_MASK;

export const IPV4_OPT_END = 0;
export const IPV4_OPT_NOP = 1;
export const IPV4_OPT_RECORD_ROUTE = 7;
export const IPV4_OPT_TIMESTAMP = 68;
export const IPV4_OPT_LOOSE_SOURCE_ROUTE = 131;
export const IPV4_OPT_STRICT_SOURCE_ROUTE = 137;
export const IPV4_OPT_ROUTER_ALERT = 148;

const EMPTY = new Uint8Array(0);

/**
 * Checks the option TLVs in buf[off .. end): END stops the walk, NOP is one byte, any
 * other option needs a length >= 2 that stays inside the area (>= 3 for the route
 * options, which carry a pointer, and >= 4 for the timestamp).
 */
function checkIpv4Options(buf: Uint8Array, off: number, end: number): WireErrorCode {
  let i = off;
  while (i < end) {
    const type = buf[i];
    if (type === IPV4_OPT_END) return WIRE_OK;
    if (type === IPV4_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return E_BAD_OPTION;
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return E_BAD_OPTION;
    if ((type === IPV4_OPT_RECORD_ROUTE || type === IPV4_OPT_LOOSE_SOURCE_ROUTE || type === IPV4_OPT_STRICT_SOURCE_ROUTE) && len < 3) return E_BAD_OPTION;
    if (type === IPV4_OPT_TIMESTAMP && len < 4) return E_BAD_OPTION;
    i += len;
  }
  return WIRE_OK;
}

/**
 * Re-bindable view over an IPv4 packet. After a successful bind: version is 4, the header
 * (with well-formed options) fits, and 20 <= header length <= total length <= len. Bytes
 * past the total length (Ethernet padding) are outside the packet. The header checksum is
 * not verified by bind (see checksumValid).
 */
export class Ipv4View {
  buf: Uint8Array = EMPTY;
  off = 0;
  /** Bytes available in buf from off (may exceed totalLength by link-layer padding). */
  len = 0;

  /** Validates structure (not the checksum); never throws. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): Ipv4View | WireError {
    const v = new Ipv4View();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Binds without allocation; returns 0 or a WireError code. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < IPV4_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    const vi = buf[off + VER_IHL];
    if (vi >> 4 !== 4) return E_BAD_VERSION;
    const hlen = (vi & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LENGTH) return E_BAD_HEADER_LENGTH;
    if (hlen > len) return E_TRUNCATED;
    const total = (buf[off + TOTAL_LENGTH] << 8) | buf[off + TOTAL_LENGTH + 1];
    if (total < hlen) return E_BAD_TOTAL_LENGTH;
    if (total > len) return E_TRUNCATED;
    if (hlen > IPV4_HEADER_LENGTH) {
      const code = checkIpv4Options(buf, off + IPV4_HEADER_LENGTH, off + hlen);
      if (code !== WIRE_OK) return code;
    }
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /**
   * Binds to a packet that must be exactly len bytes (a tunnel's payload, a raw socket's
   * datagram): version 4, 20 <= header length <= len, total length === len. Codes:
   * truncated (len < 20), bad-version, bad-header-length, bad-total-length (the total
   * length is not len). Options are not checked: the kernel that receives the packet
   * checks them.
   */
  bindExact(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < IPV4_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    const vi = buf[off + VER_IHL];
    if (vi >> 4 !== 4) return E_BAD_VERSION;
    const hlen = (vi & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LENGTH || hlen > len) return E_BAD_HEADER_LENGTH;
    if (((buf[off + TOTAL_LENGTH] << 8) | buf[off + TOTAL_LENGTH + 1]) !== len) return E_BAD_TOTAL_LENGTH;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /**
   * Binds to the packet quoted inside an ICMP error: the fixed header must be complete and
   * sane, but the total length may exceed the bytes present (errors quote only a prefix).
   * Use quotedPayloadLength, not payloadLength, for what is actually there.
   */
  bindQuoted(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < IPV4_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    const vi = buf[off + VER_IHL];
    if (vi >> 4 !== 4) return E_BAD_VERSION;
    const hlen = (vi & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LENGTH) return E_BAD_HEADER_LENGTH;
    if (hlen > len) return E_TRUNCATED;
    const total = (buf[off + TOTAL_LENGTH] << 8) | buf[off + TOTAL_LENGTH + 1];
    if (total < hlen) return E_BAD_TOTAL_LENGTH;
    // Options are not checked: a parameter-problem error quotes exactly the packet whose
    // options were bad, and we only need addresses, protocol and the header length.
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /** Payload bytes actually present: payloadLength, capped by the bound length. */
  get quotedPayloadLength(): number {
    return Math.min(this.totalLength, this.len) - this.headerLength;
  }

  get version(): number {
    return this.buf[this.off + VER_IHL] >> 4;
  }
  /** Header length in bytes (IHL * 4), 20..60. */
  get headerLength(): number {
    return (this.buf[this.off + VER_IHL] & 0x0f) << 2;
  }
  /** The whole DSCP/ECN byte (the old TOS), as an outer header copies it. */
  get tos(): number {
    return this.buf[this.off + DSCP_ECN];
  }
  get dscp(): number {
    return this.buf[this.off + DSCP_ECN] >> 2;
  }
  get ecn(): number {
    return this.buf[this.off + DSCP_ECN] & 3;
  }
  /** Total length in bytes (header + payload). */
  get totalLength(): number {
    return (this.buf[this.off + TOTAL_LENGTH] << 8) | this.buf[this.off + TOTAL_LENGTH + 1];
  }
  set totalLength(v: number) {
    this.buf[this.off + TOTAL_LENGTH] = v >>> 8;
    this.buf[this.off + TOTAL_LENGTH + 1] = v;
  }
  get identification(): number {
    return (this.buf[this.off + IDENTIFICATION] << 8) | this.buf[this.off + IDENTIFICATION + 1];
  }
  set identification(v: number) {
    this.buf[this.off + IDENTIFICATION] = v >>> 8;
    this.buf[this.off + IDENTIFICATION + 1] = v;
  }
  /** Flags and fragment offset as one 16-bit word (IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_FRAGMENT_OFFSET_MASK): one read for a data path that needs all three. */
  get flagsFragment(): number {
    return (this.buf[this.off + FLAGS_FRAGMENT] << 8) | this.buf[this.off + FLAGS_FRAGMENT + 1];
  }
  get dontFragment(): boolean {
    return (this.flagsFragment & FLAG_DF) !== 0;
  }
  set dontFragment(v: boolean) {
    const o = this.off + FLAGS_FRAGMENT;
    this.buf[o] = v ? this.buf[o] | (FLAG_DF >> 8) : this.buf[o] & ~(FLAG_DF >> 8);
  }
  get moreFragments(): boolean {
    return (this.flagsFragment & FLAG_MF) !== 0;
  }
  get reservedFlag(): boolean {
    return (this.flagsFragment & FLAG_RESERVED) !== 0;
  }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (this.flagsFragment & OFFSET_MASK) << 3;
  }
  /** True for any fragment: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (this.flagsFragment & (FLAG_MF | OFFSET_MASK)) !== 0;
  }
  /** True for a fragment other than the first: it carries no transport header. */
  get isLaterFragment(): boolean {
    return (this.flagsFragment & OFFSET_MASK) !== 0;
  }
  get timeToLive(): number {
    return this.buf[this.off + TTL];
  }
  set timeToLive(v: number) {
    this.buf[this.off + TTL] = v;
  }
  get protocol(): number {
    return this.buf[this.off + PROTOCOL];
  }
  set protocol(v: number) {
    this.buf[this.off + PROTOCOL] = v;
  }
  get headerChecksum(): number {
    return (this.buf[this.off + CHECKSUM] << 8) | this.buf[this.off + CHECKSUM + 1];
  }
  set headerChecksum(v: number) {
    this.buf[this.off + CHECKSUM] = v >>> 8;
    this.buf[this.off + CHECKSUM + 1] = v;
  }
  /** Source address as an unsigned 32-bit number. */
  get source(): number {
    return readIpv4(this.buf, this.off + SOURCE);
  }
  set source(v: number) {
    writeIpv4(this.buf, this.off + SOURCE, v);
  }
  get destination(): number {
    return readIpv4(this.buf, this.off + DESTINATION);
  }
  set destination(v: number) {
    writeIpv4(this.buf, this.off + DESTINATION, v);
  }
  get sourceOffset(): number {
    return this.off + SOURCE;
  }
  get destinationOffset(): number {
    return this.off + DESTINATION;
  }
  get optionsOffset(): number {
    return this.off + IPV4_HEADER_LENGTH;
  }
  get optionsLength(): number {
    return this.headerLength - IPV4_HEADER_LENGTH;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** Payload bytes per the total length field (padding excluded). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
  /** True when the header checksum verifies. */
  get checksumValid(): boolean {
    return verifyChecksum(this.buf, this.off, this.headerLength);
  }
  /** Recomputes and stores the header checksum. */
  fillChecksum(): void {
    this.buf[this.off + CHECKSUM] = 0;
    this.buf[this.off + CHECKSUM + 1] = 0;
    this.headerChecksum = finalizeChecksum(sumBytes(this.buf, this.off, this.headerLength));
  }
}

/** Plain form of an IPv4 header, for control code, tests and logs. */
export interface Ipv4Header {
  dscp: number;
  ecn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes; a multiple of 8. */
  fragmentOffset: number;
  timeToLive: number;
  protocol: number;
  source: string;
  destination: string;
  /** Raw option bytes including padding; length a multiple of 4, at most 40. */
  options: Uint8Array;
  /** Payload length in bytes (total length minus header length). */
  payloadLength: number;
}

export const Ipv4Header = {
  /**
   * Parses and fully validates the header at buf[off], checksum included; the packet ends
   * at buf.length or earlier. Never throws. byteLength is the header length.
   */
  parse(buf: Uint8Array, off = 0): ParseResult<Ipv4Header> {
    const v = new Ipv4View();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    if (!v.checksumValid) return parseFailure(E_BAD_CHECKSUM);
    return {
      ok: true,
      value: {
        dscp: v.dscp,
        ecn: v.ecn,
        identification: v.identification,
        dontFragment: v.dontFragment,
        moreFragments: v.moreFragments,
        fragmentOffset: v.fragmentOffset,
        timeToLive: v.timeToLive,
        protocol: v.protocol,
        source: ipv4ToString(v.source),
        destination: ipv4ToString(v.destination),
        options: buf.slice(v.optionsOffset, v.optionsOffset + v.optionsLength),
        payloadLength: v.payloadLength,
      },
      byteLength: v.headerLength,
    };
  },

  /**
   * Writes the header (checksum filled) at buf[off]; returns its length. The payload is the
   * caller's. Throws RangeError/TypeError for no room, bad addresses, or options whose
   * length is not a multiple of 4 up to 40.
   */
  emit(h: Ipv4Header, buf: Uint8Array, off = 0): number {
    const hlen = Ipv4Header.byteLength(h);
    if (h.options.length % 4 !== 0 || h.options.length > 40) throw new RangeError(`Ipv4Header.options: length ${h.options.length} must be a multiple of 4, at most 40 (pad with END/NOP)`);
    if (off < 0 || off + hlen > buf.length) throw new RangeError(`Ipv4Header.emit: need ${hlen} bytes at offset ${off}, buffer is ${buf.length}`);
    if (h.fragmentOffset % 8 !== 0 || h.fragmentOffset > OFFSET_MASK << 3) throw new RangeError(`Ipv4Header.fragmentOffset: ${h.fragmentOffset} must be a multiple of 8 below 65536`);
    const src = parseIpv4(h.source);
    const dst = parseIpv4(h.destination);
    if (src === null) throw new TypeError(`Ipv4Header.source: "${h.source}" is not an IPv4 address`);
    if (dst === null) throw new TypeError(`Ipv4Header.destination: "${h.destination}" is not an IPv4 address`);
    const total = hlen + h.payloadLength;
    buf[off + VER_IHL] = 0x40 | (hlen >> 2);
    buf[off + DSCP_ECN] = ((h.dscp & 0x3f) << 2) | (h.ecn & 3);
    buf[off + TOTAL_LENGTH] = total >>> 8;
    buf[off + TOTAL_LENGTH + 1] = total;
    buf[off + IDENTIFICATION] = h.identification >>> 8;
    buf[off + IDENTIFICATION + 1] = h.identification;
    const ff = (h.dontFragment ? FLAG_DF : 0) | (h.moreFragments ? FLAG_MF : 0) | (h.fragmentOffset >> 3);
    buf[off + FLAGS_FRAGMENT] = ff >>> 8;
    buf[off + FLAGS_FRAGMENT + 1] = ff;
    buf[off + TTL] = h.timeToLive;
    buf[off + PROTOCOL] = h.protocol;
    buf[off + CHECKSUM] = 0;
    buf[off + CHECKSUM + 1] = 0;
    writeIpv4(buf, off + SOURCE, src);
    writeIpv4(buf, off + DESTINATION, dst);
    buf.set(h.options, off + IPV4_HEADER_LENGTH);
    const c = finalizeChecksum(sumBytes(buf, off, hlen));
    buf[off + CHECKSUM] = c >>> 8;
    buf[off + CHECKSUM + 1] = c;
    return hlen;
  },

  /** Header length in bytes: 20 + options. */
  byteLength(h: Ipv4Header): number {
    return IPV4_HEADER_LENGTH + h.options.length;
  },
};

/** One IPv4 option, for logs and tests. */
export interface Ipv4Option {
  type: number;
  /** Option data after the type and length bytes (empty for NOP). */
  data: Uint8Array;
}

/**
 * Lists the options in raw option bytes (Ipv4Header.options), stopping at END. Returns a
 * WireError if a length is malformed.
 */
export function listIpv4Options(options: Uint8Array): Ipv4Option[] | WireError {
  const code = checkIpv4Options(options, 0, options.length);
  if (code !== WIRE_OK) return wireErrorName(code);
  const out: Ipv4Option[] = [];
  for (let i = 0; i < options.length; ) {
    const type = options[i];
    if (type === IPV4_OPT_END) break;
    if (type === IPV4_OPT_NOP) {
      out.push({ type, data: new Uint8Array(0) });
      i++;
      continue;
    }
    const len = options[i + 1];
    out.push({ type, data: options.slice(i + 2, i + len) });
    i += len;
  }
  return out;
}

/**
 * Sets the Total Length of the IPv4 header at buf[off] to `totalLength` (bytes) and
 * recomputes its header checksum (IHL read from the header). For code that resizes a packet
 * in place (segmentation, coalescing); the caller guarantees the header is in the buffer.
 */
export function rewriteIpv4TotalLength(buf: Uint8Array, off: number, totalLength: number): void {
  buf[off + 2] = totalLength >>> 8;
  buf[off + 3] = totalLength;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const ck = finalizeChecksum(sumBytes(buf, off, (buf[off] & 0x0f) << 2));
  buf[off + 10] = ck >>> 8;
  buf[off + 11] = ck;
}
