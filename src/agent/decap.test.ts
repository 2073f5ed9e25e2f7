import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import { FakeDevice, type InjectedPacket } from '../device/fake-device.js';
import { mutatedPacket } from '../../test/fixtures/wire/arbitraries.js';
import { gue0, hex, ipip, ipv4, ipv4Bytes, ipv6, ipv6Bytes, udp } from '../../test/fixtures/agent/packets.js';
import { SourcePrefixSet, VipTable, parseAddressOrCidr } from './address-match.js';
import { DecapCounters, DECAP_SOURCES, DROP_REASONS, type DecapSource, type DropReason } from './decap-counters.js';
import { Decapsulator } from './decap.js';

const DIRECTOR = '192.0.2.1';
const RS = '192.0.2.50';
const VIP = '198.51.100.10';
const VIP6 = '2001:db8:100::10';
const CLIENT = '203.0.113.7';
const CLIENT6 = '2001:db8:7::7';
const DIRECTOR6 = '2001:db8:d::1';

function setup() {
  const directors = new SourcePrefixSet([
    parseAddressOrCidr(DIRECTOR, '--director', true),
    parseAddressOrCidr('10.9.0.0/16', '--director', true),
    parseAddressOrCidr('2001:db8:d::/64', '--director', true),
  ]);
  const vips = new VipTable([parseAddressOrCidr(VIP, '--vip', false), parseAddressOrCidr(VIP6, '--vip', false)]);
  const counters = new DecapCounters(vips.size);
  const tun = new FakeDevice({ name: 'tun' });
  const decap = new Decapsulator({ directors, vips, counters, tun });
  const sources = {
    'ipv4-ipip': new FakeDevice({ name: 'raw4-4' }),
    'ipv4-6in4': new FakeDevice({ name: 'raw4-41' }),
    'ipv6-ipip': new FakeDevice({ name: 'raw6-4' }),
    'ipv6-ip6ip6': new FakeDevice({ name: 'raw6-41' }),
    gue: new FakeDevice({ name: 'gue' }),
  } satisfies Record<DecapSource, FakeDevice>;
  for (const [kind, dev] of Object.entries(sources)) decap.attach(dev, kind as DecapSource);
  return { decap, counters, tun, sources };
}

const body = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
const inner4 = ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(40000, 80, body) });
const inner6 = ipv6({ src: CLIENT6, dst: VIP6, nextHeader: 17, payload: udp(40000, 80, body) });
const from6 = (src: string) => ({ family: 6 as const, addr: Uint8Array.from(ipv6Bytes(src)) });
const from4 = (src: string, port = 5555) => ({ family: 4 as const, addr: Uint8Array.from(ipv4Bytes(src)), port });

interface Golden {
  description: string;
  source: DecapSource;
  input: InjectedPacket;
  /** Expected TUN output (the inner packet), or the drop reason. */
  expected: { out: Uint8Array } | { drop: DropReason };
}

const withByte = (p: Uint8Array, i: number, v: number) => {
  const c = p.slice();
  c[i] = v;
  return c;
};

