// twos: weighted power-of-two-choices (IPVS ip_vs_twos.c). Two servers are drawn at random
// in proportion to weight; the one with the lower overhead per unit of weight wins.
import type { RealServer } from '../real-server.js';
import type { FlowKey, Scheduler } from './scheduler.js';

export class PowerOfTwoScheduler implements Scheduler {
  readonly name = 'twos';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];

  constructor(private readonly random: (n: number) => number) {}

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }

  schedule(_flow: FlowKey): RealServer | null {
    let total = 0;
    for (const rs of this.servers) if (rs.available) total += rs.weight;
    if (total === 0) return null;
    const a = this.pick(this.random(total));
    const b = this.pick(this.random(total));
    if (a === null || b === null) return a ?? b;
    return b.overhead * a.weight < a.overhead * b.weight ? b : a;
  }

  /** The server whose weight interval contains r (0 <= r < total). */
  private pick(r: number): RealServer | null {
    for (const rs of this.servers) {
      if (!rs.available) continue;
      r -= rs.weight;
      if (r < 0) return rs;
    }
    return null;
  }
}
