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
const QUEUE_METRIC = 'vstun_queue_event_loop_delay_seconds';
/** Numbers in one read-out (LoopDelaySource.read): the buckets, sum, count and the window. */
export const LOOP_DELAY_READOUT = EVENT_LOOP_DELAY_BUCKETS.length + 6;
/** How often a queue worker copies its sampler into the shared read-out main scrapes. */
const PUBLISH_MS = 250;

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
  values(name = METRIC, labels: Record<string, string> = {}): HistogramValue[] {
    if (!this.closed) this.source.read(this.out, false);
    return histogramValues(this.out, name, labels);
  }
}

type HistogramValue = { metricName: string; labels: Record<string, string | number>; value: number };

/** prom-client metric values of one read-out (LoopDelaySource.read's layout). */
function histogramValues(out: Float64Array, name: string, labels: Record<string, string>): HistogramValue[] {
  const n = EVENT_LOOP_DELAY_BUCKETS.length;
  const values: HistogramValue[] = [];
  let cumulative = 0;
  for (let b = 0; b < n; b++) {
    cumulative += out[b];
    values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: EVENT_LOOP_DELAY_BUCKETS[b] }, value: cumulative });
  }
  values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: out[n + 2] });
  values.push({ metricName: `${name}_sum`, labels, value: out[n + 1] });
  values.push({ metricName: `${name}_count`, labels, value: out[n + 2] });
  return values;
}

/** A read-out another thread can see: LOOP_DELAY_READOUT doubles in shared memory. */
export function sharedLoopDelayReadout(): SharedArrayBuffer {
  return new SharedArrayBuffer(LOOP_DELAY_READOUT * Float64Array.BYTES_PER_ELEMENT);
}

/**
 * In a worker thread (a TAP queue's data path): samples this thread's loop and copies the
 * read-out into `shared` every PUBLISH_MS, for the main thread's /metrics. Returns the stop
 * function. Without the addon it publishes nothing (the series stays at zero).
 */
export function publishLoopDelay(shared: SharedArrayBuffer): () => void {
  let src: LoopDelaySource;
  try {
    src = nativeLoopDelaySource();
  } catch {
    return () => undefined;
  }
  const view = new Float64Array(shared);
  const timer = setInterval(() => src.read(view, false), PUBLISH_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    src.read(view, false);
    src.close();
  };
}

/** Registers `vstun_queue_event_loop_delay_seconds{queue}` over the queue workers' shared read-outs. */
export function registerQueueLoopDelay(registry: Registry, readouts: SharedArrayBuffer[]): void {
  const views = readouts.map((b) => new Float64Array(b));
  const help = `Event-loop delay of each TAP queue's worker thread (its data path), as ${METRIC} is the main thread's; published every ${PUBLISH_MS} ms.`;
  registry.registerMetric({
    name: QUEUE_METRIC,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name: QUEUE_METRIC, help, type: 'histogram', aggregator: 'sum', values: views.flatMap((v, q) => histogramValues(v, QUEUE_METRIC, { queue: String(q) })) }),
    reset: () => undefined,
  } as unknown as Parameters<Registry['registerMetric']>[0]);
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
