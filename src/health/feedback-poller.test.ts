import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock.js';
import { fetchAgentFeedback, FeedbackPoller } from './feedback-poller.js';

describe('fetchAgentFeedback against a local HTTP server', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/feedback') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ loadAverage: { '1m': 1.25, '5m': 1, '15m': 1 }, cpuIdlePercent: 60, cpus: 2, establishedConnections: {}, establishedTotal: 7 }));
      } else if (req.url === '/garbage') res.end('<html>');
      else if (req.url === '/hang') {
        // never answers
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads the agent document', async () => {
    await expect(fetchAgentFeedback(`${base}/feedback`, new AbortController().signal)).resolves.toEqual({ load1: 1.25, cpuIdlePercent: 60, cpus: 2, established: 7 });
  });

  it.each([
    ['/missing', /status 404/],
    ['/garbage', /not JSON/],
  ])('rejects %s', async (path, message) => {
    await expect(fetchAgentFeedback(`${base}${path}`, new AbortController().signal)).rejects.toThrow(message);
  });

  it('stops at the abort signal', async () => {
    const c = new AbortController();
    const p = fetchAgentFeedback(`${base}/hang`, c.signal);
    setTimeout(() => c.abort(), 50);
    await expect(p).rejects.toThrow();
  });

  it('polls on the clock, records good samples and keeps the error of a bad one', async () => {
    const clock = new FakeClock();
    let calls = 0;
    let samples = 0;
    const poller = new FeedbackPoller(
      { url: `${base}/feedback`, intervalMs: 1000, timeoutMs: 500 },
      clock,
      async () => {
        calls++;
        if (calls === 2) throw new Error('connect ECONNREFUSED');
        return { load1: 0, cpuIdlePercent: 50, cpus: 1 };
      },
      () => samples++,
    );
    poller.start();
    await clock.advance(0);
    expect([calls, samples, poller.lastError]).toEqual([1, 1, undefined]);
    await clock.advance(1000);
    expect([calls, samples, poller.lastError]).toEqual([2, 1, 'connect ECONNREFUSED']);
    await clock.advance(1000);
    expect([calls, samples, poller.lastError]).toEqual([3, 2, undefined]);
    poller.stop();
    await clock.advance(5000);
    expect(calls).toBe(3);
    expect(clock.pendingCount).toBe(0);
  });
});
