// Scale-out behind a BIRD router with ECMP (src/lab/scaleout-lab.ts): three director hosts,
// each with BIRD (eBGP, hold 3 s, keepalive 1 s) and vstun-director (mh with mh-port, tunnel
// health checks, bgp: section), three real servers with agents, 100 long-lived TCP flows
// whose bytes are echoed and checked end to end, and a curl loop. Directors die, drain and
// come back, and a real server's application goes down: the flows that must survive do.
//
// Second part: a director whose services lose every live server (its health probes are
// dropped) withdraws the VIP, and the router stops sending to it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { LAB_APP_HTTP_PORT, REPO_ROOT } from '../../src/lab/lab-daemons.js';
import { curlMany } from '../../src/lab/curl-many.js';
import {
  buildScaleoutLab,
  killDirectorHost,
  reviveDirectorHost,
  routerNextHops,
  startScaleoutClient,
  startScaleoutStack,
  stopScaleoutLab,
  waitForNextHops,
  type ClientStatus,
  type DirectorHost,
  type ScaleoutClient,
  type ScaleoutLab,
} from '../../src/lab/scaleout-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const FLOWS = 100;
const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Waits until every established flow is moving again (no bytes unanswered for over 2 s). */
async function flowsMoving(client: ScaleoutClient, what: string): Promise<ClientStatus> {
  await waitFor(() => client.status()!.flows.behind === 0, 45_000, `every flow moving again after ${what}`, 250);
  return client.status()!;
}

/** Waits for `n` more answered requests; returns the status then. */
async function moreRequests(client: ScaleoutClient, n: number): Promise<ClientStatus> {
  const ok0 = client.status()!.requests.ok;
  await waitFor(() => client.status()!.requests.ok >= ok0 + n, 60_000, `${n} more answered requests`, 200);
  return client.status()!;
}

/**
 * The real server each director would pick for `count` new client tuples (explain, changes
 * nothing). The client address is one the lab's client never uses: explain reports an
 * existing connection entry's server, and the client's own ports (its flows and the entries
 * of requests answered before a server went down, lingering in FIN/TIME_WAIT) would collide
 * with some of these tuples.
 */
async function choices(host: DirectorHost, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await host.director!.control('explain', { args: ['explain', '-t', `10.70.100.10:${LAB_APP_HTTP_PORT}`, '--client', `10.70.0.254:${20000 + i * 97}`] });
    out.push(String(r.explanation?.server));
  }
  return out;
}

