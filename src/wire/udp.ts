// UDP (RFC 768). The director reads ports for its connection table; GUE rides on it.
import { finalizeChecksum, foldSum, sumBytes } from './checksum.js';
import { readPortPair } from './port-pair.js';
import { E_BAD_LENGTH, E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Length             |           Checksum            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;
export const UDP_HEADER_LENGTH = 8;

const EMPTY = new Uint8Array(0);

/**
 * Re-bindable view over a UDP datagram. After bind: 8 <= length field <= len (bytes after
 * the length field, e.g. padding, are outside the datagram).
 */
export class UdpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static checked(buf: Uint8Array, off = 0, len = buf.length - off): UdpView | WireError {
    const v = new UdpView();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Binds without allocation; 0 or a WireError code. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < UDP_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    const length = (buf[off + LENGTH] << 8) | buf[off + LENGTH + 1];
    if (length < UDP_HEADER_LENGTH) return E_BAD_LENGTH;
    if (length > len) return E_TRUNCATED;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  /**
   * Binds to the first fragment of a datagram: the length field (at least 8) may cover
   * more than the len bytes this fragment carries.
   */
  bindFirstFragment(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < UDP_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    if (((buf[off + LENGTH] << 8) | buf[off + LENGTH + 1]) < UDP_HEADER_LENGTH) return E_BAD_LENGTH;
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
  /** The Length field: header + payload, in bytes. */
  get length(): number {
    return (this.buf[this.off + LENGTH] << 8) | this.buf[this.off + LENGTH + 1];
  }
  get checksum(): number {
    return (this.buf[this.off + CHECKSUM] << 8) | this.buf[this.off + CHECKSUM + 1];
  }
  set checksum(v: number) {
    this.buf[this.off + CHECKSUM] = v >>> 8;
    this.buf[this.off + CHECKSUM + 1] = v;
  }
  /** False when the sender left the checksum out (0, allowed over IPv4 only). */
  get hasChecksum(): boolean {
    return this.checksum !== 0;
  }
  get payloadOffset(): number {
    return this.off + UDP_HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.length - UDP_HEADER_LENGTH;
  }
  /** True when the checksum verifies over the pseudo-header sum (a 0 checksum does not). */
  checksumValid(pseudoHeaderSum: number): boolean {
    return this.hasChecksum && foldSum(sumBytes(this.buf, this.off, this.length, pseudoHeaderSum)) === 0xffff;
  }
  /** Computes and stores the checksum; a computed 0 is sent as 0xffff (RFC 768). */
  fillChecksum(pseudoHeaderSum: number): void {
    this.checksum = 0;
    this.checksum = finalizeChecksum(sumBytes(this.buf, this.off, this.length, pseudoHeaderSum)) || 0xffff;
  }
}

/** Plain form of a UDP header. The checksum is carried as-is (it needs the IP pseudo-header). */
export interface UdpHeader {
  sourcePort: number;
  destinationPort: number;
  /** Payload bytes; the Length field is this + 8. */
  payloadLength: number;
  checksum: number;
}

export const UdpHeader = {
  /** Parses the header at buf[off]; the datagram must fit in buf. Never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<UdpHeader> {
    const v = new UdpView();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    return {
      ok: true,
      value: { sourcePort: v.sourcePort, destinationPort: v.destinationPort, payloadLength: v.payloadLength, checksum: v.checksum },
      byteLength: UDP_HEADER_LENGTH,
    };
  },
  /** Writes 8 bytes at buf[off]; returns 8. Throws RangeError on no room or a payload over 65527 bytes. */
  emit(h: UdpHeader, buf: Uint8Array, off = 0): number {
    if (off < 0 || off + UDP_HEADER_LENGTH > buf.length) throw new RangeError(`UdpHeader.emit: need 8 bytes at offset ${off}, buffer is ${buf.length}`);
    const length = UDP_HEADER_LENGTH + h.payloadLength;
    if (length > 0xffff) throw new RangeError(`UdpHeader.payloadLength: ${h.payloadLength} exceeds 65527`);
    buf[off + SOURCE_PORT] = h.sourcePort >>> 8;
    buf[off + SOURCE_PORT + 1] = h.sourcePort;
    buf[off + DESTINATION_PORT] = h.destinationPort >>> 8;
    buf[off + DESTINATION_PORT + 1] = h.destinationPort;
    buf[off + LENGTH] = length >>> 8;
    buf[off + LENGTH + 1] = length;
    buf[off + CHECKSUM] = h.checksum >>> 8;
    buf[off + CHECKSUM + 1] = h.checksum;
    return UDP_HEADER_LENGTH;
  },
  byteLength(_h: UdpHeader): number {
    return UDP_HEADER_LENGTH;
  },
};
