// Per-client token buckets for the ICMP errors the director generates (too big), so a
// flood of oversized packets cannot turn the director into an ICMP cannon. Clients hash
// into a fixed array of buckets (no allocation, bounded memory); two clients sharing a
// bucket share its budget, which only ever errs on the side of sending less.
import { hash1 } from './flow-hash.js';

export interface IcmpRateLimitOptions {
  /** Tokens added per second per bucket (default 10). */
  perSecond?: number;
  /** Bucket size: errors that may go out at once (default 20). */
  burst?: number;
  /** Number of buckets, rounded up to a power of two (default 4096). */
  buckets?: number;
}

export class IcmpRateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  private readonly mask: number;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  /** Errors suppressed so far. */
  limited = 0;

  constructor(opts: IcmpRateLimitOptions = {}) {
    this.perSecond = opts.perSecond ?? 10;
    this.burst = opts.burst ?? 20;
    let n = 1;
    while (n < (opts.buckets ?? 4096)) n <<= 1;
    this.mask = n - 1;
    this.tokens = new Float64Array(n).fill(this.burst);
    this.last = new Float64Array(n).fill(-Infinity);
  }

  /**
   * Takes one token from the bucket of the client whose address words hash to `key`
   * (use hash1/hash4 of the address) at time `now` (ms). True when the error may be sent.
   */
  allow(key: number, now: number): boolean {
    const i = key & this.mask;
    const elapsed = now - this.last[i];
    let t = this.tokens[i];
    if (elapsed > 0) {
      t = Math.min(this.burst, t + (elapsed * this.perSecond) / 1000);
      this.last[i] = now;
    }
    if (t < 1) {
      this.tokens[i] = t;
      this.limited++;
      return false;
    }
    this.tokens[i] = t - 1;
    return true;
  }

  /** The bucket key of an IPv4 client (uint32). */
  static keyV4(addr: number): number {
    return hash1(0x1c3b, addr);
  }
}
