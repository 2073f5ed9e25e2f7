// IPv6 (RFC 8200): the fixed header plus a bounded walk over extension headers to find
// the upper-layer protocol and its offset, and the fragment header if there is one.
import {
  E_BAD_EXTENSION_HEADER,
  E_BAD_OPTION,
  E_BAD_TOTAL_LENGTH,
  E_BAD_VERSION,
  E_TOO_MANY_EXTENSION_HEADERS,
  E_TRUNCATED,
  WIRE_OK,
  parseFailure,
  wireErrorName,
  type ParseResult,
  type WireError,
  type WireErrorCode,
} from './errors.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from './ip-protocol.js';
import { ipv6ToString, parseIpv6Into } from './ipv6-address.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version| Traffic Class |           Flow Label                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Payload Length        |  Next Header  |   Hop Limit   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     Source Address (128 bits)                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Destination Address (128 bits)               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const VERSION_TC_FLOW = 0;
const PAYLOAD_LENGTH = 4;
const NEXT_HEADER = 6;
const HOP_LIMIT = 7;
const SOURCE = 8;
const DESTINATION = 24;
export const IPV6_HEADER_LENGTH = 40;

// Fragment header (RFC 8200 §4.5):
// | Next Header |  Reserved  |      Fragment Offset    |Res|M|
// |                      Identification                      |
export const IPV6_FRAGMENT_HEADER_LENGTH = 8;

/** Longest extension-header chain we walk; longer chains are dropped (RFC 9098 concerns). */
export const IPV6_MAX_EXTENSION_HEADERS = 8;

/** True for the next-header values that are extension headers we can walk past. */
export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return nextHeader === IPPROTO_HOPOPTS || nextHeader === IPPROTO_ROUTING || nextHeader === IPPROTO_FRAGMENT || nextHeader === IPPROTO_DSTOPTS || nextHeader === IPPROTO_AH;
}

/** Length in bytes of the extension header of `type` at buf[o] (its length byte is buf[o+1]). */
function extensionLength(type: number, buf: Uint8Array, o: number): number {
  if (type === IPPROTO_FRAGMENT) return IPV6_FRAGMENT_HEADER_LENGTH;
  if (type === IPPROTO_AH) return (buf[o + 1] + 2) << 2;
  return (buf[o + 1] + 1) << 3;
}

/** Checks the TLV options of a hop-by-hop or destination-options header at buf[o .. o+len). */
function checkTlvOptions(buf: Uint8Array, o: number, len: number): WireErrorCode {
  const end = o + len;
  for (let i = o + 2; i < end; ) {
    if (buf[i] === 0) {
      i++; // Pad1
      continue;
    }
    if (i + 1 >= end || i + 2 + buf[i + 1] > end) return E_BAD_OPTION;
    i += 2 + buf[i + 1];
  }
  return WIRE_OK;
}

const EMPTY = new Uint8Array(0);

/**
 * Re-bindable view over an IPv6 packet. bind() checks the fixed header and walks the
 * extension headers once, recording the upper layer (protocol, offset) and the fragment
 * header, so the data path reads plain fields afterwards.
 */
export class Ipv6View {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;
  /** Protocol after the last extension header walked (TCP, UDP, ICMPv6, 4, 41, ESP, 59...). */
  upperProtocol = 0;
  /** Offset in buf of the upper-layer header; -1 for a non-first fragment (no header there). */
  upperOffset = -1;
  /** Offset in buf of the fragment header, or -1. */
  fragmentHeaderOffset = -1;
  /** Number of extension headers walked. */
  extensionCount = 0;
  /** End of the bytes this view may read: off + 40 + payload length (or less when quoted). */
  end = 0;

