// Address tables the data path consults once per packet: the director sources (addresses
// or CIDRs) and the VIPs. Built once from strings; lookups read straight from the packet
// bytes and allocate nothing.
import { Address4, Address6 } from 'ip-address';
import { AgentError } from './agent-error.js';

/** An address or a prefix from the command line (a --vip or --director value); not wire/address-text.ts's ParsedAddress, which is one address as a number. */
export interface AddressPrefix {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  prefixLength: number;
  /** Canonical text without prefix (e.g. `2001:db8::1`). */
  text: string;
}

/**
 * Parses `ADDR` or `ADDR/LEN` (IPv4 or IPv6). Host bits under the prefix are cleared.
 * `what` names the flag in the error. Throws AGENT_BAD_ARGUMENT for anything else.
 */
export function parseAddressOrCidr(input: string, what: string, allowPrefix: boolean): AddressPrefix {
  const s = input.trim();
  const hasPrefix = s.includes('/');
  if (hasPrefix && !allowPrefix) {
    throw new AgentError('AGENT_BAD_ARGUMENT', `${what} ${JSON.stringify(input)}: give a single address without /prefix`);
  }
  let family: 4 | 6;
  let bytes: Uint8Array;
  let prefixLength: number;
  let text: string;
  if (Address4.isValid(s)) {
    const a = new Address4(s);
    family = 4;
    bytes = Uint8Array.from(a.toArray());
    prefixLength = a.subnetMask;
    text = a.correctForm();
  } else if (Address6.isValid(s) && !s.includes('.')) {
    const a = new Address6(s);
    family = 6;
    bytes = Uint8Array.from(a.toByteArray().slice(-16));
    // toByteArray drops leading zero bytes (it is a bigint's bytes): left-pad to 16.
    if (bytes.length < 16) {
      const padded = new Uint8Array(16);
      padded.set(bytes, 16 - bytes.length);
      bytes = padded;
    }
    prefixLength = a.subnetMask;
    text = a.correctForm();
  } else {
    throw new AgentError(
      'AGENT_BAD_ARGUMENT',
      `${what} ${JSON.stringify(input)} is not an IPv4 or IPv6 address${allowPrefix ? ' or CIDR' : ''} (e.g. 192.0.2.10${allowPrefix ? ' or 192.0.2.0/24' : ''})`,
    );
  }
  clearHostBits(bytes, prefixLength);
  if (hasPrefix) {
    text = family === 4 ? bytes.join('.') : new Address6(bytesToV6Groups(bytes)).correctForm();
  }
  return { family, bytes, prefixLength, text };
}

function clearHostBits(bytes: Uint8Array, prefixLength: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefixLength - i * 8));
    bytes[i] &= (0xff00 >> bitsHere) & 0xff;
  }
}

function bytesToV6Groups(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(':');
}

/** Reads a big-endian u32 as an unsigned JS number. */
function u32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Director sources: a list of IPv4 and IPv6 prefixes; a linear scan (there are few). */
export class SourcePrefixSet {
  private readonly net4: Uint32Array;
  private readonly mask4: Uint32Array;
  private readonly net6: Uint8Array;
  private readonly len6: Uint8Array;
  readonly entries: readonly AddressPrefix[];

  constructor(entries: readonly AddressPrefix[]) {
    this.entries = entries;
    const v4 = entries.filter((e) => e.family === 4);
    const v6 = entries.filter((e) => e.family === 6);
    this.net4 = Uint32Array.from(v4.map((e) => u32(e.bytes, 0)));
    this.mask4 = Uint32Array.from(v4.map((e) => (e.prefixLength === 0 ? 0 : (0xffffffff << (32 - e.prefixLength)) >>> 0)));
    this.net6 = new Uint8Array(16 * v6.length);
    v6.forEach((e, i) => this.net6.set(e.bytes, i * 16));
    this.len6 = Uint8Array.from(v6.map((e) => e.prefixLength));
  }

  /** True when the IPv4 address at buf[off..off+4) lies in one of the IPv4 prefixes. */
  has4(buf: Uint8Array, off: number): boolean {
    const a = u32(buf, off);
    for (let i = 0; i < this.net4.length; i++) {
      if (((a & this.mask4[i]) >>> 0) === this.net4[i]) return true;
    }
    return false;
  }

  /** True when the IPv6 address at buf[off..off+16) lies in one of the IPv6 prefixes. */
  has6(buf: Uint8Array, off: number): boolean {
    for (let i = 0; i < this.len6.length; i++) {
      if (prefixMatch6(buf, off, this.net6, i * 16, this.len6[i])) return true;
    }
    return false;
  }
}

function prefixMatch6(buf: Uint8Array, off: number, net: Uint8Array, netOff: number, len: number): boolean {
  let bits = len;
  for (let b = 0; b < 16 && bits > 0; b++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;
    if ((buf[off + b] & mask) !== net[netOff + b]) return false;
  }
  return true;
}

/**
 * The configured VIPs, each with a stable index (IPv4 first, then IPv6, in flag order)
 * that the per-VIP counters use.
 */
export class VipTable {
  private readonly v4: Uint32Array;
  private readonly v6: Uint8Array;
  private readonly v6Count: number;
  /** VIPs in index order. */
  readonly vips: readonly AddressPrefix[];

  constructor(vips: readonly AddressPrefix[]) {
    const v4 = vips.filter((v) => v.family === 4);
    const v6 = vips.filter((v) => v.family === 6);
    this.vips = [...v4, ...v6];
    this.v4 = Uint32Array.from(v4.map((v) => u32(v.bytes, 0)));
    this.v6 = new Uint8Array(16 * v6.length);
    v6.forEach((v, i) => this.v6.set(v.bytes, i * 16));
    this.v6Count = v6.length;
  }

  get size(): number {
    return this.vips.length;
  }

  /** Index of the IPv4 VIP at buf[off..off+4), or -1. */
  index4(buf: Uint8Array, off: number): number {
    const a = u32(buf, off);
    for (let i = 0; i < this.v4.length; i++) if (this.v4[i] === a) return i;
    return -1;
  }

  /** Index of the IPv6 VIP at buf[off..off+16), or -1. */
  index6(buf: Uint8Array, off: number): number {
    for (let i = 0; i < this.v6Count; i++) {
      if (prefixMatch6(buf, off, this.v6, i * 16, 128)) return this.v4.length + i;
    }
    return -1;
  }
}