const golden: Golden[] = [
  { description: 'IPv4-in-IPv4 from the director: inner packet injected', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, inner4), ...from4(DIRECTOR) }, expected: { out: inner4 } },
  { description: 'IPv4-in-IPv4 from a director CIDR member', source: 'ipv4-ipip', input: { bytes: ipip('10.9.200.3', RS, inner4) }, expected: { out: inner4 } },
  { description: 'IPv6-in-IPv4 (6in4) from the director', source: 'ipv4-6in4', input: { bytes: ipv4({ src: DIRECTOR, dst: RS, protocol: 41, payload: inner6 }) }, expected: { out: inner6 } },
  { description: 'IPv4-in-IPv6 from the director (outer source from recvmmsg)', source: 'ipv6-ipip', input: { bytes: inner4, ...from6(DIRECTOR6) }, expected: { out: inner4 } },
  { description: 'IPv6-in-IPv6 from the director', source: 'ipv6-ip6ip6', input: { bytes: inner6, ...from6('2001:db8:d::99') }, expected: { out: inner6 } },
  { description: 'GUE variant 0 carrying IPv4', source: 'gue', input: { bytes: gue0(4, inner4), ...from4(DIRECTOR) }, expected: { out: inner4 } },
  { description: 'GUE variant 0 with optional fields carrying IPv6', source: 'gue', input: { bytes: gue0(41, inner6, { hlen: 2 }), ...from6(DIRECTOR6) }, expected: { out: inner6 } },
  { description: 'GUE variant 1 (direct IPv4)', source: 'gue', input: { bytes: inner4, ...from4(DIRECTOR) }, expected: { out: inner4 } },
  // The spoofing vector: well-formed IPIP for the VIP, but from a host that is not a director.
  { description: 'IPIP from a non-director source', source: 'ipv4-ipip', input: { bytes: ipip('192.0.2.66', RS, inner4) }, expected: { drop: 'non-director-source' } },
  { description: 'IPv6 outer from a non-director source', source: 'ipv6-ipip', input: { bytes: inner4, ...from6('2001:db8:e::1') }, expected: { drop: 'non-director-source' } },
  { description: 'GUE from an IPv4 director on a dual-stack socket (::ffff:a.b.c.d)', source: 'gue', input: { bytes: gue0(4, inner4), family: 6, addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ipv4Bytes(DIRECTOR)]) }, expected: { out: inner4 } },
  { description: 'GUE from a non-director IPv4 peer on a dual-stack socket', source: 'gue', input: { bytes: gue0(4, inner4), family: 6, addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ipv4Bytes('192.0.2.66')]) }, expected: { drop: 'non-director-source' } },
  { description: 'GUE from a non-director source', source: 'gue', input: { bytes: gue0(4, inner4), ...from4('192.0.2.66') }, expected: { drop: 'non-director-source' } },
  { description: 'IPv6 raw packet without a peer address', source: 'ipv6-ip6ip6', input: { bytes: inner6 }, expected: { drop: 'unknown-source-family' } },
  { description: 'inner destination is not a VIP', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: '198.51.100.11', protocol: 17, payload: udp(1, 2, body) })) }, expected: { drop: 'non-vip-destination' } },
  { description: 'inner IPv6 destination is not a VIP', source: 'ipv6-ip6ip6', input: { bytes: ipv6({ src: CLIENT6, dst: '2001:db8:100::11', nextHeader: 17, payload: udp(1, 2, body) }), ...from6(DIRECTOR6) }, expected: { drop: 'non-vip-destination' } },
  { description: 'outer shorter than an IPv4 header', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, inner4).subarray(0, 19) }, expected: { drop: 'outer-truncated' } },
  { description: 'outer IPv4 header length beyond the packet', source: 'ipv4-ipip', input: { bytes: withByte(ipip(DIRECTOR, RS, new Uint8Array(0)), 0, 0x4f) }, expected: { drop: 'outer-bad-header' } },
  { description: 'outer total length disagrees with the bytes received', source: 'ipv4-ipip', input: { bytes: ipv4({ src: DIRECTOR, dst: RS, protocol: 4, payload: inner4, totalLength: 20 + inner4.length + 4 }) }, expected: { drop: 'outer-bad-header' } },
  { description: 'outer protocol is not IPIP', source: 'ipv4-ipip', input: { bytes: ipv4({ src: DIRECTOR, dst: RS, protocol: 41, payload: inner4 }) }, expected: { drop: 'outer-unexpected-protocol' } },
  { description: 'inner shorter than an IPv4 header', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, inner4.subarray(0, 12)) }, expected: { drop: 'inner-truncated' } },
  { description: 'outer says IPIP but inner is IPv6', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, inner6) }, expected: { drop: 'inner-bad-version' } },
  { description: 'outer says IPv6 but inner is IPv4', source: 'ipv4-6in4', input: { bytes: ipv4({ src: DIRECTOR, dst: RS, protocol: 41, payload: inner4.slice(0, 40) }) }, expected: { drop: 'inner-bad-version' } },
  { description: 'inner IHL below 5', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(1, 2, body), ihl: 4 })) }, expected: { drop: 'inner-bad-header-length' } },
  { description: 'inner IHL beyond the inner packet', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: new Uint8Array(0), ihl: 15 })) }, expected: { drop: 'inner-bad-header-length' } },
  { description: 'inner total length longer than the outer carried', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(1, 2, body), totalLength: 20 + 8 + body.length + 1 })) }, expected: { drop: 'inner-length-mismatch' } },
  { description: 'inner total length shorter than the outer carried (smuggled trailer)', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(1, 2, body), totalLength: 28 })) }, expected: { drop: 'inner-length-mismatch' } },
  { description: 'inner IPv6 payload length inconsistent', source: 'ipv6-ip6ip6', input: { bytes: ipv6({ src: CLIENT6, dst: VIP6, nextHeader: 17, payload: udp(1, 2, body), payloadLength: 3 }), ...from6(DIRECTOR6) }, expected: { drop: 'inner-length-mismatch' } },
  { description: 'inner IPv6 truncated', source: 'ipv6-ip6ip6', input: { bytes: inner6.subarray(0, 39), ...from6(DIRECTOR6) }, expected: { drop: 'inner-truncated' } },
  { description: 'inner IPv4 header checksum wrong', source: 'ipv4-ipip', input: { bytes: ipip(DIRECTOR, RS, ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(1, 2, body), badChecksum: true })) }, expected: { drop: 'inner-bad-checksum' } },
  { description: 'GUE control message', source: 'gue', input: { bytes: gue0(4, inner4, { control: true }), ...from4(DIRECTOR) }, expected: { drop: 'gue-bad-header' } },
  { description: 'GUE version 2', source: 'gue', input: { bytes: gue0(4, inner4, { version: 2 }), ...from4(DIRECTOR) }, expected: { drop: 'gue-bad-header' } },
  { description: 'GUE header length beyond the datagram', source: 'gue', input: { bytes: gue0(4, new Uint8Array(0), { hlen: 3 }).subarray(0, 8), ...from4(DIRECTOR) }, expected: { drop: 'gue-bad-header' } },
  { description: 'GUE carrying UDP directly', source: 'gue', input: { bytes: gue0(17, inner4), ...from4(DIRECTOR) }, expected: { drop: 'gue-unsupported-protocol' } },
  { description: 'GUE shorter than its header', source: 'gue', input: { bytes: Uint8Array.of(0, 4), ...from4(DIRECTOR) }, expected: { drop: 'outer-truncated' } },
];

