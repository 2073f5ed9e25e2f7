import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  EVENT_LOOP_DELAY_BUCKETS,
  LOOP_DELAY_READOUT,
  nativeLoopDelaySource,
  publishLoopDelay,
  registerQueueLoopDelay,
  sharedLoopDelayReadout,
  startEventLoopDelay,
  TimerLoopDelaySource,
} from './event-loop-delay.js';
import { parseExposition } from './exposition-check.js';

const NAME = 'vstun_event_loop_delay_seconds';

/** A source with samples put in by hand (never started: close() stops nothing). */
function fakeSource(delaysS: number[]): TimerLoopDelaySource {
  const t = new TimerLoopDelaySource();
  t.close();
  for (const d of delaysS) t.record(d);
  return t;
}

function buckets(samples: ReturnType<typeof parseExposition>): Map<string, number> {
  return new Map(samples.filter((s) => s.name === `${NAME}_bucket`).map((s) => [s.labels.le, s.value]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay histogram', () => {
  it('exports cumulative buckets, +Inf, sum and count as a valid Prometheus histogram', async () => {
    const registry = new Registry();
    // 10 µs, 30 µs, 30 µs, 400 µs, 3 ms, 2 s (above every bound)
    startEventLoopDelay(registry, fakeSource([0.00001, 0.00003, 0.00003, 0.0004, 0.003, 2]));
    const samples = parseExposition(await registry.metrics());
    const b = buckets(samples);
    expect([...b.keys()]).toEqual([...EVENT_LOOP_DELAY_BUCKETS.map(String), '+Inf']);
    expect(b.get('0.000025')).toBe(1);
    expect(b.get('0.00005')).toBe(3);
    expect(b.get('0.0001')).toBe(3);
    expect(b.get('0.0005')).toBe(4);
    expect(b.get('0.0025')).toBe(4);
    expect(b.get('0.005')).toBe(5);
    expect(b.get('1')).toBe(5);
    expect(b.get('+Inf')).toBe(6);
    expect(samples.find((s) => s.name === `${NAME}_count`)?.value).toBe(6);
    expect(samples.find((s) => s.name === `${NAME}_sum`)?.value).toBeCloseTo(2.00347, 9);
    // Cumulative: never decreasing.
    const v = [...b.values()];
    for (let i = 1; i < v.length; i++) expect(v[i]).toBeGreaterThanOrEqual(v[i - 1]);
  });

  it('a bound itself counts in its bucket (le is inclusive)', async () => {
    const registry = new Registry();
    startEventLoopDelay(registry, fakeSource([0.0001]));
    const b = buckets(parseExposition(await registry.metrics()));
    expect(b.get('0.00005')).toBe(0);
    expect(b.get('0.0001')).toBe(1);
  });

  it('take() returns the window since the last take, in milliseconds; scrapes do not reset it', async () => {
    const registry = new Registry();
    const src = fakeSource([0.001, 0.003]);
    const sampler = startEventLoopDelay(registry, src);
    await registry.metrics();
    expect(sampler.take()).toEqual({ samples: 2, meanMs: 2, maxMs: 3 });
    expect(sampler.take()).toEqual({ samples: 0, meanMs: 0, maxMs: 0 });
    src.record(0.0005);
    expect(sampler.take()).toEqual({ samples: 1, meanMs: 0.5, maxMs: 0.5 });
    // The histogram keeps everything.
    const count = parseExposition(await registry.metrics()).find((s) => s.name === `${NAME}_count`)?.value;
    expect(count).toBe(3);
    sampler.stop();
    sampler.stop();
    expect(sampler.take()).toEqual({ samples: 0, meanMs: 0, maxMs: 0 });
  });

  it('the native sampler sees a blocked loop as a delay of about the block, and small delays otherwise', async () => {
    const src = nativeLoopDelaySource(2000);
    const registry = new Registry();
    const sampler = startEventLoopDelay(registry, src);
    try {
      await sleep(30);
      sampler.take();
      // Hold the loop for 60 ms: at least one 2 ms expiry falls in the first 58 ms and waits the rest out (>= 2 ms).
      const until = performance.now() + 60;
      while (performance.now() < until);
      await sleep(20);
      const w = sampler.take();
      expect(w.samples).toBeGreaterThan(0);
      expect(w.maxMs).toBeGreaterThanOrEqual(2);
      const b = buckets(parseExposition(await registry.metrics()));
      expect(b.get('+Inf')! - b.get('0.001')!).toBeGreaterThan(0);
    } finally {
      sampler.stop();
    }
  });

  it('the native sampler rejects bad arguments with typed errors', () => {
    expect(() => nativeLoopDelaySource(10)).toThrow(RangeError);
    const bad = () => (nativeLoopDelaySource as unknown as (i: number) => unknown)(Number.NaN);
    expect(bad).toThrow();
  });

  it('queue workers: a read-out in shared memory per queue, one labelled series each, read at scrape time', async () => {
    const readouts = [sharedLoopDelayReadout(), sharedLoopDelayReadout()];
    expect(readouts[0].byteLength).toBe(LOOP_DELAY_READOUT * 8);
    // What a worker's publisher writes: queue 1 saw a 30 µs and a 3 ms delay.
    const src = new TimerLoopDelaySource();
    src.close();
    src.record(0.00003);
    src.record(0.003);
    src.read(new Float64Array(readouts[1]), false);
    const registry = new Registry();
    registerQueueLoopDelay(registry, readouts);
    const samples = parseExposition(await registry.metrics());
    const q = (queue: string, name: string, le?: string) =>
      samples.find((x) => x.name === `vstun_queue_event_loop_delay_seconds${name}` && x.labels.queue === queue && (le === undefined || x.labels.le === le))?.value;
    expect(q('0', '_count')).toBe(0);
    expect(q('1', '_count')).toBe(2);
    expect(q('1', '_bucket', '0.00005')).toBe(1);
    expect(q('1', '_bucket', '0.005')).toBe(2);
    expect(q('1', '_bucket', '+Inf')).toBe(2);
    expect(q('1', '_sum')).toBeCloseTo(0.00303, 9);
  });

  it('publishLoopDelay copies the sampler into the shared read-out, and a last time on stop', async () => {
    const shared = sharedLoopDelayReadout();
    const view = new Float64Array(shared);
    const stop = publishLoopDelay(shared);
    await sleep(40);
    stop();
    expect(view[EVENT_LOOP_DELAY_BUCKETS.length + 2]).toBeGreaterThan(0); // count: the 13 ms timerfd fired at least once in 40 ms
  });
});

