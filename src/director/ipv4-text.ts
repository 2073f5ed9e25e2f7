// Dotted-quad text <-> uint32 for the control plane (the data path only sees numbers).
import { Address4 } from 'ip-address';
import { ipv4ToString } from '../wire/ipv4-address.js';

/** Parses a dotted quad into an unsigned 32-bit number; null when it is not one. */
export function parseIpv4(text: string): number | null {
  if (!Address4.isValid(text) || text.includes('/')) return null;
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
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