describe('Decapsulator golden packets', () => {
  test.each(golden)('$description', ({ source, input, expected }) => {
    const { counters, tun, sources } = setup();
    sources[source].inject([input]);
    const written = tun.takeWritten();
    if ('out' in expected) {
      expect(written.map((w) => hex(w.bytes))).toEqual([hex(expected.out)]);
      expect(counters.totalDrops()).toBe(0);
      expect(counters.accepted).toBe(1);
    } else {
      expect(written).toEqual([]);
      const drops = counters.dropsByReason();
      expect(drops[expected.drop]).toBe(1);
      expect(counters.totalDrops()).toBe(1);
    }
  });

  it('every drop reason the classifier can return is exercised above', () => {
    const deviceReasons: DropReason[] = ['rx-truncated', 'tun-write-dropped', 'tun-write-error', 'socket-overflow'];
    const covered = new Set(golden.flatMap((g) => ('drop' in g.expected ? [g.expected.drop] : [])));
    for (const r of DROP_REASONS) if (!deviceReasons.includes(r)) expect(covered, r).toContain(r);
  });
});

describe('Decapsulator batches', () => {
  it('writes the accepted packets of a mixed batch in one TUN write, in order, and counts per VIP', () => {
    const { counters, tun, sources, decap } = setup();
    const a = ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(1, 2, body), id: 7 });
    const b = ipv4({ src: CLIENT, dst: VIP, protocol: 17, payload: udp(3, 4, body), id: 8 });
    let writes = 0;
    const orig = tun.writeBatch.bind(tun);
    tun.writeBatch = (d, m, n, ad) => {
      writes++;
      return orig(d, m, n, ad);
    };
    sources['ipv4-ipip'].inject([ipip(DIRECTOR, RS, a), ipip('192.0.2.66', RS, a), ipip(DIRECTOR, RS, b)]);
    expect(writes).toBe(1);
    expect(tun.takeWritten().map((w) => hex(w.bytes))).toEqual([hex(a), hex(b)]);
    expect(counters.vipPackets[0]).toBe(2);
    expect(counters.vipBytes[0]).toBe(a.length + b.length);
    expect(counters.rxPackets[0]).toBe(3);
    expect(counters.dropsByReason()['non-director-source']).toBe(1);
    decap.syncDeviceCounters();
    expect(counters.totalDrops()).toBe(1);
  });

  it('points the TUN write at the inner packet inside the reader ring (no copy)', () => {
    const { tun, sources } = setup();
    let seen: { data: Uint8Array; off: number } | undefined;
    tun.writeBatch = (d, m) => ((seen = { data: d, off: m[0] }), 1);
    sources['ipv4-ipip'].inject([ipip(DIRECTOR, RS, inner4)]);
    expect(seen).toBeDefined();
    // The fake reader puts packet 0 at its headroom; the inner header follows the outer 20 bytes.
    expect(seen!.off).toBe(sources['ipv4-ipip'].headroom + 20);
  });

  it('counts TUN writer overflow and reader truncation as drops', () => {
    const counters = new DecapCounters(1);
    const full = new FakeDevice({ name: 'tun-full', writeLimit: 1 });
    const d2 = new Decapsulator({
      directors: new SourcePrefixSet([parseAddressOrCidr(DIRECTOR, 'd', true)]),
      vips: new VipTable([parseAddressOrCidr(VIP, 'v', false)]),
      counters,
      tun: full,
    });
    const src = new FakeDevice({ name: 'src', slotSize: 256, headroom: 64 });
    d2.attach(src, 'ipv4-ipip');
    src.inject([ipip(DIRECTOR, RS, inner4), ipip(DIRECTOR, RS, inner4), new Uint8Array(400)]);
    d2.syncDeviceCounters();
    const drops = counters.dropsByReason();
    expect(drops['tun-write-dropped']).toBe(1);
    expect(drops['rx-truncated']).toBe(1);
    expect(counters.accepted).toBe(2);
  });

  it('counts the kernel receive-buffer overflows of every decap socket as socket-overflow, from attach on', () => {
    const { counters, sources, decap } = setup();
    sources['ipv4-ipip'].kernelDropped(5);
    sources.gue.kernelDropped(2);
    decap.syncDeviceCounters();
    expect(counters.dropsByReason()['socket-overflow']).toBe(7);
    sources['ipv4-ipip'].kernelDropped(1);
    decap.syncDeviceCounters();
    expect(counters.dropsByReason()['socket-overflow']).toBe(8);
    expect(counters.totalDrops()).toBe(8);
  });
});

