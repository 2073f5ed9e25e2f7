// Path-MTU discovery: frag-needed about our own tunnel packets lowers a server's path MTU
// (and the data path's answers follow), foreign or malformed ICMP changes nothing, probes
// are well-formed DF tunnel packets of the configured size, and an echoed probe or expiry
// raises the MTU again.
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { pseudoHeaderSumV6At, verifyChecksum } from '../wire/checksum.js';
import { Ipv4Header } from '../wire/ipv4.js';
import { Ipv6Header } from '../wire/ipv6.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { ACK, concat, DIP, ethernet, icmp, ipv4, PSH, SYN, tcp, VIP } from '../../test/fixtures/director/frames.js';
import { parseIpv6 } from '../wire/ipv6-address.js';
import { Ipv6AddressTable, parseAddressId } from './address-id.js';
import { Director } from './director.js';
import { PATH_MTU_EXPIRE_MS, PathMtuDiscovery, plateauBelow, PROBE_ECHO_ID } from './pmtu-discovery.js';
import type { VirtualServiceSpec } from './virtual-service.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const ROUTER = '10.77.9.1';
const ip = (t: string) => parseIpv4(t)!;

function build() {
  const dev = new FakeDevice({ headroom: 128 });
  const clock = { now: 5_000_000 };
  const d = fixtureDirector(dev, {
    connTableCapacity: 1024,
    clock: () => clock.now,
    hashSeed: 1,
  });
  const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr' } as VirtualServiceSpec);
  d.registry.addRealServer(svc, { address: RS1 });
  d.registry.addRealServer(svc, { address: RS2 });
  d.start();
  dev.takeWritten();
  const changes: string[] = [];
  const pmtu = new PathMtuDiscovery({
    registry: d.registry,
    host: d.host,
    tap: dev,
    defaultTunnelMtu: () => d.datapath.defaultTunnelMtu,
    clock: () => clock.now,
    onChange: (rip, from, to, why) => changes.push(`${rip} ${from}->${to} ${why}`),
  });
  return { d, dev, clock, pmtu, changes };
}

/** What the raw ICMP socket delivers: a router's frag-needed about an outer tunnel packet. */
function fragNeeded(o: { mtu: number; rip?: string; dip?: string; proto?: number; quotedTotal?: number; code?: number }): Uint8Array {
  const quoted = ipv4(new Uint8Array(8), { src: o.dip ?? DIP, dst: o.rip ?? RS1, protocol: o.proto ?? 4, ttl: 63 });
  const total = o.quotedTotal ?? 1500;
  quoted[2] = total >> 8;
  quoted[3] = total & 0xff;
  return ipv4(icmp(3, o.code ?? 4, concat(new Uint8Array([0, 0, o.mtu >> 8, o.mtu & 0xff]), quoted)), { src: ROUTER, dst: o.dip ?? DIP, protocol: 1, df: false });
}

const server = (d: Director, a: string) => d.registry.servers.find((s) => s?.addressText === a)!;

describe('path-MTU discovery from ICMP frag-needed', () => {
  test('frag-needed quoting our IPIP packet to RS1 lowers RS1 only; the data path then reports 1380 to clients', () => {
    const { d, dev, pmtu, changes } = build();
    const f = fragNeeded({ mtu: 1400 });
    expect(pmtu.handleIcmp(f, 0, f.length, 0)).toBe(true);
    expect(server(d, RS1).pathMtu).toBe(1400);
    expect(server(d, RS2).pathMtu).toBe(0);
    expect(changes).toEqual([`${RS1} 1500->1400 frag-needed`]);
    // A client connection to RS1 (rr picks it first), then a 1400-byte DF segment.
    dev.inject([ethernet(ipv4(tcp({ sport: 1, dport: 80, flags: SYN }), { protocol: 6 }))]);
    dev.takeWritten();
    dev.inject([ethernet(ipv4(tcp({ sport: 1, dport: 80, flags: ACK | PSH, payload: new Uint8Array(1360) }), { protocol: 6 }))]);
    const out = dev.takeWritten();
    expect(out).toHaveLength(1);
    const icmpOff = 14 + 20;
    expect([out[0].bytes[icmpOff], out[0].bytes[icmpOff + 1]]).toEqual([3, 4]);
    expect((out[0].bytes[icmpOff + 6] << 8) | out[0].bytes[icmpOff + 7]).toBe(1380);
    expect(pmtu.snapshot().find((s) => s.address === RS1)).toMatchObject({ configuredMtu: 1500, pathMtu: 1400, effectiveMtu: 1400, fragNeededReports: 1 });
  });

  test('a larger report never raises it; GUE (UDP) and 6in4 (41) outer packets count too', () => {
    const { d, pmtu } = build();
    for (const [mtu, proto] of [[1400, 4], [1450, 4], [1300, 17], [1350, 41]] as const) {
      const f = fragNeeded({ mtu, proto });
      pmtu.handleIcmp(f, 0, f.length, 0);
    }
    expect(server(d, RS1).pathMtu).toBe(1300);
  });

  test.each([
    ['another source (not our DIP)', fragNeeded({ mtu: 1400, dip: '10.77.2.99' })],
    ['a destination that is no real server', fragNeeded({ mtu: 1400, rip: '10.77.8.8' })],
    ['a quoted TCP packet (not a tunnel)', fragNeeded({ mtu: 1400, proto: 6 })],
    ['another unreachable code', fragNeeded({ mtu: 1400, code: 1 })],
    ['truncated', fragNeeded({ mtu: 1400 }).subarray(0, 40)],
  ])('ignored: %s', (_d, f) => {
    const { d, pmtu } = build();
    expect(pmtu.handleIcmp(f, 0, f.length, 0)).toBe(false);
    expect(server(d, RS1).pathMtu).toBe(0);
  });

  test('no MTU in the message (old router): the RFC 1191 plateau below the quoted size; never below 576', () => {
    const { d, pmtu } = build();
    const f = fragNeeded({ mtu: 0, quotedTotal: 1500 });
    pmtu.handleIcmp(f, 0, f.length, 0);
    expect(server(d, RS1).pathMtu).toBe(1492);
    const g = fragNeeded({ mtu: 100 });
    pmtu.handleIcmp(g, 0, g.length, 0);
    expect(server(d, RS1).pathMtu).toBe(576);
    expect(plateauBelow(1006)).toBe(508);
  });
});

