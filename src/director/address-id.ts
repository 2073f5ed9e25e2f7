// One number per address, for both families, so the registry, the schedulers and the
// connection table keep their numeric fields: an IPv4 address is its uint32 value; an
// IPv6 address is IPV6_ID_BASE + a slot in a fixed-capacity table of 16-byte addresses.
// Slots are refcounted (VIPs and real servers hold one for good, each IPv6 connection
// entry holds one for its client and one for its VIP) and reused once free. Each director
// owns its table (ServiceRegistry.addresses): an id means something only with its table. Lookups and
// acquisitions hash the 16 bytes in place: no allocation on the data path.
import { parseIpv4 as parseDotted } from '../wire/ipv4-address.js';
import { ipv4ToString } from '../wire/ipv4-address.js';
import { ipv6ToString, parseIpv6Into } from '../wire/ipv6-address.js';
import { mix32 } from './flow-hash.js';

export const IPV6_ID_BASE = 2 ** 32;
export const DEFAULT_IPV6_ADDRESSES = 1 << 18;

export function isIpv6Id(id: number): boolean {
  return id >= IPV6_ID_BASE;
}

export class Ipv6AddressTable {
  readonly capacity: number;
  private readonly words: Uint32Array;
  private readonly refs: Int32Array;
  private readonly free: Int32Array;
  private freeTop: number;
  /** Hash index: slot → id - IPV6_ID_BASE + 1 (0 = empty); linear probing, backward-shift delete. */
  private readonly index: Int32Array;
  private readonly mask: number;
  private live = 0;

