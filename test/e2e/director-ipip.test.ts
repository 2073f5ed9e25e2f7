// vstun-director end to end: client → router → director host (kernel + TAP) → the
// vstun-director binary → back out through the kernel → router → two real servers.
// The real servers' captures are decoded with the project's codecs (outer and inner IPv4
// headers with their checksums, the inner TCP/UDP header) and cross-checked with
// `tcpdump -v`; then, with vstun-agent on the real servers, a real curl through the VIP.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, startHttpServer, type Lab } from '../../src/lab/vs-lab.js';
import { Ipv4Header } from '../../src/wire/ipv4.js';
import { TcpHeader } from '../../src/wire/tcp.js';
import { control } from '../support/control.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');


/** Ethernet frames from a classic pcap file (linktype 1). */
function pcapFrames(file: string): Uint8Array[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  expect(u32(20)).toBe(1);
  const out: Uint8Array[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    out.push(new Uint8Array(b.subarray(o + 16, o + 16 + incl)));
    o += 16 + incl;
  }
  return out;
}

interface Decoded {
  outer: Ipv4Header;
  inner: Ipv4Header;
  innerBytes: Uint8Array;
}

function decodeIpip(frame: Uint8Array): Decoded {
  expect((frame[12] << 8) | frame[13]).toBe(0x0800);
  const outer = Ipv4Header.parse(frame, 14);
  if (!outer.ok) throw new Error(`outer header: ${outer.error}`);
  expect(outer.value.protocol).toBe(4);
  const innerOff = 14 + outer.byteLength;
  const inner = Ipv4Header.parse(frame.subarray(0, innerOff + outer.value.payloadLength), innerOff);
  if (!inner.ok) throw new Error(`inner header: ${inner.error}`);
  return { outer: outer.value, inner: inner.value, innerBytes: frame.subarray(innerOff + inner.byteLength, innerOff + outer.value.payloadLength) };
}

