// 32-bit hashes for the connection table and the hashing schedulers. Seedless variants
// are used where two directors must agree (Maglev, sh, dh); the table takes a random seed
// so that an attacker cannot aim flows at one probe chain. All inputs are uint32 numbers.

/** Final avalanche (a 32-bit finalizer in the MurmurHash3 style). */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function round(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Hash of one word. */
export function hash1(seed: number, a: number): number {
  return mix32(round(seed, a) ^ 4);
}

/** Hash of two words. */
export function hash2(seed: number, a: number, b: number): number {
  return mix32(round(round(seed, a), b) ^ 8);
}

/** Hash of four words (a connection key: kind, client, ports, virtual address). */
export function hash4(seed: number, a: number, b: number, c: number, d: number): number {
  return mix32(round(round(round(round(seed, a), b), c), d) ^ 16);
}
