import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ArpPacket, ArpView } from './arp.js';
import { parseMac } from './ethernet.js';
import { parseIpv4 } from './ipv4-address.js';

const request = {
  // tshark: Who has 10.77.0.2? Tell 10.77.0.1 (opcode 1, target MAC 00:00:00:00:00:00)
  operation: ARP_OP_REQUEST,
  senderHardwareAddress: '02:00:00:77:00:01',
  senderProtocolAddress: '10.77.0.1',
  targetHardwareAddress: '00:00:00:00:00:00',
  targetProtocolAddress: '10.77.0.2',
};
const reply = {
  // tshark: 10.77.0.2 is at 02:00:00:77:00:02 (opcode 2)
  operation: ARP_OP_REPLY,
  senderHardwareAddress: '02:00:00:77:00:02',
  senderProtocolAddress: '10.77.0.2',
  targetHardwareAddress: '02:00:00:77:00:01',
  targetProtocolAddress: '10.77.0.1',
};

describe('ARP golden packets (captured)', () => {
  it.each([
    { name: 'arpRequest' as const, expected: request },
    { name: 'arpReply' as const, expected: reply },
  ])('$name decodes and re-encodes byte for byte', ({ name, expected }) => {
    const frame = capturedFrame(name);
    const parsed = ArpPacket.parse(frame, 14);
    expect(parsed).toEqual({ ok: true, value: expected, byteLength: 28 });
    const out = new Uint8Array(frame.length);
    out.set(frame.subarray(0, 14));
    ArpPacket.emit(expected, out, 14);
    expect(out).toEqual(frame);
    const v = ArpView.checked(frame, 14) as ArpView;
    expect(v.senderProtocolAddress).toBe(parseIpv4(expected.senderProtocolAddress));
    expect(v.targetProtocolAddress).toBe(parseIpv4(expected.targetProtocolAddress));
  });

  it('makeReplyInPlace turns the captured request into exactly the captured reply', () => {
    const req = capturedFrame('arpRequest');
    const v = ArpView.checked(req, 14) as ArpView;
    v.makeReplyInPlace(parseMac('02:00:00:77:00:02')!);
    expect(req.subarray(14)).toEqual(capturedFrame('arpReply').subarray(14));
  });
});

describe('ARP errors and properties', () => {
  it('rejects short, non-Ethernet and non-IPv4 packets with distinct codes', () => {
    const p = capturedFrame('arpRequest').subarray(14);
    expect(ArpView.checked(p.subarray(0, 27))).toBe('truncated');
    const hw = Uint8Array.from(p); hw[1] = 6;
    expect(ArpView.checked(hw)).toBe('bad-hardware-type');
    const pt = Uint8Array.from(p); pt[5] = 16;
    expect(ArpView.checked(pt)).toBe('bad-protocol-type');
  });

  it('round-trips at a non-zero offset', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    fc.assert(
      fc.property(fc.record({ operation: fc.integer({ min: 0, max: 0xffff }), senderHardwareAddress: mac, senderProtocolAddress: ip, targetHardwareAddress: mac, targetProtocolAddress: ip }), fc.nat(30), (p, off) => {
        const buf = new Uint8Array(off + ArpPacket.byteLength(p));
        ArpPacket.emit(p, buf, off);
        expect(ArpPacket.parse(buf, off)).toEqual({ ok: true, value: p, byteLength: 28 });
      }),
    );
  });

  it('mutated real packets never throw and never read outside the packet', () => {
    const base = capturedFrame('arpRequest').subarray(14);
    fc.assert(
      fc.property(mutatedPacket(base, [0, 1, 2, 3, 4, 5]), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new ArpView();
        const code = v.bind(g.buf, g.off, g.len);
        if (code === 0) readAllGetters(v);
        else expect(['truncated', 'bad-hardware-type', 'bad-protocol-type']).toContain(ArpPacket.parse(bytes).ok ? '' : (ArpPacket.parse(bytes) as { error: string }).error);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
