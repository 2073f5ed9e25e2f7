// Address and netmask text, one parser and one formatter for the whole control plane: the
// config schema, vstunadm's arguments, the control ops and the ipvsadm listings all read
// and print addresses here. Parsing is ip-address's (strict dotted quads, RFC 4291 IPv6);
// printing is glibc inet_ntop's, byte for byte, because that is what ipvsadm -n prints.
// Nothing here throws: bad text gives null, and callers word the error for their user.
import { Address4, Address6 } from 'ip-address';
import { longestZeroRun } from './ipv6-address.js';

export type AddressFamily = 4 | 6;

/** A numeric address: its family and its value as an unsigned integer (32 or 128 bits). */
export interface ParsedAddress {
  family: AddressFamily;
  value: bigint;
}

/**
 * Parses a numeric IPv4 dotted quad ("10.0.0.1": four decimal bytes, no leading zeros) or
 * IPv6 text ("2001:db8::1", "::ffff:10.0.0.1"). Host names, prefixes ("/24"), zone ids
 * ("%eth0"), brackets and blanks are not addresses: null.
 */
export function parseAddressText(text: string): ParsedAddress | null {
  if (typeof text !== 'string') return null;
  // A config of 10 000 services x 10 servers names 110 000 addresses, each read at several
  // steps (schema, checks, definitions): remember recent answers, in bounded memory.
  const hit = recent.get(text);
  if (hit !== undefined) return hit;
  const parsed = parseUncached(text);
  if (recent.size >= RECENT_LIMIT) recent.clear();
  recent.set(text, parsed);
  return parsed;
}

const RECENT_LIMIT = 1 << 17;
const recent = new Map<string, ParsedAddress | null>();

function parseUncached(text: string): ParsedAddress | null {
  if (text === '' || /[/%\s[\]]/.test(text)) return null;
  try {
    if (!text.includes(':')) {
      const octets = new Address4(text).parsedAddress;
      return Object.freeze({ family: 4, value: BigInt(octets.reduce((v, o) => v * 256 + Number(o), 0)) });
    }
    return Object.freeze({ family: 6, value: new Address6(text).bigInt() });
  } catch {
    return null;
  }
}

/** A dotted quad as an unsigned 32-bit number; null for anything else (IPv6 included). */
export function parseIpv4Text(text: string): number | null {
  const quick = plainDottedQuad(text);
  if (quick >= 0) return quick;
  const a = parseAddressText(text);
  return a !== null && a.family === 4 ? Number(a.value) : null;
}

/**
 * The value of `text` when it is a dotted quad in its plain form (four decimal bytes without
 * leading zeros), else -1 (then the full parser decides). The control plane reads each of
 * 110 000 server addresses several times for a table of 10 000 x 10: a loop over the
 * characters instead of a map lookup and a bigint each time.
 */
