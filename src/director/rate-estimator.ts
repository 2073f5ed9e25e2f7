// ipvsadm --rate: every 2 seconds, the rate over the last interval is folded into an
// exponentially weighted average with weight 1/4, as IPVS's estimator (ip_vs_est.c) does.

/** Cumulative counters and their estimated rates; one per service and per real server. */
export class TrafficStats {
  conns = 0;
  inPkts = 0;
  inBytes = 0;
  /** Per second, EWMA. */
  cps = 0;
  inPps = 0;
  inBps = 0;
  private lastConns = 0;
  private lastPkts = 0;
  private lastBytes = 0;

  /** Folds the interval since the previous call (`intervalS` seconds, normally 2) into the rates. */
  estimate(intervalS: number): void {
    const c = (this.conns - this.lastConns) / intervalS;
    const p = (this.inPkts - this.lastPkts) / intervalS;
    const b = (this.inBytes - this.lastBytes) / intervalS;
    this.lastConns = this.conns;
    this.lastPkts = this.inPkts;
    this.lastBytes = this.inBytes;
    this.cps += (c - this.cps) / 4;
    this.inPps += (p - this.inPps) / 4;
    this.inBps += (b - this.inBps) / 4;
  }

  /** Zeroes counters and rates (ipvsadm -Z). */
  reset(): void {
    this.conns = this.inPkts = this.inBytes = 0;
    this.cps = this.inPps = this.inBps = 0;
    this.lastConns = this.lastPkts = this.lastBytes = 0;
  }

  snapshot(): TrafficSnapshot {
    return {
      conns: this.conns,
      inPkts: this.inPkts,
      inBytes: this.inBytes,
      outPkts: 0,
      outBytes: 0,
      cps: Math.round(this.cps),
      inPps: Math.round(this.inPps),
      inBps: Math.round(this.inBps),
      outPps: 0,
      outBps: 0,
    };
  }
}

/** Output counters are always 0 in VS/TUN: replies go straight from the RS to the client. */
export interface TrafficSnapshot {
  conns: number;
  inPkts: number;
  inBytes: number;
  outPkts: number;
  outBytes: number;
  cps: number;
  inPps: number;
  inBps: number;
  outPps: number;
  outBps: number;
}
