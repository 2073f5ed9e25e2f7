// The status page's routes served over HTTP next to /metrics by a director over FakeDevice:
// the page and every file it loads come from this listener (uPlot from the installed
// package), /status.json follows the traffic, and nothing but GET/HEAD is answered.
import { afterEach, describe, expect, test } from 'vitest';
import { SYN, tcpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { createDirectorMetrics } from '../metrics/director-metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { statusRoutes } from './status-routes.js';
import type { StatusDocument } from './status-snapshot.js';

let t: TestDirector | undefined;
let m: MetricsServer | undefined;
afterEach(async () => {
  await m?.close();
  await t?.close();
  m = t = undefined;
});

describe('status page routes', () => {
  test('the page, its assets and /status.json, all local', async () => {
    t = await startTestDirector({ services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2', weight: 3 }, { address: '10.77.4.2' }] }] });
    let windows = 0;
    const routes = statusRoutes({
      director: t.director,
      health: () => [{ serviceId: `tcp:${VIP}:80`, quorumUp: true, upWeight: 3, sorryActive: false, servers: [{ rsId: '10.77.3.2', state: 'up' } as never] }],
      eventLoop: () => ({ samples: ++windows, meanMs: 0.5, maxMs: 2 }),
      announcements: () => new Map([[VIP, 'announced']]),
    });
    m = await startMetricsServer(createDirectorMetrics(t.director), '127.0.0.1:0', routes);
    const base = `http://${m.address}`;

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((x) => x[1]).filter((r) => r !== 'data:,');
    expect(refs.sort()).toEqual(['/assets/status.css', '/assets/status.js', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css']);
    for (const ref of refs) {
      const r = await fetch(`${base}${ref}`);
      expect(r.status, ref).toBe(200);
      expect((await r.text()).length, ref).toBeGreaterThan(100);
    }
    expect(await (await fetch(`${base}/assets/uPlot.iife.min.js`)).text()).toContain('uPlot');

    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40001, flags: SYN }), tcpFrame({ sport: 40002, flags: SYN, dst: '10.77.0.222' })]);
    const doc = (await (await fetch(`${base}/status.json`)).json()) as StatusDocument;
    expect(doc.schema).toBe('vstun.status-page/1');
    expect(doc.framesIn).toBe(3);
    expect(doc.drops['not-vip']).toBe(1);
    expect(doc.eventLoop).toEqual({ samples: 1, meanMs: 0.5, maxMs: 2 });
    const [svc] = doc.services;
    expect(svc).toMatchObject({ key: `tcp:${VIP}:80`, scheduler: 'rr', conns: 2, inPkts: 2, announced: 'announced' });
    expect(svc.servers.map((s) => [s.address, s.health, s.weight, s.configuredWeight, s.port])).toEqual([
      ['10.77.3.2', 'up', 3, 3, 80],
      ['10.77.4.2', 'unchecked', 1, 1, 80],
    ]);
    expect(svc.servers.reduce((n, s) => n + s.inactConns, 0)).toBe(2);
    // Read-only, no secrets: no paths, no socket.
    expect(JSON.stringify(doc)).not.toMatch(/\.sock|\/run\/|\.yaml/);

    expect((await fetch(`${base}/status.json`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/assets/other.js`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});
