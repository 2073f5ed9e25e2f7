// Polls one agent's GET /feedback on a timer and keeps a FeedbackTracker current. A failed
// or malformed poll records nothing, so the sample simply ages into staleness and the
// server falls back to its configured weight.
import * as http from 'node:http';
import { describeError } from './check-result.js';
import type { Clock, TimerHandle } from './clock.js';
import { FeedbackTracker, parseAgentFeedback, type AgentFeedback, type FeedbackTrackerOptions } from './feedback.js';

/** Fetches and parses one feedback document; rejects on any failure. */
export type FeedbackFetcher = (url: string, signal: AbortSignal) => Promise<AgentFeedback>;

export interface FeedbackPollerOptions extends FeedbackTrackerOptions {
  /** e.g. "http://10.1.0.2:9470/feedback". */
  url: string;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** First poll after this many ms (the manager jitters it). Default 0. */
  initialDelayMs?: number;
}

export class FeedbackPoller {
  readonly tracker: FeedbackTracker;
  private timer: TimerHandle | undefined;
  private running = false;
  private inFlight: AbortController | undefined;
  /** Bumped by stop(), so a poll in flight from before cannot start a second loop. */
  private generation = 0;
  /** The last poll error, for listings; cleared by a good poll. */
  lastError: string | undefined;

  constructor(
    private readonly options: FeedbackPollerOptions,
    private readonly clock: Clock,
    private readonly fetcher: FeedbackFetcher = fetchAgentFeedback,
    /** Called after every successful sample, so the owner can re-derive the weight. */
    private readonly onSample: () => void = () => {},
  ) {
    this.tracker = new FeedbackTracker(options);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = this.clock.setTimeout(() => void this.poll(), this.options.initialDelayMs ?? 0);
  }

  stop(): void {
    this.running = false;
    this.generation++;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort('stopped');
  }

  private async poll(): Promise<void> {
    if (!this.running) return;
    const generation = this.generation;
    const controller = new AbortController();
    this.inFlight = controller;
    const timeout = this.clock.setTimeout(() => controller.abort('timeout'), this.options.timeoutMs);
    try {
      const sample = await this.fetcher(this.options.url, controller.signal);
      if (generation !== this.generation) return;
      this.tracker.record(sample, this.clock.now());
      this.lastError = undefined;
      this.onSample();
    } catch (err) {
      this.lastError = controller.signal.aborted ? `timeout after ${this.options.timeoutMs} ms` : describeError(err);
    } finally {
      this.clock.clearTimeout(timeout);
      if (this.inFlight === controller) this.inFlight = undefined;
      if (this.running && generation === this.generation) this.timer = this.clock.setTimeout(() => void this.poll(), this.options.intervalMs);
    }
  }
}

/** GET `url` with node:http, up to 64 KiB of JSON, parsed by parseAgentFeedback. */
export function fetchAgentFeedback(url: string, signal: AbortSignal): Promise<AgentFeedback> {
  return new Promise<AgentFeedback>((resolve, reject) => {
    const req = http.get(url, { signal, agent: false, headers: { accept: 'application/json', 'user-agent': 'vstun-health' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: status ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 65536) req.destroy(new Error(`${url}: feedback larger than 64 KiB`));
        else chunks.push(c);
      });
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          reject(new Error(`${url}: feedback is not JSON`));
          return;
        }
        const sample = parseAgentFeedback(json);
        if (sample) resolve(sample);
        else reject(new Error(`${url}: feedback lacks a 1-minute load average`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
