// Every tunnel variant end to end with the real director and agents: GUE over IPv4 and
// over IPv6 (tunnel: gue), 6in4 (IPv6 VIP, IPv4 server) and 4in6 (IPv4 VIP, IPv6 server).
// curl through each VIP must reach the intended server; the tunnel packets captured at the
// server are decoded by tshark with checksum validation on (IP-in-IP forms) or, for GUE,
// which this tshark cannot dissect, by the project's codecs (outer UDP checksum by tshark).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { pseudoHeaderSumV4, sumBytes, foldSum } from '../../src/wire/checksum.js';
import { GueHeader } from '../../src/wire/gue.js';
import { Ipv4Header } from '../../src/wire/ipv4.js';
import { Ipv6Header } from '../../src/wire/ipv6.js';
import { parseIpv4 } from '../../src/wire/ipv4-address.js';
import { ipv6ToString, parseIpv6 } from '../../src/wire/ipv6-address.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

/** RFC 5952 text, as tshark prints it (the lab writes e.g. fd70:0::2). */
const v6 = (a: string | undefined) => ipv6ToString(parseIpv6(a!)!);

/** Frames of a classic pcap (Ethernet). */
function pcapFrames(file: string): Uint8Array[] {
  const b = readFileSync(file);
  const out: Uint8Array[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = b.readUInt32LE(o + 8);
    out.push(new Uint8Array(b.subarray(o + 16, o + 16 + incl)));
    o += 16 + incl;
  }
  return out;
}

