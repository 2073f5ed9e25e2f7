// Golden-packet tables for IPv6 and the tunnel variants: NDP for the director's IPv6 link
// address, 6in6 / 6in4 / 4in6 / IPIP and GUE (over IPv4 and IPv6) outputs with exact
// bytes, ICMPv6 Packet Too Big, client ICMPv6 errors steered to the flow's server, IPv6
// fragments, and the address table releasing client addresses with their entries. Every
// output is also decoded by tshark with checksum validation on (when tshark is installed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { finalizeChecksum, pseudoHeaderSumV6At, sumBytes, verifyChecksum } from '../wire/checksum.js';
import { parseMac } from '../wire/ethernet.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { Ipv6Header } from '../wire/ipv6.js';
import { parseIpv6 } from '../wire/ipv6-address.js';
import { concat, DIP, DIRECTOR_MAC, ethernet, hex, ipv4, KERNEL_MAC, SYN, ACK, PSH, tcp, VIP, CLIENT } from '../../test/fixtures/director/frames.js';
import { findAddressId, Ipv6AddressTable, parseAddressId } from './address-id.js';
import { TUNNEL_GUE } from './tunnel-mtu.js';
import type { VerdictName } from './verdicts.js';
import type { VirtualServiceSpec } from './virtual-service.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { l4v6 } from '../../test/fixtures/director/classify.js';

const VIP6 = 'fd77::100';
const CLIENT6 = 'fd77:1::2';
const DIP6 = 'fd77:2::1';
const RS4 = '10.77.3.2';
const RS6 = 'fd77:3::2';
const KERNEL_LL = 'fe80::1';

const collected: Uint8Array[] = [];

function build(services: Array<{ vip: string; servers: string[]; protocol?: 'tcp' | 'udp'; port?: number; gue?: boolean; mssClamp?: boolean }>) {
  const dev = new FakeDevice({ headroom: 128 });
  const clock = { now: 1_000_000 };
  const addresses = new Ipv6AddressTable();
  const dip6 = parseAddressId(DIP6, addresses)!;
  const d = fixtureDirector(dev, {
    addresses,
    dipFor: (rip) => (rip >= 2 ** 32 ? dip6 : parseIpv4(DIP)!),
    connTableCapacity: 1024,
    clock: () => clock.now,
    hashSeed: 7,
  });
  for (const s of services) {
    const svc = d.registry.addService({ protocol: s.protocol ?? 'tcp', vip: s.vip, port: s.port ?? 80, scheduler: 'rr' } as VirtualServiceSpec);
    if (s.mssClamp !== undefined) svc.mssClamp = s.mssClamp;
    for (const a of s.servers) {
      const rs = d.registry.addRealServer(svc, { address: a });
      if (s.gue) rs.tunnel = TUNNEL_GUE;
    }
  }
  d.start();
  dev.takeWritten();
  return { d, dev, clock };
}

function step(env: ReturnType<typeof build>, frame: Uint8Array) {
  const before = { ...env.d.snapshot().verdicts };
  env.dev.inject([frame]);
  const after = env.d.snapshot().verdicts;
  const out = env.dev.takeWritten().map((w) => w.bytes);
  collected.push(...out);
  return { changed: (Object.keys(after) as VerdictName[]).filter((k) => after[k] !== before[k]), out };
}

/** An IPv6 packet (fixed header only) around `payload`. */
function ipv6(payload: Uint8Array, o: { src?: string; dst?: string; nh: number; hop?: number; tc?: number; flow?: number }): Uint8Array {
  const h = new Uint8Array(40);
  Ipv6Header.emit({ trafficClass: o.tc ?? 0, flowLabel: o.flow ?? 0, payloadLength: payload.length, nextHeader: o.nh, hopLimit: o.hop ?? 63, source: o.src ?? CLIENT6, destination: o.dst ?? VIP6 }, h, 0);
  return concat(h, payload);
}

function tcp6(o: { sport?: number; flags: number; payload?: Uint8Array; src?: string; dst?: string }): Uint8Array {
  const seg = tcp({ sport: o.sport ?? 40000, dport: 80, flags: o.flags, payload: o.payload });
  return l4v6(seg, 16, o.src ?? CLIENT6, o.dst ?? VIP6, 6);
}

const v6frame = (payload: Uint8Array, nh: number, o: { src?: string; dst?: string; hop?: number } = {}) => ethernet(ipv6(payload, { nh, ...o }), { type: 0x86dd });
const toKernel = (payload: Uint8Array, type: number) => ethernet(payload, { dst: KERNEL_MAC, src: DIRECTOR_MAC, type });

