// Health checks in the real director, in namespaces: three real servers (vstun-agent + the lab
// app on the VIP) behind vstun-director, under a continuous curl loop from the client.
//   1. rs2's application stops: out of rotation within interval x fall + one interval, and no
//      request fails after that; it starts again: back in, its share ramping up (slow start).
//   2. The DSR blackhole: the VIP leaves rs3's lo. The tunnel check (through the director's
//      data path, from the probe source) marks rs3 down; a TCP check to its RIP still passes.
//   3. Every server down: the sorry server (rs4) answers.
// The tunnel probe source P is a dedicated /32 the director puts on its TAP; the router
// routes P back to the director host, as a real network must (see README "Health checks").
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { LAB_APP_HTTP_PORT, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const PROBE_SOURCE = '10.70.9.1';
const INTERVAL_MS = 1000;
const FALL = 2;
const SLOW_START_S = 6;
const WEIGHT = 10;
const LOOP_MAX_S = 150;

interface Sample {
  at: number;
  ok: boolean;
  body: string;
}

interface ServerHealth {
  rsId: string;
  state: 'up' | 'down';
  configuredWeight: number;
  effectiveWeight: number;
  lastCheck?: { ok: boolean; detail: string; at: number };
}

describe.skipIf(!canRunNetnsTests())('health checks in the real director', () => {
  let lab: Lab;
  let director: DirectorHandle;
  const apps: Daemon[] = [];
  let loop: ChildProcess | undefined;
  const samples: Sample[] = [];
  const url = () => `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;

  async function health(port: number): Promise<{ sorryActive: boolean; servers: ServerHealth[] }> {
    const r = await director.control('health');
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const svc = r.services.find((s: { serviceId: string }) => s.serviceId === `tcp:${lab.vip}:${port}`);
    return svc;
  }
  const serverOf = async (port: number, index: number) => (await health(port)).servers.find((s) => s.rsId === lab.realServers[index].rip)!;
  const since = (t: number) => samples.filter((s) => s.at >= t);

  beforeAll(async () => {
    lab = buildLab({ prefix: 'hfo', realServers: 4 });
    // P is routed back to the director host, like the DIP.
    lab.topo.exec(lab.router, 'ip', ['route', 'add', `${PROBE_SOURCE}/32`, 'via', lab.dip]);
    for (const rs of lab.realServers) {
      await startAgent(lab, rs, { listen: `${rs.rip}:9470` });
      apps.push(await startLabApp(lab, rs));
    }
    const [rs1, rs2, rs3, sorry] = lab.realServers;
    const servers = (w?: number) => [rs1, rs2, rs3].map((rs) => `{ address: "${rs.rip}"${w ? `, weight: ${w}` : ''} }`).join(', ');
    const config = [
      'director:',
      '  connTableSize: 65536',
      `  probeSource: "${PROBE_SOURCE}"`,
      'services:',
      `  - protocol: tcp`,
      `    vip: "${lab.vip}"`,
      `    port: ${LAB_APP_HTTP_PORT}`,
      '    scheduler: wrr',
      `    healthCheck: { kind: tunnel, interval: ${INTERVAL_MS / 1000}, timeout: 0.8, rise: 2, fall: ${FALL}, slowStart: ${SLOW_START_S}, onFailure: expire }`,
      `    sorryServer: { address: "${sorry.rip}" }`,
      `    realServers: [${servers(WEIGHT)}]`,
      // The same servers checked the way keepalived would: a TCP connect to the RIP (the agent's port).
      `  - { protocol: tcp, vip: "${lab.vip}", port: 9470, scheduler: rr, healthCheck: { kind: tcp, interval: 0.5, timeout: 0.4, rise: 1, fall: 2 }, realServers: [${servers()}] }`,
      '',
    ].join('\n');
    director = await startDirector(lab, { config });
    expect(lab.topo.exec(lab.director, 'ip', ['-4', '-o', 'addr', 'show', 'dev', director.tap])).toContain(`${PROBE_SOURCE}/32`);
  }, 120_000);

  afterAll(async () => {
    loop?.kill('SIGKILL');
    await director?.stop(3000);
    lab?.cleanup();
  });

  it('brings every server up through the tunnel check and ramps them to their weight', async () => {
    await waitFor(
      async () => {
        const h = await health(LAB_APP_HTTP_PORT);
        return !h.sorryActive && h.servers.every((s) => s.state === 'up' && s.effectiveWeight === WEIGHT);
      },
      30_000,
      'three servers up at full weight',
      200,
    );
    const list = await director.control('list');
    expect(list.ok).toBe(true);
    const status = await director.control('status');
    expect(status.verdicts['drop-probe-unpinned']).toBe(0);
    const h = await director.control('health');
    expect(h.probePacketsForwarded).toBeGreaterThan(0);
    // The continuous load: one curl every 50 ms, each result with its wall-clock time.
    loop = lab.topo.spawn(lab.client, 'bash', [
      '-c',
      `end=$((SECONDS+${LOOP_MAX_S})); while [ $SECONDS -lt $end ]; do t=$(date +%s%3N); b=$(curl -s --max-time 1 -H 'Connection: close' ${url()}); echo "$t $? $b"; sleep 0.05; done`,
    ]);
    let buf = '';
    loop.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const [at, code, body = ''] = l.trim().split(' ');
        samples.push({ at: Number(at), ok: code === '0' && /^rs\d$/.test(body), body });
      }
    });
    await waitFor(async () => samples.length > 10, 30_000, 'more than 10 requests of the loop', 100);
    const base = samples.slice();
    expect(base.length).toBeGreaterThan(10);
    expect(base.every((s) => s.ok)).toBe(true);
    expect(new Set(base.map((s) => s.body))).toEqual(new Set(['rs1', 'rs2', 'rs3']));
  }, 60_000);

  it('takes a server whose application stopped out of rotation within interval x fall + one interval; then no request fails', async () => {
    await apps[1].stop(2000);
    const stopped = Date.now();
    await waitFor(async () => (await serverOf(LAB_APP_HTTP_PORT, 1)).state === 'down', 10_000, 'rs2 down', 50);
    const outAfter = Date.now() - stopped;
    console.info(`rs2 out of rotation ${outAfter} ms after its application stopped (bound ${INTERVAL_MS * FALL + INTERVAL_MS} ms)`);
    expect(outAfter).toBeLessThanOrEqual(INTERVAL_MS * FALL + INTERVAL_MS);
    const rs2 = await serverOf(LAB_APP_HTTP_PORT, 1);
    expect(rs2).toMatchObject({ configuredWeight: WEIGHT, effectiveWeight: 0 });
    expect(rs2.lastCheck?.detail).toMatch(/ECONNREFUSED|refused|reset/i);
    // The listing (vstunadm -L) shows the configured weight next to the effective one, and /metrics the health gauge.
    const list = await director.control('ipvs-list');
    const listed = list.services.find((s: { key: { port: number } }) => s.key.port === LAB_APP_HTTP_PORT).servers.find((r: { address: string }) => r.address === lab.realServers[1].rip);
    expect(listed).toMatchObject({ weight: WEIGHT, effectiveWeight: 0 });
    const metrics = lab.topo.exec(lab.director, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9469/metrics']);
    const up = (rip: string) => `vstun_real_server_up{protocol="tcp",vip="${lab.vip}",port="${LAB_APP_HTTP_PORT}",server="${rip}",server_port="${LAB_APP_HTTP_PORT}"}`;
    expect(metrics).toContain(`${up(lab.realServers[1].rip)} 0`);
    expect(metrics).toContain(`${up(lab.realServers[0].rip)} 1`);
    const out = Date.now();
    await waitFor(async () => since(out).length > 20, 30_000, 'more than 20 requests after rs2 left', 100);
    const after = since(out);
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((s) => !s.ok), 'failed requests after rs2 left rotation').toEqual([]);
    expect(after.some((s) => s.body === 'rs2')).toBe(false);
    (globalThis as { rs2OutAt?: number }).rs2OutAt = out;
  }, 60_000);

  it('puts it back when it recovers, and its share ramps up (slow start)', async () => {
    apps[1] = await startLabApp(lab, lab.realServers[1]);
    await waitFor(async () => (await serverOf(LAB_APP_HTTP_PORT, 1)).state === 'up', 10_000, 'rs2 up again', 50);
    const up = Date.now();
    const weights: number[] = [];
    await waitFor(
      async () => {
        const w = (await serverOf(LAB_APP_HTTP_PORT, 1)).effectiveWeight;
        if (weights.at(-1) !== w) weights.push(w);
        return w === WEIGHT;
      },
      (SLOW_START_S + 5) * 1000,
      'rs2 back at full weight',
      200,
    );
    const full = Date.now();
    // Enough requests after the ramp to measure a share, however slow the loaded machine makes the loop.
    await waitFor(async () => since(full).length >= 40, 30_000, '40 requests after the ramp', 200);
    // The ramp: from a low weight, never down, to the configured weight, in several steps.
    expect(weights[0]).toBeLessThanOrEqual(3);
    expect(weights.at(-1)).toBe(WEIGHT);
    expect(weights.every((w, i) => i === 0 || w >= weights[i - 1])).toBe(true);
    expect(weights.length).toBeGreaterThanOrEqual(3);
    const share = (s: Sample[]) => ({ n: s.length, rs2: s.filter((x) => x.body === 'rs2').length / Math.max(1, s.length) });
    // Early: the requests of the ramp's first half (weights up to half of the configured one).
    const early = share(samples.filter((x) => x.at >= up && x.at < up + (SLOW_START_S * 1000) / 2));
    const late = share(since(full));
    console.info(`rs2 effective weights while ramping: ${weights.join(' ')}; share of requests in the first half of the ramp ${early.rs2.toFixed(2)} (n=${early.n}), after the ramp ${late.rs2.toFixed(2)} (n=${late.n})`);
    expect(early.n).toBeGreaterThanOrEqual(5);
    expect(late.n).toBeGreaterThanOrEqual(40);
    expect(early.rs2, `rs2 share early ${JSON.stringify(early)} vs late ${JSON.stringify(late)}`).toBeLessThan(late.rs2);
    expect(late.rs2).toBeGreaterThan(0.15);
    // No request failed from the moment rs2 left rotation until now.
    const rs2OutAt = (globalThis as { rs2OutAt?: number }).rs2OutAt ?? up;
    expect(since(rs2OutAt).filter((s) => !s.ok)).toEqual([]);
  }, 60_000);

  it('the tunnel check catches the DSR blackhole (VIP gone from an RS lo) that a TCP check to the RIP passes', async () => {
    const rs3 = lab.realServers[2];
    lab.topo.exec(rs3.ns, 'ip', ['addr', 'del', `${lab.vip}/32`, 'dev', 'lo']);
    const removed = Date.now();
    await waitFor(async () => (await serverOf(LAB_APP_HTTP_PORT, 2)).state === 'down', 10_000, 'the tunnel check to fail rs3', 50);
    const tunnel = await serverOf(LAB_APP_HTTP_PORT, 2);
    expect(tunnel.lastCheck?.ok).toBe(false);
    expect(tunnel.lastCheck?.detail).toMatch(/^tunnel tcp/);
    // Keep watching: the TCP check to rs3's RIP keeps passing, and rs3 stays up for it.
    await new Promise((r) => setTimeout(r, 1500));
    const tcp = await serverOf(9470, 2);
    expect(tcp.state).toBe('up');
    expect(tcp.lastCheck?.ok).toBe(true);
    expect(tcp.lastCheck?.detail).toContain(rs3.rip);
    expect(Date.now() - removed).toBeGreaterThan(1500);
    const tcpAll = (await health(9470)).servers;
    expect(tcpAll.every((s) => s.state === 'up')).toBe(true);
  }, 30_000);

  it('the sorry server takes over when every real server is down', async () => {
    await apps[0].stop(2000);
    await apps[1].stop(2000);
    await waitFor(async () => (await health(LAB_APP_HTTP_PORT)).sorryActive, 10_000, 'the sorry server active', 100);
    const h = await health(LAB_APP_HTTP_PORT);
    expect(h.servers.every((s) => s.state === 'down')).toBe(true);
    // Like keepalived, the sorry server is a real server of the service while it stands in.
    const list = await director.control('list');
    expect(JSON.stringify(list.services)).toContain(`"${lab.realServers[3].rip}"`);
    const answers = curlMany(lab.client, url(), 10, 2);
    expect(answers).toEqual(Array(10).fill('rs4'));
  }, 30_000);
});
