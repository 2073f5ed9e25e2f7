import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { guardedBuffer, mutatedPacket, readAllGetters } from '../../test/fixtures/wire/arbitraries.js';
import { pseudoHeaderSumV4At, pseudoHeaderSumV6At } from './checksum.js';
import { IPPROTO_TCP } from './ip-protocol.js';
import { Ipv4View } from './ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, TcpHeader, TcpView, type TcpHeader as TcpHeaderT, type TcpOption } from './tcp.js';

const ETH = 14;

/** The TCP segment of a captured frame, with its pseudo-header sum. */
function segment(name: CapturedName) {
  const frame = capturedFrame(name);
  if (frame[12] === 0x86 && frame[13] === 0xdd) {
    const len = (frame[ETH + 4] << 8) | frame[ETH + 5];
    return { frame, off: ETH + 40, len, pseudo: pseudoHeaderSumV6At(frame, ETH + 8, ETH + 24, IPPROTO_TCP, len) };
  }
  const ip = Ipv4View.checked(frame, ETH) as Ipv4View;
  return { frame, off: ip.payloadOffset, len: ip.payloadLength, pseudo: pseudoHeaderSumV4At(frame, ip.sourceOffset, ip.destinationOffset, IPPROTO_TCP, ip.payloadLength) };
}

