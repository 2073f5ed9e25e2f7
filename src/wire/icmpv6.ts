// ICMPv6 (RFC 4443). The director sends Packet Too Big when an inner packet plus the
// 40-byte outer header would exceed the tunnel MTU, and steers client errors by the
// quoted packet. The checksum covers an IPv6 pseudo-header, so callers pass its sum.
import { finalizeChecksum, foldSum, sumBytes } from './checksum.js';
import { E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo: Identifier / Sequence Number                           |
// |  Packet Too Big: MTU (32)                                     |
// |  Parameter Problem: Pointer (32)                              |
// |  Destination Unreachable / Time Exceeded: unused              |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo data, or as much of the invoking packet as fits in 1280 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST = 4;
export const ICMPV6_HEADER_LENGTH = 8;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLDV2_REPORT = 143;

// Destination unreachable codes.
export const ICMPV6_NO_ROUTE = 0;
export const ICMPV6_ADMIN_PROHIBITED = 1;
export const ICMPV6_BEYOND_SCOPE = 2;
export const ICMPV6_ADDRESS_UNREACHABLE = 3;
export const ICMPV6_PORT_UNREACHABLE = 4;
// Time exceeded codes.
export const ICMPV6_HOP_LIMIT_EXCEEDED = 0;
export const ICMPV6_REASSEMBLY_TIME_EXCEEDED = 1;
// Parameter problem codes.
export const ICMPV6_ERRONEOUS_HEADER = 0;
export const ICMPV6_UNRECOGNIZED_NEXT_HEADER = 1;
export const ICMPV6_UNRECOGNIZED_OPTION = 2;

/** The minimum IPv6 MTU: an error message must fit in it (RFC 4443 §2.4 c). */
export const IPV6_MIN_MTU = 1280;

/** True for error messages (types 0..127); their body quotes the invoking packet. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

const EMPTY = new Uint8Array(0);

/** Re-bindable view over one ICMPv6 message (len = the upper-layer length). */
export class Icmpv6View {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static checked(buf: Uint8Array, off = 0, len = buf.length - off): Icmpv6View | WireError {
    const v = new Icmpv6View();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Binds without allocation when the 8-byte header fits; 0 or truncated. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < ICMPV6_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  get type(): number {
    return this.buf[this.off + TYPE];
  }
  get code(): number {
    return this.buf[this.off + CODE];
  }
  get checksum(): number {
    return (this.buf[this.off + CHECKSUM] << 8) | this.buf[this.off + CHECKSUM + 1];
  }
  set checksum(v: number) {
    this.buf[this.off + CHECKSUM] = v >>> 8;
    this.buf[this.off + CHECKSUM + 1] = v;
  }
  /** The 32-bit word after the checksum, unsigned: MTU, pointer, or echo id/sequence. */
  get restOfHeader(): number {
    const b = this.buf, o = this.off + REST;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  get identifier(): number {
    return (this.buf[this.off + REST] << 8) | this.buf[this.off + REST + 1];
  }
  get sequenceNumber(): number {
    return (this.buf[this.off + REST + 2] << 8) | this.buf[this.off + REST + 3];
  }
  /** Packet Too Big: the MTU of the next hop, in bytes. */
  get mtu(): number {
    return this.restOfHeader;
  }
  /** Parameter Problem: byte offset of the error within the invoking packet. */
  get pointer(): number {
    return this.restOfHeader;
  }
  get isError(): boolean {
    return isIcmpv6Error(this.type);
  }
  get bodyOffset(): number {
    return this.off + ICMPV6_HEADER_LENGTH;
  }
  get bodyLength(): number {
    return this.len - ICMPV6_HEADER_LENGTH;
  }
  /** pseudoHeaderSum: pseudoHeaderSumV6At(buf, src, dst, 58, len). */
  checksumValid(pseudoHeaderSum: number): boolean {
    return foldSum(sumBytes(this.buf, this.off, this.len, pseudoHeaderSum)) === 0xffff;
  }
  fillChecksum(pseudoHeaderSum: number): void {
    this.checksum = 0;
    this.checksum = finalizeChecksum(sumBytes(this.buf, this.off, this.len, pseudoHeaderSum));
  }
}

/**
 * Data-path writer for an ICMPv6 message in place: the body (quoted packet or echo data)
 * must already sit at buf[off+8 .. off+8+bodyLength). Writes type, code, the 32-bit word
 * and the checksum over `pseudoHeaderSum` (for length 8 + bodyLength). Returns the message
 * length, or 0 with nothing written if the buffer is too short.
 */
export function writeIcmpv6Message(buf: Uint8Array, off: number, type: number, code: number, restOfHeader: number, bodyLength: number, pseudoHeaderSum: number): number {
  const len = ICMPV6_HEADER_LENGTH + bodyLength;
  if (off < 0 || bodyLength < 0 || off + len > buf.length) return 0;
  buf[off + TYPE] = type;
  buf[off + CODE] = code;
  buf[off + CHECKSUM] = 0;
  buf[off + CHECKSUM + 1] = 0;
  buf[off + REST] = restOfHeader >>> 24;
  buf[off + REST + 1] = restOfHeader >>> 16;
  buf[off + REST + 2] = restOfHeader >>> 8;
  buf[off + REST + 3] = restOfHeader;
  const c = finalizeChecksum(sumBytes(buf, off, len, pseudoHeaderSum));
  buf[off + CHECKSUM] = c >>> 8;
  buf[off + CHECKSUM + 1] = c;
  return len;
}

type WithBody = { checksum: number; body: Uint8Array };
/** Plain form of an ICMPv6 message. The checksum is carried as-is (it needs the pseudo-header). */
export type Icmpv6Message =
  | ({ kind: 'echo-request' | 'echo-reply'; identifier: number; sequenceNumber: number } & WithBody)
  | ({ kind: 'destination-unreachable'; code: number } & WithBody)
  | ({ kind: 'packet-too-big'; mtu: number } & WithBody)
  | ({ kind: 'time-exceeded'; code: number } & WithBody)
  | ({ kind: 'parameter-problem'; code: number; pointer: number } & WithBody)
  | ({ kind: 'other'; type: number; code: number; restOfHeader: number } & WithBody);

function typeCodeRest(m: Icmpv6Message): [number, number, number] {
  switch (m.kind) {
    case 'echo-request':
    case 'echo-reply':
      return [m.kind === 'echo-request' ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY, 0, ((m.identifier << 16) | m.sequenceNumber) >>> 0];
    case 'destination-unreachable':
      return [ICMPV6_DEST_UNREACHABLE, m.code, 0];
    case 'packet-too-big':
      return [ICMPV6_PACKET_TOO_BIG, 0, m.mtu >>> 0];
    case 'time-exceeded':
      return [ICMPV6_TIME_EXCEEDED, m.code, 0];
    case 'parameter-problem':
      return [ICMPV6_PARAMETER_PROBLEM, m.code, m.pointer >>> 0];
    case 'other':
      return [m.type, m.code, m.restOfHeader];
  }
}

export const Icmpv6Message = {
  /**
   * Parses the message filling buf[off ..]. The checksum is not verified (use the view
   * with the pseudo-header sum). Known types whose unused bits are not zero come back as
   * kind 'other', so emit reproduces the bytes. Never throws.
   */
  parse(buf: Uint8Array, off = 0): ParseResult<Icmpv6Message> {
    const v = new Icmpv6View();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    const base = { checksum: v.checksum, body: buf.slice(v.bodyOffset, v.bodyOffset + v.bodyLength) };
    const rest = v.restOfHeader;
    let m: Icmpv6Message;
    if ((v.type === ICMPV6_ECHO_REQUEST || v.type === ICMPV6_ECHO_REPLY) && v.code === 0) {
      m = { kind: v.type === ICMPV6_ECHO_REQUEST ? 'echo-request' : 'echo-reply', identifier: v.identifier, sequenceNumber: v.sequenceNumber, ...base };
    } else if (v.type === ICMPV6_DEST_UNREACHABLE && rest === 0) {
      m = { kind: 'destination-unreachable', code: v.code, ...base };
    } else if (v.type === ICMPV6_PACKET_TOO_BIG && v.code === 0) {
      m = { kind: 'packet-too-big', mtu: v.mtu, ...base };
    } else if (v.type === ICMPV6_TIME_EXCEEDED && rest === 0) {
      m = { kind: 'time-exceeded', code: v.code, ...base };
    } else if (v.type === ICMPV6_PARAMETER_PROBLEM) {
      m = { kind: 'parameter-problem', code: v.code, pointer: v.pointer, ...base };
    } else {
      m = { kind: 'other', type: v.type, code: v.code, restOfHeader: rest, ...base };
    }
    return { ok: true, value: m, byteLength: v.len };
  },
  /** Writes header and body at buf[off], storing m.checksum as given; returns the length. Throws RangeError on no room. */
  emit(m: Icmpv6Message, buf: Uint8Array, off = 0): number {
    const len = Icmpv6Message.byteLength(m);
    if (off < 0 || off + len > buf.length) throw new RangeError(`Icmpv6Message.emit: need ${len} bytes at offset ${off}, buffer is ${buf.length}`);
    const [type, code, rest] = typeCodeRest(m);
    buf.set(m.body, off + ICMPV6_HEADER_LENGTH);
    buf[off + TYPE] = type;
    buf[off + CODE] = code;
    buf[off + CHECKSUM] = m.checksum >>> 8;
    buf[off + CHECKSUM + 1] = m.checksum;
    buf[off + REST] = rest >>> 24;
    buf[off + REST + 1] = rest >>> 16;
    buf[off + REST + 2] = rest >>> 8;
    buf[off + REST + 3] = rest;
    return len;
  },
  byteLength(m: Icmpv6Message): number {
    return ICMPV6_HEADER_LENGTH + m.body.length;
  },
};
