import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame } from '../../test/fixtures/wire/captured.js';
import { bytesHex, guardedBuffer, hexBytes, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { GUE_PORT, GueHeader, GueView, writeOuterUdpGue, type GueHeader as GueHeaderT, type OuterUdpGueParams } from './gue.js';
import { IpipDecap } from './ipip.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from './ip-protocol.js';
import { parseIpv4 } from './ipv4-address.js';
import { UdpView } from './udp.js';
import { pseudoHeaderSumV4At } from './checksum.js';

const ETH = 14;
const GUE_OFF = ETH + 20 + 8;

describe('GUE golden packets (captured: craft.py sent them through a kernel UDP socket)', () => {
  it('variant 0: version 0, C=0, Hlen 0, Proto 4, then the inner IPv4 packet', () => {
    const frame = capturedFrame('gueVariant0');
    const v = GueView.checked(frame, GUE_OFF);
    if (typeof v === 'string') throw new Error(v);
    expect([v.variant, v.controlMessage, v.headerLength, v.protocol, v.flags]).toEqual([0, false, 4, IPPROTO_IPIP, 0]);
    expect(v.payloadLength).toBe(39);
    const d = new IpipDecap();
    expect(d.checkInnerOnly(frame, v.payloadOffset, v.payloadLength, v.protocol)).toBe(0);
    expect(GueHeader.parse(frame, GUE_OFF)).toEqual({ ok: true, value: { variant: 0, controlMessage: false, protocol: 4, flags: 0, extensions: new Uint8Array(0) }, byteLength: 4 });
  });

  it('variant 1: the UDP payload is the IPv4 packet itself', () => {
    const frame = capturedFrame('gueVariant1');
    const v = GueView.checked(frame, GUE_OFF) as GueView;
    expect([v.variant, v.headerLength, v.protocol, v.payloadOffset]).toEqual([1, 0, IPPROTO_IPIP, GUE_OFF]);
    expect(GueHeader.parse(frame, GUE_OFF)).toEqual({ ok: true, value: { variant: 1, ipVersion: 4 }, byteLength: 0 });
    const six = Uint8Array.from([0x60, 0, 0, 0]);
    expect((GueView.checked(six) as GueView).protocol).toBe(IPPROTO_IPV6);
  });

  it.each([
    { bytes: [0x80, 4, 0, 0], error: 'bad-version' }, // variant 2
    { bytes: [0xc0, 4, 0, 0], error: 'bad-version' }, // variant 3
    { bytes: [0x50, 0, 0, 0], error: 'bad-version' }, // variant 1 with IP version 5
    { bytes: [0x00, 4, 0], error: 'truncated' },
    { bytes: [0x02, 4, 0, 0, 1, 2, 3, 4], error: 'truncated' }, // Hlen 2 words, only 1 present
  ])('$bytes -> $error', ({ bytes, error }) => {
    expect(GueView.checked(Uint8Array.from(bytes))).toBe(error);
  });
});

// Writer golden table. The first two rows reproduce the captured datagrams exactly, with
// the values tshark shows for them (ip.id 0x1d79/0x1d7a, ttl 64, DF, udp.srcport 39747,
// udp.checksum 0x37e3/0x37ef, which tshark validates as good with udp.check_checksum:TRUE).
const inner = bytesHex(capturedFrame('ipipIcmp').subarray(ETH + 20));
const base: OuterUdpGueParams = { src: parseIpv4('10.77.0.1')!, dst: parseIpv4('10.78.0.2')!, sourcePort: 39747, destinationPort: GUE_PORT, variant: 0, protocol: IPPROTO_IPIP, innerLength: 39, ttl: 64, dontFragment: true, id: 0x1d79, udpChecksum: true };
const golden: { description: string; inner: string; params: OuterUdpGueParams; expected: string }[] = [
  { description: 'variant 0 with UDP checksum (captured)', inner, params: base, expected: bytesHex(capturedFrame('gueVariant0').subarray(ETH)) },
  { description: 'variant 1 with UDP checksum (captured)', inner, params: { ...base, variant: 1, id: 0x1d7a }, expected: bytesHex(capturedFrame('gueVariant1').subarray(ETH)) },
  {
    description: 'variant 0 without UDP checksum: only the checksum bytes differ from the captured one',
    inner,
    params: { ...base, udpChecksum: false },
    expected: bytesHex(capturedFrame('gueVariant0').subarray(ETH)).replace(/^(.{52})37e3/, '$10000'),
  },
];

describe('outer UDP+GUE writer (golden table)', () => {
  it.each(golden)('$description', ({ inner, params, expected }) => {
    const innerBytes = hexBytes(inner);
    const headroom = 64;
    const buf = new Uint8Array(headroom + innerBytes.length).fill(0xcc);
    buf.set(innerBytes, headroom);
    const n = writeOuterUdpGue(buf, headroom, params);
    expect(n).toBe(params.variant === 0 ? 32 : 28);
    expect(bytesHex(buf.subarray(headroom - n))).toBe(expected);
    expect(buf[headroom - n - 1]).toBe(0xcc);
  });

  it('returns 0 and writes nothing without headroom', () => {
    const buf = new Uint8Array(31 + 39).fill(0xcc);
    expect(writeOuterUdpGue(buf, 31, base)).toBe(0);
    expect(buf.every((b) => b === 0xcc)).toBe(true);
  });

  it('writer output always carries a valid UDP checksum and decapsulates to the same inner packet (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0 as const, 1 as const), (src, sport, variant) => {
        const innerBytes = hexBytes(inner);
        const buf = new Uint8Array(40 + innerBytes.length);
        buf.set(innerBytes, 40);
        const n = writeOuterUdpGue(buf, 40, { ...base, src, sourcePort: sport, variant });
        const start = 40 - n;
        const u = UdpView.checked(buf, start + 20) as UdpView;
        expect(u.checksumValid(pseudoHeaderSumV4At(buf, start + 12, start + 16, 17, u.length))).toBe(true);
        const g = GueView.checked(buf, u.payloadOffset, u.payloadLength) as GueView;
        expect(buf.subarray(g.payloadOffset, g.payloadOffset + g.payloadLength)).toEqual(innerBytes);
      }),
    );
  });
});

describe('GUE properties', () => {
  const headerArb: fc.Arbitrary<GueHeaderT> = fc.oneof(
    fc.record({ variant: fc.constant(0 as const), controlMessage: fc.boolean(), protocol: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 0xffff }), extensions: fc.nat(8).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })) }),
    fc.record({ variant: fc.constant(1 as const), ipVersion: fc.constantFrom(4 as const, 6 as const) }),
  );

  it('round-trips at a non-zero offset', () => {
    fc.assert(
      fc.property(headerArb, fc.nat(20), (h, off) => {
        const buf = new Uint8Array(off + GueHeader.byteLength(h) + 4);
        const n = GueHeader.emit(h, buf, off);
        if (h.variant === 1) buf[off] = h.ipVersion << 4; // variant 1 has no header: the inner IP packet starts here
        expect(GueHeader.parse(buf, off)).toEqual({ ok: true, value: h, byteLength: n });
      }),
    );
  });

  it('mutations never throw or read outside', () => {
    const b = capturedFrame('gueVariant0').slice(GUE_OFF);
    fc.assert(
      fc.property(mutatedPacket(b, [0, 1]), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new GueView();
        if (v.bind(g.buf, g.off, g.len) === 0) {
          readAllGetters(v);
          expect(v.payloadOffset + v.payloadLength).toBeLessThanOrEqual(g.off + g.len);
        }
        GueHeader.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
