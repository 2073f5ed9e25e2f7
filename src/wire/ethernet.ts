// Ethernet II frames (IEEE 802.3 with an EtherType). The director is a host on a TAP link:
// it reads frames, answers ARP, and rewrites the two MAC addresses of each frame it sends.
import { E_TRUNCATED, WIRE_OK, parseFailure, wireErrorName, type ParseResult, type WireError, type WireErrorCode } from './errors.js';

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Destination MAC (6 octets)                   |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                    Source MAC (6 octets)                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           EtherType           |          Payload ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const DESTINATION = 0;
const SOURCE = 6;
const ETHER_TYPE = 12;
export const ETHERNET_HEADER_LENGTH = 14;
export const MAC_LENGTH = 6;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

const EMPTY = new Uint8Array(0);

/** Re-bindable view over an Ethernet II frame. Valid once checked()/bind() succeeded. */
export class EthernetView {
  buf: Uint8Array = EMPTY;
  /** Offset of the frame in buf. */
  off = 0;
  /** Frame length in bytes (header + payload). */
  len = 0;

  /** Validates that a 14-byte header fits in buf[off .. off+len); never throws. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): EthernetView | WireError {
    const v = new EthernetView();
    const code = v.bind(buf, off, len);
    return code === WIRE_OK ? v : wireErrorName(code);
  }

  /** Points this view at a frame with no allocation. Returns 0 or a numeric WireError code. */
  bind(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < ETHERNET_HEADER_LENGTH || off + len > buf.length) return E_TRUNCATED;
    this.buf = buf;
    this.off = off;
    this.len = len;
    return WIRE_OK;
  }

  get etherType(): number {
    const b = this.buf, o = this.off + ETHER_TYPE;
    return (b[o] << 8) | b[o + 1];
  }
  set etherType(v: number) {
    const b = this.buf, o = this.off + ETHER_TYPE;
    b[o] = v >>> 8;
    b[o + 1] = v;
  }
  /** Offset in buf of the destination MAC (6 bytes). */
  get destinationOffset(): number {
    return this.off + DESTINATION;
  }
  /** Offset in buf of the source MAC (6 bytes). */
  get sourceOffset(): number {
    return this.off + SOURCE;
  }
  get destinationString(): string {
    return macToString(this.buf, this.off + DESTINATION);
  }
  get sourceString(): string {
    return macToString(this.buf, this.off + SOURCE);
  }
  /** True for a group (multicast or broadcast) destination: the I/G bit. */
  get isMulticastDestination(): boolean {
    return (this.buf[this.off + DESTINATION] & 1) === 1;
  }
  get payloadOffset(): number {
    return this.off + ETHERNET_HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.len - ETHERNET_HEADER_LENGTH;
  }
  /** Copies a 6-byte MAC (from mac[macOff]) into the destination field. */
  setDestination(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + DESTINATION);
  }
  setSource(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + SOURCE);
  }
  /** True when the destination equals mac[macOff .. +6). */
  destinationEquals(mac: Uint8Array, macOff = 0): boolean {
    return macEquals(this.buf, this.off + DESTINATION, mac, macOff);
  }
}

/** Copies 6 bytes without allocating (subarray().set() would allocate a view). */
export function copyMac(from: Uint8Array, fromOff: number, to: Uint8Array, toOff: number): void {
  to[toOff] = from[fromOff];
  to[toOff + 1] = from[fromOff + 1];
  to[toOff + 2] = from[fromOff + 2];
  to[toOff + 3] = from[fromOff + 3];
  to[toOff + 4] = from[fromOff + 4];
  to[toOff + 5] = from[fromOff + 5];
}

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** "02:00:00:77:00:01" for the 6 bytes at buf[off]. */
export function macToString(buf: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < MAC_LENGTH; i++) {
    const x = buf[off + i] ?? 0;
    s += (i ? ':' : '') + (x < 16 ? '0' : '') + x.toString(16);
  }
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or '-' separated, any case); null when malformed. */
export function parseMac(text: string): Uint8Array | null {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) return null;
  return Uint8Array.from(m.slice(1, 7).map((h) => parseInt(h, 16)));
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** Plain form of an Ethernet II header, for control code, tests and logs. */
export interface EthernetHeader {
  destination: string;
  source: string;
  etherType: number;
}

function requireMac(text: string, field: string): Uint8Array {
  const mac = parseMac(text);
  if (!mac) throw new TypeError(`EthernetHeader.${field}: "${text}" is not a MAC address like 02:00:00:00:00:01`);
  return mac;
}

export const EthernetHeader = {
  /** Parses the 14-byte header at buf[off]; never throws. */
  parse(buf: Uint8Array, off = 0): ParseResult<EthernetHeader> {
    const v = new EthernetView();
    const code = v.bind(buf, off, buf.length - off);
    if (code !== WIRE_OK) return parseFailure(code);
    return {
      ok: true,
      value: { destination: v.destinationString, source: v.sourceString, etherType: v.etherType },
      byteLength: ETHERNET_HEADER_LENGTH,
    };
  },
  /** Writes the header at buf[off]; returns 14. Throws RangeError/TypeError on no room or a bad MAC. */
  emit(h: EthernetHeader, buf: Uint8Array, off = 0): number {
    if (off < 0 || off + ETHERNET_HEADER_LENGTH > buf.length) throw new RangeError(`EthernetHeader.emit: need 14 bytes at offset ${off}, buffer is ${buf.length}`);
    copyMac(requireMac(h.destination, 'destination'), 0, buf, off + DESTINATION);
    copyMac(requireMac(h.source, 'source'), 0, buf, off + SOURCE);
    buf[off + ETHER_TYPE] = h.etherType >>> 8;
    buf[off + ETHER_TYPE + 1] = h.etherType;
    return ETHERNET_HEADER_LENGTH;
  },
  byteLength(_h: EthernetHeader): number {
    return ETHERNET_HEADER_LENGTH;
  },
};
