// ICMP for IPv4 (RFC 792, RFC 1191 for the next-hop MTU). The director answers oversized
// DF packets with "fragmentation needed" and steers client ICMP errors to the real server
// of the quoted flow, so it needs the error header and the quoted datagram.
import { finalizeChecksum, sumBytes, verifyChecksum } from './checksum.js';
import { E_BAD_CHECKSUM, E_NO_HEADROOM, E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo: Identifier / Sequence Number                           |
// |  Dest. unreachable code 4: unused (16) | Next-Hop MTU (16)    |
// |  Parameter problem: Pointer (8) | unused (24)                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo data, or the quoted IP header + first 8+ bytes of data  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST = 4;
export const ICMPV4_HEADER_LENGTH = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

// Destination unreachable codes.
export const ICMP_NET_UNREACHABLE = 0;
export const ICMP_HOST_UNREACHABLE = 1;
export const ICMP_PROTOCOL_UNREACHABLE = 2;
export const ICMP_PORT_UNREACHABLE = 3;
export const ICMP_FRAGMENTATION_NEEDED = 4;
export const ICMP_SOURCE_ROUTE_FAILED = 5;
export const ICMP_ADMIN_PROHIBITED = 13;
// Time exceeded codes.
export const ICMP_TTL_EXCEEDED = 0;
export const ICMP_REASSEMBLY_TIME_EXCEEDED = 1;
// Parameter problem codes.
export const ICMP_POINTER_INDICATES_ERROR = 0;

/** True for the error types whose body quotes the offending datagram. */
export function isIcmpv4Error(type: number): boolean {
  return type === ICMP_DEST_UNREACHABLE || type === ICMP_SOURCE_QUENCH || type === ICMP_REDIRECT || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM;
}

const EMPTY = new Uint8Array(0);

/** Re-bindable view over one ICMPv4 message (len = the IP payload length). */
export class Icmpv4View {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Validates the 8-byte header fits; never throws. The checksum is left to checksumValid. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): Icmpv4View | WireError {
    const v = new Icmpv4View();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < ICMPV4_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  get type(): number {
    return this.buf[this.off + TYPE];
  }
  set type(v: number) {
    this.buf[this.off + TYPE] = v;
  }
  get code(): number {
    return this.buf[this.off + CODE];
  }
  set code(v: number) {
    this.buf[this.off + CODE] = v;
  }
  get checksum(): number {
    return (this.buf[this.off + CHECKSUM] << 8) | this.buf[this.off + CHECKSUM + 1];
  }
  set checksum(v: number) {
    this.buf[this.off + CHECKSUM] = v >>> 8;
    this.buf[this.off + CHECKSUM + 1] = v;
  }
  /** The 32-bit "rest of header" word, unsigned. */
  get restOfHeader(): number {
    const b = this.buf, o = this.off + REST;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Echo identifier (meaningful for echo request/reply). */
  get identifier(): number {
    return (this.buf[this.off + REST] << 8) | this.buf[this.off + REST + 1];
  }
  /** Echo sequence number. */
  get sequenceNumber(): number {
    return (this.buf[this.off + REST + 2] << 8) | this.buf[this.off + REST + 3];
  }
  /** Next-hop MTU of a fragmentation-needed error (RFC 1191), in bytes; 0 from old routers. */
  get nextHopMtu(): number {
    return (this.buf[this.off + REST + 2] << 8) | this.buf[this.off + REST + 3];
  }
  /** Parameter-problem pointer: the byte offset of the error in the quoted header. */
  get pointer(): number {
    return this.buf[this.off + REST];
  }
  get isError(): boolean {
    return isIcmpv4Error(this.type);
  }
  /** Offset of the body: echo data, or the quoted datagram of an error. */
  get bodyOffset(): number {
    return this.off + ICMPV4_HEADER_LENGTH;
  }
  get bodyLength(): number {
    return this.len - ICMPV4_HEADER_LENGTH;
  }
  get checksumValid(): boolean {
    return verifyChecksum(this.buf, this.off, this.len);
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finalizeChecksum(sumBytes(this.buf, this.off, this.len));
  }
}

/**
 * Data-path writer for an ICMP error in place: the quoted datagram must already sit at
 * buf[off+8 .. off+8+quotedLength). Writes type, code, the rest-of-header word and the
 * checksum; returns the message length, or 0 with nothing written if the buffer is short.
 */
export function writeIcmpv4Error(buf: Uint8Array, off: number, type: number, code: number, restOfHeader: number, quotedLength: number): number {
  const len = ICMPV4_HEADER_LENGTH + quotedLength;
  if (off < 0 || quotedLength < 0 || off + len > buf.length) return 0;
  buf[off + TYPE] = type;
  buf[off + CODE] = code;
  buf[off + CHECKSUM] = 0;
  buf[off + CHECKSUM + 1] = 0;
  buf[off + REST] = restOfHeader >>> 24;
  buf[off + REST + 1] = restOfHeader >>> 16;
  buf[off + REST + 2] = restOfHeader >>> 8;
  buf[off + REST + 3] = restOfHeader;
  const c = finalizeChecksum(sumBytes(buf, off, len));
  buf[off + CHECKSUM] = c >>> 8;
  buf[off + CHECKSUM + 1] = c;
  return len;
}

/** Numeric-code form of writeIcmpv4Error's failure, for drop counters. */
export const ICMPV4_WRITE_NO_ROOM: WireErrorCode = E_NO_HEADROOM;

/** Plain form of an ICMPv4 message (header fields by type, plus the body bytes). */
export type Icmpv4Message =
  | { kind: 'echo-request' | 'echo-reply'; identifier: number; sequenceNumber: number; body: Uint8Array }
  | { kind: 'destination-unreachable'; code: number; nextHopMtu: number; body: Uint8Array }
  | { kind: 'time-exceeded'; code: number; body: Uint8Array }
  | { kind: 'parameter-problem'; code: number; pointer: number; body: Uint8Array }
  | { kind: 'other'; type: number; code: number; restOfHeader: number; body: Uint8Array };

function typeCodeRest(m: Icmpv4Message): [number, number, number] {
  switch (m.kind) {
    case 'echo-request':
    case 'echo-reply':
      return [m.kind === 'echo-request' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY, 0, ((m.identifier << 16) | m.sequenceNumber) >>> 0];
    case 'destination-unreachable':
      return [ICMP_DEST_UNREACHABLE, m.code, m.nextHopMtu & 0xffff];
    case 'time-exceeded':
      return [ICMP_TIME_EXCEEDED, m.code, 0];
    case 'parameter-problem':
      return [ICMP_PARAMETER_PROBLEM, m.code, (m.pointer << 24) >>> 0];
    case 'other':
      return [m.type, m.code, m.restOfHeader];
  }
}

export const Icmpv4Message = {
  /**
   * Parses the message filling buf[off ..]; verifies the checksum. Unused header bits of
   * known types must be zero to re-encode the same bytes, so a type with non-zero unused
   * bits comes back as kind 'other'. Never throws.
   */
  parse(buf: Uint8Array, off = 0): ParseResult<Icmpv4Message> {
    const v = new Icmpv4View();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    if (!v.checksumValid) return parseFailure(E_BAD_CHECKSUM);
    const body = buf.slice(v.bodyOffset, v.bodyOffset + v.bodyLength);
    const rest = v.restOfHeader;
    let m: Icmpv4Message;
    if ((v.type === ICMP_ECHO_REQUEST || v.type === ICMP_ECHO_REPLY) && v.code === 0) {
      m = { kind: v.type === ICMP_ECHO_REQUEST ? 'echo-request' : 'echo-reply', identifier: v.identifier, sequenceNumber: v.sequenceNumber, body };
    } else if (v.type === ICMP_DEST_UNREACHABLE && rest >>> 16 === 0) {
      m = { kind: 'destination-unreachable', code: v.code, nextHopMtu: v.nextHopMtu, body };
    } else if (v.type === ICMP_TIME_EXCEEDED && rest === 0) {
      m = { kind: 'time-exceeded', code: v.code, body };
    } else if (v.type === ICMP_PARAMETER_PROBLEM && (rest & 0xffffff) === 0) {
      m = { kind: 'parameter-problem', code: v.code, pointer: v.pointer, body };
    } else {
      m = { kind: 'other', type: v.type, code: v.code, restOfHeader: rest, body };
    }
    return { ok: true, value: m, byteLength: v.len };
  },
  /** Writes header and body at buf[off] with the checksum filled; returns the length. Throws RangeError on no room. */
  emit(m: Icmpv4Message, buf: Uint8Array, off = 0): number {
    const len = Icmpv4Message.byteLength(m);
    if (off < 0 || off + len > buf.length) throw new RangeError(`Icmpv4Message.emit: need ${len} bytes at offset ${off}, buffer is ${buf.length}`);
    buf.set(m.body, off + ICMPV4_HEADER_LENGTH);
    const [type, code, rest] = typeCodeRest(m);
    writeIcmpv4Error(buf, off, type, code, rest, m.body.length);
    return len;
  },
  byteLength(m: Icmpv4Message): number {
    return ICMPV4_HEADER_LENGTH + m.body.length;
  },
};
