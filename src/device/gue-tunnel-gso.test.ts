import { ringBatch } from '../../test/fixtures/offload/ring-batch.js';
import { describe, expect, it } from 'vitest';
import { META_FLAG_VNET_HDR, META_LENGTH, META_OFFSET, META_STRIDE } from '../native/addon.js';
import { TcpCoalescer } from '../agent/gro-coalesce.js';
import { TCP_ACK, TCP_PSH } from '../wire/tcp.js';
import { naiveFrame, naiveGueFrame, naivePacket, payloadOf, V4A, V4B, V6A, V6B, type NaiveGueOuter, type NaivePacket } from '../../test/fixtures/offload/naive-packets.js';
import { FakeDevice } from './fake-device.js';
import { GueTunnelFraming } from './gue-tunnel-gso.js';

const VLEN = 24;
const HEADROOM = 96;
const DIP = [10, 70, 1, 2];
const RIP = [10, 70, 3, 2];
const TS = [1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 9];
const flow: NaivePacket = { v: 4, proto: 'tcp', src: V4A, dst: V4B, sport: 41000, dport: 80, id: 100, seq: 1000, ack: 5, flags: TCP_ACK, options: TS, payload: new Uint8Array(0) };
const flow6: NaivePacket = { ...flow, v: 6, src: V6A, dst: V6B };
const outer: NaiveGueOuter = { src: DIP, dst: RIP, sport: 0xc123, dport: 6080, id: 7 };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const le16 = (v: number) => [v & 0xff, v >> 8];

/** `count` segments of `mss` (the last `last` bytes, PSH on it), each in its own GUE frame with the next outer id. */
function gueRun(base: NaivePacket, count: number, mss: number, last = mss): { frames: Uint8Array[]; payload: Uint8Array } {
  const payload = payloadOf(mss * (count - 1) + last, 11);
  const frames: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const p = payload.slice(k * mss, Math.min(payload.length, (k + 1) * mss));
    const inner = naivePacket({ ...base, id: (base.id ?? 0) + k, seq: (base.seq ?? 0) + k * mss, flags: k === count - 1 ? TCP_ACK | TCP_PSH : TCP_ACK, payload: p });
    frames.push(naiveGueFrame(inner, { ...outer, id: (outer.id ?? 0) + k }));
  }
  return { frames, payload };
}

function batchOf(frames: Uint8Array[]): { data: Uint8Array; meta: Int32Array } {
  return ringBatch(frames, HEADROOM);
}

/** Hand-written struct virtio_net_hdr_v1_hash_tunnel for a TCP super-packet in GUE over IPv4 (4-byte GUE header). */
function tunnelHeader(innerV: 4 | 6, tcpHdr: number, gsoSize: number): string {
  const innerIp = 14 + 20 + 8 + 4;
  const csumStart = innerIp + (innerV === 4 ? 20 : 40);
  const gsoType = (innerV === 4 ? 1 : 4) | 0x20;
  return hex(Uint8Array.from([1, gsoType, ...le16(csumStart + tcpHdr), ...le16(gsoSize), ...le16(csumStart), 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le16(34), ...le16(innerIp)]));
}

function coalesce(frames: Uint8Array[]): [string, string][] | null {
  const gro = new TcpCoalescer(VLEN, new GueTunnelFraming());
  const { data, meta } = batchOf(frames);
  const n = gro.coalesce(data, meta, frames.length);
  if (n === 0) return null;
  const out: [string, string][] = [];
  for (let k = 0; k < n; k++) {
    const off = gro.meta[k * META_STRIDE + META_OFFSET];
    const len = gro.meta[k * META_STRIDE + META_LENGTH];
    out.push([hex(gro.buf.subarray(off, off + VLEN)), hex(gro.buf.subarray(off + VLEN, off + len))]);
  }
  return out;
}

describe('GSO over a UDP tunnel: GUE frames joined after encapsulation (golden frames built independently)', () => {
  it.each([
    { description: 'inner IPv4: three full segments and a short one with PSH', base: flow, count: 4, mss: 1400, last: 200 },
    { description: 'inner IPv6 (GUE proto 41) over IPv4: two segments', base: flow6, count: 2, mss: 1380, last: 1380 },
  ])('$description -> one super-packet: first frame\'s outer headers with the total lengths, 24-byte tunnel header', ({ base, count, mss, last }) => {
    const { frames, payload } = gueRun(base, count, mss, last);
    const inner = naivePacket({ ...base, flags: TCP_ACK | TCP_PSH, payload, csum: 'partial' });
    const want = naiveGueFrame(inner, outer);
    expect(coalesce(frames)).toEqual([[tunnelHeader(base.v, 32, mss), hex(want)]]);
  });

  it('writeTo sends the same bytes as a scatter write (header in the headroom, then payload spans) and counts the super-packet', () => {
    const { frames } = gueRun(flow, 3, 1000);
    const expected = coalesce(frames)!;
    const tun = new FakeDevice();
    const { data, meta } = batchOf(frames);
    const gro = new TcpCoalescer(VLEN, new GueTunnelFraming());
    expect(gro.writeTo(tun, data, meta, 3)).toBe(1);
    const written = tun.takeWritten();
    expect(written).toHaveLength(1);
    expect(written[0].family & META_FLAG_VNET_HDR).toBe(META_FLAG_VNET_HDR);
    expect(hex(written[0].bytes)).toBe(expected[0][0] + expected[0][1]);
    expect(gro.stats).toMatchObject({ superPackets: 1, mergedSegments: 3, badChecksum: 0 });
  });

  it('two flows to two real servers interleaved: one super-packet each', () => {
    const a = gueRun(flow, 2, 1000);
    const bFlow = { ...flow, sport: 41001 };
    const bPayload = payloadOf(2000, 5);
    const bFrames = [0, 1].map((k) => naiveGueFrame(naivePacket({ ...bFlow, id: 300 + k, seq: 5000 + k * 1000, payload: bPayload.slice(k * 1000, (k + 1) * 1000) }), { ...outer, dst: [10, 70, 4, 2], id: 50 + k }));
    const out = coalesce([a.frames[0], bFrames[0], a.frames[1], bFrames[1]])!;
    expect(out).toHaveLength(2);
    expect(out[1][1]).toBe(hex(naiveGueFrame(naivePacket({ ...bFlow, id: 300, seq: 5000, payload: bPayload, csum: 'partial' }), { ...outer, dst: [10, 70, 4, 2], id: 50 })));
  });
});

