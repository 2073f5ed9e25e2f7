// One service mixing all three LVS forwarding methods, as ipvsadm allows per real server:
// a NAT server (10.0.0.7, port-mapped to 8080, weight 1), a DR server (10.0.0.27, weight 2)
// and a tunnel server (10.0.0.47, vstun-agent, weight 3) behind `-s wrr`. 600 curls from
// the client: each server's share is within ±10% of its weight's; -L -n shows Masq, Route
// and Tunnel; --stats counts replies (OutPkts) for the NAT server only. The director runs
// its default queue count (one per core, at least two here): NAT replies stay on their
// client's queue through the steering, and the DR server's MAC serves every queue.
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnDaemon, startAgent, type Daemon } from '../../src/lab/lab-daemons.js';
import { buildMethodLab, type MethodLab } from '../../src/lab/method-lab.js';
import { startRipApp } from '../support/methods.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
import { admOk, countByServer, curlOnce, startOperatorDirector, startVipApp, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';

const CURLS = 600;

describe.skipIf(!canRunNetnsTests())('one service, three methods: -m, -g and -i side by side', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'mix', nat: 1, dr: 1, tun: 1 });
    const [nat, dr, tun] = lab.servers;
    daemons.push(await startRipApp(lab, nat, nat.rip, 8080));
    const drAgent = spawnDaemon(lab, dr.ns, [path.join(REPO_ROOT, 'dist/cli/vstun-agent.js'), '--mode', 'dr', '--vip', lab.vip, '--listen', 'none', '--state-file', path.join(lab.workDir, 'agent-dr.state.json')]);
    daemons.push(drAgent);
    await waitFor(() => lab.topo.exec(dr.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo']).includes(`${lab.vip}/32`), 20_000, 'the DR server\'s VIP on lo', 100);
    daemons.push(await startVipApp(lab, dr, [lab.vip]));
    daemons.push(await startAgent(lab, tun));
    daemons.push(await startVipApp(lab, tun, [lab.vip]));
    director = await startOperatorDirector(lab, { config: `director:\n  dr:\n    bridge: ${lab.lanBridge}\n`, extraArgs: os.availableParallelism() >= 2 ? [] : ['--queues', '2'] });
    admOk(director, ['-A', '-t', `${lab.vip}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', `${nat.rip}:8080`, '-m', '-w', '1']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', dr.rip, '-g', '-w', '2']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', tun.rip, '-i', '-w', '3']);
  }, 180_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('-L -n lists the three methods as ipvsadm does', () => {
    const listing = admOk(director!, ['-L', '-n']);
    expect(listing).toContain('  -> 10.0.0.7:8080                Masq    1      ');
    expect(listing).toContain('  -> 10.0.0.27:80                 Route   2      ');
    expect(listing).toContain('  -> 10.0.0.47:80                 Tunnel  3      ');
  });

  it(`${CURLS} curls: shares within ±10% of the weights (1:2:3), replies counted for NAT only`, async () => {
    // The DR server's MAC is asked for when it is added; wait (bounded) until every method answers.
    await waitFor(() => curlOnce(lab, vipUrl(lab.vip), 3) !== null, 20_000, 'a first answer', 200);
    admOk(director!, ['-Z']);
    const answers: string[] = [];
    for (let i = 0; i < CURLS; i++) answers.push(curlOnce(lab, vipUrl(lab.vip), 5) ?? 'failed');
    const counts = countByServer(answers);
    expect(counts.failed ?? 0).toBe(0);
    const expected: Record<string, number> = { rs1: CURLS / 6, rs2: (CURLS * 2) / 6, rs3: (CURLS * 3) / 6 };
    for (const [name, want] of Object.entries(expected)) {
      expect(counts[name], name).toBeGreaterThanOrEqual(want * 0.9);
      expect(counts[name], name).toBeLessThanOrEqual(want * 1.1);
    }
    const stats = admOk(director!, ['-L', '-n', '--stats', '--exact']).split('\n');
    const outOf = (prefix: string) => Number(stats.find((l) => l.startsWith(`  -> ${prefix}`))!.trim().split(/\s+/)[4]);
    expect(outOf('10.0.0.7:8080')).toBeGreaterThan(0);
    expect(outOf('10.0.0.27:80')).toBe(0);
    expect(outOf('10.0.0.47:80')).toBe(0);
  });
});