describe('NDP on the TAP', () => {
  test("a neighbour solicitation for fe80::2 from the kernel: solicited+override advertisement with the director's MAC (exact bytes)", () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const body = concat(new Uint8Array([135, 0, 0, 0, 0, 0, 0, 0]), parseIpv6('fe80::2')!, new Uint8Array([1, 1]), parseMac(KERNEL_MAC)!);
    const ns = ethernet(ipv6(l4v6(body, 2, KERNEL_LL, 'ff02::1:ff00:2', 58), { src: KERNEL_LL, dst: 'ff02::1:ff00:2', nh: 58, hop: 255 }), { dst: '33:33:ff:00:00:02', type: 0x86dd });
    const { changed, out } = step(env, ns);
    expect(changed).toEqual(['reply-ndp']);
    const na = l4v6(concat(new Uint8Array([136, 0, 0, 0, 0x60, 0, 0, 0]), parseIpv6('fe80::2')!, new Uint8Array([2, 1]), parseMac(DIRECTOR_MAC)!), 2, 'fe80::2', KERNEL_LL, 58);
    expect(hex(out[0])).toBe(hex(toKernel(ipv6(na, { src: 'fe80::2', dst: KERNEL_LL, nh: 58, hop: 255 }), 0x86dd)));
  });

  test('solicitations for other targets, hop limit below 255, router solicitations and MLD reports: ignored and counted', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const ns = (target: string, hop: number) =>
      ethernet(ipv6(l4v6(concat(new Uint8Array([135, 0, 0, 0, 0, 0, 0, 0]), parseIpv6(target)!), 2, KERNEL_LL, 'ff02::1:ff00:9', 58), { src: KERNEL_LL, dst: 'ff02::1:ff00:9', nh: 58, hop }), { dst: '33:33:ff:00:00:09', type: 0x86dd });
    expect(step(env, ns('fe80::9', 255)).changed).toEqual(['drop-ndp-ignored']);
    expect(step(env, ns('fe80::2', 64)).changed).toEqual(['drop-ndp-ignored']);
    const rsol = ethernet(ipv6(l4v6(new Uint8Array([133, 0, 0, 0, 0, 0, 0, 0]), 2, KERNEL_LL, 'ff02::2', 58), { src: KERNEL_LL, dst: 'ff02::2', nh: 58, hop: 255 }), { dst: '33:33:00:00:00:02', type: 0x86dd });
    expect(step(env, rsol).changed).toEqual(['drop-ndp-ignored']);
  });
  test('a solicitation from another MAC than the TAP\'s: dropped unanswered, IPv6 output still goes to the TAP MAC', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const forged = '02:66:66:66:66:66';
    const body = concat(new Uint8Array([135, 0, 0, 0, 0, 0, 0, 0]), parseIpv6('fe80::2')!, new Uint8Array([1, 1]), parseMac(forged)!);
    const ns = ethernet(ipv6(l4v6(body, 2, KERNEL_LL, 'ff02::1:ff00:2', 58), { src: KERNEL_LL, dst: 'ff02::1:ff00:2', nh: 58, hop: 255 }), { dst: '33:33:ff:00:00:02', src: forged, type: 0x86dd });
    const r = step(env, ns);
    expect(r.changed).toEqual(['drop-kernel-mac-spoofed']);
    expect(r.out).toHaveLength(0);
    const fwd = step(env, v6frame(tcp6({ flags: SYN }), 6));
    expect(fwd.changed).toEqual(['forward']);
    expect(hex(fwd.out[0].subarray(0, 6))).toBe(hex(parseMac(KERNEL_MAC)!));
  });
});