describe('probes', () => {
  test('one probe per server address: DF IPIP of the configured MTU to the RIP, inner echo DIP → VIP tagged with RIP and size', () => {
    const { dev, pmtu } = build();
    expect(pmtu.probeAll()).toBe(2);
    const out = dev.takeWritten().map((w) => w.bytes);
    expect(out).toHaveLength(2);
    for (const [k, rip] of [RS1, RS2].entries()) {
      const f = out[k];
      expect(f.length).toBe(14 + 1500);
      const outer = Ipv4Header.parse(f, 14);
      if (!outer.ok) throw new Error(outer.error);
      expect(outer.value).toMatchObject({ source: DIP, destination: rip, protocol: 4, dontFragment: true, payloadLength: 1480 });
      const inner = Ipv4Header.parse(f, 34);
      if (!inner.ok) throw new Error(inner.error);
      expect(inner.value).toMatchObject({ source: DIP, destination: VIP, protocol: 1 });
      const echo = f.subarray(54);
      expect(echo[0]).toBe(8);
      expect(verifyChecksum(echo, 0, echo.length)).toBe(true);
      expect((echo[4] << 8) | echo[5]).toBe(PROBE_ECHO_ID);
      expect((echo[6] << 8) | echo[7]).toBe(1500);
      expect(Array.from(echo.subarray(12, 16)).join('.')).toBe(rip);
    }
  });

  test('the echoed probe of the full size raises a lowered path MTU; so does expiry after 10 minutes', () => {
    const { d, dev, pmtu, clock, changes } = build();
    const f = fragNeeded({ mtu: 1400 });
    pmtu.handleIcmp(f, 0, f.length, clock.now);
    pmtu.handleIcmp(fragNeeded({ mtu: 1400, rip: RS2 }), 0, 48, clock.now);
    expect(server(d, RS2).pathMtu).toBe(1400);
    pmtu.probeAll();
    const probe = dev.takeWritten()[0].bytes;
    // The server answers the probe's echo: VIP → DIP, same identifier, sequence and data.
    const echo = probe.slice(54);
    echo[0] = 0;
    echo[2] = 0;
    echo[3] = 0;
    const reply = ipv4(icmp(0, 0, echo.subarray(4)), { src: VIP, dst: DIP, protocol: 1, df: false });
    expect(pmtu.handleIcmp(reply, 0, reply.length, clock.now)).toBe(true);
    expect(server(d, RS1).pathMtu).toBe(0);
    expect(changes).toContain(`${RS1} 1400->1500 probe-confirmed`);
    // RS2 stays lowered until its value expires.
    clock.now += PATH_MTU_EXPIRE_MS + 1;
    pmtu.probeAll();
    expect(server(d, RS2).pathMtu).toBe(0);
    expect(changes).toContain(`${RS2} 1400->1500 expired`);
  });
});