describe.skipIf(!canRunNetnsTests())('tunnel variants: GUE, 6in4, 4in6', () => {
  let lab: Lab;
  const daemons: Daemon[] = [];
  let director: DirectorHandle | undefined;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'tunv', realServers: 2, ipv6: true });
    for (const rs of lab.realServers) {
      daemons.push(await startAgent(lab, rs));
      daemons.push(await startLabApp(lab, rs));
    }
  }, 90_000);

  afterAll(async () => {
    await director?.stop().catch(() => null);
    for (const d of daemons) await d.stop().catch(() => null);
    lab?.cleanup();
  });

  async function run(services: string[]): Promise<DirectorHandle> {
    await director?.stop();
    director = await startDirector(lab, { config: ['services:', ...services, ''].join('\n') });
    return director;
  }

  /** Captures at a real server while curling `url` until it answers; returns the body and the frames. */
  async function curlAndCapture(rsIndex: number, filter: string, url: string, tag: string) {
    const rs = lab.realServers[rsIndex];
    const file = path.join(lab.workDir, `${tag}.pcap`);
    const dump = lab.topo.spawn(rs.ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-i', 'eth0', '-w', file, filter]);
    await waitFor(() => existsSync(file), 10_000, 'tcpdump to start');
    await new Promise((r) => setTimeout(r, 300));
    let body = '';
    await waitFor(
      () => {
        const r = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '2', url], 5000);
        body = r.stdout.trim();
        return r.status === 0;
      },
      20_000,
      `an answer from ${url}`,
      200,
    );
    await new Promise((r) => setTimeout(r, 200));
    dump.kill('SIGINT');
    await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    return { body, file, frames: pcapFrames(file) };
  }

  function tshark(file: string, filter: string, fields: string[]): string[][] {
    const out = lab.topo.exec(null, 'tshark', ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { timeoutMs: 60_000 });
    return out.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
  }

  it('GUE over IPv4 (IPv4 VIP → rs1) and 6in4 (IPv6 VIP → rs2 by its IPv4 address)', async () => {
    const [rs1, rs2] = lab.realServers;
    await run([
      `  - { protocol: tcp, vip: "${lab.vip}", port: ${LAB_APP_HTTP_PORT}, scheduler: rr, realServers: [{ address: "${rs1.rip}", tunnel: gue }] }`,
      `  - { protocol: tcp, vip: "${lab.vip6}", port: ${LAB_APP_HTTP_PORT}, scheduler: rr, realServers: [{ address: "${rs2.rip}" }] }`,
    ]);
    const gue = await curlAndCapture(0, 'udp port 6080', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`, 'gue4');
    expect(gue.body).toBe('rs1');
    // The project's codecs: outer IPv4 + UDP (checksum 0 is allowed over IPv4), GUE proto 4, inner IPv4 + TCP checksums.
    const ports = new Set<number>();
    let checked = 0;
    for (const f of gue.frames) {
      const outer = Ipv4Header.parse(f, 14);
      if (!outer.ok) throw new Error(outer.error);
      expect(outer.value).toMatchObject({ source: lab.dip, destination: rs1.rip, protocol: 17 });
      const udp = f.subarray(34);
      ports.add((udp[0] << 8) | udp[1]);
      expect((udp[2] << 8) | udp[3]).toBe(6080);
      const g = GueHeader.parse(udp, 8);
      if (!g.ok) throw new Error(g.error);
      expect(g.value).toMatchObject({ variant: 0, protocol: 4 });
      const inner = Ipv4Header.parse(udp, 12);
      if (!inner.ok) throw new Error(`inner: ${inner.error}`); // parse verifies the header checksum
      if (inner.value.source === lab.dip && inner.value.protocol === 1) continue; // a path-MTU probe, in the server's tunnel
      expect(inner.value).toMatchObject({ source: lab.clientIp, destination: lab.vip, protocol: 6 });
      const seg = udp.subarray(12 + inner.byteLength, 12 + inner.byteLength + inner.value.payloadLength);
      expect(foldSum(sumBytes(seg, 0, seg.length, pseudoHeaderSumV4(parseIpv4(lab.clientIp)!, parseIpv4(lab.vip)!, 6, seg.length)))).toBe(0xffff);
      checked++;
    }
    expect(checked).toBeGreaterThan(2);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(0xc000);
    expect(tshark(gue.file, 'ip.checksum.status == "Bad" || udp.checksum.status == "Bad"', ['frame.number'])).toEqual([]);

    const six4 = await curlAndCapture(1, 'ip proto 41', `http://[${lab.vip6}]:${LAB_APP_HTTP_PORT}/`, '6in4');
    expect(six4.body).toBe('rs2');
    const rows = tshark(six4.file, 'ip.proto == 41 && tcp', ['ip.src', 'ip.dst', 'ip.checksum.status', 'ipv6.src', 'ipv6.dst', 'tcp.checksum.status']);
    expect(rows.length).toBeGreaterThan(2);
    for (const r of rows) expect(r).toEqual([lab.dip, rs2.rip, '1', v6(lab.clientIp6), v6(lab.vip6), '1']);
  }, 120_000);

  it('4in6 (IPv4 VIP → rs2 by its IPv6 address) and GUE over IPv6 (IPv6 VIP → rs1 by its IPv6 address)', async () => {
    const [rs1, rs2] = lab.realServers;
    await run([
      `  - { protocol: tcp, vip: "${lab.vip}", port: ${LAB_APP_HTTP_PORT}, scheduler: rr, realServers: [{ address: "${rs2.rip6}" }] }`,
      `  - { protocol: tcp, vip: "${lab.vip6}", port: ${LAB_APP_HTTP_PORT}, scheduler: rr, realServers: [{ address: "${rs1.rip6}", tunnel: gue }] }`,
    ]);
    const four6 = await curlAndCapture(1, 'ip6 proto 4', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`, '4in6');
    expect(four6.body).toBe('rs2');
    const rows = tshark(four6.file, 'ipv6.nxt == 4 && tcp', ['ipv6.src', 'ipv6.dst', 'ip.src', 'ip.dst', 'ip.checksum.status', 'tcp.checksum.status']);
    expect(rows.length).toBeGreaterThan(2);
    for (const r of rows) expect(r).toEqual([v6(lab.dip6), v6(rs2.rip6), lab.clientIp, lab.vip, '1', '1']);

    const gue6 = await curlAndCapture(0, 'ip6 and udp port 6080', `http://[${lab.vip6}]:${LAB_APP_HTTP_PORT}/`, 'gue6');
    expect(gue6.body).toBe('rs1');
    // IPv6 requires the UDP checksum: tshark verifies it over the whole GUE payload.
    const udp = tshark(gue6.file, 'udp.dstport == 6080', ['ipv6.src', 'ipv6.dst', 'udp.checksum.status']);
    expect(udp.length).toBeGreaterThan(2);
    for (const r of udp) expect(r).toEqual([v6(lab.dip6), v6(rs1.rip6), '1']);
    for (const f of gue6.frames) {
      const outer = Ipv6Header.parse(f, 14);
      if (!outer.ok) throw new Error(outer.error);
      const g = GueHeader.parse(f, 14 + 40 + 8);
      if (!g.ok) throw new Error(g.error);
      expect(g.value).toMatchObject({ variant: 0, protocol: 41 });
      const inner = Ipv6Header.parse(f, 14 + 40 + 12);
      if (!inner.ok) throw new Error(inner.error);
      if (inner.value.nextHeader === 58) continue; // a path-MTU probe (ICMPv6 echo from the DIP)
      expect(inner.value).toMatchObject({ source: v6(lab.clientIp6), destination: v6(lab.vip6), nextHeader: 6 });
    }
  }, 120_000);
});
