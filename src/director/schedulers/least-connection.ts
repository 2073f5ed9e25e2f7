// lc, wlc, sed and nq: the least-loaded schedulers (IPVS ip_vs_lc/wlc/sed/nq.c).
//   lc : least overhead (active*256 + inactive), weights only exclude weight 0.
//   wlc: least overhead / weight.
//   sed: least (active + 1) / weight  (shortest expected delay).
//   nq : the first idle server (no active connections), otherwise sed.
import type { RealServer } from '../real-server.js';
import { leastWeightedOverhead, type FlowKey, type Scheduler } from './scheduler.js';

const overhead = (rs: RealServer) => rs.overhead;
const expectedDelay = (rs: RealServer) => rs.activeConns + 1;

export class LeastConnectionScheduler implements Scheduler {
  readonly name = 'lc';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }
  schedule(_flow: FlowKey): RealServer | null {
    let least: RealServer | null = null;
    for (const rs of this.servers) {
      if (rs.available && (least === null || rs.overhead < least.overhead)) least = rs;
    }
    return least;
  }
}

export class WeightedLeastConnectionScheduler implements Scheduler {
  readonly name = 'wlc';
  readonly consistent = false;
  private servers: readonly RealServer[] = [];
  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }
  schedule(_flow: FlowKey): RealServer | null {
    return leastWeightedOverhead(this.servers, overhead);
  }
}

export class ShortestExpectedDelayScheduler implements Scheduler {
  readonly name: string = 'sed';
  readonly consistent = false;
  protected servers: readonly RealServer[] = [];
  update(servers: readonly RealServer[]): void {
    this.servers = servers;
  }
  schedule(_flow: FlowKey): RealServer | null {
    return leastWeightedOverhead(this.servers, expectedDelay);
  }
}

export class NeverQueueScheduler extends ShortestExpectedDelayScheduler {
  override readonly name = 'nq';
  override schedule(flow: FlowKey): RealServer | null {
    for (const rs of this.servers) {
      if (rs.available && rs.activeConns === 0) return rs;
    }
    return super.schedule(flow);
  }
}
