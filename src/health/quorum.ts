// Service quorum with hysteresis (keepalived `quorum`/`hysteresis`): the service has quorum
// while the summed weight of its up servers is high enough. It gains quorum at
// sum >= quorum + hysteresis and loses it at sum < quorum - hysteresis (or at 0 up weight),
// so a sum wobbling around the threshold does not flap between servers and the sorry server.

export interface QuorumOptions {
  /** Minimum summed weight of up servers (default 1: "at least one server up"). */
  quorum: number;
  /** Dead band either side of quorum (default 0). */
  hysteresis: number;
}

export class QuorumGate {
  private has: boolean;

  /** Starts without quorum unless `initiallyUp`; a service gains it from its first up server(s). */
  constructor(
    private readonly options: QuorumOptions,
    initiallyUp = false,
  ) {
    this.has = initiallyUp;
  }

  get up(): boolean {
    return this.has;
  }

  /** Feeds the current sum of up weights; returns true when the quorum state changed. */
  update(upWeightSum: number): boolean {
    const { quorum, hysteresis } = this.options;
    if (!this.has && upWeightSum > 0 && upWeightSum >= quorum + hysteresis) {
      this.has = true;
      return true;
    }
    if (this.has && (upWeightSum <= 0 || upWeightSum < quorum - hysteresis)) {
      this.has = false;
      return true;
    }
    return false;
  }
}
