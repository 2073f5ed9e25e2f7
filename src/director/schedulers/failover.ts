// fo and ovf (IPVS ip_vs_fo.c, ip_vs_ovf.c):
//   fo : the available server with the highest weight (first wins ties).
//   ovf: the highest-weight server whose active connections are still below its weight.
import type { RealServer } from '../real-server.js';
import type { FlowKey, Scheduler } from './scheduler.js';

export class WeightedFailoverScheduler implements Scheduler {
  readonly name = 'fo';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }
  schedule(_flow: FlowKey): RealServer | null {
    let best: RealServer | null = null;
    for (const rs of this.servers) {
      if (rs.available && (best === null || rs.weight > best.weight)) best = rs;
    }
    return best;
  }
}

export class WeightedOverflowScheduler implements Scheduler {
  readonly name = 'ovf';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }
  schedule(_flow: FlowKey): RealServer | null {
    let best: RealServer | null = null;
    for (const rs of this.servers) {
      if (rs.available && rs.activeConns < rs.weight && (best === null || rs.weight > best.weight)) best = rs;
    }
    return best;
  }
}
