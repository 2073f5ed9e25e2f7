import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { pseudoHeaderSumV6At } from './checksum.js';
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_MLDV2_REPORT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  Icmpv6Message,
  Icmpv6View,
  writeIcmpv6Message,
  type Icmpv6Message as Icmpv6MessageT,
} from './icmpv6.js';
import { IPPROTO_ICMPV6, IPPROTO_IPIP, IPPROTO_UDP } from './ip-protocol.js';
import { Ipv6View } from './ipv6.js';

const ETH = 14;

// `tshark -T fields -e icmpv6.type -e icmpv6.code -e icmpv6.checksum -e icmpv6.echo.identifier
// -e icmpv6.mtu -e icmpv6.pointer -e ipv6.src -e ipv6.dst -e icmpv6.checksum.status` (status 1
// = good for every frame); quoted values are tshark's decode of the invoking packet.
const golden: { name: CapturedName; type: number; code: number; checksum: number; kind: Icmpv6MessageT['kind']; extra: Record<string, number>; quoted?: { source: string; destination: string; payloadLength: number; upperProtocol: number } }[] = [
  { name: 'icmpv6EchoRequest', type: ICMPV6_ECHO_REQUEST, code: 0, checksum: 0xe79c, kind: 'echo-request', extra: { identifier: 0x2e8a, sequenceNumber: 1 } },
  { name: 'icmpv6PacketTooBig', type: ICMPV6_PACKET_TOO_BIG, code: 0, checksum: 0x4518, kind: 'packet-too-big', extra: { mtu: 1280 }, quoted: { source: 'fd77::1', destination: 'fd78::2', payloadLength: 1408, upperProtocol: IPPROTO_ICMPV6 } },
  { name: 'icmpv6TimeExceeded', type: ICMPV6_TIME_EXCEEDED, code: 0, checksum: 0x747a, kind: 'time-exceeded', extra: {}, quoted: { source: 'fd77::1', destination: 'fd78::2', payloadLength: 64, upperProtocol: IPPROTO_ICMPV6 } },
  { name: 'icmpv6PortUnreachable', type: ICMPV6_DEST_UNREACHABLE, code: 4, checksum: 0xdf39, kind: 'destination-unreachable', extra: {}, quoted: { source: 'fd77::1', destination: 'fd78::2', payloadLength: 18, upperProtocol: IPPROTO_UDP } },
  { name: 'icmpv6ParamProblemNextHeader', type: ICMPV6_PARAMETER_PROBLEM, code: 1, checksum: 0x7bde, kind: 'parameter-problem', extra: { pointer: 6 }, quoted: { source: 'fd77::1', destination: 'fd78::2', payloadLength: 39, upperProtocol: IPPROTO_IPIP } },
  { name: 'ndpNeighborSolicitation', type: ICMPV6_NEIGHBOR_SOLICITATION, code: 0, checksum: 0x7c32, kind: 'other', extra: {} },
  { name: 'mldv2ReportHopByHop', type: ICMPV6_MLDV2_REPORT, code: 0, checksum: 0x6efe, kind: 'other', extra: {} },
];

