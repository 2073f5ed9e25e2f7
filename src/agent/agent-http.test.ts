import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { AgentError } from './agent-error.js';
import { startAgentHttp } from './agent-http.js';
import { createAgentMetrics } from './agent-metrics.js';
import { DecapCounters, D_NON_DIRECTOR_SOURCE } from './decap-counters.js';

describe('agent HTTP endpoint', () => {
  let server: Server;
  let base: string;
  let healthy = true;
  const counters = new DecapCounters(1);

  beforeAll(async () => {
    counters.vipPackets[0] = 5;
    counters.vipBytes[0] = 500;
    counters.drops[D_NON_DIRECTOR_SOURCE] = 3;
    const metrics = createAgentMetrics({ counters, vips: ['198.51.100.10'], mode: 'userspace' });
    server = await startAgentHttp({ host: '127.0.0.1', port: 0 }, { health: async () => ({ healthy }), feedback: async () => ({ load: 1 }), metrics });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('/healthz is 200 when healthy and 503 when not', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    healthy = false;
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ healthy: false });
    healthy = true;
  });

  it('/metrics exposes per-VIP packets and drops by reason from the counters', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^vstun_agent_decap_packets_total\{vip="198.51.100.10"\} 5$/m);
    expect(text).toMatch(/^vstun_agent_decap_bytes_total\{vip="198.51.100.10"\} 500$/m);
    expect(text).toMatch(/^vstun_agent_decap_drops_total\{reason="non-director-source"\} 3$/m);
    expect(text).toMatch(/^vstun_agent_decap_drops_total\{reason="inner-bad-checksum"\} 0$/m);
    counters.drops[D_NON_DIRECTOR_SOURCE] = 4;
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/reason="non-director-source"\} 4$/m);
  });

  it('/feedback is JSON; unknown paths 404; writes 405', async () => {
    expect(await (await fetch(`${base}/feedback`)).json()).toEqual({ load: 1 });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('a taken port is a typed error naming --listen', async () => {
    const port = (server.address() as AddressInfo).port;
    const metrics = createAgentMetrics({ counters, vips: [], mode: 'userspace' });
    await expect(startAgentHttp({ host: '127.0.0.1', port }, { health: async () => ({ healthy }), feedback: async () => ({}), metrics })).rejects.toSatisfy(
      (e: unknown) => e instanceof AgentError && e.code === 'AGENT_LISTEN_FAILED' && /--listen/.test(e.message),
    );
  });
});
