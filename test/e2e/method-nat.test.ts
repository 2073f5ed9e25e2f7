// VS/NAT as the LVS textbook draws it: real servers 10.0.0.7 and 10.0.0.17 on a private LAN
// whose gateway is the director host (10.0.0.8); `vstunadm -A -t VIP:80 -s wrr` and
// `-a … -m` for both, one of them port-mapped (VIP:80 → 10.0.0.7:8080). A client behind a
// router curls the VIP: the servers take turns by weight, every reply the client sees comes
// from VIP:80 (never from a private address), tshark finds every checksum good on both
// sides of the rewrite, `-L -n` shows Masq, and --stats counts the replies (OutPkts).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnDaemon, type Daemon } from '../../src/lab/lab-daemons.js';
import { buildMethodLab, type MethodLab, type MethodLabServer } from '../../src/lab/method-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
import { admOk, countByServer, curlOnce, startOperatorDirector, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';

const CURLS = 30;

/** The lab app on the server's own address and port (a NAT server never holds the VIP). */
export async function startRipApp(lab: MethodLab, rs: MethodLabServer, host: string, port: number): Promise<Daemon> {
  const app = spawnDaemon(lab, rs.ns, [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, '--host', host, '--http-port', String(port), '--udp-port', '7']);
  const url = vipUrl(host, port);
  await waitFor(
    () => {
      if (app.child.exitCode !== null) throw new Error(`lab app on rs${rs.index} exited: ${app.output().trim()}`);
      return lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', url], 3000).status === 0;
    },
    15_000,
    `the lab app on ${host}:${port}`,
    100,
  );
  return app;
}

/** tshark over a capture file: one line per packet matching `filter`, with `fields`. */
export function tsharkLines(lab: MethodLab, file: string, filter: string, fields: string[]): string[] {
  const args = ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-Y', filter, '-T', 'fields'];
  for (const f of fields) args.push('-e', f);
  const out = lab.topo.exec(null, 'tshark', args, { timeoutMs: 60_000 });
  return out.split('\n').filter(Boolean);
}

/** Starts tcpdump in `ns` on `dev` writing `file`, bounded by a packet count; resolves once it listens. */
export async function startCapture(lab: MethodLab, ns: string, dev: string, file: string, filter: string): Promise<Daemon> {
  const child = lab.topo.spawn(ns, 'tcpdump', ['-i', dev, '-U', '-n', '-s', '0', '-c', '20000', '-w', file, filter]);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => err.includes('listening on'), 10_000, `tcpdump on ${dev}`, 50);
  return {
    child,
    output: () => err,
    stop: (graceMs = 3000) =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', (code) => {
          clearTimeout(t);
          resolve(code);
        });
        child.kill('SIGINT');
      }),
  };
}