const synOptions = (mss: number, tsval: number, tsecr: number): TcpOption[] => [
  { kind: 'mss', mss },
  { kind: 'sack-permitted' },
  { kind: 'timestamps', value: tsval, echoReply: tsecr },
  { kind: 'nop' },
  { kind: 'window-scale', shift: 10 },
];
const dataOptions = (tsval: number, tsecr: number): TcpOption[] => [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', value: tsval, echoReply: tsecr }];

// From `tshark -T fields -e tcp.srcport ... -e tcp.option_kind` on each captured frame.
const golden: { name: CapturedName; header: TcpHeaderT; headerLength: number; payloadLength: number; mss: number }[] = [
  { name: 'tcpSyn', headerLength: 40, payloadLength: 0, mss: 960, header: { sourcePort: 56890, destinationPort: 8080, sequenceNumber: 2772125965, acknowledgmentNumber: 0, flags: TCP_SYN, window: 65280, checksum: 0x4336, urgentPointer: 0, options: synOptions(960, 359854486, 0) } },
  { name: 'tcpSynAck', headerLength: 40, payloadLength: 0, mss: 1240, header: { sourcePort: 8080, destinationPort: 56890, sequenceNumber: 304239953, acknowledgmentNumber: 2772125966, flags: TCP_SYN | TCP_ACK, window: 65084, checksum: 0xcf82, urgentPointer: 0, options: synOptions(1240, 3388359140, 359854486) } },
  { name: 'tcpData', headerLength: 32, payloadLength: 6, mss: -1, header: { sourcePort: 56890, destinationPort: 8080, sequenceNumber: 2772125966, acknowledgmentNumber: 304239954, flags: TCP_PSH | TCP_ACK, window: 64, checksum: 0xb787, urgentPointer: 0, options: dataOptions(359854487, 3388359140) } },
  { name: 'tcpFinAck', headerLength: 32, payloadLength: 0, mss: -1, header: { sourcePort: 56890, destinationPort: 8080, sequenceNumber: 2772125972, acknowledgmentNumber: 304239961, flags: TCP_FIN | TCP_ACK, window: 64, checksum: 0xfb60, urgentPointer: 0, options: dataOptions(359854488, 3388359142) } },
  { name: 'tcp6Syn', headerLength: 40, payloadLength: 0, mss: 1220, header: { sourcePort: 38936, destinationPort: 8080, sequenceNumber: 1022193302, acknowledgmentNumber: 0, flags: TCP_SYN, window: 64660, checksum: 0x94f7, urgentPointer: 0, options: synOptions(1220, 1395656209, 0) } },
];

describe('TCP golden segments (captured)', () => {
  it.each(golden)('$name: fields and options match tshark, checksum verifies, re-encodes byte for byte', (g) => {
    const { frame, off, len, pseudo } = segment(g.name);
    const v = TcpView.checked(frame, off, len);
    if (typeof v === 'string') throw new Error(v);
    expect(v.headerLength).toBe(g.headerLength);
    expect(v.payloadLength).toBe(g.payloadLength);
    expect(v.mss).toBe(g.mss);
    expect(v.syn).toBe((g.header.flags & TCP_SYN) !== 0);
    expect(v.checksumValid(pseudo)).toBe(true);
    const parsed = TcpHeader.parse(frame.subarray(0, off + len), off);
    expect(parsed).toEqual({ ok: true, value: g.header, byteLength: g.headerLength });
    const out = Uint8Array.from(frame);
    out.fill(0, off, off + g.headerLength);
    expect(TcpHeader.emit(g.header, out, off)).toBe(g.headerLength);
    expect(out).toEqual(frame);
    // fillChecksum recomputes exactly what the kernel sent
    v.checksum = 0;
    v.fillChecksum(pseudo);
    expect(v.checksum).toBe(g.header.checksum);
  });

  it('clampMss lowers the captured SYN MSS 960 -> 900, returns the option offset, and keeps the checksum valid', () => {
    const { frame, off, len, pseudo } = segment('tcpSyn');
    const v = TcpView.checked(frame, off, len) as TcpView;
    expect(v.mssOptionOffset).toBe(off + 20);
    expect(v.clampMss(1400)).toBe(-1);
    expect(v.clampMss(900)).toBe(off + 20);
    expect(v.mss).toBe(900);
    expect(v.checksumValid(pseudo)).toBe(true);
    expect(TcpView.checked(frame, off, len)).toBeInstanceOf(TcpView);
  });
});

describe('TCP validation', () => {
  const seg = () => {
    const { frame, off, len } = segment('tcpSyn');
    return frame.slice(off, off + len);
  };
  it.each([
    { description: '19 bytes', edit: (b: Uint8Array) => b.subarray(0, 19), error: 'truncated' },
    { description: 'data offset 4', edit: (b: Uint8Array) => ((b[12] = 0x40), b), error: 'bad-offset' },
    { description: 'data offset beyond the segment', edit: (b: Uint8Array) => ((b[12] = 0xf0), b), error: 'bad-offset' },
    { description: 'MSS option of length 5', edit: (b: Uint8Array) => ((b[21] = 5), b), error: 'bad-option' },
    { description: 'option length 1', edit: (b: Uint8Array) => ((b[21] = 1), b), error: 'bad-option' },
    { description: 'window-scale length running past the header', edit: (b: Uint8Array) => ((b[38] = 40), b), error: 'bad-option' },
    { description: 'sack-permitted of length 3', edit: (b: Uint8Array) => ((b[25] = 3), b), error: 'bad-option' },
  ])('$description -> $error', ({ edit, error }) => {
    expect(TcpView.checked(edit(seg()))).toBe(error);
    expect(TcpHeader.parse(edit(seg()))).toEqual({ ok: false, error });
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant({ kind: 'nop' as const }),
  u16.map((mss) => ({ kind: 'mss' as const, mss })),
  fc.integer({ min: 0, max: 14 }).map((shift) => ({ kind: 'window-scale' as const, shift })),
  fc.constant({ kind: 'sack-permitted' as const }),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 3 }).map((blocks) => ({ kind: 'sack' as const, blocks })),
  fc.tuple(u32, u32).map(([value, echoReply]) => ({ kind: 'timestamps' as const, value, echoReply })),
  fc.tuple(fc.integer({ min: 9, max: 253 }), fc.uint8Array({ maxLength: 6 })).map(([type, data]) => ({ kind: 'unknown' as const, type, data })),
);
const headerArb: fc.Arbitrary<TcpHeaderT> = fc.record({
  sourcePort: u16,
  destinationPort: u16,
  sequenceNumber: u32,
  acknowledgmentNumber: u32,
  flags: fc.integer({ min: 0, max: 255 }),
  window: u16,
  checksum: u16,
  urgentPointer: u16,
  // options that fit in 40 bytes and need no padding beyond zeros (an 'end' if padded)
  options: fc.array(optionArb, { maxLength: 5 }).filter((o) => TcpHeader.byteLength({ options: o } as TcpHeaderT) <= 60),
});

// Option sizes written out independently of tcp.ts: kind+len+data, NOP one byte.
function rawOptionBytes(options: TcpOption[]): number {
  const size = { nop: 1, end: 1, mss: 4, 'window-scale': 3, 'sack-permitted': 2, timestamps: 10 } as Record<string, number>;
  return options.reduce((n, o) => n + (o.kind === 'sack' ? 2 + 8 * o.blocks.length : o.kind === 'unknown' ? 2 + o.data.length : size[o.kind]), 0);
}

describe('TCP properties', () => {
  it('parse -> emit -> parse round-trips at a non-zero offset (padding reads back as END)', () => {
    fc.assert(
      fc.property(headerArb, fc.nat(40), (h, off) => {
        const n = TcpHeader.byteLength(h);
        const buf = new Uint8Array(off + n + 4);
        expect(TcpHeader.emit(h, buf, off)).toBe(n);
        const back = TcpHeader.parse(buf.subarray(0, off + n), off);
        if (!back.ok) throw new Error(back.error);
        const expected = rawOptionBytes(h.options) < n - 20 ? [...h.options, { kind: 'end' }] : h.options;
        expect(back.value).toEqual({ ...h, options: expected });
        const again = new Uint8Array(n);
        TcpHeader.emit(back.value, again, 0);
        expect(again).toEqual(buf.subarray(off, off + n));
      }),
    );
  });

  it('clampMss keeps the checksum equal to a full recompute wherever the MSS option sits (odd or even)', () => {
    fc.assert(
      fc.property(fc.nat(3), fc.integer({ min: 537, max: 0xffff }), fc.integer({ min: 536, max: 0xfffe }), fc.uint8Array({ maxLength: 30 }), u32, (nops, mss, max, payload, pseudo) => {
        const options: TcpOption[] = [...Array(nops).fill({ kind: 'nop' }), { kind: 'mss', mss }];
        const h: TcpHeaderT = { sourcePort: 1, destinationPort: 2, sequenceNumber: 3, acknowledgmentNumber: 0, flags: TCP_SYN, window: 100, checksum: 0, urgentPointer: 0, options };
        const hl = TcpHeader.byteLength(h);
        const buf = new Uint8Array(3 + hl + payload.length);
        TcpHeader.emit(h, buf, 3);
        buf.set(payload, 3 + hl);
        const v = TcpView.checked(buf, 3) as TcpView;
        v.fillChecksum(pseudo);
        const changed = v.clampMss(max);
        expect(changed >= 0).toBe(mss > max);
        expect(v.mss).toBe(Math.min(mss, max));
        const incremental = v.checksum;
        v.fillChecksum(pseudo);
        expect(incremental).toBe(v.checksum);
      }),
    );
  });

  it.each(['tcpSyn', 'tcpData', 'tcp6Syn'] as const)('mutations of %s never throw or read outside the segment', (name) => {
    const { frame, off, len } = segment(name);
    const base = frame.slice(off, off + len);
    fc.assert(
      fc.property(mutatedPacket(base, [12, 20, 21, 22, 23, 24, 25, 26, 27, 36, 37]), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new TcpView();
        if (v.bind(g.buf, g.off, g.len) === 0) {
          readAllGetters(v);
          v.clampMss(536);
          v.checksumValid(0);
        }
        TcpHeader.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const g = guardedBuffer(bytes);
        const v = new TcpView();
        if (v.bind(g.buf, g.off, g.len) === 0) readAllGetters(v);
        TcpHeader.parse(bytes);
        expect(g.outside()).toEqual([]);
      }),
    );
  });
});