describe('tunnel outputs (exact bytes)', () => {
  const syn6 = v6frame(tcp6({ flags: SYN }), 6);
  const syn4 = ethernet(ipv4(tcp({ sport: 40000, dport: 80, flags: SYN }), { protocol: 6 }));

  test('6in6: IPv6 VIP → IPv6 RS, outer next header 41, DIP6 → RIP6, hop limit 64, flow label from the flow hash', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const { changed, out } = step(env, syn6);
    expect(changed).toEqual(['forward']);
    const flow = ((out[0][15] & 0x0f) << 16) | (out[0][16] << 8) | out[0][17];
    expect(hex(out[0])).toBe(hex(toKernel(ipv6(syn6.subarray(14), { src: DIP6, dst: RS6, nh: 41, hop: 64, flow }), 0x86dd)));
  });

  test('6in6 after the DIP changes at run time (a new outer source): the next packet carries the new DIP', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    step(env, syn6);
    const rs = env.d.registry.servers.find((r) => r !== undefined && r.addressText === RS6)!;
    rs.dip = parseAddressId('fd77:2::9', env.d.registry.addresses)!;
    const { changed, out } = step(env, v6frame(tcp6({ flags: SYN, sport: 40001 }), 6));
    expect(changed).toEqual(['forward']);
    // Outer IPv6 source (bytes 8..24 of the header after Ethernet), written by hand.
    expect(hex(out[0].subarray(14 + 8, 14 + 24))).toBe('fd770002000000000000000000000009');
    expect(hex(out[0].subarray(14 + 24, 14 + 40))).toBe('fd770003000000000000000000000002');
  });

  test('6in4: IPv6 VIP → IPv4 RS, outer IPv4 protocol 41 with DF', () => {
    const env = build([{ vip: VIP6, servers: [RS4] }]);
    const { out } = step(env, syn6);
    expect(hex(out[0])).toBe(hex(toKernel(ipv4(syn6.subarray(14), { src: DIP, dst: RS4, protocol: 41, ttl: 64, id: 0, df: true }), 0x0800)));
  });

  test('4in6: IPv4 VIP → IPv6 RS, outer IPv6 next header 4', () => {
    const env = build([{ vip: VIP, servers: [RS6] }]);
    const { out } = step(env, syn4);
    const flow = ((out[0][15] & 0x0f) << 16) | (out[0][16] << 8) | out[0][17];
    expect(hex(out[0])).toBe(hex(toKernel(ipv6(syn4.subarray(14), { src: DIP6, dst: RS6, nh: 4, hop: 64, flow }), 0x86dd)));
  });

  test('GUE over IPv4: UDP from a dynamic source port (flow hash) to 6080, GUE proto 4, UDP checksum 0', () => {
    const env = build([{ vip: VIP, servers: [RS4], gue: true }]);
    const { out } = step(env, syn4);
    const f = out[0];
    const sport = (f[34] << 8) | f[35];
    expect(sport).toBeGreaterThanOrEqual(0xc000);
    const inner = syn4.subarray(14);
    const udpLen = 8 + 4 + inner.length;
    const udp = concat(new Uint8Array([sport >> 8, sport & 0xff, 0x17, 0xc0, udpLen >> 8, udpLen & 0xff, 0, 0]), new Uint8Array([0, 4, 0, 0]), inner);
    expect(hex(f)).toBe(hex(toKernel(ipv4(udp, { src: DIP, dst: RS4, protocol: 17, ttl: 64, id: 0, df: true }), 0x0800)));
    // Another client port: another source port (RSS spreads flows).
    const other = step(env, ethernet(ipv4(tcp({ sport: 40001, dport: 80, flags: SYN }), { protocol: 6 }))).out[0];
    expect((other[34] << 8) | other[35]).not.toBe(sport);
  });

  test('GUE over IPv6 (IPv6 VIP, IPv6 RS): UDP with the mandatory checksum, GUE proto 41', () => {
    const env = build([{ vip: VIP6, servers: [RS6], gue: true }]);
    const f = step(env, syn6).out[0];
    const outer = Ipv6Header.parse(f, 14);
    if (!outer.ok) throw new Error(outer.error);
    expect(outer.value).toMatchObject({ source: DIP6, destination: RS6, nextHeader: 17, hopLimit: 64, payloadLength: 12 + syn6.length - 14 });
    const udp = f.subarray(54);
    expect((udp[2] << 8) | udp[3]).toBe(6080);
    expect(Array.from(udp.subarray(8, 12))).toEqual([0, 41, 0, 0]);
    expect(verifyChecksum(udp, 0, udp.length, pseudoHeaderSumV6At(f, 22, 38, 17, udp.length))).toBe(true);
    expect(hex(udp.subarray(12))).toBe(hex(syn6.subarray(14)));
  });
});

