import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetHeader, EthernetView, parseMac } from './ethernet.js';

describe('Ethernet golden frames (captured)', () => {
  it.each([
    // tshark: Dst ff:ff:ff:ff:ff:ff, Src 02:00:00:77:00:01, Type ARP (0x0806)
    { name: 'arpRequest' as const, destination: 'ff:ff:ff:ff:ff:ff', source: '02:00:00:77:00:01', etherType: ETHERTYPE_ARP, multicast: true },
    // tshark: Dst 02:00:00:77:00:01, Src 02:00:00:77:00:02, Type IPv4 (0x0800)
    { name: 'icmpEchoReply' as const, destination: '02:00:00:77:00:01', source: '02:00:00:77:00:02', etherType: ETHERTYPE_IPV4, multicast: false },
    // tshark: Dst 33:33:00:00:00:16 (IPv6 multicast), Type IPv6 (0x86dd)
    { name: 'mldv2ReportHopByHop' as const, destination: '33:33:00:00:00:16', source: '02:00:00:77:00:01', etherType: ETHERTYPE_IPV6, multicast: true },
  ])('$name decodes as tshark shows and re-encodes byte for byte', ({ name, destination, source, etherType, multicast }) => {
    const frame = capturedFrame(name);
    const v = EthernetView.checked(frame);
    if (typeof v === 'string') throw new Error(v);
    expect(v.destinationString).toBe(destination);
    expect(v.sourceString).toBe(source);
    expect(v.etherType).toBe(etherType);
    expect(v.isMulticastDestination).toBe(multicast);
    expect(v.payloadOffset).toBe(14);
    expect(v.payloadLength).toBe(frame.length - 14);
    const parsed = EthernetHeader.parse(frame);
    expect(parsed).toEqual({ ok: true, value: { destination, source, etherType }, byteLength: 14 });
    const out = Uint8Array.from(frame);
    out.fill(0, 0, 14);
    expect(EthernetHeader.emit(parsed.ok ? parsed.value : (null as never), out, 0)).toBe(14);
    expect(out).toEqual(frame);
  });

  it('view setters rewrite MACs and type in place', () => {
    const frame = capturedFrame('icmpEchoRequest');
    const v = EthernetView.checked(frame) as EthernetView;
    v.setDestination(parseMac('02:aa:bb:cc:dd:ee')!);
    v.setSource(parseMac('02-11-22-33-44-55')!);
    v.etherType = ETHERTYPE_IPV6;
    expect(EthernetHeader.parse(frame)).toMatchObject({ value: { destination: '02:aa:bb:cc:dd:ee', source: '02:11:22:33:44:55', etherType: 0x86dd } });
    expect(v.destinationEquals(parseMac('02:aa:bb:cc:dd:ee')!)).toBe(true);
  });
});

describe('Ethernet errors and properties', () => {
  it('rejects a 13-byte frame as truncated, and a bad MAC string on emit', () => {
    expect(EthernetView.checked(new Uint8Array(13))).toBe('truncated');
    expect(EthernetHeader.parse(new Uint8Array(20), 7)).toEqual({ ok: false, error: 'truncated' });
    expect(() => EthernetHeader.emit({ destination: 'nope', source: BROADCAST, etherType: 0 }, new Uint8Array(14))).toThrow(/not a MAC/);
    expect(() => EthernetHeader.emit({ destination: BROADCAST, source: BROADCAST, etherType: 0 }, new Uint8Array(13))).toThrow(RangeError);
  });

  it('round-trips parse -> emit -> parse at a non-zero offset', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
    fc.assert(
      fc.property(mac, mac, fc.integer({ min: 0, max: 0xffff }), fc.nat({ max: 40 }), (destination, source, etherType, off) => {
        const h = { destination, source, etherType };
        const buf = new Uint8Array(off + EthernetHeader.byteLength(h) + 5);
        expect(EthernetHeader.emit(h, buf, off)).toBe(14);
        expect(EthernetHeader.parse(buf, off)).toEqual({ ok: true, value: h, byteLength: 14 });
      }),
    );
  });

  it('arbitrary bytes never throw and never read outside the frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new EthernetView();
        if (v.bind(g.buf, g.off, g.len) === 0) readAllGetters(v);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});

const BROADCAST = 'ff:ff:ff:ff:ff:ff';

describe('guardedBuffer (the out-of-range detector the properties rely on)', () => {
  it('reports a read one past the packet and one before it', () => {
    const g = guardedBuffer(new Uint8Array(14));
    void g.buf[g.off + g.len];
    void g.buf[g.off - 1];
    void g.buf[g.off];
    expect(g.outside()).toEqual([g.off + g.len, g.off - 1]);
  });
  it('catches a view bound past the packet end', () => {
    const g = guardedBuffer(new Uint8Array(14));
    const v = new EthernetView();
    expect(v.bind(g.buf, g.off + 2, g.len)).toBe(0); // the backing array is longer; the packet is not
    readAllGetters(v);
    expect(g.outside().length).toBeGreaterThan(0);
  });
});
