// Dotted-quad text <-> uint32 for the control plane (the data path only sees numbers).
import { ipv4ToString, parseIpv4 as parseDottedQuad } from '../wire/ipv4-address.js';

/** Parses a dotted quad into an unsigned 32-bit number; null when it is not one (src/wire's parser). */
export function parseIpv4(text: string): number | null {
  return parseDottedQuad(text);
}

/** Dotted quad of an IPv4 address or mask (IPv6 address ids need their table: ServiceRegistry.addressText). */
export function formatIpv4(v: number): string {
  return ipv4ToString(v);
}

/** Prefix length → mask (0..32). */
export function prefixToMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** A dotted netmask or a prefix length ("255.255.255.0" or "24") → mask; null if invalid or non-contiguous. */
export function parseNetmask(text: string): number | null {
  if (/^\d{1,2}$/.test(text)) {
    const n = Number(text);
    return n <= 32 ? prefixToMask(n) : null;
  }
  const m = parseIpv4(text);
  if (m === null) return null;
  const inv = ~m >>> 0;
  return (inv & (inv + 1)) === 0 ? m : null;
}