describe.skipIf(!canRunNetnsTests())('vstun-director in namespaces', () => {
  let lab: Lab;
  let tap: string;
  let sock: string;
  let director: ChildProcess;
  const directorErr: string[] = [];

  beforeAll(async () => {
    lab = buildLab({ prefix: 'dtn', realServers: 2 });
    tap = `vt${lab.topo.tag}`.slice(0, 15);
    sock = path.join(lab.workDir, 'director.sock');
    const [rs1, rs2] = lab.realServers;
    const cfg = path.join(lab.workDir, 'director.yaml');
    writeFileSync(
      cfg,
      [
        'director:',
        `  tap: ${tap}`,
        '  connTableSize: 65536',
        'services:',
        `  - { protocol: tcp, vip: ${lab.vip}, port: 80, scheduler: rr, realServers: [{address: ${rs1.rip}}, {address: ${rs2.rip}}] }`,
        `  - { protocol: udp, vip: ${lab.vip}, port: 5353, scheduler: rr, realServers: [{address: ${rs1.rip}}, {address: ${rs2.rip}}] }`,
        '',
      ].join('\n'),
    );
    director = lab.topo.spawn(lab.director, process.execPath, ['dist/cli/vstun-director.js', '--config', cfg, '--dip', lab.dip, '--control', sock], { cwd: root });
    director.stderr?.on('data', (d: Buffer) => directorErr.push(d.toString()));
    director.stdout?.on('data', (d: Buffer) => directorErr.push(d.toString()));
    await waitFor(
      async () => existsSync(sock) && (await control(sock, { v: 1, op: 'status' }).catch(() => ({ ok: false }))).ok === true,
      20_000,
      `director control socket (${directorErr.join('')})`,
    );
  });

  afterAll(() => {
    lab?.cleanup();
  });

  it('sets up the director host: TAP address, VIP route via the link address, sysctls', () => {
    const route = lab.topo.exec(lab.director, 'ip', ['-4', 'route', 'show', `${lab.vip}/32`]);
    expect(route).toContain(`via 169.254.77.2 dev ${tap}`);
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'addr', 'show', 'dev', tap])).toContain('169.254.77.1/30');
    expect(lab.topo.exec(lab.director, 'sysctl', ['-n', `net.ipv4.conf.${tap}.accept_local`]).trim()).toBe('1');
    expect(lab.topo.exec(lab.director, 'sysctl', ['-n', `net.ipv4.conf.${tap}.rp_filter`]).trim()).toBe('0');
    expect(lab.topo.exec(lab.director, 'sysctl', ['-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
  });

  it('answers ping to the VIP itself', () => {
    const r = lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '2', lab.vip], 10_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('real servers receive well-formed IPIP (DIP → RIP, TTL 64 minus two hops, good checksums, inner untouched)', async () => {
    const dumps = lab.realServers.map((rs) => {
      const file = path.join(lab.workDir, `rs${rs.index}.pcap`);
      const child = lab.topo.spawn(rs.ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-i', 'eth0', '-w', file, 'ip proto 4']);
      return { rs, file, child };
    });
    await waitFor(() => dumps.every((d) => existsSync(d.file)), 10_000, 'tcpdump to start');
    await new Promise((r) => setTimeout(r, 300));
    // Two TCP flows (rr: one per server; no agent yet, so curl times out) and UDP datagrams.
    for (let k = 0; k < 2; k++) lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '1', `http://${lab.vip}/`], 5000);
    for (let k = 0; k < 4; k++) lab.topo.tryExec(lab.client, 'bash', ['-c', `echo dgram${k} > /dev/udp/${lab.vip}/5353`], 5000);
    await new Promise((r) => setTimeout(r, 500));
    const conns = JSON.stringify((await control(sock, { v: 1, op: 'connections' })).connections);
    const verdicts = JSON.stringify((await control(sock, { v: 1, op: 'status' })).verdicts);
    for (const d of dumps) d.child.kill('SIGINT');
    await Promise.all(dumps.map((d) => new Promise((r) => (d.child.exitCode !== null ? r(null) : d.child.once('exit', r)))));

    let udps = 0;
    for (const d of dumps) {
      const frames = pcapFrames(d.file);
      expect(frames.length, `rs${d.rs.index} captured IPIP`).toBeGreaterThan(0);
      let tcpSyns = 0;
      for (const f of frames) {
        const { outer, inner, innerBytes } = decodeIpip(f);
        expect(outer.source).toBe(lab.dip);
        expect(outer.destination).toBe(d.rs.rip);
        expect(outer.timeToLive).toBe(62); // 64, minus the director host and the router
        if (inner.source === lab.dip && inner.protocol === 1) continue; // a path-MTU probe (src/director/pmtu-discovery.ts)
        expect(outer.dontFragment).toBe(inner.dontFragment);
        expect(inner.source).toBe(lab.clientIp);
        expect(inner.destination).toBe(lab.vip);
        if (inner.protocol === 6) {
          const t = TcpHeader.parse(innerBytes);
          if (!t.ok) throw new Error(`inner tcp: ${t.error}`);
          expect(t.value.destinationPort).toBe(80);
          if (t.value.flags & 0x02) tcpSyns++;
        } else {
          expect(inner.protocol).toBe(17);
          expect((innerBytes[2] << 8) | innerBytes[3]).toBe(5353);
          udps++;
        }
      }
      expect(tcpSyns, `rs${d.rs.index} got a SYN`).toBeGreaterThan(0);
      const verbose = lab.topo.exec(null, 'tcpdump', ['-v', '-n', '-r', d.file]);
      expect(verbose).toContain('proto IPIP (4)');
      expect(verbose).not.toContain('bad cksum');
    }
    // rr over two servers: the four datagrams (four source ports, four flows) split 2/2.
    expect(udps, `UDP tunnelled to the real servers (director: ${verdicts}; ${conns})`).toBe(4);
    expect(verdicts).toContain('"forward"');
  });

  it('lists services, servers and counters on the control socket', async () => {
    const list = await control(sock, { v: 1, op: 'list' });
    expect(list.ok).toBe(true);
    const tcp = list.services.find((s: any) => s.protocol === 'tcp');
    expect(tcp.realServers.map((r: any) => r.address).sort()).toEqual(lab.realServers.map((r) => r.rip).sort());
    for (const rs of tcp.realServers) expect(rs.stats.conns).toBeGreaterThan(0);
    const status = await control(sock, { v: 1, op: 'status' });
    expect(status.verdicts.forward).toBeGreaterThan(0);
    expect(status.verdicts['reply-icmp-echo']).toBe(1);
    const set = await control(sock, { v: 1, op: 'set-timeouts', tcp: 600, tcpfin: 0, udp: 60 });
    expect(set.timeouts).toEqual({ tcp: 600, tcpfin: 120, udp: 60 });
  });

  it('with vstun-agent on the real servers, curl through the VIP gets the page back', async () => {
    for (const rs of lab.realServers) {
      const agent = lab.topo.spawn(
        rs.ns,
        process.execPath,
        ['dist/cli/vstun-agent.js', '--vip', lab.vip, '--director', lab.dip, '--state-file', path.join(lab.workDir, `agent${rs.index}.state.json`), '--listen', '127.0.0.1:9470'],
        { cwd: root },
      );
      const err: string[] = [];
      agent.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
      await waitFor(() => lab.topo.tryExec(rs.ns, 'curl', ['-s', '--max-time', '1', 'http://127.0.0.1:9470/healthz'], 3000).status === 0, 20_000, `agent healthz in rs${rs.index} (${err.join('')})`);
      startHttpServer(lab, rs);
    }
    const bodies = new Set<string>();
    await waitFor(
      () => {
        const r = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '2', `http://${lab.vip}/`], 5000);
        if (r.status === 0) bodies.add(r.stdout.trim());
        return bodies.size === 2;
      },
      30_000,
      `pages from both real servers through the VIP (got ${[...bodies].join(',') || 'none'})`,
      100,
    );
    expect([...bodies].sort()).toEqual(['rs1', 'rs2']);
  });

  it('undoes every host change on SIGTERM', async () => {
    director.kill('SIGTERM');
    await waitFor(() => director.exitCode !== null, 10_000, 'director to exit');
    expect(director.exitCode).toBe(0);
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'route', 'show', `${lab.vip}/32`]).trim()).toBe('');
    expect(lab.topo.tryExec(lab.director, 'ip', ['link', 'show', tap]).status).not.toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(`/run/vstun/netns/${lab.director}/director-${tap}.state.json`)).toBe(false);
  });
});
