// Integration: real traffic through the whole VS/TUN path, in one lab for the file —
// client → router → director host (kernel → TAP → vstun-director) → IPIP → three real
// servers on three sites (vstun-agent, nginx and the lab app on the VIP) → replies straight
// back to the client. MTU 1500 on every link.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { LAB_APP_HTTP_PORT, LAB_APP_UDP_PORT, REPO_ROOT, serviceYaml, startAgent, startDirector, startLabApp, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, startHttpServer, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const WEIGHTS = [1, 2, 3];
const TOTAL_WEIGHT = WEIGHTS.reduce((a, b) => a + b, 0);

/** Each real server's count within ±10 % of its weighted share of `total`. */
function expectWeightedSpread(byServer: Record<string, number>, total: number): void {
  WEIGHTS.forEach((w, i) => {
    const expected = (total * w) / TOTAL_WEIGHT;
    const got = byServer[`rs${i + 1}`] ?? 0;
    expect(Math.abs(got - expected), `rs${i + 1}: ${got} of ${total}, expected ${expected.toFixed(0)} ±10% (${JSON.stringify(byServer)})`).toBeLessThanOrEqual(expected * 0.1);
  });
}

const countBy = (names: string[]) => names.reduce<Record<string, number>>((acc, n) => ((acc[n] = (acc[n] ?? 0) + 1), acc), {});

function labClient(lab: Lab, args: string[], timeoutMs = 60_000): Record<string, any> {
  // Two thousand sockets need more descriptors than the usual soft limit of 1024.
  const cmd = `ulimit -n 16384; exec ${process.execPath} ${path.join(REPO_ROOT, 'dist/lab/lab-client.js')} ${args.join(' ')}`;
  const r = lab.topo.tryExec(lab.client, 'bash', ['-c', cmd], timeoutMs);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Starts tcpdump writing `file` in `ns`; resolves once it says it is listening (before that, packets are missed). */
async function startCapture(lab: Lab, ns: string, file: string, filter: string) {
  // --immediate-mode: without it packets wait in the kernel ring for up to a second, and
  // SIGINT then ends tcpdump before it has written them ("N received by filter, 0 captured").
  const child = lab.topo.spawn(ns, 'tcpdump', ['--immediate-mode', '-U', '-n', '-i', 'eth0', '-w', file, filter]);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => err.includes('listening on'), 10_000, `tcpdump to start (${err})`);
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      return err;
    },
  };
}

