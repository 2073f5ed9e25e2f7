import fc from 'fast-check';
import { ringBatch } from '../../test/fixtures/offload/ring-batch.js';
import { describe, expect, it } from 'vitest';
import { META_FAMILY, META_FLAG_VNET_HDR, META_LENGTH, META_OFFSET, META_STRIDE } from '../native/addon.js';
import { segmentGso } from '../device/gso-segment.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../wire/tcp.js';
import { naivePacket, payloadOf, V4A, V4B, V6A, V6B, type NaivePacket } from '../../test/fixtures/offload/naive-packets.js';
import { FakeDevice } from '../device/fake-device.js';
import { TcpCoalescer } from './gro-coalesce.js';
import { foldSum, pseudoHeaderSumV4At, pseudoHeaderSumV6At } from '../wire/checksum.js';

const VLEN = 12;
const SLOT = 2048;
const HEADROOM = 64;
const TS = [1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 9];

/** Lays packets out as a decap batch would: one per slot, behind some headroom. */
function batchOf(packets: Uint8Array[]): { data: Uint8Array; meta: Int32Array } {
  return ringBatch(packets, HEADROOM, SLOT);
}

/** Runs the coalescer; returns each output as [virtio header bytes, packet bytes] (hex), or null when it declined. */
function coalesce(packets: Uint8Array[], gro = new TcpCoalescer(VLEN)): [string, string][] | null {
  const { data, meta } = batchOf(packets);
  const n = gro.coalesce(data, meta, packets.length);
  if (n === 0) return null;
  const out: [string, string][] = [];
  for (let k = 0; k < n; k++) {
    expect(gro.meta[k * META_STRIDE + META_FAMILY]).toBe(META_FLAG_VNET_HDR);
    const off = gro.meta[k * META_STRIDE + META_OFFSET];
    const len = gro.meta[k * META_STRIDE + META_LENGTH];
    out.push([hex(gro.buf.subarray(off, off + VLEN)), hex(gro.buf.subarray(off + VLEN, off + len))]);
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const le16 = (v: number) => [v & 0xff, v >> 8];
/** The virtio header we expect for a merged TCP packet (hand-built, little-endian fields). */
function gsoHeader(v: 4 | 6, hdrLen: number, gsoSize: number): string {
  const ipLen = v === 4 ? 20 : 40;
  return hex(Uint8Array.from([1, v === 4 ? 1 : 4, ...le16(hdrLen), ...le16(gsoSize), ...le16(ipLen), 16, 0, 0, 0]));
}
const ZERO = '00'.repeat(VLEN);

const flowA: NaivePacket = { v: 4, proto: 'tcp', src: V4A, dst: V4B, sport: 41000, dport: 80, id: 100, seq: 1000, ack: 5, flags: TCP_ACK, options: TS, payload: new Uint8Array(0) };
const flowB: NaivePacket = { ...flowA, sport: 41001, seq: 900000 };
const flow6: NaivePacket = { ...flowA, v: 6, src: V6A, dst: V6B };

/** `count` consecutive segments of `mss` bytes (the last `last` bytes) of a flow, as TSO would cut them. */
function run(base: NaivePacket, count: number, mss: number, last = mss, flagsLast = TCP_ACK): { segs: Uint8Array[]; payload: Uint8Array } {
  const payload = payloadOf(mss * (count - 1) + last, base.sport + (base.seq ?? 0));
  const segs: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const p = payload.slice(k * mss, Math.min(payload.length, (k + 1) * mss));
    segs.push(naivePacket({ ...base, id: ((base.id ?? 0) + k) & 0xffff, seq: ((base.seq ?? 0) + k * mss) >>> 0, flags: k === count - 1 ? flagsLast : TCP_ACK, payload: p }));
  }
  return { segs, payload };
}

describe('user-space GRO: merges (golden super-packets built independently)', () => {
  it.each([
    { description: 'IPv4: three full + one short segment with PSH -> one super-packet carrying PSH', base: flowA, count: 4, mss: 1448, last: 300, flagsLast: TCP_ACK | TCP_PSH },
    { description: 'IPv6: two full segments', base: flow6, count: 2, mss: 1428, last: 1428, flagsLast: TCP_ACK },
    { description: 'IPv4 without options, sequence wrapping past 2^32', base: { ...flowA, options: [], seq: 0xfffffc00 }, count: 3, mss: 1000, last: 1000, flagsLast: TCP_ACK },
  ])('$description', ({ base, count, mss, last, flagsLast }) => {
    const { segs, payload } = run(base, count, mss, last, flagsLast);
    const want = naivePacket({ ...base, flags: flagsLast, payload, csum: 'partial' });
    const hdrLen = (base.v === 4 ? 20 : 40) + 20 + (base.options?.length ?? 0);
    expect(coalesce(segs)).toEqual([[gsoHeader(base.v, hdrLen, mss), hex(want)]]);
  });

  it('two interleaved flows: one super-packet each, in order of first appearance', () => {
    const a = run(flowA, 3, 1000);
    const b = run(flowB, 2, 1200);
    const out = coalesce([a.segs[0], b.segs[0], a.segs[1], b.segs[1], a.segs[2]])!;
    expect(out.map(([h]) => h)).toEqual([gsoHeader(4, 52, 1000), gsoHeader(4, 52, 1200)]);
    expect(out[0][1]).toBe(hex(naivePacket({ ...flowA, payload: a.payload, csum: 'partial' })));
    expect(out[1][1]).toBe(hex(naivePacket({ ...flowB, payload: b.payload, csum: 'partial' })));
  });

  it('PSH in the middle ends the run; the next segments start another', () => {
    const { segs } = run(flowA, 4, 1000);
    const withPsh = naivePacket({ ...flowA, id: 101, seq: 2000, flags: TCP_ACK | TCP_PSH, payload: payloadOf(1000, 7) });
    const out = coalesce([segs[0], withPsh, naivePacket({ ...flowA, id: 102, seq: 3000, payload: payloadOf(1000, 8) }), naivePacket({ ...flowA, id: 103, seq: 4000, payload: payloadOf(1000, 9) })])!;
    expect(out).toHaveLength(2);
    expect(out[0][1].slice(66, 68)).toBe('18'); // byte 33 of the packet: TCP flags ACK|PSH
  });
});

describe('user-space GRO: refusals', () => {
  const { segs } = run(flowA, 3, 1000);
  it.each([
    { description: 'a gap in the sequence numbers', second: naivePacket({ ...flowA, id: 101, seq: 2001, payload: payloadOf(1000) }) },
    { description: 'a different ACK number', second: naivePacket({ ...flowA, id: 101, seq: 2000, ack: 6, payload: payloadOf(1000) }) },
    { description: 'different TCP options (timestamps)', second: naivePacket({ ...flowA, id: 101, seq: 2000, options: [1, 1, 8, 10, 0, 0, 1, 1, 0, 0, 0, 9], payload: payloadOf(1000) }) },
    { description: 'a different window', second: naivePacket({ ...flowA, id: 101, seq: 2000, window: 999, payload: payloadOf(1000) }) },
    { description: 'FIN', second: naivePacket({ ...flowA, id: 101, seq: 2000, flags: TCP_ACK | TCP_FIN, payload: payloadOf(1000) }) },
    { description: 'SYN', second: naivePacket({ ...flowA, id: 101, seq: 2000, flags: TCP_SYN | TCP_ACK, payload: payloadOf(1000) }) },
    { description: 'a larger second segment', second: naivePacket({ ...flowA, id: 101, seq: 2000, payload: payloadOf(1001) }) },
    { description: 'a different TTL', second: naivePacket({ ...flowA, id: 101, seq: 2000, ttl: 63, payload: payloadOf(1000) }) },
    { description: 'another flow (port)', second: naivePacket({ ...flowA, sport: 1, id: 101, seq: 2000, payload: payloadOf(1000) }) },
    { description: 'a pure ACK', second: naivePacket({ ...flowA, id: 101, seq: 2000, payload: new Uint8Array(0) }) },
    { description: 'UDP', second: naivePacket({ ...flowA, proto: 'udp', payload: payloadOf(1000) }) },
  ])('$description: nothing merged, the batch is written as it came', ({ second }) => {
    expect(coalesce([segs[0], second])).toBeNull();
  });

  it('a segment with a wrong checksum is not merged and is counted', () => {
    const bad = segs[1].slice();
    bad[bad.length - 1] ^= 0xff;
    const gro = new TcpCoalescer(VLEN);
    expect(coalesce([segs[0], bad], gro)).toBeNull();
    expect(gro.stats.badChecksum).toBe(1);
    // The good neighbours still merge around it, and the bad one goes out untouched, in order.
    const out = coalesce([segs[0], segs[1], bad], gro)!;
    expect(out.map(([h]) => h)).toEqual([gsoHeader(4, 52, 1000), ZERO]);
    expect(out[1][1]).toBe(hex(bad));
  });
});

const flowArb = fc.record({
  v6: fc.boolean(),
  sport: fc.integer({ min: 1024, max: 65535 }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  id: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.integer({ min: 200, max: 1448 }),
  count: fc.integer({ min: 1, max: 8 }),
  last: fc.integer({ min: 1, max: 1448 }),
  psh: fc.boolean(),
  ts: fc.boolean(),
});
const flowsArb = fc.array(flowArb, { minLength: 1, maxLength: 4 });
const picksArb = fc.array(fc.nat(), { maxLength: 40 });

/** Random TSO-like flows, each in its own order, interleaved by `picks`. */
function interleaved(flows: (typeof flowArb extends fc.Arbitrary<infer T> ? T : never)[], picks: number[]): { streams: Uint8Array[][]; input: Uint8Array[] } {
  const streams = flows.map((f, n) => {
    const base: NaivePacket = f.v6 ? { ...flow6, sport: f.sport + n, seq: f.seq, options: f.ts ? TS : [] } : { ...flowA, sport: f.sport + n, seq: f.seq, id: f.id, options: f.ts ? TS : [] };
    return run(base, f.count, f.mss, Math.min(f.last, f.mss), f.psh ? TCP_ACK | TCP_PSH : TCP_ACK).segs;
  });
  const input: Uint8Array[] = [];
  const next = streams.map(() => 0);
  let p = 0;
  while (input.length < streams.reduce((s, x) => s + x.length, 0)) {
    const f = (picks[p++ % Math.max(1, picks.length)] ?? 0) % streams.length;
    const g = next[f] < streams[f].length ? f : next.findIndex((k, i) => k < streams[i].length);
    input.push(streams[g][next[g]++]);
  }
  return { streams, input };
}

/** A packet as the kernel's GRO leaves it: one IP packet of many segments' payload, its TCP checksum field the folded pseudo-header sum (CHECKSUM_PARTIAL). */
function kernelMerged(base: NaivePacket, payloadLen: number): Uint8Array {
  const p = naivePacket({ ...base, flags: TCP_ACK | TCP_PSH, payload: payloadOf(payloadLen, 77) });
  const ipLen = base.v === 4 ? 20 : 40;
  const tcpLen = p.length - ipLen;
  const pseudo = base.v === 4 ? pseudoHeaderSumV4At(p, 12, 16, 6, tcpLen) : pseudoHeaderSumV6At(p, 8, 24, 6, tcpLen);
  const partial = foldSum(pseudo);
  p[ipLen + 16] = partial >>> 8;
  p[ipLen + 17] = partial & 0xff;
  return p;
}

describe('user-space GRO: packets the kernel merged before the decap socket (GRO on the uplink)', () => {
  it.each([
    { description: 'IPv4, 3 x 1448 bytes: NEEDS_CSUM and TCPV4, gso_size what a 1500-byte link carries', base: flowA, payload: 3 * 1448, hdrLen: 52 },
    { description: 'IPv6, 5000 bytes', base: flow6, payload: 5000, hdrLen: 72 },
  ])('$description', ({ base, payload, hdrLen }) => {
    const big = kernelMerged(base, payload);
    const gro = new TcpCoalescer(VLEN);
    expect(coalesce([big], gro)).toEqual([[gsoHeader(base.v as 4 | 6, hdrLen, 1500 - hdrLen), hex(big)]]);
    expect(gro.stats).toMatchObject({ kernelSuperPackets: 1, superPackets: 0, badChecksum: 0 });
  });

  it('a packet of at most 1500 bytes with a partial checksum (the kernel cut it, no device completed it) goes alone with NEEDS_CSUM and no GSO type', () => {
    const notOver = kernelMerged({ ...flowA, options: [] }, 1460); // 1500 bytes of IP
    const gro = new TcpCoalescer(VLEN);
    const out = coalesce([notOver], gro)!;
    expect(out).toEqual([[hex(Uint8Array.from([1, 0, 0, 0, 0, 0, 20, 0, 16, 0, 0, 0])), hex(notOver)]]);
    expect(gro.stats).toMatchObject({ partialSegments: 1, kernelSuperPackets: 0, badChecksum: 0 });
    const over = kernelMerged({ ...flowA, options: [] }, 1461);
    expect(coalesce([over])![0][0]).toBe(gsoHeader(4, 40, 1460));
  });

  it('consecutive segments with partial checksums merge like complete ones (not counted as bad checksums)', () => {
    const { segs, payload } = run({ ...flowA, csum: 'partial' }, 3, 1000);
    const gro = new TcpCoalescer(VLEN);
    expect(coalesce(segs, gro)).toEqual([[gsoHeader(4, 52, 1000), hex(naivePacket({ ...flowA, payload, csum: 'partial' }))]]);
    expect(gro.stats).toMatchObject({ superPackets: 1, mergedSegments: 3, badChecksum: 0, partialSegments: 0 });
  });

  it('a large packet with a full checksum, or with one that is neither full nor partial, goes as it came', () => {
    const full = naivePacket({ ...flowA, payload: payloadOf(4000, 3) });
    expect(coalesce([full])).toBeNull();
    const bad = kernelMerged(flowA, 4000);
    bad[flowA.v === 4 ? 36 : 56] ^= 0x01;
    const gro = new TcpCoalescer(VLEN);
    expect(coalesce([bad], gro)).toBeNull();
    expect(gro.stats.kernelSuperPackets).toBe(0);
  });

  it('ends the run of its flow and keeps the order; writeTo sends the same bytes without copying', () => {
    const { segs } = run(flowA, 2, 1000);
    const big = kernelMerged({ ...flowA, seq: 3000 }, 2896);
    const later = naivePacket({ ...flowA, seq: 5896, id: 200, payload: payloadOf(1000, 5) });
    const out = coalesce([segs[0], segs[1], big, later])!;
    expect(out.map(([h]) => h)).toEqual([gsoHeader(4, 52, 1000), gsoHeader(4, 52, 1448), ZERO]);
    expect(out[1][1]).toBe(hex(big));
    expect(out[2][1]).toBe(hex(later));
    const tun = new FakeDevice();
    const { data, meta } = batchOf([segs[0], segs[1], big, later]);
    expect(new TcpCoalescer(VLEN).writeTo(tun, data, meta, 4)).toBe(3);
    expect(tun.takeWritten().map((w) => ((w.family & META_FLAG_VNET_HDR) !== 0 ? '' : ZERO) + hex(w.bytes))).toEqual(out.map(([h, b]) => h + b));
  });
});

describe('user-space GRO: property', () => {
  it('segment(coalesce(x)) == x for random TSO-like flows, interleaved', () => {
    fc.assert(
      fc.property(flowsArb, picksArb, (flows, picks) => {
        const { streams, input } = interleaved(flows, picks);
        const gro = new TcpCoalescer(VLEN);
        const { data, meta } = batchOf(input);
        const n = gro.coalesce(data, meta, input.length);
        // Cut every output back with the segmenter and compare flow by flow.
        const back: string[] = [];
        if (n === 0) input.forEach((x) => back.push(hex(x)));
        for (let k = 0; k < n; k++) {
          const off = gro.meta[k * META_STRIDE + META_OFFSET];
          const len = gro.meta[k * META_STRIDE + META_LENGTH] - VLEN;
          const gsoType = gro.buf[off + 1];
          const pkt = gro.buf.slice(off + VLEN, off + VLEN + len);
          if (gsoType === 0) {
            back.push(hex(pkt));
            continue;
          }
          const gsoSize = gro.buf[off + 4] | (gro.buf[off + 5] << 8);
          const slot = new Uint8Array(96 * 1024);
          slot.set(pkt, 64);
          const m = new Int32Array(128 * META_STRIDE);
          const c = segmentGso(slot, 64, len, 0, gsoType, gsoSize, 64, slot.length, m, 0);
          expect(c).toBeGreaterThan(1);
          for (let s = 0; s < c; s++) back.push(hex(slot.subarray(m[s * META_STRIDE], m[s * META_STRIDE] + m[s * META_STRIDE + 1])));
        }
        const byFlow = (list: string[]) => streams.map((st) => list.filter((h) => st.some((x) => hex(x) === h)));
        expect(back.length).toBe(input.length);
        expect(byFlow(back)).toEqual(byFlow(input.map(hex)));
      }),
      { numRuns: 150 },
    );
  });

  it('writeTo sends, as a scatter write of the batch bytes in place, exactly what coalesce() copies out', () => {
    fc.assert(
      fc.property(flowsArb, picksArb, (flows, picks) => {
        const { input } = interleaved(flows, picks);
        const copied = new TcpCoalescer(VLEN);
        const a = batchOf(input);
        const n = copied.coalesce(a.data, a.meta, input.length);
        const want: string[] = [];
        if (n === 0) input.forEach((x) => want.push(ZERO + hex(x)));
        for (let k = 0; k < n; k++) {
          const off = copied.meta[k * META_STRIDE + META_OFFSET];
          want.push(hex(copied.buf.subarray(off, off + copied.meta[k * META_STRIDE + META_LENGTH])));
        }
        const tun = new FakeDevice();
        const gro = new TcpCoalescer(VLEN);
        const b = batchOf(input);
        const bufBefore = gro.buf;
        expect(gro.writeTo(tun, b.data, b.meta, input.length)).toBe(n === 0 ? input.length : n);
        expect(gro.buf).toBe(bufBefore); // nothing was copied into the output buffer
        // The writer puts a zero header in front of a packet without META_FLAG_VNET_HDR.
        const got = tun.takeWritten().map((w) => ((w.family & META_FLAG_VNET_HDR) !== 0 ? '' : ZERO) + hex(w.bytes));
        expect(got).toEqual(want);
        expect(gro.stats).toEqual(copied.stats);
      }),
      { numRuns: 150 },
    );
  });

  it('writeTo falls back to copying when a merged packet has no room in front for its header', () => {
    const { segs } = run(flowA, 3, 1000);
    const data = new Uint8Array(3 * SLOT);
    const meta = new Int32Array(3 * META_STRIDE);
    segs.forEach((p, i) => {
      data.set(p, i * SLOT); // the first packet at offset 0: no bytes in front of it
      meta[i * META_STRIDE + META_OFFSET] = i * SLOT;
      meta[i * META_STRIDE + META_LENGTH] = p.length;
    });
    const tun = new FakeDevice();
    expect(new TcpCoalescer(VLEN).writeTo(tun, data, meta, 3)).toBe(1);
    const [w] = tun.takeWritten();
    expect(hex(w.bytes.subarray(0, VLEN))).toBe(gsoHeader(4, 52, 1000));
    expect(w.bytes.length).toBe(VLEN + segs[0].length + 2000);
  });
});