describe.skipIf(!canRunNetnsTests())('scale-out: 3 directors behind a BIRD router with ECMP, mh, 100 long-lived flows', () => {
  let lab: ScaleoutLab;
  let client: ScaleoutClient;
  let broken0 = 0;

  beforeAll(async () => {
    lab = buildScaleoutLab({ prefix: 'so', directors: 3 });
    await startScaleoutStack(lab, { drainSeconds: 2 });
    client = await startScaleoutClient(lab, { flows: FLOWS, chunk: 200, intervalMs: 250, requestGapMs: 100, maxSeconds: 600 });
    const s = client.status()!;
    print({ start: { nextHops: routerNextHops(lab), flowsByServer: s.flows.byServer } });
    // The flows are spread over the three real servers (mh-port), through all three directors.
    expect(Object.keys(s.flows.byServer).sort()).toEqual(['rs1', 'rs2', 'rs3']);
    for (const h of lab.hosts) expect(((await h.director!.control('counters')).connTable as { entries: number }).entries).toBeGreaterThan(0);
  }, 240_000);

  afterAll(async () => {
    try {
      await client?.stop().catch(() => undefined);
    } finally {
      if (lab) await stopScaleoutLab(lab);
    }
  }, 60_000);

  it('kill -9 of a director host (silent: no FIN, no withdrawal): the router drops it after the hold time, no flow breaks, new requests succeed', async () => {
    const dead = lab.hosts[0];
    const before = client.status()!;
    killDirectorHost(lab, dead, true);
    const waited = await waitForNextHops(lab, [lab.hosts[1], lab.hosts[2]], 30_000);
    print({ killed: `dir${dead.index}`, nextHopDroppedAfterMs: waited, holdTimeS: lab.timers?.hold });
    const moving = await flowsMoving(client, 'the kill');
    const after = await moreRequests(client, 20);
    print({ phase: 'kill -9', brokenFlows: moving.flows.broken, failedRequestsInWindow: after.requests.failed - before.requests.failed, failures: after.requests.failures.slice(-5) });
    expect(moving.flows.broken, JSON.stringify(moving.flows.brokenDetails)).toBe(0);
    // New requests succeed once the router has moved on: none of the last 20 failed.
    const settled = after.requests.failed;
    const later = await moreRequests(client, 20);
    expect(later.requests.failed, JSON.stringify(later.requests.failures.slice(-5))).toBe(settled);
  }, 300_000);

  it('SIGTERM of a director (graceful drain): 0 broken flows, 0 failed requests', async () => {
    const host = lab.hosts[1];
    const before = client.status()!;
    const exited = host.director!.stop(20_000);
    await waitForNextHops(lab, [lab.hosts[2]], 20_000);
    expect(await exited).toBe(0);
    const moving = await flowsMoving(client, 'the drain');
    const after = await moreRequests(client, 20);
    print({ phase: 'SIGTERM', brokenFlows: after.flows.broken, failedRequests: after.requests.failed - before.requests.failed });
    expect(moving.flows.broken, JSON.stringify(moving.flows.brokenDetails)).toBe(0);
    expect(after.flows.broken).toBe(0);
    expect(after.requests.failed - before.requests.failed, JSON.stringify(after.requests.failures.slice(-5))).toBe(0);
  }, 300_000);

  it('a director starts again (and the drained one too): 0 broken flows, 0 failed requests', async () => {
    const before = client.status()!;
    await reviveDirectorHost(lab, lab.hosts[0], { drainSeconds: 2 });
    await waitForNextHops(lab, [lab.hosts[0], lab.hosts[2]], 60_000);
    await reviveDirectorHost(lab, lab.hosts[1], { drainSeconds: 2 });
    await waitForNextHops(lab, lab.hosts, 60_000);
    const moving = await flowsMoving(client, 'the restarts');
    const after = await moreRequests(client, 20);
    print({ phase: 'start again', nextHops: routerNextHops(lab), brokenFlows: after.flows.broken, failedRequests: after.requests.failed - before.requests.failed });
    expect(moving.flows.broken, JSON.stringify(moving.flows.brokenDetails)).toBe(0);
    expect(after.flows.broken).toBe(0);
    expect(after.requests.failed - before.requests.failed, JSON.stringify(after.requests.failures.slice(-5))).toBe(0);
    broken0 = after.flows.broken;
  }, 300_000);

  it("a real server's application goes down: its flows end, the others are untouched, no director chooses it", async () => {
    const victim = lab.realServers[1];
    const name = `rs${victim.index}`;
    const before = client.status()!;
    const onVictim = before.flows.byServer[name] ?? 0;
    expect(onVictim).toBeGreaterThan(0);
    await lab.apps.get(victim.index)!.stop(3000);
    // Every director's health check takes it out (fall 2 at 1 s).
    await waitFor(
      async () => {
        for (const h of lab.hosts) if ((await choices(h, 60)).includes(victim.rip)) return false;
        return true;
      },
      30_000,
      `every director to stop choosing ${victim.rip}`,
      500,
    );
    const moving = await flowsMoving(client, 'the real server going down');
    const failedAtDetection = moving.requests.failed;
    const after = await moreRequests(client, 30);
    const newlyBroken = after.flows.brokenDetails.filter((b) => b.atMs !== undefined && b.atMs > before.elapsedMs);
    print({ phase: 'rs down', flowsOnIt: onVictim, broken: newlyBroken.length, brokenServers: [...new Set(newlyBroken.map((b) => b.server))], byServerAfter: after.requests.byServer });
    // Its flows end; the others are untouched.
    expect(after.flows.broken - broken0).toBe(onVictim);
    expect(newlyBroken.every((b) => b.server === name)).toBe(true);
    // No director chooses it: every director's choices, and the requests answered after detection.
    for (const h of lab.hosts) expect(await choices(h, 200)).not.toContain(victim.rip);
    expect(after.requests.failed, JSON.stringify(after.requests.failures.slice(-5))).toBe(failedAtDetection);
    expect(after.requests.byServer[name] ?? 0).toBe(moving.requests.byServer[name] ?? 0);
    const final = await client.stop();
    expect(final.flows.bytesVerified).toBeGreaterThan(0);
  }, 300_000);
});

