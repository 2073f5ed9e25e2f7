// Rise/fall dampening of one real server's check results: `fall` consecutive failures take
// an UP server DOWN, `rise` consecutive successes bring a DOWN server UP, so one lost probe
// or one lucky answer changes nothing. A new server starts DOWN (keepalived's `alpha`)
// unless told to start UP; either way the first transition needs the full count.

export type HealthState = 'up' | 'down';

export interface HealthTransition {
  rs: string;
  from: HealthState;
  to: HealthState;
  /** e.g. "3 consecutive failures, last: connect ECONNREFUSED". */
  reason: string;
  /** Clock time of the transition, in ms. */
  at: number;
}

export interface DampenerOptions {
  /** Consecutive successes to go DOWN -> UP (>= 1). */
  rise: number;
  /** Consecutive failures to go UP -> DOWN (>= 1). */
  fall: number;
  /** Start UP instead of DOWN (keepalived without `alpha`). Default false. */
  startUp?: boolean;
}

export class Dampener {
  private current: HealthState;
  /** Consecutive results that disagree with the current state. */
  private streak = 0;
  private changedAt: number;

  /**
   * @param rs    id carried into transition events
   * @param now   clock, ms
   * Throws RangeError for rise or fall below 1 or not an integer.
   */
  constructor(
    readonly rs: string,
    private readonly options: DampenerOptions,
    private readonly now: () => number,
  ) {
    for (const key of ['rise', 'fall'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${key} must be an integer >= 1, got ${v}`);
    }
    this.current = options.startUp === true ? 'up' : 'down';
    this.changedAt = now();
  }

  get state(): HealthState {
    return this.current;
  }

  get up(): boolean {
    return this.current === 'up';
  }

  /** Clock time of the last transition (or of creation), ms. */
  get since(): number {
    return this.changedAt;
  }

  /** Results in a row that point away from the current state (0..rise-1 or 0..fall-1). */
  get pendingStreak(): number {
    return this.streak;
  }

  /** Feeds one check result; returns the transition it caused, if any. */
  record(ok: boolean, detail = ''): HealthTransition | null {
    const agrees = ok === (this.current === 'up');
    if (agrees) {
      this.streak = 0;
      return null;
    }
    this.streak++;
    const needed = this.current === 'up' ? this.options.fall : this.options.rise;
    if (this.streak < needed) return null;
    const from = this.current;
    this.current = ok ? 'up' : 'down';
    this.streak = 0;
    this.changedAt = this.now();
    const what = ok ? (needed === 1 ? 'success' : 'successes') : needed === 1 ? 'failure' : 'failures';
    return {
      rs: this.rs,
      from,
      to: this.current,
      reason: `${needed} consecutive ${what}${detail ? `, last: ${detail}` : ''}`,
      at: this.changedAt,
    };
  }

  /** Forces a state (operator action or reconfiguration); returns the transition if it changed. */
  force(state: HealthState, reason: string): HealthTransition | null {
    this.streak = 0;
    if (state === this.current) return null;
    const from = this.current;
    this.current = state;
    this.changedAt = this.now();
    return { rs: this.rs, from, to: state, reason, at: this.changedAt };
  }
}
