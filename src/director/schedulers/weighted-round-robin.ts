// wrr: IPVS's interleaved weighted round robin. A current-weight threshold steps down by
// the gcd of the weights each time the list wraps; a server is chosen when its weight is at
// least the threshold. With weights 4,3,2 the sequence is AABABCABC.
import type { RealServer } from '../real-server.js';
import { gcd, type FlowKey, type Scheduler } from './scheduler.js';

export class WeightedRoundRobinScheduler implements Scheduler {
  readonly name = 'wrr';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  private index = -1;
  private cw = 0;
  private maxWeight = 0;
  private step = 1;
  /** A position shared with the same service's scheduler in other threads (queue workers); null: own index/cw. */
  private shared: Int32Array | null = null;
  /** With `shared`: one period of the interleaved sequence, as server indexes. */
  private sequence: Int32Array | null = null;

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
    this.recompute();
    this.index = -1;
    this.cw = 0;
    if (this.shared !== null) this.sequence = periodOf(servers);
  }

  /**
   * Takes the next position in the sequence from `cursor` (one Int32 of shared memory), so
   * that the same service's schedulers in several queue workers give one interleaved
   * sequence for the whole director. Returns false, sharing nothing, when one period of the
   * sequence would be longer than MAX_SHARED_PERIOD (large, coprime weights).
   */
  shareCursor(cursor: Int32Array): boolean {
    const sequence = periodOf(this.servers);
    this.shared = sequence === null ? null : cursor;
    this.sequence = sequence;
    return sequence !== null;
  }

  /** True while picks come from a shared position. */
  get sharing(): boolean {
    return this.shared !== null;
  }

  private recompute(): void {
    let mw = 0;
    let g = 0;
    for (const rs of this.servers) {
      if (!rs.available) continue;
      mw = Math.max(mw, rs.weight);
      g = gcd(g, rs.weight);
    }
    this.maxWeight = mw;
    this.step = g || 1;
  }

  schedule(_flow: FlowKey): RealServer | null {
    const n = this.servers.length;
    if (n === 0) return null;
    const shared = this.shared;
    const seq = this.sequence;
    if (shared !== null) {
      // Weight changes re-make the sequence (update); a server overloaded since is skipped.
      if (seq === null || seq.length === 0) return null;
      for (let k = 0; k < seq.length; k++) {
        const rs = this.servers[seq[(Atomics.add(shared, 0, 1) >>> 0) % seq.length]];
        if (rs.available) return rs;
      }
      return null;
    }
    // Weights can change in place (quiescing); re-derive cheaply when the max disappears.
    if (this.maxWeight === 0 || this.cw > this.maxWeight) this.recompute();
    if (this.maxWeight === 0) return null;
    // Bounded: at most maxWeight/step wraps of the list.
    const limit = n * (this.maxWeight / this.step + 1);
    for (let tries = 0; tries <= limit; tries++) {
      this.index = (this.index + 1) % n;
      if (this.index === 0) {
        this.cw -= this.step;
        if (this.cw <= 0) this.cw = this.maxWeight;
      }
      const rs = this.servers[this.index];
      if (rs.available && rs.weight >= this.cw) return rs;
    }
    this.recompute();
    return null;
  }
}

/** Longest period shared across queues (Int32 entries); beyond it each queue keeps its own place. */
export const MAX_SHARED_PERIOD = 1 << 16;

/**
 * One period of IPVS's interleaved sequence over the servers with weight > 0 (not removed):
 * for cw = max weight, down by the weights' gcd, every server whose weight is at least cw,
 * in list order. null when longer than MAX_SHARED_PERIOD.
 */
function periodOf(servers: readonly RealServer[]): Int32Array | null {
  let mw = 0;
  let g = 0;
  let length = 0;
  for (const rs of servers) {
    if (rs.weight <= 0 || rs.removed) continue;
    mw = Math.max(mw, rs.weight);
    g = gcd(g, rs.weight);
  }
  if (mw === 0) return new Int32Array(0);
  for (const rs of servers) if (rs.weight > 0 && !rs.removed) length += Math.ceil(rs.weight / g);
  if (length > MAX_SHARED_PERIOD) return null;
  const out = new Int32Array(length);
  let k = 0;
  for (let cw = mw; cw > 0; cw -= g) {
    for (let i = 0; i < servers.length; i++) {
      const rs = servers[i];
      if (rs.weight >= cw && !rs.removed) out[k++] = i;
    }
  }
  return out;
}
