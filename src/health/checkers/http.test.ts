import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { HttpChecker, type HttpCheckOptions } from './http.js';
import { parseStatusSpec, type StatusRange } from './status-ranges.js';

const ok200: StatusRange[] = [{ low: 200, high: 200 }];

interface Listener {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): AddressInfo | string | null;
}

function listen(server: Listener): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('HttpChecker on loopback', () => {
  const seen: Array<{ path?: string; host?: string }> = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url, host: req.headers.host });
    if (req.url === '/health') res.end('status: all OK\n');
    else if (req.url === '/big') res.end('x'.repeat(200_000) + 'TAIL');
    else {
      res.statusCode = 503;
      res.end('maintenance');
    }
  });
  // accepts, reads the request, never answers
  const silentSockets: Socket[] = [];
  const silent = createTcpServer((s) => {
    silentSockets.push(s);
    s.on('error', () => {});
  });
  let port: number;
  let silentPort: number;
  const check = (o: Partial<HttpCheckOptions>, timeoutMs = 2000) =>
    runCheck(new HttpChecker({ tls: false, host: '127.0.0.1', port, path: '/health', expectStatus: ok200, ...o }), timeoutMs);

  beforeAll(async () => {
    port = await listen(server);
    silentPort = await listen(silent);
  });
  afterAll(async () => {
    for (const s of silentSockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await new Promise((r) => server.close(r));
  });

  it('is up on the expected status and sends the Host header', async () => {
    seen.length = 0;
    const r = await check({ virtualHost: 'www.example.test' });
    expect(r).toMatchObject({ ok: true, detail: `GET http://127.0.0.1:${port}/health: status 200` });
    expect(seen).toEqual([{ path: '/health', host: 'www.example.test' }]);
  });

  it('is down on another status, and up when that status is expected', async () => {
    const down = await check({ path: '/other' });
    expect(down).toMatchObject({ ok: false });
    expect(down.detail).toMatch(/status 503 not in 200$/);
    const up = await check({ path: '/other', expectStatus: [parseStatusSpec('5xx')!] });
    expect(up.ok).toBe(true);
  });

  it('matches and mismatches the body regex', async () => {
    expect(await check({ bodyPattern: /all OK/ })).toMatchObject({ ok: true });
    const r = await check({ bodyPattern: /^healthy$/ });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/body does not match/);
    // a /g pattern keeps no state between checks
    const g = new HttpChecker({ tls: false, host: '127.0.0.1', port, path: '/health', expectStatus: ok200, bodyPattern: /OK/g });
    expect((await runCheck(g, 2000)).ok).toBe(true);
    expect((await runCheck(g, 2000)).ok).toBe(true);
  });

  it('judges only the first maxBodyBytes of the body', async () => {
    expect(await check({ path: '/big', bodyPattern: /TAIL/, maxBodyBytes: 1000 })).toMatchObject({ ok: false });
    expect(await check({ path: '/big', bodyPattern: /TAIL/, maxBodyBytes: 300_000 })).toMatchObject({ ok: true });
  });

  it('times out on a server that never answers', async () => {
    const r = await check({ port: silentPort }, 300);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/timeout$/);
  });

  it('is down when nothing listens', async () => {
    const closed = createTcpServer();
    const closedPort = await listen(closed);
    await new Promise((r) => closed.close(r));
    const r = await check({ port: closedPort });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });
});

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { timeout: 60_000, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!haveOpenssl)('HttpChecker over TLS on loopback', () => {
  let dir: string;
  let port: number;
  let server: ReturnType<typeof createTlsServer>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vstun-health-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=rs.example.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { timeout: 60_000,
      stdio: 'ignore',
    });
    server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('tls OK'));
    port = await listen(server);
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a self-signed certificate unless verification is on', async () => {
    const base = { tls: true, host: '127.0.0.1', port, path: '/', expectStatus: ok200, virtualHost: 'rs.example.test', bodyPattern: /tls OK/ };
    const r = await runCheck(new HttpChecker(base), 3000);
    expect(r).toMatchObject({ ok: true });
    expect(r.detail).toMatch(/^GET https:/);
    const strict = await runCheck(new HttpChecker({ ...base, verifyTls: true }), 3000);
    expect(strict.ok).toBe(false);
    expect(strict.detail).toMatch(/self.signed|SELF_SIGNED/i);
  });
});