describe('Decapsulator properties', () => {
  // Real tunnel payloads of every kind, and the inner packets alone (what IPv6 raw sockets and GUE variant 1 deliver).
  const inners = [inner4, inner6];
  const outers = [ipip(DIRECTOR, RS, inner4), ipv4({ src: DIRECTOR, dst: RS, protocol: 41, payload: inner6 }), gue0(4, inner4), gue0(41, inner6, { hlen: 2 }), inner4, inner6];
  // Offsets of the length, version and protocol fields of the outer and inner headers.
  const hotspots = [0, 2, 3, 6, 9, 20, 22, 23, 24, 29, 1, 4, 5];
  const peer = fc.oneof(
    fc.constant({}),
    fc.constantFrom(from4(DIRECTOR), from4('192.0.2.66'), from6(DIRECTOR6), from6('2001:db8:e::1')),
    fc.record({ family: fc.constantFrom(4 as const, 6 as const), addr: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
  );
  // An inner packet mutated under a well-formed outer header reaches the inner checks.
  const wrappedMutation = fc
    .tuple(fc.constantFrom(...inners).chain((b) => mutatedPacket(b, [0, 2, 3, 4, 5, 9, 10, 11])), fc.constantFrom('ipip', 'gue', 'bare'))
    .map(([inner, how]) => (how === 'ipip' ? ipip(DIRECTOR, RS, inner) : how === 'gue' ? gue0(inner[0] >> 4 === 6 ? 41 : 4, inner) : inner));
  const frame = fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(...outers).chain((b) => mutatedPacket(b, hotspots)), wrappedMutation);

  test('arbitrary and mutated outer/inner frames never throw, and each ends in exactly one counter', () => {
    const { decap, counters, tun, sources } = setup();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...DECAP_SOURCES), frame, peer), { minLength: 1, maxLength: 20 }), (packets) => {
        for (const [source, bytes, from] of packets) {
          const drops = counters.totalDrops();
          const accepted = counters.accepted;
          const rx = counters.rxPackets[DECAP_SOURCES.indexOf(source)];
          expect(() => sources[source].inject([{ bytes, ...from }])).not.toThrow();
          const written = tun.takeWritten();
          expect(counters.rxPackets[DECAP_SOURCES.indexOf(source)] - rx).toBe(1);
          // Exactly one of: accepted (and then written: one inner packet, inside what was received), or one drop reason.
          expect(counters.totalDrops() - drops + (counters.accepted - accepted)).toBe(1);
          expect(written.length).toBe(counters.accepted - accepted);
          for (const w of written) expect(w.bytes.length).toBeLessThanOrEqual(bytes.length);
        }
        decap.syncDeviceCounters();
      }),
      { numRuns: 400 },
    );
    expect(counters.accepted).toBeGreaterThan(0);
  });
});
