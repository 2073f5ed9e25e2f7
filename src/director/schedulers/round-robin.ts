// rr: the next available server after the last one chosen (IPVS ip_vs_rr.c semantics).
import type { RealServer } from '../real-server.js';
import type { FlowKey, Scheduler } from './scheduler.js';

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'rr';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  private last = -1;
  /** A position shared with the same service's scheduler in other threads (queue workers); null: own `last`. */
  private shared: Int32Array | null = null;

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
    if (this.last >= servers.length) this.last = -1;
  }

  /**
   * Takes the next position from `cursor` (one Int32 of shared memory) instead of its own:
   * schedulers over the same server list in several queue workers then go round as one, as
   * IPVS's single rr does for the whole director.
   */
  shareCursor(cursor: Int32Array): void {
    this.shared = cursor;
  }

  schedule(_flow: FlowKey): RealServer | null {
    const n = this.servers.length;
    const shared = this.shared;
    if (shared !== null) {
      for (let k = 0; k < n; k++) {
        const i = (Atomics.add(shared, 0, 1) >>> 0) % n;
        if (this.servers[i].available) return this.servers[i];
      }
      return null;
    }
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
