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

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
    this.recompute();
    this.index = -1;
    this.cw = 0;
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
