import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_ROUTING, IPPROTO_UDP } from './ip-protocol.js';
import { Ipv6Header, Ipv6View, emitIpv6ExtensionHeaders, listIpv6ExtensionHeaders, type Ipv6ExtensionHeader } from './ipv6.js';

const ETH = 14;

// `tshark -T fields -e ipv6.tclass -e ipv6.flow -e ipv6.plen -e ipv6.nxt -e ipv6.hlim
// -e ipv6.src -e ipv6.dst -e ipv6.fraghdr.offset -e ipv6.fraghdr.more -e ipv6.fraghdr.ident`
const golden: { name: CapturedName; flowLabel: number; payloadLength: number; nextHeader: number; hopLimit: number; source: string; destination: string; upperProtocol: number; upperOffset: number; chain: number[]; fragment?: { offset: number; more: boolean; id: number } }[] = [
  { name: 'mldv2ReportHopByHop', flowLabel: 0, payloadLength: 56, nextHeader: IPPROTO_HOPOPTS, hopLimit: 1, source: 'fe80::ff:fe77:1', destination: 'ff02::16', upperProtocol: IPPROTO_ICMPV6, upperOffset: 48, chain: [IPPROTO_HOPOPTS] },
  { name: 'icmpv6EchoRequest', flowLabel: 0x066755, payloadLength: 64, nextHeader: IPPROTO_ICMPV6, hopLimit: 64, source: 'fd77::1', destination: 'fd77::2', upperProtocol: IPPROTO_ICMPV6, upperOffset: 40, chain: [] },
  { name: 'ipv6FragmentFirst', flowLabel: 0x066755, payloadLength: 1456, nextHeader: IPPROTO_FRAGMENT, hopLimit: 64, source: 'fd77::1', destination: 'fd77::2', upperProtocol: IPPROTO_ICMPV6, upperOffset: 48, chain: [IPPROTO_FRAGMENT], fragment: { offset: 0, more: true, id: 0x599fd40c } },
  { name: 'ipv6FragmentLast', flowLabel: 0x066755, payloadLength: 120, nextHeader: IPPROTO_FRAGMENT, hopLimit: 64, source: 'fd77::1', destination: 'fd77::2', upperProtocol: IPPROTO_ICMPV6, upperOffset: -1, chain: [IPPROTO_FRAGMENT], fragment: { offset: 362 * 8, more: false, id: 0x599fd40c } },
  { name: 'ipv6HopByHopUdp', flowLabel: 0x069ae7, payloadLength: 25, nextHeader: IPPROTO_HOPOPTS, hopLimit: 64, source: 'fd77::1', destination: 'fd78::2', upperProtocol: IPPROTO_UDP, upperOffset: 48, chain: [IPPROTO_HOPOPTS] },
  // HBH 8 + DestOpts 8 + SRH 24 + Fragment 8 + AH 24, then UDP at 40 + 72
  { name: 'ipv6ExtensionChain', flowLabel: 0x012345, payloadLength: 89, nextHeader: IPPROTO_HOPOPTS, hopLimit: 64, source: 'fd77::1', destination: 'fd78::2', upperProtocol: IPPROTO_UDP, upperOffset: 112, chain: [IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH], fragment: { offset: 0, more: false, id: 0x1234abcd } },
];

describe('IPv6 golden packets (captured)', () => {
  it.each(golden)('$name: header and extension walk match tshark, re-encodes byte for byte', (g) => {
    const frame = capturedFrame(g.name);
    const v = Ipv6View.checked(frame, ETH);
    if (typeof v === 'string') throw new Error(v);
    expect([v.version, v.trafficClass, v.flowLabel, v.payloadLength, v.nextHeader, v.hopLimit]).toEqual([6, 0, g.flowLabel, g.payloadLength, g.nextHeader, g.hopLimit]);
    expect([v.sourceString, v.destinationString]).toEqual([g.source, g.destination]);
    expect(v.upperProtocol).toBe(g.upperProtocol);
    expect(v.upperOffset).toBe(g.upperOffset < 0 ? -1 : ETH + g.upperOffset);
    expect(v.upperLength).toBe(g.upperOffset < 0 ? 0 : g.payloadLength + 40 - g.upperOffset);
    expect(v.extensionCount).toBe(g.chain.length);
    expect(v.isFragment).toBe(g.fragment !== undefined);
    if (g.fragment) expect([v.fragmentOffset, v.moreFragments, v.fragmentIdentification]).toEqual([g.fragment.offset, g.fragment.more, g.fragment.id]);

    const parsed = Ipv6Header.parse(frame, ETH);
    if (!parsed.ok) throw new Error(parsed.error);
    const exts = listIpv6ExtensionHeaders(frame, ETH);
    if (typeof exts === 'string') throw new Error(exts);
    expect(exts.map((e) => e.type)).toEqual(g.chain);
    const out = Uint8Array.from(frame);
    out.fill(0, ETH, ETH + (g.upperOffset < 0 ? 48 : g.upperOffset));
    Ipv6Header.emit(parsed.value, out, ETH);
    emitIpv6ExtensionHeaders(exts, out, ETH + 40);
    expect(out).toEqual(frame);
  });
});