function plainDottedQuad(text: string): number {
  if (typeof text !== 'string' || text.length < 7 || text.length > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : -1;
}

/** Dotted quad of an unsigned 32-bit number (taken modulo 2^32). */
export function formatIpv4Text(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * The text glibc's inet_ntop prints (so what ipvsadm -n prints): IPv6 lower-case, the
 * longest run of two or more zero groups folded to '::' (the first on a tie), and
 * v4-mapped (::ffff:a.b.c.d) and v4-compatible (::a.b.c.d) addresses with a dotted tail.
 */
export function formatAddressText(address: ParsedAddress): string {
  if (address.family === 4) return formatIpv4Text(Number(address.value));
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((address.value >> BigInt(i * 16)) & 0xffffn));
  const { start, length } = longestZeroRun(words);
  const dottedTail = start === 0 && (length === 6 || (length === 5 && words[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (start !== -1 && i >= start && i < start + length) {
      if (i === start) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && dottedTail) return out + formatIpv4Text(Number(address.value & 0xffffffffn));
    out += words[i].toString(16);
  }
  if (start !== -1 && start + length === 8) out += ':';
  return out;
}

/** Parses and re-prints in canonical (inet_ntop) form; null when `text` is not an address. */
export function canonicalAddressText(text: string): string | null {
  const a = parseAddressText(text);
  return a === null ? null : formatAddressText(a);
}

/** The family of canonical address text (only IPv6 text has a colon). */
export function addressTextFamily(canonical: string): AddressFamily {
  return canonical.includes(':') ? 6 : 4;
}

/** `a.b.c.d:port` or `[v6]:port`, as ipvsadm and URLs write an address with its port. */
export function formatAddressPortText(address: string, port: number): string {
  return addressTextFamily(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A short hint for text that is not an address, e.g. a host name (never resolved here). */
export function addressTextHint(text: string): string {
  return /^[a-z0-9.-]+$/i.test(text) && /[a-z]/i.test(text) ? ' (host names are not resolved; give the address in numbers)' : '';
}

// ---- Netmasks --------------------------------------------------------------------------

/** Mask of a prefix length 0..32 as an unsigned 32-bit number. */
export function ipv4MaskOfPrefix(prefixLength: number): number {
  if (prefixLength <= 0) return 0;
  if (prefixLength >= 32) return 0xffffffff;
  return (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Dotted text of the IPv4 mask of a prefix length 0..32 (24 → "255.255.255.0"). */
export function formatIpv4Netmask(prefixLength: number): string {
  return formatIpv4Text(ipv4MaskOfPrefix(prefixLength));
}

/**
 * A netmask as a prefix length, for an address of `family`: a dotted contiguous mask
 * ("255.255.255.0", IPv4 only) or a decimal prefix length (0..32 for IPv4, 0..128 for
 * IPv6). Null for anything else, a non-contiguous mask ("255.0.255.0") included.
 */
export function parseNetmaskText(text: string, family: AddressFamily): number | null {
  if (/^\d{1,3}$/.test(text)) {
    const bits = Number(text);
    return bits <= (family === 4 ? 32 : 128) ? bits : null;
  }
  if (family === 6) return null;
  const mask = parseIpv4Text(text);
  if (mask === null) return null;
  const inverted = ~mask >>> 0;
  if ((inverted & (inverted + 1)) !== 0) return null;
  return Math.clz32(inverted);
}

// ---- Special-purpose addresses ---------------------------------------------------------

/**
 * What an address is for, when it is not an ordinary unicast address a VIP or a real
 * server may have (RFC 6890's special-purpose registries, the parts that matter here).
 */
export type AddressUse = 'unicast' | 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'this-network' | 'reserved' | 'link-local';

function inPrefix(a: ParsedAddress, network: bigint, prefixLength: number): boolean {
  const bits = a.family === 4 ? 32 : 128;
  const shift = BigInt(bits - prefixLength);
  return a.value >> shift === network >> shift;
}

/** Classifies a parsed address (see AddressUse). */
export function addressUse(a: ParsedAddress): AddressUse {
  if (a.family === 4) {
    const v = a.value;
    if (v === 0n) return 'unspecified';
    if (v === 0xffffffffn) return 'broadcast';
    if (inPrefix(a, 0x7f000000n, 8)) return 'loopback';
    if (inPrefix(a, 0xe0000000n, 4)) return 'multicast';
    if (inPrefix(a, 0x00000000n, 8)) return 'this-network';
    if (inPrefix(a, 0xf0000000n, 4)) return 'reserved';
    if (inPrefix(a, 0xa9fe0000n, 16)) return 'link-local';
    return 'unicast';
  }
  if (a.value === 0n) return 'unspecified';
  if (a.value === 1n) return 'loopback';
  if (inPrefix(a, 0xffn << 120n, 8)) return 'multicast';
  if (inPrefix(a, 0xfe80n << 112n, 10)) return 'link-local';
  // v4-mapped addresses are the IPv4 address's business, not a separate IPv6 host.
  if (inPrefix(a, 0xffffn << 32n, 96)) return addressUse({ family: 4, value: a.value & 0xffffffffn });
  return 'unicast';
}

/** What each use means, for messages. */
export const ADDRESS_USE_TEXT: Record<AddressUse, string> = {
  unicast: 'a unicast address',
  unspecified: 'the unspecified address',
  loopback: 'a loopback address',
  multicast: 'a multicast address',
  broadcast: 'the limited broadcast address',
  'this-network': 'a "this network" address (0.0.0.0/8)',
  reserved: 'a reserved address (240.0.0.0/4)',
  'link-local': 'a link-local address',
};
