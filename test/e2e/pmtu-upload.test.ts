// Path MTU end to end: every link is 1500 except the router → real-server hop, which is
// 1400, so full-size client segments plus the 20-byte outer header cannot pass. The real
// vstun-director (with its raw ICMP socket and probes) and a real vstun-agent run in the
// lab; 2 MB uploads and downloads through the VIP must complete within seconds, once with
// MSS clamping on and once with it off (there the director's frag-needed answers do the
// work). tshark decodes the tunnel traffic and the director's ICMP with checksum
// validation on. The same with an IPv6 VIP over 6in6, where Packet Too Big does the work.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { ipv6ToString, parseIpv6 } from '../../src/wire/ipv6-address.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const SIZE = 2 * 1024 * 1024;

describe.skipIf(!canRunNetnsTests())('path MTU: one 1400-byte hop on the tunnel path', () => {
  let lab: Lab;
  let agent: Daemon | undefined;
  let app: Daemon | undefined;
  let director: DirectorHandle | undefined;
  let body: Buffer;
  let uploadFile: string;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'pmtu', realServers: 1, siteMtu: 1400, ipv6: true });
    const rs = lab.realServers[0];
    agent = await startAgent(lab, rs);
    app = await startLabApp(lab, rs);
    body = randomBytes(SIZE);
    uploadFile = path.join(lab.workDir, 'upload.bin');
    writeFileSync(uploadFile, body);
  }, 60_000);

  afterAll(async () => {
    await director?.stop().catch(() => null);
    await app?.stop().catch(() => null);
    await agent?.stop().catch(() => null);
    lab?.cleanup();
  });

  async function runDirector(mssClamp: boolean): Promise<DirectorHandle> {
    await director?.stop();
    const rip = lab.realServers[0].rip;
    director = await startDirector(lab, {
      config: ['services:', serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'rr', realServers: [{ address: rip }], extra: `mssClamp: ${mssClamp}` }), ''].join('\n'),
    });
    // The director's DF probe (1500 bytes) meets the 1400 hop; the router's frag-needed goes
    // to the DIP, i.e. to the director host, where the raw ICMP socket picks it up.
    const d = director;
    await waitFor(async () => (await d.control('pmtu')).paths?.[0]?.pathMtu === 1400, 15_000, `path MTU 1400 learned (${JSON.stringify(await d.control('pmtu'))})`, 100);
    // Forget what the client learned from an earlier run, so each run starts cold.
    lab.topo.exec(lab.client, 'ip', ['route', 'flush', 'cache']);
    return d;
  }

  /** Upload and download 2 MB through the VIP, capturing the SYN at the real server; returns the SYN's MSS. */
  async function transfer(tag: string): Promise<{ mss: number; seconds: number }> {
    const pcap = path.join(lab.workDir, `syn-${tag}.pcap`);
    const rs = lab.realServers[0];
    const dump = lab.topo.spawn(rs.ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-i', 'eth0', '-w', pcap, 'ip proto 4']);
    await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = process.hrtime.bigint();
    const up = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-H', 'Expect:', '--data-binary', `@${uploadFile}`, `http://${lab.vip}:${LAB_APP_HTTP_PORT}/upload`], 40_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    dump.kill('SIGINT');
    await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    expect(up.status, `upload: ${up.stderr}`).toBe(0);
    const [server, length, sha] = up.stdout.trim().split(' ');
    expect(server).toBe('rs1');
    expect(Number(length)).toBe(SIZE);
    expect(sha).toBe(createHash('sha256').update(body).digest('hex'));

    const file = path.join(lab.workDir, `download-${tag}.bin`);
    const dl = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-o', file, '-w', '%{http_code}', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/bytes/${SIZE}`], 40_000);
    expect(dl.stdout, dl.stderr).toBe('200');
    expect(statSync(file).size).toBe(SIZE);

    // The tunnelled SYN as the real server received it; tshark checks every checksum.
    const syn = lab.topo
      .exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-e', 'tcp.options.mss_val', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status'], { timeoutMs: 60_000 })
      .trim()
      .split('\n')[0]
      .split('\t');
    expect(syn[1]).toBe('1,1'); // outer and inner IPv4 header checksums: Good (1)
    expect(syn[2]).toBe('1'); // TCP: Good
    const bad = lab.topo.exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad"'], { timeoutMs: 60_000 });
    expect(bad.trim()).toBe('');
    return { mss: Number(syn[0]), seconds };
  }

  it('MSS clamping on: the SYN reaches the server with MSS 1340 (1400 - 20 - 40); 2 MB up and down complete within seconds', async () => {
    const d = await runDirector(true);
    const { mss, seconds } = await transfer('clamp');
    expect(mss).toBe(1340);
    expect(seconds).toBeLessThan(15);
    const pmtu = await d.control('pmtu');
    expect(pmtu.paths[0]).toMatchObject({ configuredMtu: 1500, pathMtu: 1400, effectiveMtu: 1400 });
    expect(pmtu.fragNeededAccepted).toBeGreaterThan(0);
  }, 120_000);

  it('MSS clamping off: the SYN keeps MSS 1460, and frag-needed from the VIP (MTU 1380) makes the client shrink; 2 MB up and down complete', async () => {
    const d = await runDirector(false);
    const pcap = path.join(lab.workDir, 'client-icmp.pcap');
    const dump = lab.topo.spawn(lab.client, 'tcpdump', ['-U', '--immediate-mode', '-n', '-i', 'eth0', '-w', pcap, 'icmp']);
    await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
    await new Promise((r) => setTimeout(r, 300));
    const { mss, seconds } = await transfer('noclamp');
    dump.kill('SIGINT');
    await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    expect(mss).toBe(1460);
    expect(seconds).toBeLessThan(15);
    const status = await d.control('status');
    expect(status.verdicts['reply-icmp-too-big']).toBeGreaterThan(0);
    // The client got frag-needed from the VIP with next-hop MTU 1380 and good checksums.
    const icmp = lab.topo
      .exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-Y', 'icmp.type == 3 && icmp.code == 4', '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.mtu', '-e', 'ip.checksum.status', '-e', 'icmp.checksum.status'], { timeoutMs: 60_000 })
      .trim()
      .split('\n');
    expect(icmp.length).toBeGreaterThan(0);
    // Outer IPv4 (VIP → client), then the quoted header (client → VIP): both listed per field.
    expect(icmp[0].split('\t')).toEqual([`${lab.vip},${lab.clientIp}`, `${lab.clientIp},${lab.vip}`, '1380', '1,1', '1']);
  }, 120_000);

  it('IPv6 VIP over 6in6: the router\'s Packet Too Big (to the DIP) is adopted, the client gets PTB from the VIP with MTU 1360, and 2 MB go up and down', async () => {
    const rs = lab.realServers[0];
    await director?.stop();
    director = await startDirector(lab, {
      config: ['services:', serviceYaml({ protocol: 'tcp', vip: lab.vip6!, port: LAB_APP_HTTP_PORT, scheduler: 'rr', realServers: [{ address: rs.rip6! }], extra: 'mssClamp: false' }), ''].join('\n'),
    });
    const d = director;
    lab.topo.exec(lab.client, 'ip', ['-6', 'route', 'flush', 'cache']);
    const pcap = path.join(lab.workDir, 'client-icmp6.pcap');
    const dump = lab.topo.spawn(lab.client, 'tcpdump', ['-U', '--immediate-mode', '-n', '-i', 'eth0', '-w', pcap, 'icmp6']);
    await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
    await new Promise((r) => setTimeout(r, 300));
    const url = `http://[${lab.vip6}]:${LAB_APP_HTTP_PORT}`;
    const t0 = process.hrtime.bigint();
    const up = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-H', 'Expect:', '--data-binary', `@${uploadFile}`, `${url}/upload`], 40_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(up.status, `upload: ${up.stderr}`).toBe(0);
    expect(up.stdout.trim().split(' ')).toEqual(['rs1', String(SIZE), createHash('sha256').update(body).digest('hex')]);
    expect(seconds).toBeLessThan(15);
    const file = path.join(lab.workDir, 'download-v6.bin');
    const dl = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '30', '-o', file, '-w', '%{http_code}', `${url}/bytes/${SIZE}`], 40_000);
    expect(dl.stdout, dl.stderr).toBe('200');
    expect(statSync(file).size).toBe(SIZE);
    dump.kill('SIGINT');
    await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    const pmtu = await d.control('pmtu');
    expect(pmtu.paths[0]).toMatchObject({ pathMtu: 1400, effectiveMtu: 1400 });
    const ptb = lab.topo
      .exec(null, 'tshark', ['-n', '-r', pcap, '-Y', 'icmpv6.type == 2', '-T', 'fields', '-e', 'ipv6.src', '-e', 'icmpv6.mtu', '-e', 'icmpv6.checksum.status'], { timeoutMs: 60_000 })
      .trim()
      .split('\n');
    // Outer source (the VIP), then the quoted packet's source (the client), as tshark prints them.
    const canon = (t: string) => ipv6ToString(parseIpv6(t)!);
    expect(ptb[0].split('\t')).toEqual([`${canon(lab.vip6!)},${canon(lab.clientIp6!)}`, '1360', '1']);
  }, 120_000);
});