describe.skipIf(!canRunNetnsTests())('scale-out: a director without a live server withdraws its VIP', () => {
  let lab: ScaleoutLab;

  beforeAll(async () => {
    lab = buildScaleoutLab({ prefix: 'sow', directors: 2 });
    await startScaleoutStack(lab, { drainSeconds: 1 });
  }, 240_000);

  afterAll(async () => {
    if (lab) await stopScaleoutLab(lab);
  }, 60_000);

  it('withdraws when its health checks fail every server, and the router sends it nothing; announces again when they pass', async () => {
    const [good, sick] = lab.hosts;
    // The real servers answer tunnel probes from the VIP to the DIP: drop those on the sick host only.
    lab.topo.exec(sick.ns, 'nft', ['-f', '-'], {
      input: `table inet vstun_lab_sick {\n chain in { type filter hook input priority -400; policy accept; ip saddr ${lab.vip} ip daddr ${sick.dip} drop; }\n}\n`,
    });
    await waitForNextHops(lab, [good], 30_000);
    const state = (await sick.director!.control('announce')).bgp as { vips: { vip: string; announced: boolean; reason: string }[] };
    print({ sick: state.vips });
    expect(state.vips).toEqual([expect.objectContaining({ vip: lab.vip, announced: false, reason: expect.stringMatching(/none of its 2 services has a live real server/) })]);
    const conns = async (h: DirectorHost) => ((await h.director!.control('list')).services as { stats: { conns: number } }[]).reduce((a, s) => a + s.stats.conns, 0);
    const [good0, sick0] = [await conns(good), await conns(sick)];
    const answers = curlMany(lab.client, `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`, 60);
    const [good1, sick1] = [await conns(good), await conns(sick)];
    print({ answered: answers.length, goodConns: good1 - good0, sickConns: sick1 - sick0 });
    expect(answers.length).toBe(60);
    expect(sick1 - sick0).toBe(0);
    expect(good1 - good0).toBeGreaterThanOrEqual(60);
    // Metrics say the same.
    const metrics = lab.topo.exec(sick.ns, 'curl', ['-s', '--max-time', '3', 'http://127.0.0.1:9469/metrics']);
    expect(metrics).toMatch(new RegExp(`vstun_vip_announced\\{vip="${lab.vip.replace(/\./g, '\\.')}"\\} 0`));

    lab.topo.exec(sick.ns, 'nft', ['delete', 'table', 'inet', 'vstun_lab_sick']);
    await waitForNextHops(lab, lab.hosts, 30_000);
    const again = lab.topo.exec(sick.ns, 'curl', ['-s', '--max-time', '3', 'http://127.0.0.1:9469/metrics']);
    expect(again).toMatch(new RegExp(`vstun_vip_announced\\{vip="${lab.vip.replace(/\./g, '\\.')}"\\} 1`));
  }, 300_000);

  it('vstunadm drain withdraws the VIP while forwarding goes on; undrain announces it again', async () => {
    const sick = lab.hosts[1];
    const vstunadm = (...args: string[]) => lab.topo.exec(sick.ns, process.execPath, [path.join(REPO_ROOT, 'dist/cli/vstunadm.js'), '--control', sick.director!.controlPath, ...args]);
    const drained = vstunadm('drain');
    print({ drain: drained });
    expect(drained).toMatch(/drained \(all withdrawn\)/);
    expect(drained).toMatch(new RegExp(`${lab.vip.replace(/\./g, '\\.')}\\s+withdrawn`));
    await waitForNextHops(lab, [lab.hosts[0]], 30_000);
    const json = JSON.parse(vstunadm('announce', '--json'));
    expect(json).toMatchObject({ schema: 'vstun.announce/1', bgp: { draining: true, vips: [{ vip: lab.vip, announced: false }] } });
    const undrained = vstunadm('undrain');
    expect(undrained).toMatch(new RegExp(`${lab.vip.replace(/\./g, '\\.')}\\s+announced`));
    await waitForNextHops(lab, lab.hosts, 30_000);
  }, 120_000);
});
