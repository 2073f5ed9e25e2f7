// vstun-director with a two-queue TAP (--queues 2): one worker thread per queue. Many TCP
// flows from the client (each curl its own source port) spread over both queues, and both
// workers forward; a vstunadm change made at run time reaches both; the listings
// (-L --stats, -L -c) and /metrics add up the two queues. VS/NAT on several queues is
// method-nat-queues.test.ts.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_STEERED_ADDRESSES } from '../../src/director/steering-program.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { REPO_ROOT, type Daemon } from '../../src/lab/lab-daemons.js';
import { controlRequest } from '../../src/lab/lab-control.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, countByServer, firstAnswer, startOperatorDirector, startRealServers, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';

interface QueueSummary {
  queue: number;
  framesIn: number;
  forwarded: number;
  connections: number;
  servers: Record<string, { conns: number; inPkts: number }>;
}

describe.skipIf(!canRunNetnsTests())('vstun-director with two TAP queues', () => {
  let lab: Lab;
  let director: OperatorDirector;
  let daemons: Daemon[] = [];
  let vip: string;
  let rips: string[];
  const queues = async (): Promise<QueueSummary[]> => (await controlRequest(director.control, { v: 1, op: 'queues' })).queues;
  const serverKey = (rip: string) => `tcp:${vip}:80 ${rip}`;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'dmq', realServers: 2 });
    vip = lab.vip;
    rips = lab.realServers.map((rs) => rs.rip);
    daemons = await startRealServers(lab, []);
    director = await startOperatorDirector(lab, { extraArgs: ['--queues', '2'] });
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    for (const rip of rips) admOk(director, ['-a', '-t', `${vip}:80`, '-r', rip, '-i', '-w', '1']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('opens two queues, each read by its own worker', async () => {
    const q = await queues();
    expect(q.map((s) => s.queue)).toEqual([0, 1]);
    expect(lab.topo.exec(director.ns, 'ip', ['-d', 'link', 'show', director.tap])).toContain('multi_queue');
  });

  it('many flows spread over both queues, and both workers forward them', async () => {
    expect(await firstAnswer(lab, vipUrl(vip))).toMatch(/^rs[12]$/);
    const answers = curlMany(lab.client, vipUrl(vip), 48);
    expect(answers.length).toBe(48);
    expect(Object.keys(countByServer(answers)).sort()).toEqual(['rs1', 'rs2']);
    const q = await queues();
    for (const s of q) {
      expect(s.framesIn, JSON.stringify(q)).toBeGreaterThan(0);
      expect(s.forwarded, JSON.stringify(q)).toBeGreaterThan(0);
    }
  });

  it('a vstunadm change at run time reaches both workers: a quiesced server gets no new flow on either queue', async () => {
    const before = await queues();
    admOk(director, ['-e', '-t', `${vip}:80`, '-r', rips[0], '-i', '-w', '0']);
    const answers = curlMany(lab.client, vipUrl(vip), 48);
    expect(countByServer(answers)).toEqual({ rs2: 48 });
    const after = await queues();
    for (let i = 0; i < 2; i++) {
      const was = before[i].servers;
      const now = after[i].servers;
      // New connections on this queue went to rs2 only: the worker applied the weight 0.
      expect(now[serverKey(rips[0])].conns, `queue ${i}`).toBe(was[serverKey(rips[0])].conns);
      expect(now[serverKey(rips[1])].conns, `queue ${i}`).toBeGreaterThan(was[serverKey(rips[1])].conns);
    }
    admOk(director, ['-e', '-t', `${vip}:80`, '-r', rips[0], '-i', '-w', '1']);
    expect(Object.keys(countByServer(curlMany(lab.client, vipUrl(vip), 24))).sort()).toEqual(['rs1', 'rs2']);
  });

  it('refuses --queues above 1 for a table one steering program cannot hold (VS/NAT over its cap), at start and before touching the host', () => {
    const cfg = path.join(lab.workDir, 'nat-over-cap.yaml');
    // One more VS/NAT server than the steering program holds addresses (VIP included).
    const servers = Array.from({ length: MAX_STEERED_ADDRESSES }, (_, i) => `{ address: 10.2.${i >> 7}.${(i & 127) + 1}, forward: masq }`).join(', ');
    writeFileSync(cfg, `services:\n  - { protocol: tcp, vip: ${vip}, port: 80, scheduler: rr, realServers: [${servers}] }\n`);
    const bad = (args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/cli/vstun-director.js'), '--config', cfg, '--control', path.join(lab.workDir, 'never.sock'), '--no-setup', ...args], { encoding: 'utf8', timeout: 30_000 });
    const r = bad(['--queues', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('VS/NAT');
    expect(r.stderr).toContain('--queues 1');
    for (const q of ['0', '65', 'two']) expect(bad(['--queues', q]).status).toBe(2);
  });

  it('-L --stats, -L -c and /metrics add up both queues', async () => {
    const q = await queues();
    const conns = (rip: string) => q.reduce((n, s) => n + s.servers[serverKey(rip)].conns, 0);
    const stats = admOk(director, ['-L', '-n', '--stats']);
    for (const rip of rips) expect(stats).toMatch(new RegExp(`-> ${rip.replace(/\./g, '\\.')}:80 +${conns(rip)} `));
    // Every entry of both tables is listed (each curl left one, closing or in TIME_WAIT).
    const listed = admOk(director, ['-L', '-n', '-c']).split('\n').filter((l) => l.startsWith('TCP'));
    const entries = (await queues()).reduce((n, s) => n + s.connections, 0);
    expect(listed.length).toBeGreaterThan(0);
    expect(Math.abs(listed.length - entries)).toBeLessThanOrEqual(2);
    const metrics = lab.topo.exec(director.ns, 'curl', ['-s', '--max-time', '5', 'http://127.0.0.1:9469/metrics']);
    for (const i of [0, 1]) expect(metrics).toMatch(new RegExp(`vstun_queue_frames_total\\{queue="${i}"\\} [1-9]`));
  });
});
