// ipvsadm --rate: every 2 seconds, the rate over the last interval is folded into an
// exponentially weighted average with weight 1/4, as IPVS's estimator (ip_vs_est.c) does.

/** Cumulative counters and their estimated rates; one per service and per real server. */
export class TrafficStats {
  conns = 0;
  inPkts = 0;
  inBytes = 0;
  /** Replies rewritten by the director: VS/NAT only (TUN/DR replies bypass it). */
  outPkts = 0;
  outBytes = 0;
  /** Per second, EWMA. */
  cps = 0;
  inPps = 0;
  inBps = 0;
  outPps = 0;
  outBps = 0;
  private lastConns = 0;
  private lastPkts = 0;
  private lastBytes = 0;
  private lastOutPkts = 0;
  private lastOutBytes = 0;

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
    const op = (this.outPkts - this.lastOutPkts) / intervalS;
    const ob = (this.outBytes - this.lastOutBytes) / intervalS;
    this.lastOutPkts = this.outPkts;
    this.lastOutBytes = this.outBytes;
    this.outPps += (op - this.outPps) / 4;
    this.outBps += (ob - this.outBps) / 4;
  }

  /** Zeroes counters and rates (ipvsadm -Z). */
  reset(): void {
    this.conns = this.inPkts = this.inBytes = this.outPkts = this.outBytes = 0;
    this.cps = this.inPps = this.inBps = this.outPps = this.outBps = 0;
    this.lastConns = this.lastPkts = this.lastBytes = this.lastOutPkts = this.lastOutBytes = 0;
  }

  snapshot(): TrafficSnapshot {
    return {
      conns: this.conns,
      inPkts: this.inPkts,
      inBytes: this.inBytes,
      outPkts: this.outPkts,
      outBytes: this.outBytes,
      cps: Math.round(this.cps),
      inPps: Math.round(this.inPps),
      inBps: Math.round(this.inBps),
      outPps: Math.round(this.outPps),
      outBps: Math.round(this.outBps),
    };
  }
}

/** Output counters are 0 for VS/TUN and VS/DR (replies go straight from the RS to the client); VS/NAT counts its replies. */
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