  /** Validates the header and extension chain; never throws. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): Ipv6View | WireError {
    const v = new Ipv6View();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /**
   * Binds without allocation; 0 or a WireError code. A payload length of 0 (jumbogram)
   * is rejected as bad-total-length unless there is no payload at all.
   */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    return this.bindImpl(buf, off, len, false);
  }

  /**
   * Binds to the packet quoted inside an ICMPv6 error: the payload length may exceed the
   * bytes present; the walk stops at the first header that does not fit (upperOffset -1).
   */
  bindQuoted(buf: Uint8Array, off: number, len: number): WireErrorCode {
    return this.bindImpl(buf, off, len, true);
  }

  /**
   * Binds to a packet that must be exactly len bytes (a tunnel's payload): version 6 and
   * 40 + payload length === len. Codes: truncated (len < 40), bad-version,
   * bad-total-length. The extension chain is not walked (the kernel that receives the
   * packet does that): upperProtocol is the fixed header's next header, at offset 40.
   */
  bindExact(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < IPV6_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    if (buf[off] >> 4 !== 6) return E_BAD_VERSION;
    if (IPV6_HEADER_LENGTH + ((buf[off + PAYLOAD_LENGTH] << 8) | buf[off + PAYLOAD_LENGTH + 1]) !== len) return E_BAD_TOTAL_LENGTH;
    this.buf = buf;
    this.off = off;
    this.len = len;
    this.end = off + len;
    this.upperProtocol = buf[off + NEXT_HEADER];
    this.upperOffset = off + IPV6_HEADER_LENGTH;
    this.fragmentHeaderOffset = -1;
    this.extensionCount = 0;
    return WIRE_OK;
  }

  private bindImpl(buf: Uint8Array, off: number, len: number, quoted: boolean): WireErrorCode {
    if (off < 0 || len < IPV6_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    if (buf[off] >> 4 !== 6) return E_BAD_VERSION;
    const payload = (buf[off + PAYLOAD_LENGTH] << 8) | buf[off + PAYLOAD_LENGTH + 1];
    let end = off + IPV6_HEADER_LENGTH + payload;
    if (end > off + len) {
      if (!quoted) return E_TRUNCATED;
      end = off + len;
    }
    if (payload === 0 && buf[off + NEXT_HEADER] === IPPROTO_HOPOPTS && !quoted) return E_BAD_TOTAL_LENGTH;
    let next = buf[off + NEXT_HEADER];
    let o = off + IPV6_HEADER_LENGTH;
    let count = 0;
    let fragment = -1;
    let upper = o;
    while (isIpv6ExtensionHeader(next)) {
      if (next === IPPROTO_HOPOPTS && count !== 0) return E_BAD_EXTENSION_HEADER; // only first
      if (count === IPV6_MAX_EXTENSION_HEADERS) return E_TOO_MANY_EXTENSION_HEADERS;
      if (o + 2 > end) {
        if (quoted) {
          upper = -1;
          break;
        }
        return E_BAD_EXTENSION_HEADER;
      }
      const hlen = extensionLength(next, buf, o);
      if (o + hlen > end) {
        if (quoted) {
          upper = -1;
          break;
        }
        return E_BAD_EXTENSION_HEADER;
      }
      if (next === IPPROTO_HOPOPTS || next === IPPROTO_DSTOPTS) {
        const code = checkTlvOptions(buf, o, hlen);
        if (code !== WIRE_OK) return code;
      }
      count++;
      const type = next;
      next = buf[o];
      if (type === IPPROTO_FRAGMENT) {
        fragment = o;
        o += hlen;
        // A later fragment carries no upper-layer header: stop here.
        if ((((buf[fragment + 2] << 8) | buf[fragment + 3]) & 0xfff8) !== 0) {
          upper = -1;
          break;
        }
        continue;
      }
      o += hlen;
    }
    if (upper !== -1) upper = o;
    this.buf = buf;
    this.off = off;
    this.len = len;
    this.end = end;
    this.upperProtocol = next;
    this.upperOffset = upper;
    this.fragmentHeaderOffset = fragment;
    this.extensionCount = count;
    return WIRE_OK;
  }

  get version(): number {
    return this.buf[this.off] >> 4;
  }
  get trafficClass(): number {
    return ((this.buf[this.off] & 0x0f) << 4) | (this.buf[this.off + 1] >> 4);
  }
  get flowLabel(): number {
    return ((this.buf[this.off + 1] & 0x0f) << 16) | (this.buf[this.off + 2] << 8) | this.buf[this.off + 3];
  }
  /** Payload Length field: bytes after the fixed header, extension headers included. */
  get payloadLength(): number {
    return (this.buf[this.off + PAYLOAD_LENGTH] << 8) | this.buf[this.off + PAYLOAD_LENGTH + 1];
  }
  set payloadLength(v: number) {
    this.buf[this.off + PAYLOAD_LENGTH] = v >>> 8;
    this.buf[this.off + PAYLOAD_LENGTH + 1] = v;
  }
  get nextHeader(): number {
    return this.buf[this.off + NEXT_HEADER];
  }
  get hopLimit(): number {
    return this.buf[this.off + HOP_LIMIT];
  }
  set hopLimit(v: number) {
    this.buf[this.off + HOP_LIMIT] = v;
  }
  get sourceOffset(): number {
    return this.off + SOURCE;
  }
  get destinationOffset(): number {
    return this.off + DESTINATION;
  }
  get sourceString(): string {
    return ipv6ToString(this.buf, this.off + SOURCE);
  }
  get destinationString(): string {
    return ipv6ToString(this.buf, this.off + DESTINATION);
  }
  get payloadOffset(): number {
    return this.off + IPV6_HEADER_LENGTH;
  }
  /** Bytes from the upper-layer header to the end of the packet; 0 when there is none. */
  get upperLength(): number {
    return this.upperOffset < 0 ? 0 : this.end - this.upperOffset;
  }
  get isFragment(): boolean {
    return this.fragmentHeaderOffset >= 0;
  }
  /** Fragment offset in bytes (0 when not a fragment). */
  get fragmentOffset(): number {
    const f = this.fragmentHeaderOffset;
    return f < 0 ? 0 : ((this.buf[f + 2] << 8) | this.buf[f + 3]) & 0xfff8;
  }
  get moreFragments(): boolean {
    const f = this.fragmentHeaderOffset;
    return f >= 0 && (this.buf[f + 3] & 1) === 1;
  }
  /** Fragment identification, unsigned 32-bit (0 when not a fragment). */
  get fragmentIdentification(): number {
    const f = this.fragmentHeaderOffset;
    if (f < 0) return 0;
    const b = this.buf;
    return ((b[f + 4] << 24) | (b[f + 5] << 16) | (b[f + 6] << 8) | b[f + 7]) >>> 0;
  }
}

