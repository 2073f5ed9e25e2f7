// Agent feedback -> effective weight (the idea of feedbackd / ldirectord's dynamic weights).
//
// Formula, for one sample with CPU idle fraction `idle` (0..1), 1-minute load average
// `load1` and `cpus` processors:
//   loadFactor = min(1, cpus / load1)        1 until the run queue exceeds the CPUs, then
//                                            inversely proportional to the overload
//   score      = idle * loadFactor           0..1: the share of the box that is free
// The score is smoothed across samples with an EWMA,
//   smoothed = alpha * score + (1 - alpha) * smoothed      (alpha default 0.3)
// starting from 1 (a server with no history is treated as fully available), so one bad
// sample moves the weight by at most alpha of the way. Then
//   effective = clamp(round(configured * smoothed), minWeight, maxWeight)
// with minWeight default 1 (a loaded server keeps a trickle and keeps reporting) and maxWeight
// default the configured weight. Feedback older than staleAfterIntervals * interval, or
// none at all, falls back to the configured weight and the EWMA starts again from 1.
// Established connections are reported but not used: the lc/wlc schedulers see those.

/** One /feedback sample, normalised. */
export interface AgentFeedback {
  /** 1-minute load average. */
  load1: number;
  /** CPU idle, percent 0..100. */
  cpuIdlePercent: number;
  /** Processor count (for load per CPU); 1 when the agent does not say. */
  cpus: number;
  /** Established connections to the VIPs, when reported. */
  established?: number;
}

export interface FeedbackWeightOptions {
  /** EWMA weight of a new sample, 0 < alpha <= 1 (default 0.3). */
  alpha?: number;
  minWeight?: number;
  maxWeight?: number;
}

/** The instantaneous 0..1 availability score of one sample (see the formula above). */
export function feedbackScore(f: AgentFeedback): number {
  const idle = clamp(f.cpuIdlePercent / 100, 0, 1);
  const cpus = f.cpus > 0 ? f.cpus : 1;
  const loadFactor = f.load1 > cpus ? cpus / f.load1 : 1;
  return idle * loadFactor;
}

/** One EWMA step; `previous` undefined starts from 1. alpha outside (0,1] is clamped. */
export function smoothScore(previous: number | undefined, score: number, alpha = 0.3): number {
  const a = clamp(alpha, Number.EPSILON, 1);
  return a * score + (1 - a) * (previous ?? 1);
}

/**
 * Effective weight from the configured weight and a smoothed score, rounded and clamped to
 * [minWeight, maxWeight]. A configured weight of 0 (quiesced by the operator) stays 0.
 */
export function feedbackWeight(configured: number, smoothed: number, options: FeedbackWeightOptions = {}): number {
  if (configured <= 0) return 0;
  const max = options.maxWeight ?? configured;
  const min = Math.min(options.minWeight ?? 1, max);
  return clamp(Math.round(configured * clamp(smoothed, 0, 1)), min, max);
}

/**
 * Reads an agent's /feedback JSON. The vstun-agent sends
 *   { loadAverage: { "1m", "5m", "15m" }, cpuIdlePercent: number | null, cpus,
 *     establishedConnections: { [vip]: n }, establishedTotal }
 * and these spellings are accepted too: load1 | loadavg[0] | load.one; cpuIdle | idle;
 * cpuCount | ncpu; established. A null or missing idle figure (the agent's first reading
 * has no window yet) counts as 100 %, so only the load average judges that sample.
 * Returns null when there is no usable 1-minute load average.
 */
export function parseAgentFeedback(json: unknown): AgentFeedback | null {
  if (typeof json !== 'object' || json === null) return null;
  const o = json as Record<string, unknown>;
  const field = (v: unknown, key: string): unknown => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined);
  const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : undefined);
  const pick = (...values: unknown[]): number | undefined => {
    for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
    return undefined;
  };
  const load1 = pick(field(o.loadAverage, '1m'), o.load1, first(o.loadavg), first(o.loadAverage), field(o.load, 'one'), field(o.load, '1m'));
  if (load1 === undefined || load1 < 0) return null;
  const idle = pick(o.cpuIdlePercent, o.cpuIdle, o.idle) ?? 100;
  const cpus = pick(o.cpus, o.cpuCount, o.ncpu);
  const established = pick(o.establishedTotal, o.established);
  return {
    load1,
    cpuIdlePercent: clamp(idle, 0, 100),
    cpus: cpus !== undefined && cpus >= 1 ? Math.floor(cpus) : 1,
    ...(established === undefined ? {} : { established }),
  };
}

function clamp(v: number, low: number, high: number): number {
  return v < low ? low : v > high ? high : v;
}

export interface FeedbackTrackerOptions extends FeedbackWeightOptions {
  /** Poll interval, ms. */
  intervalMs: number;
  /** Samples older than this many intervals are stale (default 3). */
  staleAfterIntervals?: number;
}

/**
 * The feedback state of one server: the smoothed score and when it was last refreshed.
 * Time is passed in (ms), so staleness is testable with any clock.
 */
export class FeedbackTracker {
  private smoothed: number | undefined;
  private lastAt: number | undefined;
  private last: AgentFeedback | undefined;

  constructor(private readonly options: FeedbackTrackerOptions) {}

  /** Records a sample taken at `now`. A sample after staleness restarts the EWMA from 1. */
  record(sample: AgentFeedback, now: number): void {
    if (this.isStale(now)) this.smoothed = undefined;
    this.smoothed = smoothScore(this.smoothed, feedbackScore(sample), this.options.alpha);
    this.lastAt = now;
    this.last = sample;
  }

  /** True when there is no sample, or the last one is older than the staleness limit. */
  isStale(now: number): boolean {
    if (this.lastAt === undefined) return true;
    return now - this.lastAt > this.options.intervalMs * (this.options.staleAfterIntervals ?? 3);
  }

  /** The weight to use at `now`: from feedback when fresh, else `configured`. */
  effectiveWeight(configured: number, now: number): number {
    if (this.isStale(now) || this.smoothed === undefined) return configured;
    return feedbackWeight(configured, this.smoothed, this.options);
  }

  get lastSample(): AgentFeedback | undefined {
    return this.last;
  }

  get smoothedScore(): number | undefined {
    return this.smoothed;
  }
}
