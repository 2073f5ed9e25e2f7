// vstun-agent leaves the host exactly as it found it: addresses, sysctls and links are the
// same before the agent starts and after it stops (SIGTERM), and after a kill -9 followed by
// a restart and a stop. Also: bad arguments and --mode kernel change nothing, and
// `vstun-agent check` exits non-zero on a host that is not ready and zero on one that is.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topology, canRunNetnsTests, waitFor } from '../support/netns.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VIP = '198.51.100.10';
const VIP6 = '2001:db8:100::10';

describe.skipIf(!canRunNetnsTests())('vstun-agent host restore', () => {
  let topo: Topology;
  let rs: string;
  let dir: string;
  let stateFile: string;

  beforeAll(() => {
    topo = new Topology('agr');
    rs = topo.ns('rs');
    const peer = topo.ns('peer');
    // No duplicate-address detection: link-local addresses are final at once, so two
    // snapshots differ only by what the agent did.
    for (const ns of [rs, peer]) {
      topo.sysctl(ns, 'net.ipv6.conf.all.accept_dad', 0);
      topo.sysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
    }
    topo.veth(rs, 'eth0', peer, 'eth0');
    topo.exec(rs, 'ip', ['addr', 'add', '10.72.0.2/24', 'dev', 'eth0']);
    // Start from the values a distribution ships and that VS/TUN must change.
    topo.sysctl(rs, 'net.ipv4.conf.all.rp_filter', 1);
    topo.sysctl(rs, 'net.ipv4.conf.default.rp_filter', 1);
    topo.sysctl(rs, 'net.ipv4.conf.eth0.rp_filter', 1);
    dir = mkdtempSync(path.join(tmpdir(), 'vstun-agent-restore-'));
    stateFile = path.join(dir, 'state', 'agent.state.json');
  });

  afterAll(() => {
    topo?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Everything the agent may touch, as text: addresses, links, IPv4/IPv6 per-device sysctls. */
  function snapshot(): { addr: string; link: string; sysctl: string } {
    const sysctl = topo
      .exec(rs, 'sysctl', ['-a'], { allowFail: true })
      .split('\n')
      .filter((l) => /^net\.ipv[46]\.conf\./.test(l) && !l.includes('stable_secret'))
      .sort()
      .join('\n');
    return { addr: topo.exec(rs, 'ip', ['-d', 'addr', 'show']), link: topo.exec(rs, 'ip', ['-d', 'link', 'show']), sysctl };
  }

  const agentArgs = ['dist/cli/vstun-agent.js', '--vip', VIP, '--vip', VIP6, '--director', '10.72.0.1', '--state-file', '', '--listen', '127.0.0.1:9471'];
  function startAgent(): ChildProcess {
    const args = [...agentArgs];
    args[args.indexOf('--state-file') + 1] = stateFile;
    return topo.spawn(rs, process.execPath, args, { cwd: root });
  }
  const healthy = () => topo.tryExec(rs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', 'http://127.0.0.1:9471/healthz']).stdout === '200';
  const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
  const runCli = (args: string[]) => topo.tryExec(rs, process.execPath, [path.join(root, 'dist/cli/vstun-agent.js'), ...args], 20_000);

  it('check reports the blackhole, ARP and rp_filter problems on an unprepared host and exits non-zero', () => {
    const res = runCli(['check', '--vip', VIP]);
    expect(res.status).toBe(1);
    for (const id of ['vip-missing', 'arp-ignore', 'arp-announce', 'rp-filter-strict', 'tun-missing']) expect(res.stdout).toContain(`[${id}]`);
  });

  it('bad arguments and --mode kernel fail clearly and change nothing', () => {
    const before = snapshot();
    const bad = runCli(['--vip', 'not-an-address', '--director', '10.72.0.1', '--state-file', stateFile]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--vip "not-an-address" is not an IPv4 or IPv6 address/);
    const noDirector = runCli(['--vip', VIP, '--state-file', stateFile]);
    expect(noDirector.status).not.toBe(0);
    expect(noDirector.stderr).toMatch(/--director/);
    const kernel = runCli(['--vip', VIP, '--director', '10.72.0.1', '--mode', 'kernel', '--state-file', stateFile, '--listen', 'none']);
    expect(kernel.status).not.toBe(0);
    expect(kernel.stderr).toMatch(/AGENT_KERNEL_MODE_UNAVAILABLE/);
    expect(kernel.stderr).toMatch(/--mode userspace/);
    expect(snapshot()).toEqual(before);
    expect(existsSync(stateFile)).toBe(false);
  });

  it('restores addresses, sysctls and links after SIGTERM', async () => {
    const before = snapshot();
    const agent = startAgent();
    await waitFor(healthy, 20_000, 'agent healthy');
    const during = snapshot();
    expect(during.addr).toContain(`${VIP}/32`);
    expect(during.addr).toContain(`${VIP6}/128`);
    expect(during.link).toContain('vstun-in');
    expect(during.sysctl).toContain('net.ipv4.conf.all.rp_filter = 0');
    expect(during.sysctl).toContain('net.ipv4.conf.eth0.arp_ignore = 1');
    // The prepared host now passes check (warnings, such as MTU 1500, do not fail it).
    const check = runCli(['check', '--vip', VIP, '--vip', VIP6]);
    expect(check.status, check.stdout).toBe(0);
    agent.kill('SIGTERM');
    expect(await exited(agent)).toBe(0);
    expect(snapshot()).toEqual(before);
    expect(existsSync(stateFile)).toBe(false);
  });

  it('restores after kill -9, a restart and a stop', async () => {
    const before = snapshot();
    const first = startAgent();
    await waitFor(healthy, 20_000, 'agent healthy');
    first.kill('SIGKILL');
    await exited(first);
    // The crash left its changes behind, with the undo records in the state file.
    expect(existsSync(stateFile)).toBe(true);
    expect(snapshot().addr).toContain(`${VIP}/32`);
    const second = startAgent();
    await waitFor(healthy, 20_000, 'restarted agent healthy');
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(snapshot()).toEqual(before);
    expect(existsSync(stateFile)).toBe(false);
  });
});
