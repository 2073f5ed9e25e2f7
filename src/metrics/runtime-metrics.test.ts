// registerRuntimeMetrics must not add a timer that wakes the daemon's thread 100 times a
// second: prom-client's nodejs_eventloop_lag_* run monitorEventLoopDelay at a 10 ms resolution
// unless told otherwise, and on the agent that thread is the data path. Counted as the
// thread's voluntary context switches (each wake-up from epoll is one) over a second of
// idling, less the samples of vstun's own event-loop delay sampler (a wake-up each).
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { registerRuntimeMetrics } from './runtime-metrics.js';

const voluntarySwitches = () => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1]);

test('an idle daemon thread wakes for its own delay samples, not 100 times a second more for prom-client', async () => {
  const registry = new Registry();
  const loop = registerRuntimeMetrics(registry, 'vstun-agent');
  try {
    await new Promise((r) => setTimeout(r, 100));
    loop.take();
    const before = voluntarySwitches();
    await new Promise((r) => setTimeout(r, 1000));
    const wakes = voluntarySwitches() - before;
    const samples = loop.take().samples;
    expect(samples).toBeGreaterThan(30);
    // A 10 ms lag timer adds ~100; what is left is the 1 s wait itself and the test runner.
    expect(wakes - samples).toBeLessThan(40);
    expect(await registry.getSingleMetricAsString('nodejs_eventloop_lag_p99_seconds')).toContain('nodejs_eventloop_lag_p99_seconds');
  } finally {
    loop.stop();
  }
});
