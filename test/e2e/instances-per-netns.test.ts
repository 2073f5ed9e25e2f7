// Several instances on one host, all with default paths: three vstun-agents and two
// vstun-directors in five network namespaces. Each gets its own state file and control
// socket under /run/vstun/netns/NAME, vstunadm run in a namespace finds that namespace's
// director, a second instance in a namespace already served refuses with the flag to set,
// and SIGTERM restores every namespace. The third agent's stdout is a FIFO that is already
// full and never read: it must start, serve and stop all the same (logging never blocks).
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunNetnsTests, Topology, waitFor } from '../support/netns.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AGENT_VIP = '10.71.0.10';
const DIRECTOR_VIP = '10.71.1.10';

const runDirOf = (ns: string) => `/run/vstun/netns/${ns}`;

describe.skipIf(!canRunNetnsTests())('three agents and two directors on one host, default paths', () => {
  let topo: Topology;
  let agentNs: string[];
  let directorNs: string[];
  const agents: ChildProcess[] = [];
  const directors: ChildProcess[] = [];
  const output = new Map<ChildProcess, string[]>();
  let cfg: string;

  let stalledReader = -1;
  const start = (ns: string, bin: string, args: string[], stdout: 'pipe' | number = 'pipe') => {
    const child = topo.spawn(ns, process.execPath, [`dist/cli/${bin}.js`, ...args], { cwd: root, stdio: ['ignore', stdout, 'pipe'] });
    const out: string[] = [];
    output.set(child, out);
    child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
    return child;
  };
  const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
  const agentArgs = ['--vip', AGENT_VIP, '--director', '10.71.0.1'];
  // --dip: these namespaces have no route to the (never reached) real servers.
  const directorArgs = () => ['--config', cfg, '--dip', '10.71.3.1'];
  const vstunadm = (ns: string, args: string[]) => topo.tryExec(ns, process.execPath, [path.join(root, 'dist/cli/vstunadm.js'), ...args], 10_000);
  const healthz = (ns: string) => topo.tryExec(ns, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9470/healthz'], 5000).status === 0;

  beforeAll(async () => {
    topo = new Topology('ipn');
    agentNs = ['a1', 'a2', 'a3'].map((r) => topo.ns(r));
    directorNs = ['d1', 'd2'].map((r) => topo.ns(r));
    // An uplink for the agents' ARP sysctls (both ends in the namespace; no traffic leaves it).
    for (const ns of agentNs) topo.veth(ns, 'eth0', ns, 'eth1');
    cfg = path.join(mkdtempSync(path.join(os.tmpdir(), 'vstun-ipn-')), 'director.yaml');
    writeFileSync(cfg, ['services:', `  - { protocol: tcp, vip: ${DIRECTOR_VIP}, port: 80, scheduler: rr, realServers: [{address: 10.71.2.2}] }`, ''].join('\n'));
    // All five at once, as a host's units would start.
    const fifo = path.join(path.dirname(cfg), 'stdout.fifo');
    topo.exec(null, 'mkfifo', [fifo]);
    stalledReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const filler = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const stalledStdout = openSync(fifo, constants.O_WRONLY);
    try {
      for (;;) writeSync(filler, Buffer.alloc(4096, 0x0a));
    } catch {
      /* EAGAIN: the pipe is full */
    }
    closeSync(filler);
    for (const [i, ns] of agentNs.entries()) agents.push(start(ns, 'vstun-agent', agentArgs, i === 2 ? stalledStdout : 'pipe'));
    closeSync(stalledStdout);
    for (const ns of directorNs) directors.push(start(ns, 'vstun-director', directorArgs()));
    for (const [i, ns] of agentNs.entries()) await waitFor(() => healthz(ns), 30_000, `agent in ${ns} (${output.get(agents[i])!.join('')})`, 200);
    for (const [i, ns] of directorNs.entries()) {
      await waitFor(() => vstunadm(ns, ['-L', '-n']).status === 0, 30_000, `director in ${ns} (${output.get(directors[i])!.join('')})`, 200);
    }
  }, 120_000);

  afterAll(() => {
    topo?.cleanup();
    // What instances killed by the cleanup (test failure) left behind.
    for (const ns of [...(agentNs ?? []), ...(directorNs ?? [])]) rmSync(runDirOf(ns), { recursive: true, force: true });
    if (stalledReader >= 0) closeSync(stalledReader);
    if (cfg) rmSync(path.dirname(cfg), { recursive: true, force: true });
  });

  it('each instance has its own state file and socket under /run/vstun/netns/NAME, and works', () => {
    for (const [i, ns] of agentNs.entries()) {
      expect(agents[i].exitCode, output.get(agents[i])!.join('')).toBeNull();
      expect(existsSync(`${runDirOf(ns)}/agent.state.json`)).toBe(true);
      expect(existsSync(`${runDirOf(ns)}/agent.state.json.lock`)).toBe(true);
      expect(topo.exec(ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo'])).toContain(`${AGENT_VIP}/32`);
    }
    for (const ns of directorNs) {
      expect(existsSync(`${runDirOf(ns)}/director.sock`)).toBe(true);
      expect(existsSync(`${runDirOf(ns)}/director-vstun0.state.json`)).toBe(true);
      // vstunadm with no --control finds this namespace's director.
      const list = vstunadm(ns, ['-L', '-n']);
      expect(list.stdout).toContain(`TCP  ${DIRECTOR_VIP}:80 rr`);
      expect(vstunadm(ns, ['-a', '-t', `${DIRECTOR_VIP}:80`, '-r', '10.71.2.3', '-i']).status).toBe(0);
      expect(vstunadm(ns, ['-L', '-n']).stdout).toContain('10.71.2.3:80');
      // The data path of this namespace's director answers for its VIP.
      const ping = topo.tryExec(ns, 'ping', ['-c', '1', '-W', '2', DIRECTOR_VIP], 10_000);
      expect(ping.status, ping.stdout + ping.stderr).toBe(0);
    }
    // The other director did not see that change.
    expect(vstunadm(directorNs[0], ['-L', '-n']).stdout.split('10.71.2.3:80').length - 1).toBe(1);
  });

  it('a second agent in a served namespace refuses, naming --state-file; the first keeps working', async () => {
    const second = start(agentNs[0], 'vstun-agent', agentArgs);
    const code = await exited(second);
    const text = output.get(second)!.join('');
    console.log(`second agent: exit ${code}: ${text.trim().split('\n').pop()}`);
    expect(code).not.toBe(0);
    expect(text).toContain('--state-file');
    expect(text).toContain(`${runDirOf(agentNs[0])}/agent.state.json`);
    expect(healthz(agentNs[0])).toBe(true);
    expect(existsSync(`${runDirOf(agentNs[0])}/agent.state.json`)).toBe(true);
  }, 60_000);

  it('a second director in a served namespace refuses, naming --control, and changes nothing', async () => {
    const second = start(directorNs[0], 'vstun-director', directorArgs());
    const code = await exited(second);
    const text = output.get(second)!.join('');
    console.log(`second director: exit ${code}: ${text.trim().split('\n').pop()}`);
    expect(code).not.toBe(0);
    expect(text).toContain('--control');
    expect(vstunadm(directorNs[0], ['-L', '-n']).status).toBe(0);
    expect(existsSync(`${runDirOf(directorNs[0])}/director-vstun0.state.json`)).toBe(true);
    expect(topo.tryExec(directorNs[0], 'ping', ['-c', '1', '-W', '2', DIRECTOR_VIP], 10_000).status).toBe(0);
  }, 60_000);

  it('SIGTERM: every instance exits 0 and restores its namespace; no files are left', async () => {
    const all = [...agents, ...directors];
    for (const c of all) c.kill('SIGTERM');
    await waitFor(() => all.every((c) => c.exitCode !== null), 5000, 'every instance to exit within 5 s of SIGTERM');
    const codes = await Promise.all(all.map(exited));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    for (const ns of agentNs) {
      expect(topo.exec(ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo'])).not.toContain(AGENT_VIP);
      expect(existsSync(runDirOf(ns))).toBe(false);
    }
    for (const ns of directorNs) {
      expect(topo.tryExec(ns, 'ip', ['link', 'show', 'vstun0']).status).not.toBe(0);
      expect(topo.exec(ns, 'ip', ['-4', 'route', 'show', `${DIRECTOR_VIP}/32`]).trim()).toBe('');
      expect(existsSync(runDirOf(ns))).toBe(false);
    }
  }, 60_000);
});