describe('GSO over a UDP tunnel: checksums the director computed itself', () => {
  // The TCP checksum field of each inner segment, wrong on purpose: only a sum would notice.
  const spoil = (f: Uint8Array) => {
    const g = f.slice();
    g[14 + 20 + 8 + 4 + 20 + 16] ^= 0x5a;
    return g;
  };
  const { frames, payload } = gueRun(flow, 3, 1400, 300);
  const want = naiveGueFrame(naivePacket({ ...flow, flags: TCP_ACK | TCP_PSH, payload, csum: 'partial' }), outer);

  it('segments the caller vouches for (ownChecksum) are joined without a sum: same super-packet, counted', () => {
    const gro = new TcpCoalescer(VLEN, new GueTunnelFraming(), () => true);
    const { data, meta } = batchOf(frames.map(spoil));
    expect(gro.coalesce(data, meta, 3)).toBe(1);
    expect(hex(gro.buf.subarray(0, VLEN))).toBe(tunnelHeader(4, 32, 1400));
    expect(hex(gro.buf.subarray(VLEN, gro.meta[META_LENGTH]))).toBe(hex(want));
    expect(gro.stats).toMatchObject({ superPackets: 1, mergedSegments: 3, ownChecksums: 3, badChecksum: 0 });
  });

  it('a segment it does not vouch for is summed: the spoiled one is refused, the rest still join', () => {
    const { data, meta } = batchOf([frames[0], frames[1], spoil(frames[2])]);
    const vouched = new Set([meta[0 * META_STRIDE + META_OFFSET], meta[1 * META_STRIDE + META_OFFSET]].map((f) => f + 14 + 20 + 8 + 4));
    const asked: number[] = [];
    const gro = new TcpCoalescer(VLEN, new GueTunnelFraming(), (d, l3) => {
      asked.push(l3);
      return d === data && vouched.has(l3);
    });
    expect(gro.coalesce(data, meta, 3)).toBe(2);
    expect(gro.stats).toMatchObject({ superPackets: 1, mergedSegments: 2, ownChecksums: 2, badChecksum: 1 });
    expect(asked).toHaveLength(3); // asked for the inner IP offset of each segment it would join
  });

  it('(the control: without ownChecksum the spoiled segments are not joined)', () => {
    const gro = new TcpCoalescer(VLEN, new GueTunnelFraming());
    const { data, meta } = batchOf(frames.map(spoil));
    expect(gro.coalesce(data, meta, 3)).toBe(0);
    expect(gro.stats.badChecksum).toBe(2); // the first ends its item when the second is tried; the second, opening another, when the third is
    expect(gro.stats.ownChecksums).toBe(0);
  });
});

describe('GSO over a UDP tunnel: frames that are not joined go as they came', () => {
  const { frames } = gueRun(flow, 2, 1000);
  const inner1 = naivePacket({ ...flow, id: 101, seq: 2000, flags: TCP_ACK | TCP_PSH, payload: payloadOf(1000, 11).slice(0) });
  it.each([
    { description: 'another outer destination (another tunnel) for the same inner flow', second: naiveGueFrame(inner1, { ...outer, dst: [10, 70, 9, 9], id: 8 }) },
    { description: 'another UDP source port', second: naiveGueFrame(inner1, { ...outer, sport: 0xc124, id: 8 }) },
    { description: 'another outer TOS', second: naiveGueFrame(inner1, { ...outer, tos: 4, id: 8 }) },
    { description: 'an outer UDP checksum (not 0)', second: naiveGueFrame(inner1, { ...outer, id: 8, udpChecksum: 0x1234 }) },
    { description: 'IPIP instead of GUE', second: naiveFrame(Uint8Array.from([0x45, 0, 0, 20 + inner1.length, 0, 8, 0x40, 0, 64, 4, 0, 0, ...DIP, ...RIP, ...inner1]), 4) },
  ])('$description', ({ second }) => {
    expect(coalesce([frames[0], second])).toBeNull();
  });

  it('(the control: the same second segment in the same tunnel is joined)', () => {
    expect(coalesce([frames[0], naiveGueFrame(inner1, { ...outer, id: 8 })])).toHaveLength(1);
  });

  it('a GUE control message (C bit) or an unknown GUE protocol is no tunnel frame', () => {
    const framing = new GueTunnelFraming();
    const f = frames[0].slice();
    expect(framing.innerOffset(f, 0, f.length)).toBe(14 + 20 + 8 + 4);
    f[42] = 0x20;
    expect(framing.innerOffset(f, 0, f.length)).toBe(-1);
    f[42] = 0;
    f[43] = 17;
    expect(framing.innerOffset(f, 0, f.length)).toBe(-1);
  });

  it('an outer IPv6 GUE frame is left alone (its UDP checksum is mandatory)', () => {
    const framing = new GueTunnelFraming();
    const f = frames[0].slice();
    f[12] = 0x86;
    f[13] = 0xdd;
    expect(framing.innerOffset(f, 0, f.length)).toBe(-1);
  });
});
