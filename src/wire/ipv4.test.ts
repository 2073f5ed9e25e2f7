import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { WIRE_ERRORS } from './errors.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from './ip-protocol.js';
import { parseIpv4 } from './ipv4-address.js';
import { IPV4_OPT_NOP, IPV4_OPT_RECORD_ROUTE, Ipv4Header, Ipv4View, listIpv4Options, type Ipv4Header as Ipv4HeaderT } from './ipv4.js';
import { updateChecksum16 } from './checksum.js';

const ETH = 14;

// Expected values transcribed from `tshark -r wirecap.pcap -V -O ip` for each frame.
const golden: { name: CapturedName; headerLength: number; totalLength: number; identification: number; df: boolean; mf: boolean; fragmentOffset: number; ttl: number; protocol: number; checksum: number; source: string; destination: string }[] = [
  { name: 'icmpEchoRequest', headerLength: 20, totalLength: 84, identification: 0x2ee6, df: true, mf: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ICMP, checksum: 0xf726, source: '10.77.0.1', destination: '10.77.0.2' },
  { name: 'ipv4RecordRoute', headerLength: 60, totalLength: 124, identification: 0x2ee7, df: true, mf: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ICMP, checksum: 0xbaa0, source: '10.77.0.1', destination: '10.77.0.2' },
  { name: 'ipv4FragmentFirst', headerLength: 20, totalLength: 1500, identification: 0x2ee8, df: false, mf: true, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ICMP, checksum: 0x119d, source: '10.77.0.1', destination: '10.77.0.2' },
  { name: 'ipv4FragmentLast', headerLength: 20, totalLength: 68, identification: 0x2ee8, df: false, mf: false, fragmentOffset: 2960, ttl: 64, protocol: IPPROTO_ICMP, checksum: 0x35c3, source: '10.77.0.1', destination: '10.77.0.2' },
  { name: 'udp4', headerLength: 20, totalLength: 37, identification: 0x1c9f, df: true, mf: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_UDP, checksum: 0x098c, source: '10.77.0.1', destination: '10.78.0.2' },
];

describe('IPv4 golden packets (captured)', () => {
  it.each(golden)('$name: fields match tshark, re-encodes byte for byte', (g) => {
    const frame = capturedFrame(g.name);
    const v = Ipv4View.checked(frame, ETH);
    if (typeof v === 'string') throw new Error(v);
    expect(v.version).toBe(4);
    expect(v.headerLength).toBe(g.headerLength);
    expect(v.totalLength).toBe(g.totalLength);
    if (g.identification >= 0) expect(v.identification).toBe(g.identification);
    expect(v.dontFragment).toBe(g.df);
    expect(v.moreFragments).toBe(g.mf);
    expect(v.fragmentOffset).toBe(g.fragmentOffset);
    expect(v.isFragment).toBe(g.mf || g.fragmentOffset > 0);
    expect(v.isLaterFragment).toBe(g.fragmentOffset > 0);
    expect(v.timeToLive).toBe(g.ttl);
    expect(v.protocol).toBe(g.protocol);
    if (g.checksum >= 0) expect(v.headerChecksum).toBe(g.checksum);
    expect(v.checksumValid).toBe(true);
    expect(v.source).toBe(parseIpv4(g.source));
    expect(v.destination).toBe(parseIpv4(g.destination));
    expect(v.payloadOffset).toBe(ETH + g.headerLength);
    expect(v.payloadLength).toBe(g.totalLength - g.headerLength);

    const parsed = Ipv4Header.parse(frame.subarray(0, ETH + g.totalLength), ETH);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.byteLength).toBe(g.headerLength);
    expect(parsed.value).toMatchObject({ source: g.source, destination: g.destination, protocol: g.protocol, dontFragment: g.df });
    const out = Uint8Array.from(frame);
    out.fill(0, ETH, ETH + g.headerLength);
    expect(Ipv4Header.emit(parsed.value, out, ETH)).toBe(g.headerLength);
    expect(out).toEqual(frame);
  });

  it('lists the record-route option the way tshark does (NOP, then RR length 39 pointer 8 with 10.77.0.1)', () => {
    const parsed = Ipv4Header.parse(capturedFrame('ipv4RecordRoute'), ETH);
    if (!parsed.ok) throw new Error(parsed.error);
    const opts = listIpv4Options(parsed.value.options);
    if (typeof opts === 'string') throw new Error(opts);
    expect(opts.map((o) => o.type)).toEqual([IPV4_OPT_NOP, IPV4_OPT_RECORD_ROUTE]);
    expect(opts[1].data.length).toBe(37);
    expect(opts[1].data[0]).toBe(8); // pointer
    expect(Array.from(opts[1].data.subarray(1, 5))).toEqual([10, 77, 0, 1]);
  });

  it('rejects the captured timestamp option of length 3 (tshark: malformed) as bad-option', () => {
    expect(Ipv4View.checked(capturedFrame('ipv4BadTimestampOption'), ETH)).toBe('bad-option');
  });

  it('setters plus an RFC 1624 update keep the checksum valid (TTL decrement)', () => {
    const frame = capturedFrame('icmpEchoRequest');
    const v = Ipv4View.checked(frame, ETH) as Ipv4View;
    const oldWord = (v.timeToLive << 8) | v.protocol;
    v.timeToLive = v.timeToLive - 1;
    v.headerChecksum = updateChecksum16(v.headerChecksum, oldWord, (v.timeToLive << 8) | v.protocol);
    expect(v.checksumValid).toBe(true);
    v.destination = parseIpv4('10.99.0.1')!;
    expect(v.checksumValid).toBe(false);
    v.fillChecksum();
    expect(v.checksumValid).toBe(true);
  });
});

