// TCP header (RFC 9293) and options (RFC 7323 timestamps/window scale, RFC 2018 SACK).
// The director reads ports and flags for its connection table and may clamp the MSS
// option of SYNs so that inner packets plus the outer header fit the tunnel MTU.
import { finalizeChecksum, foldSum, sumBytes, updateChecksum16 } from './checksum.js';
import { readPortPair } from './port-pair.js';
import { E_BAD_OFFSET, E_BAD_OPTION, E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        Sequence Number                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Acknowledgment Number                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data |       |C|E|U|A|P|R|S|F|                               |
// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
// |       |       |R|E|G|K|H|T|N|N|                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Checksum            |         Urgent Pointer        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                           [Options]                           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const SEQUENCE = 4;
const ACKNOWLEDGMENT = 8;
const DATA_OFFSET = 12;
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT = 18;
export const TCP_HEADER_LENGTH = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export const TCP_OPT_END = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WINDOW_SCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMPS = 8;

const EMPTY = new Uint8Array(0);

/** The fixed length a known option must have (0 = variable or unknown). */
function fixedOptionLength(kind: number): number {
  switch (kind) {
    case TCP_OPT_MSS:
      return 4;
    case TCP_OPT_WINDOW_SCALE:
      return 3;
    case TCP_OPT_SACK_PERMITTED:
      return 2;
    case TCP_OPT_TIMESTAMPS:
      return 10;
    default:
      return 0;
  }
}

/** Checks option TLVs in buf[off .. end); END stops the walk. */
function checkTcpOptions(buf: Uint8Array, off: number, end: number): WireErrorCode {
  for (let i = off; i < end; ) {
    const kind = buf[i];
    if (kind === TCP_OPT_END) return WIRE_OK;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return E_BAD_OPTION;
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return E_BAD_OPTION;
    const fixed = fixedOptionLength(kind);
    if (fixed !== 0 && len !== fixed) return E_BAD_OPTION;
    if (kind === TCP_OPT_SACK && (len - 2) % 8 !== 0) return E_BAD_OPTION;
    i += len;
  }
  return WIRE_OK;
}

/**
 * Offset in buf of the first option of `kind` in buf[off .. end), or -1. Assumes the
 * options were checked (a bad length stops the search rather than running past end).
 */
export function findTcpOption(buf: Uint8Array, off: number, end: number, kind: number): number {
  for (let i = off; i < end; ) {
    const k = buf[i];
    if (k === TCP_OPT_END) return -1;
    if (k === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return -1;
    if (k === kind) return i;
    i += len;
  }
  return -1;
}

/** The fixed header fits and the data offset is 20..len bytes. */
function checkFixedHeader(buf: Uint8Array, off: number, len: number): WireErrorCode {
  if (off < 0 || len < TCP_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
  const hlen = (buf[off + DATA_OFFSET] >> 4) << 2;
  return hlen < TCP_HEADER_LENGTH || hlen > len ? E_BAD_OFFSET : WIRE_OK;
}

/**
 * Re-bindable view over one TCP segment. `len` must be the segment length (the IP payload
 * length), since the checksum covers exactly that. After bind: 20 <= header length <= len
 * and the options are well formed.
 */
export class TcpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Validates the header and options; never throws. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): TcpView | WireError {
    const v = new TcpView();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Binds without allocation; 0 or a WireError code. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    const fixed = checkFixedHeader(buf, off, len);
    if (fixed !== WIRE_OK) return fixed;
    const hlen = (buf[off + DATA_OFFSET] >> 4) << 2;
    if (hlen > TCP_HEADER_LENGTH) {
      const code = checkTcpOptions(buf, off + TCP_HEADER_LENGTH, off + hlen);
      if (code !== WIRE_OK) return code;
    }
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /**
   * Binds checking only the data offset (20 <= header length <= len), not the options:
   * for code that reads ports and flags and forwards the segment as it is.
   */
  bindHeader(buf: Uint8Array, off: number, len: number): WireErrorCode {
    const fixed = checkFixedHeader(buf, off, len);
    if (fixed !== WIRE_OK) return fixed;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /** Both ports in one number, source << 16 | destination (unsigned): a flow key's half in one read. */
  get ports(): number {
    return readPortPair(this.buf, this.off);
  }
  get sourcePort(): number {
    return (this.buf[this.off + SOURCE_PORT] << 8) | this.buf[this.off + SOURCE_PORT + 1];
  }
  set sourcePort(v: number) {
    this.buf[this.off + SOURCE_PORT] = v >>> 8;
    this.buf[this.off + SOURCE_PORT + 1] = v;
  }
  get destinationPort(): number {
    return (this.buf[this.off + DESTINATION_PORT] << 8) | this.buf[this.off + DESTINATION_PORT + 1];
  }
  set destinationPort(v: number) {
    this.buf[this.off + DESTINATION_PORT] = v >>> 8;
    this.buf[this.off + DESTINATION_PORT + 1] = v;
  }
  /** Sequence number, unsigned 32-bit. */
  get sequenceNumber(): number {
    const b = this.buf, o = this.off + SEQUENCE;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  get acknowledgmentNumber(): number {
    const b = this.buf, o = this.off + ACKNOWLEDGMENT;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Header length in bytes (data offset * 4). */
  get headerLength(): number {
    return (this.buf[this.off + DATA_OFFSET] >> 4) << 2;
  }
  /** The eight flag bits CWR..FIN (TCP_* constants). */
  get flags(): number {
    return this.buf[this.off + FLAGS];
  }
  get fin(): boolean {
    return (this.buf[this.off + FLAGS] & TCP_FIN) !== 0;
  }
  get syn(): boolean {
    return (this.buf[this.off + FLAGS] & TCP_SYN) !== 0;
  }
  get rst(): boolean {
    return (this.buf[this.off + FLAGS] & TCP_RST) !== 0;
  }
  get psh(): boolean {
    return (this.buf[this.off + FLAGS] & TCP_PSH) !== 0;
  }
  get ack(): boolean {
    return (this.buf[this.off + FLAGS] & TCP_ACK) !== 0;
  }
  get window(): number {
    return (this.buf[this.off + WINDOW] << 8) | this.buf[this.off + WINDOW + 1];
  }
  get checksum(): number {
    return (this.buf[this.off + CHECKSUM] << 8) | this.buf[this.off + CHECKSUM + 1];
  }
  set checksum(v: number) {
    this.buf[this.off + CHECKSUM] = v >>> 8;
    this.buf[this.off + CHECKSUM + 1] = v;
  }
  get urgentPointer(): number {
    return (this.buf[this.off + URGENT] << 8) | this.buf[this.off + URGENT + 1];
  }
  get optionsOffset(): number {
    return this.off + TCP_HEADER_LENGTH;
  }
  get optionsLength(): number {
    return this.headerLength - TCP_HEADER_LENGTH;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  get payloadLength(): number {
    return this.len - this.headerLength;
  }
  /** Offset in buf of the MSS option's kind byte, or -1 when there is none. */
  get mssOptionOffset(): number {
    return findTcpOption(this.buf, this.off + TCP_HEADER_LENGTH, this.off + this.headerLength, TCP_OPT_MSS);
  }
  /** The MSS option's value in bytes, or -1 when there is none. */
  get mss(): number {
    const o = this.mssOptionOffset;
    return o < 0 ? -1 : (this.buf[o + 2] << 8) | this.buf[o + 3];
  }

  /**
   * Lowers the MSS option to `maxMss` when it is larger, fixing the checksum with RFC 1624.
   * Returns the option's offset in buf when it was rewritten, -1 otherwise (no option, or
   * already small enough).
   */
  clampMss(maxMss: number): number {
    const o = this.mssOptionOffset;
    if (o < 0) return -1;
    const b = this.buf;
    const old = (b[o + 2] << 8) | b[o + 3];
    if (old <= maxMss) return -1;
    const at = o + 2;
    // The checksum sums 16-bit words from the segment start; an odd-placed value spans two.
    if (((at - this.off) & 1) === 0) {
      b[at] = maxMss >>> 8;
      b[at + 1] = maxMss;
      this.checksum = updateChecksum16(this.checksum, old, maxMss);
    } else {
      const w1 = (b[at - 1] << 8) | b[at];
      const w2 = (b[at + 1] << 8) | b[at + 2];
      b[at] = maxMss >>> 8;
      b[at + 1] = maxMss;
      let c = updateChecksum16(this.checksum, w1, (b[at - 1] << 8) | b[at]);
      c = updateChecksum16(c, w2, (b[at + 1] << 8) | b[at + 2]);
      this.checksum = c;
    }
    return o;
  }

  /** True when the checksum verifies, given the pseudo-header sum (see checksum.ts). */
  checksumValid(pseudoHeaderSum: number): boolean {
    return foldSum(sumBytes(this.buf, this.off, this.len, pseudoHeaderSum)) === 0xffff;
  }
  /** Computes and stores the checksum over the pseudo-header sum and the whole segment. */
  fillChecksum(pseudoHeaderSum: number): void {
    this.checksum = 0;
    this.checksum = finalizeChecksum(sumBytes(this.buf, this.off, this.len, pseudoHeaderSum));
  }
}

/** One TCP option in plain form. */
export type TcpOption =
  | { kind: 'nop' }
  | { kind: 'end' }
  | { kind: 'mss'; mss: number }
  | { kind: 'window-scale'; shift: number }
  | { kind: 'sack-permitted' }
  | { kind: 'sack'; blocks: [left: number, right: number][] }
  | { kind: 'timestamps'; value: number; echoReply: number }
  | { kind: 'unknown'; type: number; data: Uint8Array };

/** Plain form of a TCP header. The checksum is carried as-is (it needs the IP pseudo-header). */
export interface TcpHeader {
  sourcePort: number;
  destinationPort: number;
  sequenceNumber: number;
  acknowledgmentNumber: number;
  /** CWR..FIN bits (TCP_* constants). */
  flags: number;
  window: number;
  checksum: number;
  urgentPointer: number;
  options: TcpOption[];
}

const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function decodeOptions(b: Uint8Array, off: number, end: number): TcpOption[] {
  const out: TcpOption[] = [];
  for (let i = off; i < end; ) {
    const kind = b[i];
    if (kind === TCP_OPT_END) {
      out.push({ kind: 'end' });
      break;
    }
    if (kind === TCP_OPT_NOP) {
      out.push({ kind: 'nop' });
      i++;
      continue;
    }
    const len = b[i + 1];
    switch (kind) {
      case TCP_OPT_MSS:
        out.push({ kind: 'mss', mss: (b[i + 2] << 8) | b[i + 3] });
        break;
      case TCP_OPT_WINDOW_SCALE:
        out.push({ kind: 'window-scale', shift: b[i + 2] });
        break;
      case TCP_OPT_SACK_PERMITTED:
        out.push({ kind: 'sack-permitted' });
        break;
      case TCP_OPT_SACK: {
        const blocks: [number, number][] = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([u32(b, j), u32(b, j + 4)]);
        out.push({ kind: 'sack', blocks });
        break;
      }
      case TCP_OPT_TIMESTAMPS:
        out.push({ kind: 'timestamps', value: u32(b, i + 2), echoReply: u32(b, i + 6) });
        break;
      default:
        out.push({ kind: 'unknown', type: kind, data: b.slice(i + 2, i + len) });
    }
    i += len;
  }
  return out;
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'nop':
    case 'end':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + o.data.length;
  }
}

/** Option bytes before padding. */
function rawOptionsLength(options: TcpOption[]): number {
  let n = 0;
  for (const o of options) n += optionLength(o);
  return n;
}

function encodeOption(o: TcpOption, b: Uint8Array, i: number): void {
  switch (o.kind) {
    case 'nop':
      b[i] = TCP_OPT_NOP;
      return;
    case 'end':
      b[i] = TCP_OPT_END;
      return;
    case 'mss':
      b.set([TCP_OPT_MSS, 4, o.mss >>> 8, o.mss & 0xff], i);
      return;
    case 'window-scale':
      b.set([TCP_OPT_WINDOW_SCALE, 3, o.shift], i);
      return;
    case 'sack-permitted':
      b.set([TCP_OPT_SACK_PERMITTED, 2], i);
      return;
    case 'sack':
      b[i] = TCP_OPT_SACK;
      b[i + 1] = 2 + 8 * o.blocks.length;
      o.blocks.forEach(([l, r], k) => {
        putU32(b, i + 2 + 8 * k, l);
        putU32(b, i + 6 + 8 * k, r);
      });
      return;
    case 'timestamps':
      b[i] = TCP_OPT_TIMESTAMPS;
      b[i + 1] = 10;
      putU32(b, i + 2, o.value);
      putU32(b, i + 6, o.echoReply);
      return;
    case 'unknown':
      b[i] = o.type;
      b[i + 1] = 2 + o.data.length;
      b.set(o.data, i + 2);
  }
}

export const TcpHeader = {
  /** Parses the header at buf[off]; the segment runs to buf.length. Never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<TcpHeader> {
    const v = new TcpView();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    return {
      ok: true,
      value: {
        sourcePort: v.sourcePort,
        destinationPort: v.destinationPort,
        sequenceNumber: v.sequenceNumber,
        acknowledgmentNumber: v.acknowledgmentNumber,
        flags: v.flags,
        window: v.window,
        checksum: v.checksum,
        urgentPointer: v.urgentPointer,
        options: decodeOptions(buf, v.optionsOffset, v.optionsOffset + v.optionsLength),
      },
      byteLength: v.headerLength,
    };
  },
  /**
   * Writes the header at buf[off], options zero-padded to a multiple of 4; returns its
   * length. Throws RangeError when there is no room or the options exceed 40 bytes.
   */
  emit(h: TcpHeader, buf: Uint8Array, off = 0): number {
    const hlen = TcpHeader.byteLength(h);
    if (hlen > 60) throw new RangeError(`TcpHeader.options: ${hlen - 20} bytes after padding, at most 40 fit`);
    if (off < 0 || off + hlen > buf.length) throw new RangeError(`TcpHeader.emit: need ${hlen} bytes at offset ${off}, buffer is ${buf.length}`);
    buf[off + SOURCE_PORT] = h.sourcePort >>> 8;
    buf[off + SOURCE_PORT + 1] = h.sourcePort;
    buf[off + DESTINATION_PORT] = h.destinationPort >>> 8;
    buf[off + DESTINATION_PORT + 1] = h.destinationPort;
    putU32(buf, off + SEQUENCE, h.sequenceNumber);
    putU32(buf, off + ACKNOWLEDGMENT, h.acknowledgmentNumber);
    buf[off + DATA_OFFSET] = (hlen >> 2) << 4;
    buf[off + FLAGS] = h.flags;
    buf[off + WINDOW] = h.window >>> 8;
    buf[off + WINDOW + 1] = h.window;
    buf[off + CHECKSUM] = h.checksum >>> 8;
    buf[off + CHECKSUM + 1] = h.checksum;
    buf[off + URGENT] = h.urgentPointer >>> 8;
    buf[off + URGENT + 1] = h.urgentPointer;
    let i = off + TCP_HEADER_LENGTH;
    for (const o of h.options) {
      encodeOption(o, buf, i);
      i += optionLength(o);
    }
    buf.fill(0, i, off + hlen);
    return hlen;
  },
  /** Header length in bytes: 20 + options rounded up to a multiple of 4. */
  byteLength(h: TcpHeader): number {
    return TCP_HEADER_LENGTH + ((rawOptionsLength(h.options) + 3) & ~3);
  },
};
