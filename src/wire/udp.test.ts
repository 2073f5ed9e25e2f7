import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { pseudoHeaderSumV4At, pseudoHeaderSumV6At } from './checksum.js';
import { IPPROTO_UDP } from './ip-protocol.js';
import { UdpHeader, UdpView } from './udp.js';

const ETH = 14;

// `tshark -T fields -e udp.srcport -e udp.dstport -e udp.length -e udp.checksum`; udpOffset
// from the IP layer (IPv6 hop-by-hop frame: 40 + 8-byte extension header).
const golden: { name: CapturedName; ip: 4 | 6; udpOffset: number; sourcePort: number; destinationPort: number; length: number; checksum: number; payload: string }[] = [
  { name: 'udp4', ip: 4, udpOffset: ETH + 20, sourcePort: 46972, destinationPort: 9999, length: 17, checksum: 0xce27, payload: 'vstun-udp' },
  { name: 'udp6', ip: 6, udpOffset: ETH + 40, sourcePort: 58186, destinationPort: 9999, length: 18, checksum: 0xbbcb, payload: 'vstun-udp6' },
  { name: 'ipv6HopByHopUdp', ip: 6, udpOffset: ETH + 48, sourcePort: 33425, destinationPort: 9998, length: 17, checksum: 0x31c0, payload: 'vstun-hbh' },
];

describe('UDP golden datagrams (captured)', () => {
  it.each(golden)('$name: fields match tshark, checksum verifies, re-encodes byte for byte', (g) => {
    const frame = capturedFrame(g.name);
    const v = UdpView.checked(frame, g.udpOffset);
    if (typeof v === 'string') throw new Error(v);
    expect([v.sourcePort, v.destinationPort, v.length, v.checksum]).toEqual([g.sourcePort, g.destinationPort, g.length, g.checksum]);
    expect(Buffer.from(frame.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength)).toString()).toBe(g.payload);
    const pseudo = g.ip === 4 ? pseudoHeaderSumV4At(frame, ETH + 12, ETH + 16, IPPROTO_UDP, g.length) : pseudoHeaderSumV6At(frame, ETH + 8, ETH + 24, IPPROTO_UDP, g.length);
    expect(v.checksumValid(pseudo)).toBe(true);
    v.fillChecksum(pseudo);
    expect(v.checksum).toBe(g.checksum);
    const parsed = UdpHeader.parse(frame, g.udpOffset);
    expect(parsed).toEqual({ ok: true, value: { sourcePort: g.sourcePort, destinationPort: g.destinationPort, payloadLength: g.length - 8, checksum: g.checksum }, byteLength: 8 });
    const out = Uint8Array.from(frame);
    out.fill(0, g.udpOffset, g.udpOffset + 8);
    UdpHeader.emit(parsed.ok ? parsed.value : (null as never), out, g.udpOffset);
    expect(out).toEqual(frame);
  });

  it('a zero checksum means "none" and never verifies; a computed zero is sent as 0xffff', () => {
    const d = new Uint8Array(8);
    UdpHeader.emit({ sourcePort: 0, destinationPort: 0, payloadLength: 0, checksum: 0 }, d);
    const v = UdpView.checked(d) as UdpView;
    expect(v.hasChecksum).toBe(false);
    expect(v.checksumValid(0)).toBe(false);
    // header words sum to 8 (the length); a pseudo-header sum of 0xfff7 makes the total 0xffff -> checksum 0
    v.fillChecksum(0xfff7);
    expect(v.checksum).toBe(0xffff);
    expect(v.checksumValid(0xfff7)).toBe(true);
  });
});

describe('UDP validation and properties', () => {
  it.each([
    { description: '7 bytes', bytes: [0, 1, 0, 2, 0, 8, 0], error: 'truncated' },
    { description: 'length 7', bytes: [0, 1, 0, 2, 0, 7, 0, 0], error: 'bad-length' },
    { description: 'length past the buffer', bytes: [0, 1, 0, 2, 0, 9, 0, 0], error: 'truncated' },
  ])('$description -> $error', ({ bytes, error }) => {
    expect(UdpView.checked(Uint8Array.from(bytes))).toBe(error);
  });

  it('round-trips at a non-zero offset', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(u16, u16, fc.nat(100), u16, fc.nat(20), (sourcePort, destinationPort, payloadLength, checksum, off) => {
        const h = { sourcePort, destinationPort, payloadLength, checksum };
        const buf = new Uint8Array(off + 8 + payloadLength);
        UdpHeader.emit(h, buf, off);
        expect(UdpHeader.parse(buf, off)).toEqual({ ok: true, value: h, byteLength: 8 });
      }),
    );
  });

  it('mutations of a real datagram never throw or read outside it', () => {
    const base = capturedFrame('udp4').subarray(ETH + 20);
    fc.assert(
      fc.property(mutatedPacket(base, [4, 5]), fc.integer({ min: 0, max: 0xffffffff }), (bytes, pseudo) => {
        const g = guardedBuffer(bytes);
        const v = new UdpView();
        if (v.bind(g.buf, g.off, g.len) === 0) {
          readAllGetters(v);
          v.checksumValid(pseudo);
        }
        UdpHeader.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
