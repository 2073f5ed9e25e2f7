// Event-loop delay: how late the loop gets to something that became due. For a data path in
// Node that lateness is latency every packet waiting in the ring sits out, so it is a
// histogram in /metrics (vstun_event_loop_delay_seconds) and a plot on the status page.
//
// The samples come from the addon's timerfd sampler (native/loop-delay.c): an hrtimer every
// SAMPLE_INTERVAL_US, its lateness measured in C to the microsecond, no JS run per sample.
// libuv's timers (setTimeout, and monitorEventLoopDelay under prom-client's
// nodejs_eventloop_lag_*) work in whole milliseconds, which hides exactly the delays a
// packet path cares about (a p99 target of a few hundred µs). Without the addon (a pure-JS
// test run) a setTimeout sampler stands in, with its millisecond floor.
// The exporter reads the counts at scrape time: nothing is allocated between scrapes.
import type { Registry } from 'prom-client';
import { loadAddon } from '../native/addon.js';

/** 13 ms: divides none of the daemons' timer periods (250 ms sweep, 1 s and 2 s polls), so samples fall on all of them alike. */
export const SAMPLE_INTERVAL_US = 13_000;
/** Upper bounds in seconds: 25 µs (a wake-up on an idle host) up to 1 s (a stalled loop). */
export const EVENT_LOOP_DELAY_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
] as const;
const METRIC = 'vstun_event_loop_delay_seconds';

/** Where samples come from: read() fills the layout of NativeLoopDelaySampler.read. */
export interface LoopDelaySource {
  read(out: Float64Array, resetWindow: boolean): void;
  close(): void;
}

export interface EventLoopDelayWindow {
  /** Samples since the previous take(). */
  samples: number;
  /** Mean and largest delay in the window, milliseconds (0 with no samples). */
  meanMs: number;
  maxMs: number;
}

/** The native timerfd sampler over EVENT_LOOP_DELAY_BUCKETS; throws when the addon is missing. */
export function nativeLoopDelaySource(intervalUs = SAMPLE_INTERVAL_US): LoopDelaySource {
  return loadAddon().createLoopDelaySampler(intervalUs, Float64Array.from(EVENT_LOOP_DELAY_BUCKETS, (s) => s * 1e9));
}

/** Fallback without the addon: a setTimeout every intervalUs, lateness from performance.now() (millisecond floor). */
export class TimerLoopDelaySource implements LoopDelaySource {
  private readonly counts = new Float64Array(EVENT_LOOP_DELAY_BUCKETS.length + 1);
  private sum = 0;
  private count = 0;
  private winCount = 0;
  private winSum = 0;
  private winMax = 0;
  private expected = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = SAMPLE_INTERVAL_US / 1000) {
    this.schedule();
  }

  private schedule(): void {
    this.expected = performance.now() + this.intervalMs;
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    this.record(Math.max(0, performance.now() - this.expected) / 1000);
    this.schedule();
  }

  /** Counts one sample of `lateS` seconds. */
  record(lateS: number): void {
    let b = 0;
    while (b < EVENT_LOOP_DELAY_BUCKETS.length && lateS > EVENT_LOOP_DELAY_BUCKETS[b]) b++;
    this.counts[b]++;
    this.sum += lateS;
    this.count++;
    this.winCount++;
    this.winSum += lateS;
    if (lateS > this.winMax) this.winMax = lateS;
  }

  read(out: Float64Array, resetWindow: boolean): void {
    const n = EVENT_LOOP_DELAY_BUCKETS.length;
    out.set(this.counts);
    out[n + 1] = this.sum;
    out[n + 2] = this.count;
    out[n + 3] = this.winCount;
    out[n + 4] = this.winSum;
    out[n + 5] = this.winMax;
    if (resetWindow) this.winCount = this.winSum = this.winMax = 0;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export class EventLoopDelaySampler {
  private readonly out = new Float64Array(EVENT_LOOP_DELAY_BUCKETS.length + 6);
  private closed = false;

  constructor(private readonly source: LoopDelaySource) {}

  /** Stops sampling (idempotent); /metrics keeps the counts of the last read, take() returns an empty window. */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.close();
  }

  /** The window since the last call, then starts a new one (the status page polls this). */
  take(): EventLoopDelayWindow {
    const n = EVENT_LOOP_DELAY_BUCKETS.length;
    if (this.closed) return { samples: 0, meanMs: 0, maxMs: 0 };
    this.source.read(this.out, true);
    const samples = this.out[n + 3];
    return { samples, meanMs: samples ? (this.out[n + 4] / samples) * 1000 : 0, maxMs: this.out[n + 5] * 1000 };
  }

  /** The histogram as prom-client's metric values: cumulative `_bucket` per bound and +Inf, `_sum`, `_count`. */
  values(): { metricName: string; labels: Record<string, string | number>; value: number }[] {
    const n = EVENT_LOOP_DELAY_BUCKETS.length;
    if (!this.closed) this.source.read(this.out, false);
    const values = [];
    let cumulative = 0;
    for (let b = 0; b < n; b++) {
      cumulative += this.out[b];
      values.push({ metricName: `${METRIC}_bucket`, labels: { le: EVENT_LOOP_DELAY_BUCKETS[b] }, value: cumulative });
    }
    values.push({ metricName: `${METRIC}_bucket`, labels: { le: '+Inf' }, value: this.out[n + 2] });
    values.push({ metricName: `${METRIC}_sum`, labels: {}, value: this.out[n + 1] });
    values.push({ metricName: `${METRIC}_count`, labels: {}, value: this.out[n + 2] });
    return values;
  }
}

/**
 * Registers `vstun_event_loop_delay_seconds` on `registry` and starts sampling, from
 * `source` or else the native sampler (the timer fallback when the addon cannot load).
 */
export function startEventLoopDelay(registry: Registry, source?: LoopDelaySource): EventLoopDelaySampler {
  let src = source;
  if (!src) {
    try {
      src = nativeLoopDelaySource();
    } catch {
      src = new TimerLoopDelaySource();
    }
  }
  const sampler = new EventLoopDelaySampler(src);
  const help = `How late the event loop ran a wake-up that was due (a timerfd every ${SAMPLE_INTERVAL_US / 1000} ms): the delay packets in the ring wait out.`;
  registry.registerMetric({
    name: METRIC,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name: METRIC, help, type: 'histogram', aggregator: 'sum', values: sampler.values() }),
    reset: () => undefined,
  } as unknown as Parameters<Registry['registerMetric']>[0]);
  return sampler;
}
