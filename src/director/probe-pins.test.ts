// Tunnel-check probes through the real data path: pinned flows reach their server whatever
// its weight, unpinned probe-source packets are dropped and counted, and neither touches the
// connection table, the scheduler or the traffic counters.
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { ACK, expectedIpip, hex, SYN, tcpFrame, udpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { ProbePinTable } from './probe-pins.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const P = '10.77.9.1';
const ip = (t: string) => parseIpv4(t)!;

function build() {
  const dev = new FakeDevice({ headroom: 128 });
  const d = fixtureDirector(dev, {
    connTableCapacity: 1024,
    clock: () => 1000,
    hashSeed: 7,
  });
  const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr' });
  const rs1 = d.registry.addRealServer(svc, { address: RS1 });
  const rs2 = d.registry.addRealServer(svc, { address: RS2, weight: 0 });
  d.registry.addService({ protocol: 'udp', vip: VIP, port: 53, scheduler: 'rr' });
  const pins = new ProbePinTable(ip(P), (id) => d.registry.servers[id]);
  d.datapath.probePins = pins;
  d.start();
  dev.takeWritten();
  return { d, dev, pins, rs1, rs2 };
}

describe('probe pins in the data path', () => {
  test('a pinned probe goes to its server even at weight 0, with no table entry and no traffic counted', () => {
    const { d, dev, pins, rs2 } = build();
    const unpin = pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs2);
    const frames = [tcpFrame({ src: P, sport: 61000, flags: SYN }), tcpFrame({ src: P, sport: 61000, flags: ACK })];
    dev.inject(frames);
    const out = dev.takeWritten();
    expect(out.map((o) => hex(o.bytes))).toEqual([hex(expectedIpip(frames[0], RS2, 0)), hex(expectedIpip(frames[1], RS2, 1))]);
    expect(d.table.stats().entries).toBe(0);
    expect(d.snapshot().verdicts.forward).toBe(2);
    expect(d.snapshot().services[0].realServers.every((r) => r.stats.inPkts === 0 && r.stats.conns === 0)).toBe(true);
    expect(pins.forwarded).toBe(2);
    unpin();
    unpin(); // idempotent
    expect(pins.size).toBe(0);
    dev.inject([tcpFrame({ src: P, sport: 61000, flags: ACK })]);
    expect(dev.takeWritten()).toHaveLength(0);
    expect(d.snapshot().verdicts['drop-probe-unpinned']).toBe(1);
  });

  test.each([
    { description: 'unpinned port', frame: () => tcpFrame({ src: P, sport: 61001, flags: SYN }) },
    { description: 'pinned port, other VIP port', frame: () => tcpFrame({ src: P, sport: 61000, dport: 81, flags: SYN }) },
    { description: 'pinned TCP port, UDP packet', frame: () => udpFrame({ src: P, sport: 61000, dport: 80 }) },
  ])('probe-source packet with no matching pin is dropped and counted, never scheduled: $description', ({ frame }) => {
    const { d, dev, pins, rs1 } = build();
    pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs1);
    dev.inject([frame()]);
    expect(dev.takeWritten()).toHaveLength(0);
    expect(d.snapshot().verdicts['drop-probe-unpinned']).toBe(1);
    expect(d.table.stats().entries).toBe(0);
    expect(d.frameVerdictSum()).toBe(1);
  });

  test('UDP probes are pinned separately from TCP on the same port', () => {
    const { dev, pins, rs1, rs2 } = build();
    pins.pin({ protocol: 6, srcPort: 62000, vip: ip(VIP), vipPort: 53 }, rs1);
    pins.pin({ protocol: 17, srcPort: 62000, vip: ip(VIP), vipPort: 53 }, rs2);
    const f = udpFrame({ src: P, sport: 62000, dport: 53 });
    dev.inject([f]);
    expect(dev.takeWritten().map((o) => hex(o.bytes))).toEqual([hex(expectedIpip(f, RS2, 0))]);
  });

  test('client traffic is untouched by pins (the scheduler still skips the weight-0 server)', () => {
    const { d, dev, pins, rs2 } = build();
    pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs2);
    const f = tcpFrame({ sport: 61000, flags: SYN });
    dev.inject([f]);
    expect(dev.takeWritten().map((o) => hex(o.bytes))).toEqual([hex(expectedIpip(f, RS1, 0))]);
    expect(d.table.stats().entries).toBe(1);
  });

  test('packets from the probe source outside the probe port range are ordinary clients (so P may be the DIP)', () => {
    const { d, dev } = build();
    const f = tcpFrame({ src: P, sport: 40000, flags: SYN });
    dev.inject([f]);
    expect(dev.takeWritten().map((o) => hex(o.bytes))).toEqual([hex(expectedIpip(f, RS1, 0))]);
    expect(d.snapshot().verdicts['drop-probe-unpinned']).toBe(0);
    expect(d.table.stats().entries).toBe(1);
  });

  test('a pin to a server whose id was reused by another address is not followed', () => {
    const { d, dev, pins, rs1 } = build();
    pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs1);
    const svc = d.registry.list()[0];
    d.registry.deleteRealServer(svc, RS1); // idle, so id 0 is free again
    d.registry.addRealServer(svc, { address: '10.77.8.2' });
    expect(d.registry.servers[rs1.id]?.addressText).toBe('10.77.8.2');
    dev.inject([tcpFrame({ src: P, sport: 61000, flags: SYN })]);
    expect(dev.takeWritten()).toHaveLength(0);
    expect(d.snapshot().verdicts['drop-probe-unpinned']).toBe(1);
  });

  test('an old unpin does not remove a newer pin of the same flow; bad pins are refused', () => {
    const { pins, rs1, rs2 } = build();
    const old = pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs1);
    pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 80 }, rs2);
    old();
    expect(pins.target(6, 61000, ip(VIP), 80)).toBe(rs2);
    expect(() => pins.pin({ protocol: 1, srcPort: 1, vip: ip(VIP), vipPort: 80 }, rs1)).toThrow(RangeError);
    expect(() => pins.pin({ protocol: 6, srcPort: 0, vip: ip(VIP), vipPort: 80 }, rs1)).toThrow(RangeError);
    expect(() => pins.pin({ protocol: 6, srcPort: 40000, vip: ip(VIP), vipPort: 80 }, rs1)).toThrow(/61000\.\.64999/);
    expect(() => pins.pin({ protocol: 6, srcPort: 61000, vip: ip(VIP), vipPort: 0 }, rs1)).toThrow(RangeError);
    expect(() => new ProbePinTable(1, () => undefined, [5, 4])).toThrow(RangeError);
    expect(() => new ProbePinTable(0, () => undefined)).toThrow(RangeError);
  });
});