describe('IPv6 servers: Packet Too Big', () => {
  test('a PTB (raw ICMPv6 socket, no IPv6 header) quoting our 6in6 packet lowers the server; other sources and short MTUs are handled', () => {
    const dev = new FakeDevice({ headroom: 128 });
    const addresses = new Ipv6AddressTable();
    const dip6 = parseAddressId('fd77:2::1', addresses)!;
    const d = fixtureDirector(dev, { addresses, dipFor: (rip) => (rip >= 2 ** 32 ? dip6 : ip(DIP)) });
    const svc = d.registry.addService({ protocol: 'tcp', vip: 'fd77::100', port: 80, scheduler: 'rr' } as VirtualServiceSpec);
    const rs = d.registry.addRealServer(svc, { address: 'fd77:3::2' });
    const pmtu = new PathMtuDiscovery({ registry: d.registry, host: d.host, tap: dev, defaultTunnelMtu: () => 1500, clock: () => 0 });
    const ptb = (mtu: number, src: string, nh = 41) => {
      const q = new Uint8Array(48);
      q[0] = 0x60;
      q[6] = nh;
      q[7] = 63;
      q.set(parseIpv6(src)!, 8);
      q.set(parseIpv6('fd77:3::2')!, 24);
      return concat(new Uint8Array([2, 0, 0, 0, mtu >>> 24, (mtu >>> 16) & 255, (mtu >>> 8) & 255, mtu & 255]), q);
    };
    expect(pmtu.handleIcmpv6(ptb(1400, 'fd77:2::99'), 0, 56, 0)).toBe(false);
    expect(pmtu.handleIcmpv6(ptb(1400, 'fd77:2::1', 6), 0, 56, 0)).toBe(false);
    expect(pmtu.handleIcmpv6(ptb(1400, 'fd77:2::1'), 0, 56, 0)).toBe(true);
    expect(rs.pathMtu).toBe(1400);
    pmtu.handleIcmpv6(ptb(1000, 'fd77:2::1'), 0, 56, 0);
    expect(rs.pathMtu).toBe(1280);
    expect(pmtu.snapshot()[0]).toMatchObject({ address: 'fd77:3::2', pathMtu: 1280, effectiveMtu: 1280 });
    // IPv6 servers of IPv6 VIPs are probed too (6in6).
    expect(pmtu.probeAll()).toBe(1);
  });
});

describe('probes follow the server tunnel', () => {
  test('IPv6 VIP on an IPv6 server: 6in6 probe with an ICMPv6 echo DIP6 → VIP6; its echo reply (ICMPv6 socket) confirms the size', () => {
    const dev = new FakeDevice({ headroom: 128 });
    const addresses = new Ipv6AddressTable();
    const dip6 = parseAddressId('fd77:2::1', addresses)!;
    const d = fixtureDirector(dev, { addresses, dipFor: (rip) => (rip >= 2 ** 32 ? dip6 : ip(DIP)) });
    const svc = d.registry.addService({ protocol: 'tcp', vip: 'fd77::100', port: 80, scheduler: 'rr' } as VirtualServiceSpec);
    const rs = d.registry.addRealServer(svc, { address: 'fd77:3::2' });
    const gueSvc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr' } as VirtualServiceSpec);
    const gueRs = d.registry.addRealServer(gueSvc, { address: RS1 });
    gueRs.tunnel = 1;
    const pmtu = new PathMtuDiscovery({ registry: d.registry, host: d.host, tap: dev, defaultTunnelMtu: () => 1500, clock: () => 0 });
    d.start();
    dev.takeWritten();
    expect(pmtu.probeAll()).toBe(2);
    const [p6, pGue] = dev.takeWritten().map((w) => w.bytes);
    expect(p6.length).toBe(14 + 1500);
    const outer = Ipv6Header.parse(p6, 14);
    if (!outer.ok) throw new Error(outer.error);
    expect(outer.value).toMatchObject({ source: 'fd77:2::1', destination: 'fd77:3::2', nextHeader: 41, payloadLength: 1460 });
    const inner = Ipv6Header.parse(p6, 54);
    if (!inner.ok) throw new Error(inner.error);
    expect(inner.value).toMatchObject({ source: 'fd77:2::1', destination: 'fd77::100', nextHeader: 58 });
    const echo = p6.subarray(94);
    expect(verifyChecksum(echo, 0, echo.length, pseudoHeaderSumV6At(p6, 62, 78, 58, echo.length))).toBe(true);
    // GUE server: the probe is GUE too (UDP to 6080, GUE proto 4), 1500 bytes in all.
    expect(pGue.length).toBe(14 + 1500);
    expect(pGue[14 + 9]).toBe(17);
    expect((pGue[36] << 8) | pGue[37]).toBe(6080);
    expect(Array.from(pGue.subarray(42, 46))).toEqual([0, 4, 0, 0]);
    // A PTB lowered the IPv6 path; the echo reply of the full size raises it again.
    const q = new Uint8Array(48);
    q[0] = 0x60;
    q[6] = 41;
    q.set(parseIpv6('fd77:2::1')!, 8);
    q.set(parseIpv6('fd77:3::2')!, 24);
    pmtu.handleIcmpv6(concat(new Uint8Array([2, 0, 0, 0, 0, 0, 0x05, 0x78]), q), 0, 56, 0);
    expect(rs.pathMtu).toBe(1400);
    const reply = echo.slice();
    reply[0] = 129;
    expect(pmtu.handleIcmpv6(reply, 0, reply.length, 0)).toBe(true);
    expect(rs.pathMtu).toBe(0);
  });
});
