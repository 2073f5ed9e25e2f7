// Event-loop delay, sampled: a timer asks to run every SAMPLE_MS and records how late it
// ran. For a data path in Node that lateness is latency every packet in the ring waits out,
// so it is a histogram in /metrics (vstun_event_loop_delay_seconds) and a plot on the
// status page. One timer per sampler, unref'd: it never keeps the process alive.
import { Histogram, type Registry } from 'prom-client';

const SAMPLE_MS = 50;
/** Upper bounds in seconds: 1 ms (a healthy loop) up to 1 s (a stalled one). */
export const EVENT_LOOP_DELAY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

export interface EventLoopDelayWindow {
  /** Samples since the previous take(). */
  samples: number;
  /** Mean and largest delay in the window, milliseconds (0 with no samples). */
  meanMs: number;
  maxMs: number;
}

export class EventLoopDelaySampler {
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;
  private windowCount = 0;
  private windowSum = 0;
  private windowMax = 0;

  constructor(private readonly histogram: Histogram) {}

  start(): this {
    if (!this.timer) this.schedule();
    return this;
  }

  private schedule(): void {
    this.expected = performance.now() + SAMPLE_MS;
    this.timer = setTimeout(() => this.tick(), SAMPLE_MS);
    this.timer.unref();
  }

  private tick(): void {
    const lateMs = Math.max(0, performance.now() - this.expected);
    this.histogram.observe(lateMs / 1000);
    this.windowCount++;
    this.windowSum += lateMs;
    if (lateMs > this.windowMax) this.windowMax = lateMs;
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The window since the last call, then starts a new one (the status page polls this). */
  take(): EventLoopDelayWindow {
    const w = { samples: this.windowCount, meanMs: this.windowCount ? this.windowSum / this.windowCount : 0, maxMs: this.windowMax };
    this.windowCount = this.windowSum = this.windowMax = 0;
    return w;
  }
}

/** Registers `vstun_event_loop_delay_seconds` on `registry` and starts sampling. */
export function startEventLoopDelay(registry: Registry): EventLoopDelaySampler {
  const histogram = new Histogram({
    name: 'vstun_event_loop_delay_seconds',
    help: `How late a timer due every ${SAMPLE_MS} ms ran: the event-loop delay packets wait out.`,
    buckets: [...EVENT_LOOP_DELAY_BUCKETS],
    registers: [registry],
  });
  return new EventLoopDelaySampler(histogram).start();
}