describe.skipIf(!canRunNetnsTests())('VS/NAT: the textbook setup (-m, one server port-mapped)', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'nat', nat: 2, dr: 0, tun: 0 });
    const [rs7, rs17] = lab.servers;
    expect([rs7.rip, rs17.rip]).toEqual(['10.0.0.7', '10.0.0.17']);
    daemons.push(await startRipApp(lab, rs7, rs7.rip, 8080));
    daemons.push(await startRipApp(lab, rs17, rs17.rip, 80));
    // NAT needs one TAP queue (a reply hashes to another queue than its request).
    director = await startOperatorDirector(lab, { extraArgs: ['--queues', '1'] });
    admOk(director, ['-A', '-t', `${lab.vip}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', '10.0.0.7:8080', '-m', '-w', '2']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', '10.0.0.17', '-m', '-w', '1']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('-L -n shows both servers as Masq, 10.0.0.7 on its mapped port', () => {
    const listing = admOk(director!, ['-L', '-n']);
    expect(listing).toContain('  -> 10.0.0.7:8080                Masq    2      ');
    expect(listing).toContain('  -> 10.0.0.17:80                 Masq    1      ');
  });

  it('the director host steers the NAT servers\' replies into the TAP (one policy rule each)', () => {
    const rules = lab.topo.exec(director!.ns, 'ip', ['-4', 'rule', 'show']);
    expect(rules).toMatch(/from 10\.0\.0\.7 lookup 7377/);
    expect(rules).toMatch(/from 10\.0\.0\.17 lookup 7377/);
  });

  it(`${CURLS} curls from the client: wrr 2:1, every reply from VIP:80, every checksum good on both sides`, async () => {
    const clientCap = path.join(lab.workDir, 'client.pcap');
    const rsCap = path.join(lab.workDir, 'rs7.pcap');
    const caps = [await startCapture(lab, lab.router, 'cli0', clientCap, 'tcp'), await startCapture(lab, lab.servers[0].ns, 'eth0', rsCap, 'tcp')];
    const answers: string[] = [];
    try {
      for (let i = 0; i < CURLS; i++) answers.push(curlOnce(lab, vipUrl(lab.vip), 5) ?? 'failed');
    } finally {
      for (const c of caps) await c.stop();
    }
    expect(countByServer(answers)).toEqual({ rs1: 20, rs2: 10 });
    // Client side: replies only ever from VIP:80, all with good IP and TCP checksums.
    const fromServers = tsharkLines(lab, clientCap, `ip.dst == ${lab.clientIp} and not ip.src == ${lab.vip}`, ['ip.src']);
    expect(fromServers).toEqual([]);
    const replies = tsharkLines(lab, clientCap, `ip.src == ${lab.vip}`, ['tcp.srcport']);
    // At least the SYN-ACK and the response of every connection.
    expect(replies.length).toBeGreaterThanOrEqual(CURLS * 2);
    expect(new Set(replies)).toEqual(new Set(['80']));
    expect(tsharkLines(lab, clientCap, `ip.src == ${lab.vip} and (ip.checksum.status == 0 or tcp.checksum.status == 0)`, ['frame.number'])).toEqual([]);
    // tshark did check them (status Good, not Unverified): the check above is not vacuous.
    expect(tsharkLines(lab, clientCap, `ip.src == ${lab.vip} and ip.checksum.status == 1 and tcp.checksum.status == 1`, ['frame.number'])).toHaveLength(replies.length);
    // Server side: the rewritten requests arrive for 10.0.0.7:8080 from the client's own address, checksums good.
    const requests = tsharkLines(lab, rsCap, `ip.dst == 10.0.0.7`, ['ip.src', 'tcp.dstport']);
    expect(requests.length).toBeGreaterThan(20 * 3);
    expect(new Set(requests)).toEqual(new Set([`${lab.clientIp}\t8080`]));
    expect(tsharkLines(lab, rsCap, `ip.dst == 10.0.0.7 and (ip.checksum.status == 0 or tcp.checksum.status == 0)`, ['frame.number'])).toEqual([]);
    expect(tsharkLines(lab, rsCap, `ip.dst == 10.0.0.7 and ip.checksum.status == 1 and tcp.checksum.status == 1`, ['frame.number'])).toHaveLength(requests.length);
  });

  it('--stats counts the replies the director rewrote (OutPkts is real for NAT)', () => {
    const stats = admOk(director!, ['-L', '-n', '--stats', '--exact']);
    const line = stats.split('\n').find((l) => l.startsWith('  -> 10.0.0.7:8080'))!;
    // "  -> ADDRESS:PORT  Conns InPkts OutPkts InBytes OutBytes"
    const [conns, inPkts, outPkts] = line.trim().split(/\s+/).slice(2).map(Number);
    expect(conns).toBe(20);
    expect(inPkts).toBeGreaterThan(0);
    expect(outPkts).toBeGreaterThan(0);
  });

  it('SIGTERM removes the reply rules and the table route', async () => {
    expect(await director!.stop(5000)).toBe(0);
    director = undefined;
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'rule', 'show'])).not.toMatch(/lookup 7377/);
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'route', 'show', 'table', 'all'])).not.toMatch(/table 7377/);
  });
});