describe('IPv6 too big, MSS and ICMPv6 errors', () => {
  test('Packet Too Big from the VIP: 1500-byte packet over 6in6 (usable 1460), quoting 1232 bytes so the error is 1280', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    step(env, v6frame(tcp6({ flags: SYN }), 6));
    const big = v6frame(tcp6({ flags: ACK | PSH, payload: new Uint8Array(1440) }), 6);
    const { changed, out } = step(env, big);
    expect(changed).toEqual(['reply-icmp-too-big']);
    const body = concat(new Uint8Array([2, 0, 0, 0, 0, 0, 0x05, 0xb4]), big.subarray(14, 14 + 1232));
    expect(hex(out[0])).toBe(hex(toKernel(ipv6(l4v6(body, 2, VIP6, CLIENT6, 58), { src: VIP6, dst: CLIENT6, nh: 58, hop: 64 }), 0x86dd)));
    expect(out[0].length).toBe(14 + 1280);
  });

  test('MSS of an IPv6 SYN: 1500 - 40 outer - 60 = 1400, checksum right', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const seg = tcp({ sport: 40000, dport: 80, flags: SYN, payload: new Uint8Array(0) });
    const withMss = concat(seg.subarray(0, 20), new Uint8Array([2, 4, 0x05, 0xa0]));
    withMss[12] = 6 << 4;
    l4v6(withMss, 16, CLIENT6, VIP6, 6);
    const { out } = step(env, v6frame(withMss, 6));
    const inner = out[0].subarray(14 + 40 + 40);
    expect((inner[22] << 8) | inner[23]).toBe(1400);
    expect(verifyChecksum(inner, 0, inner.length, pseudoHeaderSumV6At(out[0], 14 + 40 + 8, 14 + 40 + 24, 6, inner.length))).toBe(true);
  });

  test("an ICMPv6 error (destination unreachable) about the second flow goes to that flow's server", () => {
    const env = build([{ vip: VIP6, servers: [RS6, 'fd77:4::2'] }]);
    step(env, v6frame(tcp6({ sport: 1, flags: SYN }), 6));
    step(env, v6frame(tcp6({ sport: 2, flags: SYN }), 6));
    const quoted = ipv6(tcp6({ sport: 80, flags: ACK, src: VIP6, dst: CLIENT6 }).map((b, i) => (i === 2 ? 0 : i === 3 ? 2 : b)), { src: VIP6, dst: CLIENT6, nh: 6 });
    const err = v6frame(l4v6(concat(new Uint8Array([1, 4, 0, 0, 0, 0, 0, 0]), quoted), 2, CLIENT6, VIP6, 58), 58);
    const { changed, out } = step(env, err);
    expect(changed).toEqual(['forward-icmp-error']);
    expect(Ipv6Header.parse(out[0], 14)).toMatchObject({ ok: true, value: { destination: 'fd77:4::2', nextHeader: 41 } });
    expect(step(env, v6frame(l4v6(concat(new Uint8Array([1, 4, 0, 0, 0, 0, 0, 0]), quoted.map((b, i) => (i === 43 ? 9 : b))), 2, CLIENT6, VIP6, 58), 58)).changed).toEqual(['drop-icmp-no-flow']);
  });

  test('ping6 to the VIP is answered by the director', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const echo = l4v6(new Uint8Array([128, 0, 0, 0, 0, 1, 0, 1, 0x61, 0x62]), 2, CLIENT6, VIP6, 58);
    const { changed, out } = step(env, v6frame(echo, 58));
    expect(changed).toEqual(['reply-icmp-echo']);
    const reply = l4v6(new Uint8Array([129, 0, 0, 0, 0, 1, 0, 1, 0x61, 0x62]), 2, VIP6, CLIENT6, 58);
    expect(hex(out[0])).toBe(hex(toKernel(ipv6(reply, { src: VIP6, dst: CLIENT6, nh: 58, hop: 64 }), 0x86dd)));
  });
});

describe('IPv6 fragments and the address table', () => {
  test('a fragment train: the later fragments follow the first to its server', () => {
    const env = build([{ vip: VIP6, servers: [RS6, 'fd77:4::2'], protocol: 'udp', port: 53 }]);
    const frag = (offset: number, more: boolean, payload: Uint8Array) => v6frame(concat(new Uint8Array([17, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0x12, 0x34]), payload), 44);
    const udp = l4v6(concat(new Uint8Array([0xc3, 0x50, 0, 53, 0x07, 0xd0, 0, 0]), new Uint8Array(1992)), 6, CLIENT6, VIP6, 17);
    step(env, v6frame(tcp6({ flags: SYN }), 6)); // nothing: the TCP service does not exist → dropped
    const first = step(env, frag(0, true, udp.subarray(0, 1232)));
    expect(first.changed).toEqual(['forward']);
    const rip = hex(first.out[0].subarray(14 + 24, 14 + 40));
    const second = step(env, frag(1232, false, udp.subarray(1232)));
    expect(second.changed).toEqual(['forward-fragment']);
    expect(hex(second.out[0].subarray(14 + 24, 14 + 40))).toBe(rip);
  });

  test('a client address is held only while its connections live', () => {
    const env = build([{ vip: VIP6, servers: [RS6] }]);
    const table = env.d.registry.addresses;
    const before = table.size;
    step(env, v6frame(tcp6({ flags: SYN, src: 'fd77:1::99' }), 6, { src: 'fd77:1::99' }));
    expect(findAddressId('fd77:1::99', table)).not.toBeNull();
    expect(table.size).toBe(before + 1);
    expect(env.d.connections()[0]).toMatchObject({ client: 'fd77:1::99', virtual: VIP6, realServer: RS6 });
    env.d.table.clear();
    expect(findAddressId('fd77:1::99', table)).toBeNull();
    expect(table.size).toBe(before);
  });
});

