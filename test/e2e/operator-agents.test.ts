// Several instances on one host, all started with default flags, serving real traffic:
// three vstun-agents on three real servers (three namespaces) and two vstun-directors on two
// director hosts (two more namespaces), each director configured at run time with the
// built vstunadm found by its namespace's default socket, each VIP answering through its
// director from all three agents. Then SIGTERM: every instance exits 0 and leaves its
// namespace as it found it (no VIP on lo, no TAP, no VIP route, no run-time files).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { curlMany } from '../../src/lab/curl-many.js';
import { REPO_ROOT, spawnDaemon, type Daemon } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
import {
  admOk,
  countByServer,
  firstAnswer,
  removeRunDirs,
  routeVipToDirectorHost,
  runDirOf,
  startOperatorDirector,
  startVipApp,
  vipRoutedToTap,
  vipUrl,
  type OperatorDirector,
} from '../support/operator.js';

/** The second director host's uplink (router side .1) and the VIP routed to it. */
const DIR2_NET = '10.70.9';
const VIP2 = '10.70.100.11';

describe.skipIf(!canRunNetnsTests())('operator: three agents and two directors on one host, default flags, serving', () => {
  let lab: Lab;
  let dir2 = '';
  const agents: Daemon[] = [];
  const apps: Daemon[] = [];
  const directors: OperatorDirector[] = [];

  const healthz = (ns: string) => lab.topo.tryExec(ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', 'http://127.0.0.1:9470/healthz'], 3000).status === 0;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'oea', realServers: 3 });
    // A second director host on the same router.
    dir2 = lab.topo.ns('dir2');
    lab.topo.sysctl(dir2, 'net.ipv4.conf.all.rp_filter', 0);
    lab.topo.sysctl(dir2, 'net.ipv4.conf.default.rp_filter', 0);
    lab.topo.veth(dir2, 'eth0', lab.router, 'dir2');
    lab.topo.exec(dir2, 'ip', ['addr', 'add', `${DIR2_NET}.2/24`, 'dev', 'eth0']);
    lab.topo.exec(lab.router, 'ip', ['addr', 'add', `${DIR2_NET}.1/24`, 'dev', 'dir2']);
    lab.topo.exec(dir2, 'ip', ['route', 'add', 'default', 'via', `${DIR2_NET}.1`]);
    routeVipToDirectorHost(lab, VIP2, `${DIR2_NET}.2`);

    // The agents exactly as a unit file would run them: the VIPs and the directors, nothing else.
    const agentJs = path.join(REPO_ROOT, 'dist/cli/vstun-agent.js');
    for (const rs of lab.realServers) {
      agents.push(spawnDaemon(lab, rs.ns, [agentJs, '--vip', lab.vip, '--vip', VIP2, '--director', lab.dip, '--director', `${DIR2_NET}.2`]));
    }
    for (const [i, rs] of lab.realServers.entries()) {
      await waitFor(
        () => {
          if (agents[i].child.exitCode !== null) throw new Error(`vstun-agent on rs${rs.index} exited (${agents[i].child.exitCode}): ${agents[i].output().trim()}`);
          return healthz(rs.ns);
        },
        30_000,
        `vstun-agent on rs${rs.index} (${agents[i].output().trim()})`,
        200,
      );
      apps.push(await startVipApp(lab, rs, [lab.vip, VIP2]));
    }
    directors.push(await startOperatorDirector(lab, { defaultPaths: true }));
    directors.push(await startOperatorDirector(lab, { ns: dir2, defaultPaths: true }));
  }, 180_000);

  afterAll(async () => {
    for (const d of [...directors, ...apps, ...agents]) await d.stop(3000).catch(() => null);
    lab?.cleanup();
    removeRunDirs([...(lab?.realServers.map((rs) => rs.ns) ?? []), ...(lab ? [lab.director] : []), ...(dir2 ? [dir2] : [])]);
  });

  it('each instance has its own files under /run/vstun/netns/NAME', () => {
    for (const [i, rs] of lab.realServers.entries()) {
      expect(agents[i].child.exitCode, agents[i].output()).toBeNull();
      expect(existsSync(`${runDirOf(rs.ns)}/agent.state.json`)).toBe(true);
      for (const v of [lab.vip, VIP2]) expect(lab.topo.exec(rs.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo'])).toContain(`${v}/32`);
    }
    for (const d of directors) {
      expect(existsSync(`${runDirOf(d.ns)}/director.sock`)).toBe(true);
      expect(existsSync(`${runDirOf(d.ns)}/director-vstun0.state.json`)).toBe(true);
    }
  });

  it('each director, configured with vstunadm in its namespace (no --control), serves its VIP from all three agents', async () => {
    const [d1, d2] = directors;
    for (const [d, vip] of [
      [d1, lab.vip],
      [d2, VIP2],
    ] as const) {
      admOk(d, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
      for (const rs of lab.realServers) admOk(d, ['-a', '-t', `${vip}:80`, '-r', rs.rip, '-i']);
      expect(vipRoutedToTap(lab, d, vip)).toBe(true);
    }
    // Each director lists only its own rules.
    expect(admOk(d1, ['-S', '-n'])).not.toContain(VIP2);
    expect(admOk(d2, ['-S', '-n'])).not.toContain(`${lab.vip}:`);
    for (const vip of [lab.vip, VIP2]) {
      await firstAnswer(lab, vipUrl(vip));
      const counts = countByServer(curlMany(lab.client, vipUrl(vip), 30));
      expect(Object.keys(counts).sort(), vip).toEqual(['rs1', 'rs2', 'rs3']);
      for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(7);
    }
  });

  it('SIGTERM: all five exit 0 and restore their namespaces; no run-time files are left', async () => {
    const all = [...agents, ...directors];
    const codes = await Promise.all(all.map((d) => d.stop(10_000)));
    expect(codes, all.map((d) => d.output().trim().split('\n').pop()).join('\n')).toEqual([0, 0, 0, 0, 0]);
    for (const rs of lab.realServers) {
      const lo = lab.topo.exec(rs.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo']);
      expect(lo).not.toContain(lab.vip);
      expect(lo).not.toContain(VIP2);
      expect(existsSync(runDirOf(rs.ns))).toBe(false);
    }
    for (const d of directors) {
      expect(lab.topo.tryExec(d.ns, 'ip', ['link', 'show', 'vstun0']).status).not.toBe(0);
      expect(lab.topo.exec(d.ns, 'ip', ['-4', 'route', 'show', 'table', 'all']).includes('10.70.100.1')).toBe(false);
      expect(existsSync(runDirOf(d.ns))).toBe(false);
    }
  });
});