  constructor(capacity = DEFAULT_IPV6_ADDRESSES) {
    this.capacity = capacity;
    this.words = new Uint32Array(capacity * 4);
    this.refs = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    let n = 1;
    while (n < capacity * 2) n <<= 1;
    this.index = new Int32Array(n);
    this.mask = n - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Id of the address at buf[off..off+16), or -1 when it holds no slot. */
  find(buf: Uint8Array, off: number): number {
    const w0 = word(buf, off), w1 = word(buf, off + 4), w2 = word(buf, off + 8), w3 = word(buf, off + 12);
    for (let i = hashWords(w0, w1, w2, w3) & this.mask; ; i = (i + 1) & this.mask) {
      const e = this.index[i];
      if (e === 0) return -1;
      const s = (e - 1) * 4;
      const ws = this.words;
      if (ws[s] === w0 && ws[s + 1] === w1 && ws[s + 2] === w2 && ws[s + 3] === w3) return IPV6_ID_BASE + e - 1;
    }
  }

  /** Takes one reference on the address (adding it if new); its id, or -1 when the table is full. */
  acquire(buf: Uint8Array, off: number): number {
    const found = this.find(buf, off);
    if (found >= 0) {
      this.refs[found - IPV6_ID_BASE]++;
      return found;
    }
    if (this.freeTop === 0) return -1;
    const slot = this.free[--this.freeTop];
    const s = slot * 4;
    this.words[s] = word(buf, off);
    this.words[s + 1] = word(buf, off + 4);
    this.words[s + 2] = word(buf, off + 8);
    this.words[s + 3] = word(buf, off + 12);
    this.refs[slot] = 1;
    let i = hashWords(this.words[s], this.words[s + 1], this.words[s + 2], this.words[s + 3]) & this.mask;
    while (this.index[i] !== 0) i = (i + 1) & this.mask;
    this.index[i] = slot + 1;
    this.live++;
    return IPV6_ID_BASE + slot;
  }

  /** Takes one more reference on a live id. */
  retain(id: number): void {
    this.refs[id - IPV6_ID_BASE]++;
  }

  /** Drops one reference; the slot is freed with the last one. */
  release(id: number): void {
    const slot = id - IPV6_ID_BASE;
    if (slot < 0 || slot >= this.capacity || this.refs[slot] <= 0) return;
    if (--this.refs[slot] > 0) return;
    const s = slot * 4;
    let i = hashWords(this.words[s], this.words[s + 1], this.words[s + 2], this.words[s + 3]) & this.mask;
    while (this.index[i] !== slot + 1) i = (i + 1) & this.mask;
    // Backward-shift deletion: pull later entries of the run into the hole.
    let hole = i;
    for (let j = (i + 1) & this.mask; this.index[j] !== 0; j = (j + 1) & this.mask) {
      const e = this.index[j] - 1;
      const home = hashWords(this.words[e * 4], this.words[e * 4 + 1], this.words[e * 4 + 2], this.words[e * 4 + 3]) & this.mask;
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      this.index[hole] = this.index[j];
      hole = j;
    }
    this.index[hole] = 0;
    this.free[this.freeTop++] = slot;
    this.live--;
  }

  /** Copies the 16 bytes of `id` to out[outOff..]; an id that is no slot of this table (an IPv4 address) copies ::. */
  copyTo(id: number, out: Uint8Array, outOff: number): void {
    if (!(id >= IPV6_ID_BASE && id < IPV6_ID_BASE + this.capacity)) {
      out.fill(0, outOff, outOff + 16);
      return;
    }
    const s = (id - IPV6_ID_BASE) * 4;
    for (let k = 0; k < 4; k++) {
      const w = this.words[s + k];
      out[outOff + k * 4] = w >>> 24;
      out[outOff + k * 4 + 1] = w >>> 16;
      out[outOff + k * 4 + 2] = w >>> 8;
      out[outOff + k * 4 + 3] = w;
    }
  }

  /** A 32-bit hash of the address itself (the same on every director, unlike the id). */
  addressHash(id: number): number {
    const s = (id - IPV6_ID_BASE) * 4;
    return hashWords(this.words[s], this.words[s + 1], this.words[s + 2], this.words[s + 3]);
  }

  refsOf(id: number): number {
    return this.refs[id - IPV6_ID_BASE];
  }
}

function word(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function hashWords(a: number, b: number, c: number, d: number): number {
  return mix32(Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c, 0x27d4eb2f) ^ Math.imul(d ^ 0x165667b1, 0x9e3779b1) ^ (d >>> 7));
}

/** A 32-bit hash of the 16 bytes at buf[off] (rate-limit buckets, fragment keys). */
export function hashIpv6At(buf: Uint8Array, off: number): number {
  return hashWords(word(buf, off), word(buf, off + 4), word(buf, off + 8), word(buf, off + 12));
}

const scratch = new Uint8Array(16);

/**
 * Parses IPv4 or IPv6 text into an address id, taking a lasting reference on an IPv6
 * address (control plane: VIPs, real servers). null when the text is neither, or when
 * the IPv6 table is full.
 */
export function parseAddressId(text: string, table: Ipv6AddressTable): number | null {
  const v4 = parseDotted(text);
  if (v4 !== null) return v4;
  if (!parseIpv6Into(text, scratch, 0)) return null;
  const id = table.acquire(scratch, 0);
  return id < 0 ? null : id;
}

/** The id of IPv4/IPv6 text without adding anything; null when unknown or not an address. */
export function findAddressId(text: string, table: Ipv6AddressTable): number | null {
  const v4 = parseDotted(text);
  if (v4 !== null) return v4;
  if (!parseIpv6Into(text, scratch, 0)) return null;
  const id = table.find(scratch, 0);
  return id < 0 ? null : id;
}

/** Canonical text of an IPv4 or IPv6 address (dotted quad, RFC 5952); null when it is neither. */
export function canonicalIpText(text: string): string | null {
  const v4 = parseDotted(text);
  if (v4 !== null) return ipv4ToString(v4);
  const b = new Uint8Array(16);
  return parseIpv6Into(text, b, 0) ? ipv6ToString(b, 0) : null;
}

/** Text of an address id: dotted quad, or RFC 5952 IPv6. */
export function formatAddressId(id: number, table: Ipv6AddressTable): string {
  if (id < IPV6_ID_BASE) return ipv4ToString(id);
  const b = new Uint8Array(16);
  table.copyTo(id, b, 0);
  return ipv6ToString(b, 0);
}
