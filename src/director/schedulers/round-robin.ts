// rr: the next available server after the last one chosen (IPVS ip_vs_rr.c semantics).
import type { RealServer } from '../real-server.js';
import type { FlowKey, Scheduler } from './scheduler.js';

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'rr';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  private last = -1;

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
    if (this.last >= servers.length) this.last = -1;
  }

  schedule(_flow: FlowKey): RealServer | null {
    const n = this.servers.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.last + k) % n;
      if (this.servers[i].available) {
        this.last = i;
        return this.servers[i];
      }
    }
    return null;
  }
}