describe('IPv6 validation', () => {
  const chain = () => capturedFrame('ipv6ExtensionChain').slice(ETH);
  it.each([
    { description: '39 bytes', edit: (b: Uint8Array) => b.subarray(0, 39), error: 'truncated' },
    { description: 'version 4', edit: (b: Uint8Array) => ((b[0] = 0x45), b), error: 'bad-version' },
    { description: 'payload length past the buffer', edit: (b: Uint8Array) => ((b[5] = 200), b), error: 'truncated' },
    { description: 'jumbogram (payload length 0 with hop-by-hop)', edit: (b: Uint8Array) => ((b[4] = 0), (b[5] = 0), b), error: 'bad-total-length' },
    { description: 'routing header length past the payload', edit: (b: Uint8Array) => ((b[57] = 20), b), error: 'bad-extension-header' },
    { description: 'hop-by-hop not first', edit: (b: Uint8Array) => ((b[48] = IPPROTO_HOPOPTS), b), error: 'bad-extension-header' },
    { description: 'hop-by-hop PadN longer than the header', edit: (b: Uint8Array) => ((b[43] = 9), b), error: 'bad-option' },
  ])('$description -> $error', ({ edit, error }) => {
    expect(Ipv6View.checked(edit(chain()))).toBe(error);
  });

  it('stops at more than 8 extension headers', () => {
    const n = 9;
    const b = new Uint8Array(40 + 8 * n);
    Ipv6Header.emit({ trafficClass: 0, flowLabel: 0, payloadLength: 8 * n, nextHeader: IPPROTO_DSTOPTS, hopLimit: 1, source: '::1', destination: '::2' }, b);
    for (let i = 0; i < n; i++) b.set([i === n - 1 ? 59 : IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0], 40 + 8 * i);
    expect(Ipv6View.checked(b)).toBe('too-many-extension-headers');
    expect(Ipv6View.checked(b.subarray(0, 40 + 8 * 8).map((x, i) => (i === 4 + 1 ? 64 : i === 40 + 8 * 7 ? 59 : x)))).toBeInstanceOf(Ipv6View);
  });

  it('bindQuoted accepts a packet cut short and reports where the walk stopped', () => {
    const b = chain().subarray(0, 40 + 8 + 8 + 10); // cut inside the routing header
    expect(Ipv6View.checked(b)).toBe('truncated');
    const v = new Ipv6View();
    expect(v.bindQuoted(b, 0, b.length)).toBe(0);
    expect(v.upperOffset).toBe(-1);
    const whole = chain();
    expect(v.bindQuoted(whole, 0, 40 + 72 + 4)).toBe(0);
    expect([v.upperProtocol, v.upperOffset, v.upperLength]).toEqual([IPPROTO_UDP, 112, 4]);
  });
});

const extArb: fc.Arbitrary<Ipv6ExtensionHeader[]> = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 3 }).map((n) => ({ type: IPPROTO_DSTOPTS, body: Uint8Array.from([1, 4 + 8 * n, ...new Array(4 + 8 * n).fill(0)]) })),
      fc.uint8Array({ minLength: 22, maxLength: 22 }).map((body) => ({ type: IPPROTO_ROUTING, body })),
      fc.tuple(fc.integer({ min: 0, max: 0x1fff }), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff })).map(([o, m, id]) => ({ type: IPPROTO_FRAGMENT, body: Uint8Array.from([0, 0, 0, 0, 0, 0]).map((_, i) => [(o << 3) >> 8, ((o << 3) & 0xf8) | (m ? 1 : 0), id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255][i]) })),
      fc.uint8Array({ minLength: 22, maxLength: 22 }).map((body) => ({ type: IPPROTO_AH, body })),
    ),
    { maxLength: 4 },
  )
  .map((list) => list.map((e, i) => ({ ...e, nextHeader: list[i + 1]?.type ?? IPPROTO_UDP })));

describe('IPv6 properties', () => {
  it('header + extension chain round-trip at a non-zero offset', () => {
    fc.assert(
      fc.property(extArb, fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xfffff }), fc.nat(30), fc.nat(20), (exts, trafficClass, flowLabel, off, payload) => {
        const extLen = exts.reduce((n, e) => n + e.body.length + 2, 0);
        const h = { trafficClass, flowLabel, payloadLength: extLen + payload, nextHeader: exts[0]?.type ?? IPPROTO_UDP, hopLimit: 64, source: '2001:db8::1', destination: 'fd00::77' };
        const buf = new Uint8Array(off + 40 + extLen + payload);
        Ipv6Header.emit(h, buf, off);
        expect(emitIpv6ExtensionHeaders(exts, buf, off + 40)).toBe(extLen);
        expect(Ipv6Header.parse(buf, off)).toEqual({ ok: true, value: h, byteLength: 40 });
        const back = listIpv6ExtensionHeaders(buf, off);
        const firstLater = exts.findIndex((e) => e.type === IPPROTO_FRAGMENT && ((e.body[0] << 8) | e.body[1]) & 0xfff8);
        expect(back).toEqual(firstLater < 0 ? exts : exts.slice(0, firstLater + 1));
      }),
    );
  });

  it.each(['ipv6ExtensionChain', 'mldv2ReportHopByHop', 'ipv6FragmentLast'] as const)('mutations of %s never throw or read outside (bind and bindQuoted)', (name) => {
    const base = capturedFrame(name).slice(ETH, ETH + 160);
    fc.assert(
      fc.property(mutatedPacket(base, [0, 4, 5, 6, 40, 41, 42, 43, 48, 49, 57, 80, 81, 82, 83, 89]), (bytes) => {
        for (const quoted of [false, true]) {
          const g = guardedBuffer(bytes);
          const v = new Ipv6View();
          const code = quoted ? v.bindQuoted(g.buf, g.off, g.len) : v.bind(g.buf, g.off, g.len);
          if (code === 0) {
            readAllGetters(v);
            if (v.upperOffset >= 0) expect(v.upperOffset + v.upperLength).toBeLessThanOrEqual(g.off + g.len);
          }
          expect(g.outside()).toEqual([]);
        }
        listIpv6ExtensionHeaders(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 120 }).map((b) => ((b[0] = 0x60 | (b[0] & 15)), b)), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new Ipv6View();
        if (v.bindQuoted(g.buf, g.off, g.len) === 0) readAllGetters(v);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
