// The three binaries as an operator and systemd meet them, built (dist/) and run from
// outside: --version, short usage errors, `vstun-director --check-config` and
// `vstun-agent --check` (valid 0, invalid 2, the host untouched), and a real director in its
// own network namespace under a fake service manager: READY=1 once serving, RELOADING=1
// with MONOTONIC_USEC then READY=1 around `vstunadm reload`, a bad config failing the
// reload with nothing changed, STOPPING=1 on SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/lab/lab-daemons.js';
import { canRunNetnsTests, Topology, waitFor } from '../support/netns.js';

const bin = (name: string) => path.join(REPO_ROOT, 'dist/cli', `${name}.js`);
const VIP = '10.99.100.10';

function runBin(name: string, args: string[], ns?: string) {
  const cmd = ns ? 'ip' : process.execPath;
  const full = ns ? ['netns', 'exec', ns, process.execPath, bin(name), ...args] : [bin(name), ...args];
  const r = spawnSync(cmd, full, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NOTIFY_SOCKET: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const config = (services: string) =>
  ['director:', '  connTableSize: 4096', 'services:', services, ''].join('\n');
const GOOD = config(`  - { protocol: tcp, vip: "${VIP}", port: 80, scheduler: wrr, realServers: [{ address: "10.99.3.2", weight: 2 }, { address: "10.99.4.2" }] }`);
const GOOD2 = config(`  - { protocol: tcp, vip: "${VIP}", port: 80, scheduler: rr, realServers: [{ address: "10.99.3.2" }] }`);
const BAD = config(`  - { protocol: tcp, vip: "${VIP}", port: 80, scheduler: nope, realServers: [] }`);

describe.skipIf(!canRunNetnsTests())('CLI tooling of the built binaries', () => {
  let topo: Topology;
  let ns: string;
  let work: string;

  beforeAll(() => {
    topo = new Topology('tm');
    ns = topo.ns('cli');
    work = mkdtempSync(path.join(tmpdir(), 'vstun-tm-cli-'));
  });
  afterAll(() => {
    topo?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('--version on all three binaries', () => {
    for (const name of ['vstun-director', 'vstun-agent', 'vstunadm']) {
      const r = runBin(name, ['--version']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+ \\(node v\\d+`));
    }
  });

  it('an unknown option is one short line pointing at --help, exit 2', () => {
    for (const name of ['vstun-director', 'vstun-agent', 'vstunadm']) {
      const r = runBin(name, ['--no-such-option']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^${name}: unknown option '?--no-such-option'?.*(see|; see).*(--help|-h)`));
      expect(r.stderr).not.toContain('Usage');
    }
  });

  it('--check-config prints the plan for a valid file and changes nothing; an invalid one exits 2', () => {
    const good = path.join(work, 'good.yaml');
    const bad = path.join(work, 'bad.yaml');
    writeFileSync(good, GOOD);
    writeFileSync(bad, BAD);
    const before = [topo.exec(ns, 'ip', ['-d', 'link']), topo.exec(ns, 'ip', ['route']), topo.exec(ns, 'sysctl', ['-n', 'net.ipv4.ip_forward'])];
    const r = runBin('vstun-director', ['--check-config', good, '--tap', 'vtcheck0'], ns);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${good}: valid`);
    expect(r.stdout).toContain('create TAP vtcheck0');
    expect(r.stdout).toContain(`route ${VIP}/32 via 169.254.77.2 dev vtcheck0`);
    expect(r.stdout).toContain('sysctl net.ipv4.ip_forward=1 (was 0)');
    expect(r.stdout).toContain(`-A -t ${VIP}:80 -s wrr`);
    expect(r.stdout).toContain(`-a -t ${VIP}:80 -r 10.99.3.2:80 -i -w 2`);
    expect([topo.exec(ns, 'ip', ['-d', 'link']), topo.exec(ns, 'ip', ['route']), topo.exec(ns, 'sysctl', ['-n', 'net.ipv4.ip_forward'])]).toEqual(before);
    const noSetup = runBin('vstun-director', ['--check-config', good, '--no-setup'], ns);
    expect(noSetup.stdout).toContain('host changes: none (--no-setup)');

    const b = runBin('vstun-director', ['--check-config', bad], ns);
    expect(b.code).toBe(2);
    expect(b.stdout).toBe('');
    expect(b.stderr).toContain(`${bad}: invalid`);
    expect(b.stderr).toContain('services[0].scheduler: "nope" is not a scheduler');
    const missing = runBin('vstun-director', ['--check-config', path.join(work, 'absent.yaml')], ns);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config');
  });

  it('vstun-agent --check validates like a start and prints the plan, changing nothing', () => {
    const before = topo.exec(ns, 'ip', ['addr', 'show', 'dev', 'lo']);
    const r = runBin('vstun-agent', ['--check', '--vip', VIP, '--director', '10.99.2.1', '--listen', '127.0.0.1:9470'], ns);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the arguments are valid');
    expect(r.stdout).toContain(`address ${VIP}/32 on lo`);
    expect(r.stdout).toContain('HTTP /healthz /feedback /metrics on 127.0.0.1:9470');
    expect(topo.exec(ns, 'ip', ['addr', 'show', 'dev', 'lo'])).toBe(before);
    const bad = runBin('vstun-agent', ['--check', '--vip', VIP], ns);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--director');
  });

  describe('a director under a service manager (Type=notify)', () => {
    let receiver: ChildProcess;
    let director: ChildProcess;
    let got = '';
    let directorOut = '';
    const messages = () => got.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).text as string);
    const cfg = () => path.join(work, 'director.yaml');
    const sock = () => path.join(work, 'director.sock');
    const adm = (args: string[]) => runBin('vstunadm', ['--control', sock(), ...args]);

    beforeAll(async () => {
      writeFileSync(cfg(), GOOD);
      const notify = path.join(work, 'notify.sock');
      // A path socket (network namespaces do not scope it), like /run/systemd/notify.
      const py = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
print("bound", flush=True)
for _ in range(20):
    print(json.dumps({"text": s.recv(4096).decode()}), flush=True)
`;
      receiver = spawn('python3', ['-c', py, notify], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 170_000 });
      receiver.stdout!.on('data', (d: Buffer) => (got += d.toString()));
      await waitFor(() => got.includes('bound'), 10_000, 'the notify receiver');
      director = topo.spawn(ns, process.execPath, [bin('vstun-director'), '--config', cfg(), '--tap', `vt${topo.tag}`.slice(0, 15), '--dip', '10.99.2.1', '--control', sock(), '--metrics', '127.0.0.1:9469', '--state-file', path.join(work, 'director.state.json')], {
        env: { ...process.env, NOTIFY_SOCKET: notify },
      });
      director.stdout!.on('data', (d: Buffer) => (directorOut += d.toString()));
      director.stderr!.on('data', (d: Buffer) => (directorOut += d.toString()));
      await waitFor(() => {
        if (director.exitCode !== null) throw new Error(`director exited: ${directorOut}`);
        return messages().some((m) => m.startsWith('READY=1'));
      }, 30_000, 'READY=1 from the director');
    });
    afterAll(() => {
      director?.kill('SIGKILL');
      receiver?.kill('SIGKILL');
    });

    it('READY=1 comes only once the control socket and /metrics serve', () => {
      expect(messages()[0]).toBe('READY=1\nSTATUS=serving\n');
      expect(adm(['status']).code).toBe(0);
      expect(topo.tryExec(ns, 'curl', ['-sf', '--max-time', '5', 'http://127.0.0.1:9469/metrics']).stdout).toContain('vstun_build_info{');
    });

    it('vstunadm reload: RELOADING=1 with MONOTONIC_USEC, then READY=1; a bad file fails it and changes nothing', async () => {
      writeFileSync(cfg(), GOOD2);
      const n = messages().length;
      const ok = adm(['reload']);
      expect(ok.code, ok.stderr).toBe(0);
      await waitFor(() => messages().length >= n + 2, 10_000, 'RELOADING and READY');
      const [reloading, ready] = messages().slice(n, n + 2);
      expect(reloading).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+\n/);
      expect(ready).toMatch(/^READY=1\n/);
      expect(adm(['-S', '-n']).stdout).toContain(`-A -t ${VIP}:80 -s rr`);

      writeFileSync(cfg(), BAD);
      const bad = adm(['reload']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('"nope" is not a scheduler');
      expect(bad.stderr).toContain('nothing was changed');
      expect(adm(['-S', '-n']).stdout).toContain(`-A -t ${VIP}:80 -s rr`);
    });

    it('SIGTERM: STOPPING=1, then a clean exit', async () => {
      const n = messages().length;
      const exited = new Promise<number | null>((r) => director.once('exit', (code) => r(code)));
      // ip netns exec passes the signal on to the director it runs.
      director.kill('SIGTERM');
      expect(await exited).toBe(0);
      await waitFor(() => messages().slice(n).some((m) => m.startsWith('STOPPING=1')), 10_000, 'STOPPING=1');
    });
  });
});
