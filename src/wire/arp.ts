// ARP for IPv4 over Ethernet (RFC 826). The director answers requests for its own link
// address and learns the kernel's MAC from what it hears; nothing else is supported, so
// checking rejects any other hardware or protocol type up front.
import { E_BAD_HARDWARE_TYPE, E_BAD_PROTOCOL_TYPE, E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';
import { copyMac, macToString, parseMac } from './ethernet.js';
import { ipv4ToString, parseIpv4, readIpv4, writeIpv4 } from './ipv4-address.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Hardware Type (1)      |     Protocol Type (0x0800)    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  HLEN (6)     |   PLEN (4)    |          Operation            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Sender Hardware Address (6)  ...                     |
// |   ... | Sender Protocol Address (4)   | Target Hardware Address (6) ...
// |   ... | Target Protocol Address (4)                           |
const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OPER = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;
export const ARP_LENGTH = 28;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

const EMPTY = new Uint8Array(0);

/** Re-bindable view over an Ethernet/IPv4 ARP packet (the Ethernet payload). */
export class ArpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Validates length and Ethernet/IPv4 types; never throws. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): ArpView | WireError {
    const v = new ArpView();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Binds without allocation; 0 or a WireError code. Trailing padding (len > 28) is allowed. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < ARP_LENGTH || off + len > buf.length) return E_TRUNCATED;
    if (((buf[off + HTYPE] << 8) | buf[off + HTYPE + 1]) !== ARP_HTYPE_ETHERNET || buf[off + HLEN] !== 6) return E_BAD_HARDWARE_TYPE;
    if (((buf[off + PTYPE] << 8) | buf[off + PTYPE + 1]) !== ARP_PTYPE_IPV4 || buf[off + PLEN] !== 4) return E_BAD_PROTOCOL_TYPE;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  get hardwareType(): number {
    return (this.buf[this.off + HTYPE] << 8) | this.buf[this.off + HTYPE + 1];
  }
  get protocolType(): number {
    return (this.buf[this.off + PTYPE] << 8) | this.buf[this.off + PTYPE + 1];
  }
  get operation(): number {
    return (this.buf[this.off + OPER] << 8) | this.buf[this.off + OPER + 1];
  }
  set operation(v: number) {
    this.buf[this.off + OPER] = v >>> 8;
    this.buf[this.off + OPER + 1] = v;
  }
  get senderHardwareAddressOffset(): number {
    return this.off + SHA;
  }
  get targetHardwareAddressOffset(): number {
    return this.off + THA;
  }
  get senderHardwareAddressString(): string {
    return macToString(this.buf, this.off + SHA);
  }
  get targetHardwareAddressString(): string {
    return macToString(this.buf, this.off + THA);
  }
  get senderProtocolAddress(): number {
    return readIpv4(this.buf, this.off + SPA);
  }
  set senderProtocolAddress(v: number) {
    writeIpv4(this.buf, this.off + SPA, v);
  }
  get targetProtocolAddress(): number {
    return readIpv4(this.buf, this.off + TPA);
  }
  set targetProtocolAddress(v: number) {
    writeIpv4(this.buf, this.off + TPA, v);
  }
  setSenderHardwareAddress(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + SHA);
  }
  setTargetHardwareAddress(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + THA);
  }

  /**
   * Turns this request into the reply in place: the sender becomes the target, and `mac`
   * (our MAC) answers for the address that was asked about. The Ethernet header is the
   * caller's to rewrite.
   */
  makeReplyInPlace(mac: Uint8Array, macOff = 0): void {
    const asked = this.targetProtocolAddress;
    copyMac(this.buf, this.off + SHA, this.buf, this.off + THA);
    writeIpv4(this.buf, this.off + TPA, this.senderProtocolAddress);
    copyMac(mac, macOff, this.buf, this.off + SHA);
    writeIpv4(this.buf, this.off + SPA, asked);
    this.operation = ARP_OP_REPLY;
  }
}

/** Plain form of an Ethernet/IPv4 ARP packet. */
export interface ArpPacket {
  operation: number;
  senderHardwareAddress: string;
  senderProtocolAddress: string;
  targetHardwareAddress: string;
  targetProtocolAddress: string;
}

function required<T>(value: T | null, field: string, text: string): T {
  if (value === null) throw new TypeError(`ArpPacket.${field}: "${text}" is not a valid address`);
  return value;
}

export const ArpPacket = {
  /** Parses the 28-byte packet at buf[off]; never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<ArpPacket> {
    const v = new ArpView();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    return {
      ok: true,
      value: {
        operation: v.operation,
        senderHardwareAddress: v.senderHardwareAddressString,
        senderProtocolAddress: ipv4ToString(v.senderProtocolAddress),
        targetHardwareAddress: v.targetHardwareAddressString,
        targetProtocolAddress: ipv4ToString(v.targetProtocolAddress),
      },
      byteLength: ARP_LENGTH,
    };
  },
  /** Writes 28 bytes at buf[off]; returns 28. Throws RangeError/TypeError on no room or a bad address. */
  emit(p: ArpPacket, buf: Uint8Array, off = 0): number {
    if (off < 0 || off + ARP_LENGTH > buf.length) throw new RangeError(`ArpPacket.emit: need 28 bytes at offset ${off}, buffer is ${buf.length}`);
    buf[off + HTYPE] = 0;
    buf[off + HTYPE + 1] = ARP_HTYPE_ETHERNET;
    buf[off + PTYPE] = ARP_PTYPE_IPV4 >>> 8;
    buf[off + PTYPE + 1] = ARP_PTYPE_IPV4 & 0xff;
    buf[off + HLEN] = 6;
    buf[off + PLEN] = 4;
    buf[off + OPER] = p.operation >>> 8;
    buf[off + OPER + 1] = p.operation;
    copyMac(required(parseMac(p.senderHardwareAddress), 'senderHardwareAddress', p.senderHardwareAddress), 0, buf, off + SHA);
    writeIpv4(buf, off + SPA, required(parseIpv4(p.senderProtocolAddress), 'senderProtocolAddress', p.senderProtocolAddress));
    copyMac(required(parseMac(p.targetHardwareAddress), 'targetHardwareAddress', p.targetHardwareAddress), 0, buf, off + THA);
    writeIpv4(buf, off + TPA, required(parseIpv4(p.targetProtocolAddress), 'targetProtocolAddress', p.targetProtocolAddress));
    return ARP_LENGTH;
  },
  byteLength(_p: ArpPacket): number {
    return ARP_LENGTH;
  },
};
