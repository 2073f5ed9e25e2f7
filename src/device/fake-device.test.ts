import { describe, expect, it } from 'vitest';
import { FakeDevice } from './fake-device.js';
import { META_LENGTH, META_OFFSET, META_STRIDE, copyPacket, type PacketBatch } from './packet-device.js';

describe('FakeDevice', () => {
  it('lays packets out like the native ring: headroom in front, one slot each', () => {
    const dev = new FakeDevice({ slots: 4, headroom: 64, slotSize: 256 });
    const seen: number[][] = [];
    dev.onBatch((b: PacketBatch) => {
      const offs: number[] = [];
      for (let i = 0; i < b.count; i++) offs.push(b.meta[i * META_STRIDE + META_OFFSET]);
      seen.push(offs);
      expect(copyPacket(b, 0)[0]).toBe(1);
    });
    const pkts = Array.from({ length: 6 }, (_, i) => Uint8Array.of(1, i, 3));
    expect(dev.inject(pkts)).toBe(6);
    expect(seen).toEqual([
      [64, 320, 576, 832],
      [64, 320],
    ]);
  });

  it('counts oversized packets as truncated instead of delivering them', () => {
    const dev = new FakeDevice({ slots: 2, headroom: 16, slotSize: 32 });
    let got = 0;
    dev.onBatch((b) => (got += b.count));
    dev.inject([new Uint8Array(17), new Uint8Array(16)]);
    expect(got).toBe(1);
    expect(dev.stats().rxTruncated).toBe(1);
  });

  it('records writes from a batch in place, honouring offsets and lengths', () => {
    const dev = new FakeDevice();
    dev.onBatch((b) => {
      const m = 0;
      b.data[b.meta[m + META_OFFSET] - 2] = 0xaa;
      b.data[b.meta[m + META_OFFSET] - 1] = 0xbb;
      b.meta[m + META_OFFSET] -= 2;
      b.meta[m + META_LENGTH] += 2;
      dev.writeBatch(b.data, b.meta, b.count);
    });
    dev.inject([Uint8Array.of(1, 2)]);
    expect(Array.from(dev.takeWritten()[0].bytes)).toEqual([0xaa, 0xbb, 1, 2]);
    expect(dev.written.length).toBe(0);
  });

  it('drops and counts writes beyond its limit and bad descriptors', () => {
    const dev = new FakeDevice({ writeLimit: 1 });
    const data = new Uint8Array(8);
    const meta = Int32Array.of(0, 4, 0, 0, 4, 4, 0, 0, 6, 4, 0, 0);
    expect(dev.writeBatch(data, meta, 3)).toBe(1);
    expect(dev.stats().txDropped).toBe(2);
    const dev2 = new FakeDevice();
    expect(dev2.writeBatch(data, Int32Array.of(6, 4, 0, 0), 1)).toBe(0);
    expect(dev2.stats().txErrors).toBe(1);
  });
});
