// IPv6 addresses: 16 bytes on the data path (compared in place, never as strings), text in
// RFC 5952 canonical form at the edges.

export const IPV6_ADDRESS_LENGTH = 16;

/** RFC 5952 text for the 16 bytes at buf[off]: lowercase, longest zero run as "::". */
export function ipv6ToString(buf: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((buf[off + 2 * i] ?? 0) << 8) | (buf[off + 2 * i + 1] ?? 0));
  // IPv4-mapped ::ffff:a.b.c.d keeps its dotted tail (RFC 5952 §5).
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}`;
  }
  const { start, length } = longestZeroRun(words);
  const hex = words.map((w) => w.toString(16));
  if (start < 0) return hex.join(':');
  return `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`;
}

/**
 * The run of zero words that "::" replaces: the longest, the first on a tie, and at least
 * two words long (a single zero word is never compressed). start is -1 when there is none.
 */
export function longestZeroRun(words: readonly number[]): { start: number; length: number } {
  let start = -1;
  let length = 1;
  for (let i = 0; i < words.length; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < words.length && words[j] === 0) j++;
    if (j - i > length) {
      start = i;
      length = j - i;
    }
    i = j;
  }
  return start < 0 ? { start: -1, length: 0 } : { start, length };
}

/**
 * Parses IPv6 text ("2001:db8::1", "::", "::ffff:10.0.0.1"; no zone, no brackets) into
 * out[off .. off+16). Returns false, writing nothing, when malformed.
 */
export function parseIpv6Into(text: string, out: Uint8Array, off = 0): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let s = text;
  const tail: number[] = [];
  if (s.includes('.')) {
    // Dotted IPv4 tail ("::ffff:10.0.0.1"): two words; strip it, keep any "::" before it.
    const lastColon = s.lastIndexOf(':');
    const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s.slice(lastColon + 1));
    if (lastColon < 0 || !m) return false;
    const b = m.slice(1).map(Number);
    if (b.some((x) => x > 255)) return false;
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const words: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      words.push(parseInt(g, 16));
    }
    return words;
  };
  const halves = s.split('::');
  let words: number[];
  if (halves.length === 2) {
    const left = groups(halves[0]);
    const right = groups(halves[1]);
    if (!left || !right) return false;
    const fill = 8 - tail.length - left.length - right.length;
    if (fill < 1) return false;
    words = [...left, ...new Array<number>(fill).fill(0), ...right, ...tail];
  } else if (halves.length === 1) {
    const all = groups(s);
    if (!all || all.length + tail.length !== 8) return false;
    words = [...all, ...tail];
  } else {
    return false;
  }
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = words[i] >> 8;
    out[off + 2 * i + 1] = words[i] & 0xff;
  }
  return true;
}

/** Parses IPv6 text into a new 16-byte array; null when malformed. */
export function parseIpv6(text: string): Uint8Array | null {
  const out = new Uint8Array(IPV6_ADDRESS_LENGTH);
  return parseIpv6Into(text, out, 0) ? out : null;
}

/** Compares 16 bytes at a[aOff] and b[bOff]. */
export function ipv6Equals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** Copies 16 bytes without allocating. */
export function copyIpv6(from: Uint8Array, fromOff: number, to: Uint8Array, toOff: number): void {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i++) to[toOff + i] = from[fromOff + i];
}

/** True when the address at addr[addrOff] lies in network[netOff]/prefixLength (0..128). */
export function ipv6InPrefix(addr: Uint8Array, addrOff: number, network: Uint8Array, netOff: number, prefixLength: number): boolean {
  const full = prefixLength >> 3;
  for (let i = 0; i < full; i++) if (addr[addrOff + i] !== network[netOff + i]) return false;
  const bits = prefixLength & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (addr[addrOff + full] & mask) === (network[netOff + full] & mask);
}

export interface Ipv6Cidr {
  /** 16 bytes, host bits cleared. */
  network: Uint8Array;
  prefixLength: number;
}

/** Parses "2001:db8::/32" or a bare address (as /128); host bits are cleared. Null if malformed. */
export function parseIpv6Cidr(text: string): Ipv6Cidr | null {
  const slash = text.indexOf('/');
  const network = parseIpv6(slash < 0 ? text : text.slice(0, slash));
  if (!network) return null;
  let prefixLength = 128;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 128) return null;
    prefixLength = Number(p);
  }
  for (let bit = prefixLength; bit < 128; bit++) network[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { network, prefixLength };
}
