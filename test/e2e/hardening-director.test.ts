// The built vstun-director under abuse from its own host, with real traffic through the VIP
// (client → router → director → agent → nginx) checked all along:
// - forged ARP (unicast replies and broadcast gratuitous requests claiming the kernel's side
//   of the TAP at another MAC), written onto the TAP with an AF_PACKET socket;
// - a control-socket client pipelining 200 000 requests and reading none of the answers;
// - stdout on a FIFO whose reader never reads, a burst of log lines, then SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, startHttpServer, type Lab } from '../../src/lab/vs-lab.js';
import { control } from '../support/control.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIRECTOR_MAC = '02:56:53:54:00:02';
const KERNEL_ADDRESS = '169.254.77.1';
const LINK_ADDRESS = '169.254.77.2';


const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Writes `count` rounds of two forged ARP frames onto `tap`, one round every `gapMs`. */
const ARP_FORGER = `
import socket, struct, sys, time
tap, dmac, kip, lip, count, gap = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
forged = bytes.fromhex('026666666666')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((tap, 0))
def arp(dst, op, tha, tip):
    return dst + forged + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + forged + socket.inet_aton(kip) + tha + socket.inet_aton(tip)
for _ in range(count):
    s.send(arp(dmac, 2, dmac, lip))          # unicast reply: "the kernel's address is at 02:66:..."
    s.send(arp(b'\\xff' * 6, 1, bytes(6), kip))  # broadcast gratuitous request, same claim
    time.sleep(gap)
`;