describe('IPv6 data path property', () => {
  test('arbitrary mutations of real IPv6 frames never throw and each lands in exactly one verdict', () => {
    const env = build([{ vip: VIP6, servers: [RS6, RS4] }, { vip: VIP6, servers: [RS6], protocol: 'udp', port: 53, gue: true }]);
    const base = [
      v6frame(tcp6({ flags: SYN }), 6),
      v6frame(tcp6({ flags: ACK | PSH, payload: new Uint8Array(1440) }), 6),
      v6frame(l4v6(new Uint8Array([128, 0, 0, 0, 0, 1, 0, 1]), 2, CLIENT6, VIP6, 58), 58),
      v6frame(concat(new Uint8Array([17, 0, 0, 8, 0, 0, 0, 9]), new Uint8Array(64)), 44),
      ethernet(ipv6(l4v6(concat(new Uint8Array([135, 0, 0, 0, 0, 0, 0, 0]), parseIpv6('fe80::2')!), 2, KERNEL_LL, 'ff02::1:ff00:2', 58), { src: KERNEL_LL, dst: 'ff02::1:ff00:2', nh: 58, hop: 255 }), { dst: '33:33:ff:00:00:02', type: 0x86dd }),
    ];
    const frames = fc
      .tuple(fc.constantFrom(...base), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
      .map(([b, flips, cut]) => {
        const f = b.slice();
        for (const [at, v] of flips) f[14 + (at % (f.length - 14))] = v;
        return f.subarray(0, cut % 3 === 0 ? cut % (f.length + 1) : f.length);
      });
    fc.assert(
      fc.property(fc.array(frames, { minLength: 1, maxLength: 30 }), (fs) => {
        const before = env.d.frameVerdictSum();
        env.dev.inject(fs);
        env.dev.takeWritten();
        expect(env.d.frameVerdictSum() - before).toBe(fs.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('tshark decodes every output above with checksum validation on', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vstun-v6-golden-'));
  afterAll(() => { if (!process.env.KEEP_PCAP) rmSync(dir, { recursive: true, force: true }); });
  let hasTshark = true;
  try {
    execFileSync('tshark', ['-v'], { timeout: 60_000, stdio: 'ignore' });
  } catch {
    hasTshark = false;
  }
  test.skipIf(!hasTshark)('no bad checksum, no malformed packet', () => {
    expect(collected.length).toBeGreaterThan(10);
    const recs = collected.map((f) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(f.length, 8);
      h.writeUInt32LE(f.length, 12);
      return Buffer.concat([h, Buffer.from(f)]);
    });
    const gh = Buffer.alloc(24);
    gh.writeUInt32LE(0xa1b2c3d4, 0);
    gh.writeUInt16LE(2, 4);
    gh.writeUInt16LE(4, 6);
    gh.writeUInt32LE(65535, 16);
    gh.writeUInt32LE(1, 20);
    const file = path.join(dir, 'out.pcap');
    writeFileSync(file, Buffer.concat([gh, ...recs]));
    // A TCP segment quoted (truncated) inside an ICMP error cannot verify: only ours count there.
    const opts = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const all = execFileSync('tshark', ['-n', '-r', file, ...opts], { timeout: 60_000, encoding: 'utf8' });
    expect(all.trim().split('\n').length).toBe(collected.length);
    const bad = execFileSync('tshark', ['-n', '-r', file, ...opts, '-Y', 'ip.checksum.status == "Bad" || (tcp.checksum.status == "Bad" && !icmpv6 && !icmp) || udp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad" || icmp.checksum.status == "Bad" || _ws.malformed'], { timeout: 60_000, encoding: 'utf8' });
    expect(bad.trim()).toBe('');
    const tunnels = execFileSync('tshark', ['-n', '-r', file, ...opts, '-Y', '(ip.proto == 4 || ip.proto == 41 || ipv6.nxt == 4 || ipv6.nxt == 41) && tcp && !icmpv6 && !icmp', '-T', 'fields', '-e', 'tcp.checksum.status'], { timeout: 60_000, encoding: 'utf8' });
    const statuses = tunnels.trim().split('\n');
    expect(statuses.length).toBeGreaterThanOrEqual(4);
    for (const s of statuses) expect(s).toBe('1');
  });
});
void CLIENT;