describe('ICMPv6 golden messages (captured)', () => {
  it.each(golden)('$name: header, checksum, quoted packet and re-encoding match the capture', (g) => {
    const frame = capturedFrame(g.name);
    const ip = Ipv6View.checked(frame, ETH) as Ipv6View;
    expect(ip.upperProtocol).toBe(IPPROTO_ICMPV6);
    const v = Icmpv6View.checked(frame, ip.upperOffset, ip.upperLength);
    if (typeof v === 'string') throw new Error(v);
    expect([v.type, v.code, v.checksum]).toEqual([g.type, g.code, g.checksum]);
    const pseudo = pseudoHeaderSumV6At(frame, ip.sourceOffset, ip.destinationOffset, IPPROTO_ICMPV6, ip.upperLength);
    expect(v.checksumValid(pseudo)).toBe(true);
    expect(v.isError).toBe(g.quoted !== undefined);
    const parsed = Icmpv6Message.parse(frame.subarray(0, ip.upperOffset + ip.upperLength), ip.upperOffset);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.value).toMatchObject({ kind: g.kind, ...g.extra });
    if (g.quoted) {
      const q = new Ipv6View();
      expect(q.bindQuoted(frame, v.bodyOffset, v.bodyLength)).toBe(0);
      expect([q.sourceString, q.destinationString, q.payloadLength, q.upperProtocol]).toEqual([g.quoted.source, g.quoted.destination, g.quoted.payloadLength, g.quoted.upperProtocol]);
    }
    const out = Uint8Array.from(frame);
    out.fill(0, ip.upperOffset);
    expect(Icmpv6Message.emit(parsed.value, out, ip.upperOffset)).toBe(ip.upperLength);
    expect(out).toEqual(frame);
    // the in-place writer recomputes the kernel's checksum
    out.fill(0, ip.upperOffset, ip.upperOffset + 8);
    expect(writeIcmpv6Message(out, ip.upperOffset, g.type, g.code, v.restOfHeader, v.bodyLength, pseudo)).toBe(ip.upperLength);
    expect(out).toEqual(frame);
  });

  it('a Packet Too Big quoting a truncated packet is bound with bindQuoted, not bind', () => {
    const frame = capturedFrame('icmpv6PacketTooBig');
    const body = ETH + 40 + 8;
    expect(new Ipv6View().bind(frame, body, frame.length - body)).toBe(1);
    const q = new Ipv6View();
    expect(q.bindQuoted(frame, body, frame.length - body)).toBe(0);
    expect(q.upperLength).toBe(frame.length - body - 40);
  });
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const body = fc.uint8Array({ maxLength: 48 });
const messageArb: fc.Arbitrary<Icmpv6MessageT> = fc.oneof(
  fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), identifier: u16, sequenceNumber: u16, checksum: u16, body }),
  fc.record({ kind: fc.constant('destination-unreachable' as const), code: fc.integer({ min: 0, max: 7 }), checksum: u16, body }),
  fc.record({ kind: fc.constant('packet-too-big' as const), mtu: fc.integer({ min: 0, max: 0xffffffff }), checksum: u16, body }),
  fc.record({ kind: fc.constant('time-exceeded' as const), code: fc.integer({ min: 0, max: 1 }), checksum: u16, body }),
  fc.record({ kind: fc.constant('parameter-problem' as const), code: fc.integer({ min: 0, max: 3 }), pointer: fc.integer({ min: 0, max: 0xffffffff }), checksum: u16, body }),
  fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(0, 5, 127, 130, 133, 134, 135, 136, 143, 200), code: fc.integer({ min: 0, max: 255 }), restOfHeader: fc.integer({ min: 0, max: 0xffffffff }), checksum: u16, body }),
);

describe('ICMPv6 properties', () => {
  it('round-trips at a non-zero offset', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(30), (m, off) => {
        const buf = new Uint8Array(off + Icmpv6Message.byteLength(m));
        Icmpv6Message.emit(m, buf, off);
        expect(Icmpv6Message.parse(buf, off)).toEqual({ ok: true, value: m, byteLength: buf.length - off });
      }),
    );
  });

  it.each(['icmpv6PacketTooBig', 'icmpv6ParamProblemNextHeader'] as const)('mutations of %s and its quoted packet never throw or read outside', (name) => {
    const frame = capturedFrame(name);
    const base = frame.slice(ETH + 40, ETH + 40 + 200);
    fc.assert(
      fc.property(mutatedPacket(base, [0, 1, 4, 7, 8, 12, 13, 14, 48, 49]), fc.integer({ min: 0, max: 0xffffffff }), (bytes, pseudo) => {
        const g = guardedBuffer(bytes);
        const v = new Icmpv6View();
        if (v.bind(g.buf, g.off, g.len) === 0) {
          readAllGetters(v);
          v.checksumValid(pseudo);
          const q = new Ipv6View();
          if (q.bindQuoted(g.buf, v.bodyOffset, v.bodyLength) === 0) readAllGetters(q);
        }
        Icmpv6Message.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});
