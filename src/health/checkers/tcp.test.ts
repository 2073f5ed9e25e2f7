import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { TcpChecker } from './tcp.js';

function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
}

describe('TcpChecker on loopback', () => {
  const server = createServer((s) => s.on('error', () => {}));
  const peers: string[] = [];
  let port: number;
  let closedPort: number;
  beforeAll(async () => {
    server.on('connection', (s) => peers.push(s.remoteAddress ?? ''));
    port = await listen(server);
    const probe = createServer();
    closedPort = await listen(probe);
    await new Promise((r) => probe.close(r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('is up when the handshake completes', async () => {
    const r = await runCheck(new TcpChecker({ host: '127.0.0.1', port }), 2000);
    expect(r).toMatchObject({ ok: true, detail: `connected to 127.0.0.1:${port}` });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('is down on a closed port, with the errno in the detail', async () => {
    const r = await runCheck(new TcpChecker({ host: '127.0.0.1', port: closedPort }), 2000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('connects from the bind address', async () => {
    peers.length = 0;
    const r = await runCheck(new TcpChecker({ host: '127.0.0.1', port, bindAddress: '127.0.0.3' }), 2000);
    expect(r.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(peers).toContain('127.0.0.3');
  });

  it('fails at once when the signal is already aborted', async () => {
    const c = new AbortController();
    c.abort('timeout');
    expect(await new TcpChecker({ host: '127.0.0.1', port }).check(c.signal)).toMatchObject({ ok: false });
  });
});
