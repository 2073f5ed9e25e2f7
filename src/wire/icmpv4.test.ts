import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REQUEST,
  ICMP_FRAGMENTATION_NEEDED,
  ICMP_PARAMETER_PROBLEM,
  ICMP_TIME_EXCEEDED,
  Icmpv4Message,
  Icmpv4View,
  writeIcmpv4Error,
  type Icmpv4Message as Icmpv4MessageT,
} from './icmpv4.js';
import { IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_UDP } from './ip-protocol.js';
import { parseIpv4 } from './ipv4-address.js';
import { Ipv4View } from './ipv4.js';
import { UdpView } from './udp.js';

const ICMP_OFF = 14 + 20;

// `tshark -T fields -e icmp.type -e icmp.code -e icmp.checksum -e icmp.ident -e icmp.seq
// -e icmp.mtu -e icmp.pointer -e ip.src -e ip.dst -e ip.proto -e ip.len` per frame; the
// second values are tshark's decode of the quoted datagram.
const golden: { name: CapturedName; type: number; code: number; checksum: number; kind: Icmpv4MessageT['kind']; extra: Record<string, number>; quoted?: { source: string; destination: string; protocol: number; totalLength: number; present: number } }[] = [
  { name: 'icmpEchoRequest', type: ICMP_ECHO_REQUEST, code: 0, checksum: 0x7767, kind: 'echo-request', extra: { identifier: 11909, sequenceNumber: 1 } },
  { name: 'icmpFragNeeded', type: ICMP_DEST_UNREACHABLE, code: ICMP_FRAGMENTATION_NEEDED, checksum: 0x73e1, kind: 'destination-unreachable', extra: { nextHopMtu: 1000 }, quoted: { source: '10.77.0.1', destination: '10.78.0.2', protocol: IPPROTO_ICMP, totalLength: 1228, present: 548 } },
  { name: 'icmpTimeExceeded', type: ICMP_TIME_EXCEEDED, code: 0, checksum: 0xf4ff, kind: 'time-exceeded', extra: {}, quoted: { source: '10.77.0.1', destination: '10.78.0.2', protocol: IPPROTO_ICMP, totalLength: 84, present: 84 } },
  { name: 'icmpPortUnreachable', type: ICMP_DEST_UNREACHABLE, code: 3, checksum: 0x11bd, kind: 'destination-unreachable', extra: { nextHopMtu: 0 }, quoted: { source: '10.77.0.1', destination: '10.78.0.2', protocol: IPPROTO_UDP, totalLength: 37, present: 37 } },
  { name: 'icmpProtocolUnreachable', type: ICMP_DEST_UNREACHABLE, code: 2, checksum: 0xfcfd, kind: 'destination-unreachable', extra: { nextHopMtu: 0 }, quoted: { source: '10.77.0.1', destination: '10.78.0.2', protocol: IPPROTO_IPIP, totalLength: 59, present: 59 } },
  { name: 'icmpParamProblem', type: ICMP_PARAMETER_PROBLEM, code: 0, checksum: 0x1ba9, kind: 'parameter-problem', extra: { pointer: 21 }, quoted: { source: '10.77.0.1', destination: '10.78.0.2', protocol: IPPROTO_UDP, totalLength: 32, present: 32 } },
];