describe.skipIf(!canRunNetnsTests())('vstun-director hardening (forged ARP, control flood, stalled stdout)', () => {
  let lab: Lab;
  let tap: string;
  let sock: string;
  let cfg: string;
  let director: ChildProcess;
  const directorOut: string[] = [];

  /** `n` curls through the VIP, one after the other; returns the failures. */
  const curlLoop = (n: number): string[] => {
    const failures: string[] = [];
    for (let k = 0; k < n; k++) {
      const r = lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', `http://${lab.vip}/`], 6000);
      if (r.status !== 0 || r.stdout !== '200') failures.push(`#${k}: exit ${r.status} http ${r.stdout}`);
    }
    return failures;
  };

  const startDirector = async (stdout: 'pipe' | number, extra: string[] = []) => {
    const child = lab.topo.spawn(lab.director, process.execPath, ['dist/cli/vstun-director.js', '--config', cfg, '--dip', lab.dip, '--control', sock, ...extra], {
      cwd: root,
      stdio: ['ignore', stdout, 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => directorOut.push(d.toString()));
    child.stdout?.on('data', (d: Buffer) => directorOut.push(d.toString()));
    await waitFor(
      async () => existsSync(sock) && (await control(sock, { v: 1, op: 'status' }).catch(() => ({ ok: false }))).ok === true,
      30_000,
      `director control socket (${directorOut.join('')})`,
    );
    return child;
  };

  beforeAll(async () => {
    lab = buildLab({ prefix: 'hda', realServers: 1 });
    tap = `vt${lab.topo.tag}`.slice(0, 15);
    sock = path.join(lab.workDir, 'director.sock');
    cfg = path.join(lab.workDir, 'director.yaml');
    const rs = lab.realServers[0];
    writeFileSync(cfg, ['director:', `  tap: ${tap}`, 'services:', `  - { protocol: tcp, vip: ${lab.vip}, port: 80, scheduler: rr, realServers: [{address: ${rs.rip}}] }`, ''].join('\n'));
    director = await startDirector('pipe');
    const agent = lab.topo.spawn(
      rs.ns,
      process.execPath,
      ['dist/cli/vstun-agent.js', '--vip', lab.vip, '--director', lab.dip, '--state-file', path.join(lab.workDir, 'agent.state.json'), '--listen', '127.0.0.1:9470'],
      { cwd: root },
    );
    const err: string[] = [];
    agent.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
    await waitFor(() => lab.topo.tryExec(rs.ns, 'curl', ['-s', '--max-time', '1', 'http://127.0.0.1:9470/healthz'], 3000).status === 0, 30_000, `agent healthz (${err.join('')})`);
    startHttpServer(lab, rs);
    await waitFor(() => curlLoop(1).length === 0, 30_000, 'a first page through the VIP', 200);
  }, 120_000);

  afterAll(() => {
    lab?.cleanup();
  });

  it('forged ARP (unicast and broadcast) claiming the kernel address never redirects output: 0 failed requests, every forged frame counted', async () => {
    const before = (await control(sock, { v: 1, op: 'status' })).verdicts;
    const rounds = 300;
    const forger = lab.topo.spawn(lab.director, 'python3', ['-c', ARP_FORGER, tap, DIRECTOR_MAC, KERNEL_ADDRESS, LINK_ADDRESS, String(rounds), '0.01']);
    const forgerErr: string[] = [];
    forger.stderr?.on('data', (d: Buffer) => forgerErr.push(d.toString()));
    const failures: string[] = [];
    // Curls while the forger runs (about 3 s), then a few after its last frame.
    const started = Date.now();
    while (forger.exitCode === null && Date.now() - started < 30_000) {
      failures.push(...curlLoop(5));
      await new Promise((r) => setImmediate(r));
    }
    failures.push(...curlLoop(10));
    expect(forger.exitCode, forgerErr.join('')).toBe(0);
    const after = (await control(sock, { v: 1, op: 'status' })).verdicts;
    const spoofed = after['drop-kernel-mac-spoofed'] - (before['drop-kernel-mac-spoofed'] ?? 0);
    console.log(`forged ARP: ${2 * rounds} frames written, ${spoofed} counted drop-kernel-mac-spoofed, ${failures.length} failed curls`);
    expect(failures).toEqual([]);
    expect(spoofed).toBe(2 * rounds);
    expect(after['arp-learned'] - (before['arp-learned'] ?? 0)).toBe(0);
  }, 120_000);

  it('a client pipelining 200 000 requests without reading: RSS grows < 50 MB and the data path keeps forwarding', async () => {
    const pid = director.pid!;
    const rssBefore = rssKiB(pid);
    const flood = net.connect(sock);
    flood.on('error', () => {});
    flood.pause();
    await new Promise((r) => flood.once('connect', r));
    flood.write('{"v":1,"op":"ipvs-list"}\n'.repeat(200_000));
    // Traffic during the flood, then let the director do all it would do.
    const failures = curlLoop(20);
    await new Promise((r) => setTimeout(r, 3000));
    const rssAfter = rssKiB(pid);
    failures.push(...curlLoop(10));
    const status = await control(sock, { v: 1, op: 'status' });
    flood.destroy();
    console.log(`control flood: RSS ${rssBefore} KiB → ${rssAfter} KiB (+${((rssAfter - rssBefore) / 1024).toFixed(1)} MB), ${failures.length} failed curls`);
    expect(status.ok).toBe(true);
    expect(failures).toEqual([]);
    expect(rssAfter - rssBefore).toBeLessThan(50 * 1024);
  }, 120_000);

  it('stdout on a FIFO nobody reads, --log-level debug, 1500 SIGHUPs: still forwarding, drops counted, SIGTERM exits and undoes within 5 s', async () => {
    director.kill('SIGTERM');
    await waitFor(() => director.exitCode !== null, 10_000, 'first director to exit');
    const fifo = path.join(lab.workDir, 'stdout.fifo');
    lab.topo.exec(null, 'mkfifo', [fifo]);
    // A reader that exists (so the writer can open) and never reads.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    try {
      const stalled = await startDirector(writer, ['--log-level', 'debug']).finally(() => closeSync(writer));
      const pid = stalled.pid!;
      // Paced so that few coalesce: each handled SIGHUP logs a line of about 250 bytes,
      // several times what the pipe (64 KiB) and the sink's queue (128 KiB) hold.
      for (let k = 0; k < 1500; k++) {
        process.kill(pid, 'SIGHUP');
        await new Promise((r) => setTimeout(r, 1));
      }
      const failures = curlLoop(10);
      const status = await control(sock, { v: 1, op: 'status' }).catch((err: Error) => ({ ok: false, err: err.message }));
      const metrics = lab.topo.tryExec(lab.director, 'curl', ['-s', '--max-time', '3', 'http://127.0.0.1:9469/metrics'], 6000).stdout;
      const dropped = Number(/^vstun_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1] ?? -1);
      console.log(`stalled stdout: ${dropped} log lines dropped, ${failures.length} failed curls`);
      const t0 = Date.now();
      stalled.kill('SIGTERM');
      await waitFor(() => stalled.exitCode !== null, 5000, `director to exit on SIGTERM with stdout stalled (${directorOut.join('')})`);
      console.log(`stalled stdout: exited ${Date.now() - t0} ms after SIGTERM with code ${stalled.exitCode}`);
      expect(stalled.exitCode).toBe(0);
      expect(failures).toEqual([]);
      expect(status.ok).toBe(true);
      expect(dropped).toBeGreaterThan(0);
      expect(lab.topo.exec(lab.director, 'ip', ['-4', 'route', 'show', `${lab.vip}/32`]).trim()).toBe('');
      expect(lab.topo.tryExec(lab.director, 'ip', ['link', 'show', tap]).status).not.toBe(0);
      expect(existsSync(sock)).toBe(false);
    } finally {
      closeSync(reader);
    }
  }, 120_000);
});
