// The status page in a real browser: Debian's headless chromium, driven by playwright-core
// (test/support/status-page-driver.mjs) from inside the director's namespace, loads the page
// of a lab director that carries HTTP traffic (client → director → two real servers, each
// with vstun-agent and the lab app), waits until the four charts have drawn, and reads the
// DOM twice: the service and server rows are there with their health, and the live values
// move. The screenshot is kept as test-results/status-page.png.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, REPO_ROOT, startAgent, startDirector, startLabApp, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const SCREENSHOT = path.join(REPO_ROOT, 'test-results', 'status-page.png');
const AGENT_PORT = 9470;
/** The traffic loop: at most this many requests, 30 ms apart, each at most 1 s. */
const REQUESTS = 3000;

interface PageRow {
  kind: string;
  service: string;
  server: string | null;
  cells: Record<string, string>;
}
interface PageState {
  polls: number;
  frames: number;
  state: string;
  version: string;
  rows: PageRow[];
  charts: Record<string, { canvases: number; points: number; series: number; legend: string[] }>;
}

describe.skipIf(!canRunNetnsTests())('status page in headless chromium', () => {
  let lab: Lab;
  let director: DirectorHandle;
  let traffic: ChildProcess | undefined;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'tms', realServers: 2 });
    for (const rs of lab.realServers) {
      await startAgent(lab, rs, { listen: `${rs.rip}:${AGENT_PORT}` });
      await startLabApp(lab, rs);
    }
    const servers = lab.realServers.map((rs, i) => `{ address: "${rs.rip}", weight: ${i + 1} }`).join(', ');
    const config = [
      'director:',
      '  connTableSize: 65536',
      'services:',
      `  - { protocol: tcp, vip: "${lab.vip}", port: ${LAB_APP_HTTP_PORT}, scheduler: wrr, realServers: [${servers}] }`,
      // Checked as keepalived's TCP_CHECK would: a connect to each RIP (the agent's port).
      `  - { protocol: tcp, vip: "${lab.vip}", port: ${AGENT_PORT}, scheduler: rr, healthCheck: { kind: tcp, interval: 0.5, timeout: 0.4, rise: 1, fall: 2 }, realServers: [${servers}] }`,
      '',
    ].join('\n');
    director = await startDirector(lab, { config });
    traffic = lab.topo.spawn(lab.client, 'bash', ['-c', `for i in $(seq 1 ${REQUESTS}); do curl -s -o /dev/null --max-time 1 -H 'Connection: close' http://${lab.vip}:${LAB_APP_HTTP_PORT}/; sleep 0.03; done`]);
    // A few flows that no service takes, so the drop chart has a line.
    lab.topo.spawn(lab.client, 'bash', ['-c', `for i in $(seq 1 200); do curl -s -o /dev/null --max-time 0.2 http://${lab.vip}:81/; sleep 0.1; done`]);
    await waitFor(async () => ((await director.control('ipvs-list')).services?.[0]?.stats?.conns ?? 0) > 5, 30_000, 'traffic through the director', 200);
  }, 180_000);

  afterAll(async () => {
    traffic?.kill('SIGKILL');
    await director?.stop(3000);
    lab?.cleanup();
  });

  it('draws the four charts, lists services and servers with health, and its values move', async () => {
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    const driver = spawn('ip', ['netns', 'exec', lab.director, process.execPath, path.join(REPO_ROOT, 'test/support/status-page-driver.mjs'), 'http://127.0.0.1:9469/', SCREENSHOT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let out = '';
    let err = '';
    driver.stdout.on('data', (d: Buffer) => (out += d.toString()));
    driver.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => driver.on('exit', r));
    expect(code, `driver failed: ${err}`).toBe(0);
    const { first, second, consoleErrors, origins } = JSON.parse(out.trim().split('\n').pop()!) as { first: PageState; second: PageState; consoleErrors: string[]; origins: string[] };

    expect(consoleErrors).toEqual([]);
    // Everything came from the director's own listener: no CDN.
    expect(origins).toEqual(['http://127.0.0.1:9469']);
    expect(second.state).toBe('live');
    expect(second.version).toMatch(/^\d+\.\d+\.\d+/);

    const web = `tcp:${lab.vip}:${LAB_APP_HTTP_PORT}`;
    const checked = `tcp:${lab.vip}:${AGENT_PORT}`;
    const services = second.rows.filter((r) => r.kind === 'service').map((r) => r.service);
    expect(services.sort()).toEqual([checked, web].sort());
    for (const rs of lab.realServers) {
      const row = (svc: string) => second.rows.find((r) => r.kind === 'server' && r.service === svc && r.server === rs.rip)!;
      expect(row(web).cells.health).toBe('unchecked');
      expect(row(checked).cells.health).toBe('up');
      expect(row(web).cells.weight).toBe(`${rs.index}/${rs.index}`);
    }

    // The four charts drew, with a line per real server in the per-server ones.
    for (const id of ['chart-rate', 'chart-conns', 'chart-drops', 'chart-loop']) {
      expect(second.charts[id].canvases, id).toBeGreaterThan(0);
      expect(second.charts[id].points, id).toBeGreaterThanOrEqual(6);
    }
    expect(second.charts['chart-rate'].series).toBe(4); // two servers in each of two services
    expect(second.charts['chart-loop'].series).toBe(2);
    expect(second.charts['chart-drops'].series).toBeGreaterThan(0);

    // Live: more polls, more frames, more connections on the web service, and a non-zero rate.
    expect(second.polls).toBeGreaterThan(first.polls);
    expect(second.frames).toBeGreaterThan(first.frames);
    const conns = (s: PageState) => Number(s.rows.find((r) => r.kind === 'service' && r.service === web)!.cells.conns);
    expect(conns(second)).toBeGreaterThan(conns(first));
    const rates = [first, second].flatMap((s) => s.rows.filter((r) => r.service === web && r.kind === 'server').map((r) => Number(r.cells.rate)));
    expect(Math.max(...rates)).toBeGreaterThan(0);

    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
  }, 150_000);
});
