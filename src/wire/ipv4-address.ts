// IPv4 addresses as unsigned 32-bit numbers: the data path compares and hashes numbers,
// never strings. Strings exist only at the edges (config, logs, tests), and their text
// form is address-text.ts's, the one parser and formatter of addresses.
import { formatIpv4Text, ipv4MaskOfPrefix, parseIpv4Text } from './address-text.js';

/** Reads the 4 bytes at buf[off] as an unsigned 32-bit address. */
export function readIpv4(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Writes an unsigned 32-bit address as 4 bytes at buf[off]. */
export function writeIpv4(buf: Uint8Array, off: number, addr: number): void {
  buf[off] = addr >>> 24;
  buf[off + 1] = addr >>> 16;
  buf[off + 2] = addr >>> 8;
  buf[off + 3] = addr;
}

/** Dotted quad for an unsigned 32-bit address (the value is taken modulo 2^32). */
export const ipv4ToString: (addr: number) => string = formatIpv4Text;

/** Parses a strict dotted quad ("10.0.0.1"; no leading zeros, no shorthand); null if malformed (address-text.ts). */
export const parseIpv4: (text: string) => number | null = parseIpv4Text;

/** Network mask for a prefix length 0..32, as an unsigned 32-bit number (address-text.ts). */
export const ipv4PrefixMask: (prefixLength: number) => number = ipv4MaskOfPrefix;

/** An IPv4 prefix: network address (host bits zero) and prefix length. */
export interface Ipv4Cidr {
  network: number;
  prefixLength: number;
}

/**
 * Parses "10.0.0.0/8" or a bare address (as /32). Host bits are cleared, so "10.1.2.3/8"
 * gives 10.0.0.0/8. Returns null if malformed.
 */
export function parseIpv4Cidr(text: string): Ipv4Cidr | null {
  const slash = text.indexOf('/');
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) return null;
  let prefixLength = 32;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]?)$/.test(p) || Number(p) > 32) return null;
    prefixLength = Number(p);
  }
  return { network: (addr & ipv4PrefixMask(prefixLength)) >>> 0, prefixLength };
}

/** True when addr lies inside network/prefixLength. */
export function ipv4InPrefix(addr: number, network: number, prefixLength: number): boolean {
  const mask = ipv4PrefixMask(prefixLength);
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

export function ipv4CidrToString(cidr: Ipv4Cidr): string {
  return `${ipv4ToString(cidr.network)}/${cidr.prefixLength}`;
}