/** Plain form of the fixed IPv6 header. */
export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header, extension headers included. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  source: string;
  destination: string;
}

export const Ipv6Header = {
  /** Parses the fixed header at buf[off]; the packet (and its extension chain) must be valid. Never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<Ipv6Header> {
    const v = new Ipv6View();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    return {
      ok: true,
      value: {
        trafficClass: v.trafficClass,
        flowLabel: v.flowLabel,
        payloadLength: v.payloadLength,
        nextHeader: v.nextHeader,
        hopLimit: v.hopLimit,
        source: v.sourceString,
        destination: v.destinationString,
      },
      byteLength: IPV6_HEADER_LENGTH,
    };
  },
  /** Writes 40 bytes at buf[off]; returns 40. Throws RangeError/TypeError on no room or a bad address. */
  emit(h: Ipv6Header, buf: Uint8Array, off = 0): number {
    if (off < 0 || off + IPV6_HEADER_LENGTH > buf.length) throw new RangeError(`Ipv6Header.emit: need 40 bytes at offset ${off}, buffer is ${buf.length}`);
    if (!parseIpv6Into(h.source, buf, off + SOURCE)) throw new TypeError(`Ipv6Header.source: "${h.source}" is not an IPv6 address`);
    if (!parseIpv6Into(h.destination, buf, off + DESTINATION)) throw new TypeError(`Ipv6Header.destination: "${h.destination}" is not an IPv6 address`);
    buf[off + VERSION_TC_FLOW] = 0x60 | ((h.trafficClass >> 4) & 0x0f);
    buf[off + 1] = ((h.trafficClass & 0x0f) << 4) | ((h.flowLabel >> 16) & 0x0f);
    buf[off + 2] = h.flowLabel >> 8;
    buf[off + 3] = h.flowLabel;
    buf[off + PAYLOAD_LENGTH] = h.payloadLength >>> 8;
    buf[off + PAYLOAD_LENGTH + 1] = h.payloadLength;
    buf[off + NEXT_HEADER] = h.nextHeader;
    buf[off + HOP_LIMIT] = h.hopLimit;
    return IPV6_HEADER_LENGTH;
  },
  byteLength(_h: Ipv6Header): number {
    return IPV6_HEADER_LENGTH;
  },
};

/** One extension header in plain form: its own type, the next header, and the bytes after those two. */
export interface Ipv6ExtensionHeader {
  type: number;
  nextHeader: number;
  body: Uint8Array;
}

/**
 * Lists the extension headers of a valid packet at buf[off] (for logs and tests). Returns
 * a WireError if the packet does not bind.
 */
export function listIpv6ExtensionHeaders(buf: Uint8Array, off = 0): Ipv6ExtensionHeader[] | WireError {
  const v = new Ipv6View();
  const code = v.bind(buf, off, buf.length - off);
  if (code !== WIRE_OK) return wireErrorName(code);
  const out: Ipv6ExtensionHeader[] = [];
  let type = v.nextHeader;
  let o = v.payloadOffset;
  for (let i = 0; i < v.extensionCount; i++) {
    const hlen = extensionLength(type, buf, o);
    out.push({ type, nextHeader: buf[o], body: buf.slice(o + 2, o + hlen) });
    type = buf[o];
    o += hlen;
  }
  return out;
}

/**
 * Writes extension headers back to back at buf[off]; returns the bytes written. Throws
 * RangeError when a body length does not fit its type's length unit or there is no room.
 */
export function emitIpv6ExtensionHeaders(headers: Ipv6ExtensionHeader[], buf: Uint8Array, off = 0): number {
  let o = off;
  for (const h of headers) {
    const total = h.body.length + 2;
    let lengthByte: number;
    if (h.type === IPPROTO_FRAGMENT) {
      if (total !== IPV6_FRAGMENT_HEADER_LENGTH) throw new RangeError('Ipv6ExtensionHeader: a fragment header body is 6 bytes');
      lengthByte = 0; // the fragment header has a reserved byte here, not a length
    } else if (h.type === IPPROTO_AH) {
      if (total % 4 !== 0 || total < 12) throw new RangeError(`Ipv6ExtensionHeader: an AH body of ${h.body.length} bytes is not 4n+2, n >= 2`);
      lengthByte = (total >> 2) - 2;
    } else {
      if (total % 8 !== 0) throw new RangeError(`Ipv6ExtensionHeader: a type ${h.type} body of ${h.body.length} bytes is not 8n+6`);
      lengthByte = (total >> 3) - 1;
    }
    if (o + total > buf.length) throw new RangeError(`emitIpv6ExtensionHeaders: need ${o + total - off} bytes at offset ${off}`);
    buf[o] = h.nextHeader;
    buf[o + 1] = lengthByte;
    buf.set(h.body, o + 2);
    o += total;
  }
  return o - off;
}