describe('ICMPv4 golden messages (captured)', () => {
  it.each(golden)('$name: header, quoted datagram and re-encoding match the capture', (g) => {
    const frame = capturedFrame(g.name);
    const ip = Ipv4View.checked(frame, 14) as Ipv4View;
    const v = Icmpv4View.checked(frame, ip.payloadOffset, ip.payloadLength);
    if (typeof v === 'string') throw new Error(v);
    expect([v.type, v.code, v.checksum]).toEqual([g.type, g.code, g.checksum]);
    expect(v.checksumValid).toBe(true);
    expect(v.isError).toBe(g.quoted !== undefined);
    const parsed = Icmpv4Message.parse(frame.subarray(0, ip.payloadOffset + ip.payloadLength), ip.payloadOffset);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.value).toMatchObject({ kind: g.kind, ...g.extra });
    if (g.quoted) {
      const q = new Ipv4View();
      expect(q.bindQuoted(frame, v.bodyOffset, v.bodyLength)).toBe(0);
      expect(q.source).toBe(parseIpv4(g.quoted.source));
      expect(q.destination).toBe(parseIpv4(g.quoted.destination));
      expect(q.protocol).toBe(g.quoted.protocol);
      expect(q.totalLength).toBe(g.quoted.totalLength);
      expect(q.quotedPayloadLength + q.headerLength).toBe(g.quoted.present);
      if (g.quoted.totalLength > g.quoted.present) expect(new Ipv4View().bind(frame, v.bodyOffset, v.bodyLength)).toBe(1);
    }
    const out = Uint8Array.from(frame);
    out.fill(0, ip.payloadOffset);
    expect(Icmpv4Message.emit(parsed.value, out, ip.payloadOffset)).toBe(ip.payloadLength);
    expect(out).toEqual(frame);
  });

  it('the quoted UDP header of the port-unreachable names the original ports (46972 -> 9999)', () => {
    const frame = capturedFrame('icmpPortUnreachable');
    const q = new Ipv4View();
    expect(q.bindQuoted(frame, ICMP_OFF + 8, frame.length - ICMP_OFF - 8)).toBe(0);
    const u = UdpView.checked(frame, q.payloadOffset, q.quotedPayloadLength) as UdpView;
    expect([u.sourcePort, u.destinationPort]).toEqual([46972, 9999]);
  });

  it('writeIcmpv4Error rebuilds the router\'s frag-needed (MTU 1000) byte for byte from its quoted bytes', () => {
    const frame = capturedFrame('icmpFragNeeded');
    const out = Uint8Array.from(frame);
    out.fill(0xee, ICMP_OFF, ICMP_OFF + 8);
    const quoted = frame.length - ICMP_OFF - 8;
    expect(writeIcmpv4Error(out, ICMP_OFF, ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, 1000, quoted)).toBe(quoted + 8);
    expect(out).toEqual(frame);
    expect(writeIcmpv4Error(out, ICMP_OFF, 3, 4, 1000, quoted + 1)).toBe(0);
  });

  it('parse reports a corrupted message as bad-checksum; 7 bytes as truncated', () => {
    const frame = capturedFrame('icmpEchoRequest');
    frame[ICMP_OFF + 9] ^= 0x40;
    expect(Icmpv4Message.parse(frame, ICMP_OFF)).toEqual({ ok: false, error: 'bad-checksum' });
    expect(Icmpv4View.checked(new Uint8Array(7))).toBe('truncated');
  });
});

const messageArb: fc.Arbitrary<Icmpv4MessageT> = fc.oneof(
  fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), identifier: fc.integer({ min: 0, max: 0xffff }), sequenceNumber: fc.integer({ min: 0, max: 0xffff }), body: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('destination-unreachable' as const), code: fc.integer({ min: 0, max: 15 }), nextHopMtu: fc.integer({ min: 0, max: 0xffff }), body: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('time-exceeded' as const), code: fc.integer({ min: 0, max: 1 }), body: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('parameter-problem' as const), code: fc.integer({ min: 0, max: 2 }), pointer: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(5, 9, 10, 13, 14, 40), code: fc.integer({ min: 0, max: 255 }), restOfHeader: fc.integer({ min: 0, max: 0xffffffff }), body: fc.uint8Array({ maxLength: 64 }) }),
);

describe('ICMPv4 properties', () => {
  it('round-trips at a non-zero offset', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(30), (m, off) => {
        const buf = new Uint8Array(off + Icmpv4Message.byteLength(m));
        Icmpv4Message.emit(m, buf, off);
        expect(Icmpv4Message.parse(buf, off)).toEqual({ ok: true, value: m, byteLength: buf.length - off });
      }),
    );
  });

  it.each(['icmpFragNeeded', 'icmpParamProblem', 'icmpPortUnreachable'] as const)('mutations of %s (and its quoted datagram) never throw or read outside', (name) => {
    const base = capturedFrame(name).subarray(ICMP_OFF);
    fc.assert(
      fc.property(mutatedPacket(base, [0, 1, 8, 10, 11, 28, 32, 33]), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new Icmpv4View();
        if (v.bind(g.buf, g.off, g.len) === 0) {
          readAllGetters(v);
          const q = new Ipv4View();
          if (q.bindQuoted(g.buf, v.bodyOffset, v.bodyLength) === 0) {
            readAllGetters(q);
            expect(q.payloadOffset + q.quotedPayloadLength).toBeLessThanOrEqual(g.off + g.len);
          }
        }
        Icmpv4Message.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});