describe.skipIf(!canRunNetnsTests())('integration: traffic through the VIP', () => {
  let lab: Lab;
  let director: DirectorHandle;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'itr', realServers: 3 });
    for (const rs of lab.realServers) {
      await startAgent(lab, rs);
      startHttpServer(lab, rs);
      await startLabApp(lab, rs);
    }
    const servers = lab.realServers.map((rs, i) => ({ address: rs.rip, weight: WEIGHTS[i] }));
    const config = [
      'director:',
      '  connTableSize: 65536',
      'services:',
      serviceYaml({ protocol: 'tcp', vip: lab.vip, port: 80, scheduler: 'wrr', realServers: servers }),
      serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'wrr', realServers: servers }),
      serviceYaml({ protocol: 'udp', vip: lab.vip, port: LAB_APP_UDP_PORT, scheduler: 'rr', realServers: servers }),
      '',
    ].join('\n');
    director = await startDirector(lab, { config });
    // The first packets teach the director the kernel's MAC on the TAP.
    await waitFor(() => lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '2', `http://${lab.vip}/`], 5000).status === 0, 20_000, 'a first answer through the VIP', 200);
    for (const rs of lab.realServers) {
      await waitFor(() => lab.topo.tryExec(rs.ns, 'ss', ['-ltnH', 'sport = :80']).stdout.includes('LISTEN'), 10_000, `nginx on rs${rs.index}`);
    }
  });

  afterAll(async () => {
    await director?.stop(3000);
    lab?.cleanup();
  });

  it('spreads 600 HTTP requests (nginx, a new connection each) over wrr 1:2:3, each RS within ±10% of its share', () => {
    const answers = curlMany(lab.client, `http://${lab.vip}/`, 600);
    expect(answers.length, 'every request answered').toBe(600);
    expectWeightedSpread(countBy(answers), 600);
  });

  it('answers UDP requests through the VIP: every datagram echoed, by all three real servers', () => {
    const r = labClient(lab, ['udp', '--host', lab.vip, '--port', String(LAB_APP_UDP_PORT), '--count', '300']);
    expect(r.answered, JSON.stringify(r)).toBe(300);
    for (const rs of lab.realServers) expect(r.byServer[`rs${rs.index}`], JSON.stringify(r.byServer)).toBeGreaterThanOrEqual(80);
  });

  it('holds 2000 TCP connections open at once, then answers on every one, spread by weight', () => {
    const r = labClient(lab, ['concurrent', '--host', lab.vip, '--port', String(LAB_APP_HTTP_PORT), '--count', '2000', '--timeout-ms', '60000'], 90_000);
    expect(r.connected, JSON.stringify(r)).toBe(2000);
    expect(r.answered, JSON.stringify(r)).toBe(2000);
    expectWeightedSpread(r.byServer, 2000);
  });

  // Full-size segments + the 20-byte outer header exceed the 1500-byte path: this needs
  // the director's MSS clamping / PMTU handling (issue 4).
  it('downloads and uploads 2 MB through the tunnel with MTU 1500 everywhere', () => {
    const size = 2 * 1024 * 1024;
    const file = path.join(lab.workDir, 'download.bin');
    const dl = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-o', file, '-w', '%{http_code}', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/bytes/${size}`], 40_000);
    expect(dl.stdout, dl.stderr).toBe('200');
    expect(statSync(file).size).toBe(size);
    const pattern = Buffer.alloc(64 * 1024, 'vstun lab payload ');
    const got = readFileSync(file);
    for (let off = 0; off < size; off += pattern.length) expect(got.subarray(off, off + pattern.length).equals(pattern.subarray(0, Math.min(pattern.length, size - off)))).toBe(true);

    const body = randomBytes(size);
    const upload = path.join(lab.workDir, 'upload.bin');
    writeFileSync(upload, body);
    const up = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-H', 'Expect:', '--data-binary', `@${upload}`, `http://${lab.vip}:${LAB_APP_HTTP_PORT}/upload`], 40_000);
    expect(up.status, up.stderr).toBe(0);
    const [server, length, sha] = up.stdout.trim().split(' ');
    expect(server).toMatch(/^rs[123]$/);
    expect(Number(length)).toBe(size);
    expect(sha).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('tshark decodes the tunnel at a real server: IPIP from the DIP, inner TCP to the VIP, every checksum verified good', async () => {
    const rs = lab.realServers[2];
    const pcap = path.join(lab.workDir, 'tunnel.pcap');
    const capture = await startCapture(lab, rs.ns, pcap, 'ip proto 4');
    const answers = curlMany(lab.client, `http://${lab.vip}/`, 12);
    await capture.stop();
    expect(answers.filter((a) => a === 'rs3').length, answers.join(',')).toBeGreaterThan(0);
    const fields = ['ip.src', 'ip.dst', 'ip.proto', 'ip.checksum.status', 'tcp.dstport', 'tcp.checksum.status'];
    const out = lab.topo.exec(null, 'tshark', [
      '-n', '-r', pcap,
      '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
      // The director's path-MTU probes (ICMP echo from the DIP in the tunnel) are not client traffic.
      '-Y', '!icmp',
      '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f]),
    ], { timeoutMs: 60_000 });
    const rows = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
    expect(rows.length, 'tunnel packets captured at rs3').toBeGreaterThanOrEqual(10);
    for (const [src, dst, proto, ipStatus, dport, tcpStatus] of rows) {
      expect(src).toBe(`${lab.dip},${lab.clientIp}`); // outer, inner
      expect(dst).toBe(`${rs.rip},${lab.vip}`);
      expect(proto).toBe('4,6');
      expect(ipStatus).toBe('1,1'); // 1 = Good, for both IPv4 headers
      expect(dport).toBe('80');
      expect(tcpStatus).toBe('1');
    }
    const expert = lab.topo.exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', '_ws.expert.severity >= warning && !tcp.analysis && !icmp'], { timeoutMs: 60_000 });
    expect(expert.trim(), 'no malformed or bad-checksum packets').toBe('');
  });

  it('drops IPIP spoofed at an agent from a non-director source, counts it, and the application never sees it', async () => {
    const rs = lab.realServers[0];
    const metrics = () => lab.topo.tryExec(rs.ns, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9470/metrics']).stdout;
    const drops = () => Number(/^vstun_agent_decap_drops_total\{reason="non-director-source"\} (\d+)/m.exec(metrics())?.[1] ?? 0);
    const before = drops();
    // Echo replies from the lab app to the spoofed inner source (the client's address) would mean the agent let it in.
    const pcap = path.join(lab.workDir, 'spoof-client.pcap');
    const capture = await startCapture(lab, lab.client, pcap, `udp and src port ${LAB_APP_UDP_PORT}`);
    // From the router's site link: a routable host that is not the director.
    const sender = lab.topo.tryExec(lab.router, process.execPath, [path.join(REPO_ROOT, 'test/fixtures/agent/ipip-sender.mjs'), 'spoof', '--src', `10.71.${rs.index}.1`, '--dst', rs.rip, '--vip', lab.vip, '--port', String(LAB_APP_UDP_PORT), '--count', '20'], 20_000);
    expect(sender.status, sender.stderr).toBe(0);
    await waitFor(() => drops() - before >= 20, 5000, 'the agent to count 20 spoofed packets');
    await capture.stop();
    expect(drops() - before).toBe(20);
    const seen = lab.topo.exec(null, 'tcpdump', ['-n', '-r', pcap]).trim();
    expect(seen, 'no echo of a spoofed datagram reached the client').toBe('');
  });

  it('the director counted the traffic it forwarded', async () => {
    const status = await director.control('status');
    expect(status.verdicts.forward).toBeGreaterThan(3000);
    const list = await director.control('list');
    expect(list.services.length).toBe(3);
  });
});
