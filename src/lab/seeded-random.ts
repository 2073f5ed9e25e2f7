// A small seeded PRNG (mulberry32) for the campaigns: the same seed gives the same frames, so
// a failure found by `npm run fuzz -- --seed S` can be replayed.

export class SeededRandom {
  private state: number;

  /** `seed`: any 32-bit integer. */
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fills `buf[off, off+len)` with random bytes. */
  fill(buf: Uint8Array, off: number, len: number): void {
    for (let i = 0; i < len; i++) buf[off + i] = this.next() & 0xff;
  }
}

/** A seed from the clock, for runs that do not give one (printed so that they can be replayed). */
export function freshSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}