describe('IPv4 validation', () => {
  const base = () => capturedFrame('udp4').subarray(ETH);
  it.each([
    { description: 'shorter than 20 bytes', edit: (b: Uint8Array) => b.subarray(0, 19), error: 'truncated' },
    { description: 'version 6', edit: (b: Uint8Array) => ((b[0] = 0x65), b), error: 'bad-version' },
    { description: 'IHL 4', edit: (b: Uint8Array) => ((b[0] = 0x44), b), error: 'bad-header-length' },
    { description: 'IHL 15 beyond the buffer', edit: (b: Uint8Array) => ((b[0] = 0x4f), b.subarray(0, 40)), error: 'truncated' },
    { description: 'total length 19', edit: (b: Uint8Array) => ((b[2] = 0), (b[3] = 19), b), error: 'bad-total-length' },
    { description: 'total length past the buffer', edit: (b: Uint8Array) => ((b[3] = 200), b), error: 'truncated' },
  ])('$description -> $error', ({ edit, error }) => {
    expect(Ipv4View.checked(edit(Uint8Array.from(base())))).toBe(error);
  });

  it('parse reports a flipped header bit as bad-checksum (the view leaves that to the caller)', () => {
    const b = Uint8Array.from(base());
    b[8] ^= 1;
    expect(Ipv4Header.parse(b)).toEqual({ ok: false, error: 'bad-checksum' });
    expect(Ipv4View.checked(b)).toBeInstanceOf(Ipv4View);
  });

  it('accepts Ethernet padding after the total length', () => {
    const b = new Uint8Array(60);
    b.set(base());
    const v = Ipv4View.checked(b) as Ipv4View;
    expect(v.totalLength).toBe(37);
    expect(v.payloadLength).toBe(17);
  });
});

const headerArb: fc.Arbitrary<Ipv4HeaderT> = fc.record({
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  identification: fc.integer({ min: 0, max: 0xffff }),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
  timeToLive: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  source: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.')),
  destination: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.')),
  // NOP padding or a well-formed record-route option of 7..39 bytes + NOPs
  options: fc.oneof(
    fc.nat({ max: 10 }).map((n) => new Uint8Array(n * 4).fill(1)),
    fc.integer({ min: 1, max: 9 }).map((slots) => {
      const len = 3 + 4 * slots;
      const o = new Uint8Array(Math.ceil(len / 4) * 4).fill(1);
      o[0] = 7; o[1] = len; o[2] = 4;
      for (let i = 3; i < len; i++) o[i] = 0;
      return o;
    }),
  ),
  payloadLength: fc.integer({ min: 0, max: 200 }),
});

describe('IPv4 properties', () => {
  it('parse -> emit -> parse round-trips at a non-zero offset', () => {
    fc.assert(
      fc.property(headerArb, fc.nat(50), (h, off) => {
        const buf = new Uint8Array(off + Ipv4Header.byteLength(h) + h.payloadLength + 3);
        const n = Ipv4Header.emit(h, buf, off);
        const back = Ipv4Header.parse(buf, off);
        expect(back).toEqual({ ok: true, value: h, byteLength: n });
      }),
    );
  });

  it.each(['icmpEchoRequest', 'ipv4RecordRoute', 'ipv4FragmentLast', 'ipv4BadTimestampOption'] as const)('mutations of %s never throw or read outside the packet', (name) => {
    const base = capturedFrame(name).subarray(ETH);
    fc.assert(
      fc.property(mutatedPacket(base, [0, 2, 3, 20, 21, 22, 23, 24, 25]), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new Ipv4View();
        const code = v.bind(g.buf, g.off, g.len);
        if (code === 0) {
          readAllGetters(v);
          expect(v.payloadOffset + v.payloadLength).toBeLessThanOrEqual(g.off + g.len);
        } else {
          expect(code).toBeGreaterThan(0);
          expect(code).toBeLessThanOrEqual(WIRE_ERRORS.length);
        }
        const p = Ipv4Header.parse(bytes);
        if (p.ok) expect(listIpv4Options(p.value.options)).toBeInstanceOf(Array);
        expect(g.outside()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new Ipv4View();
        if (v.bind(g.buf, g.off, g.len) === 0) readAllGetters(v);
        Ipv4Header.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
