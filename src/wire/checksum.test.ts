import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  finalizeChecksum,
  foldSum,
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV4At,
  pseudoHeaderSumV6At,
  sumBytes,
  updateChecksum16,
  updateChecksum32,
  verifyChecksum,
} from './checksum.js';

// Written the obvious way (RFC 1071 §4.1): pad to even length, add 16-bit words, fold.
function naiveChecksum(bytes: number[]): number {
  const padded = bytes.length % 2 === 1 ? [...bytes, 0] : bytes;
  let sum = 0;
  for (let i = 0; i < padded.length; i += 2) sum += padded[i] * 256 + padded[i + 1];
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('internetChecksum', () => {
  it('matches RFC 1071 §3 worked example (sum 0xddf2)', () => {
    const data = hex('0001 f203 f4f5 f6f7');
    expect(foldSum(sumBytes(data, 0, data.length))).toBe(0xddf2);
    expect(internetChecksum(data, 0, data.length)).toBe(0x220d);
  });

  it('computes the well-known IPv4 header example (192.168.0.1 -> 192.168.0.199, 0xb861)', () => {
    const h = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(h, 0, 20)).toBe(0xb861);
    h[10] = 0xb8; h[11] = 0x61;
    expect(verifyChecksum(h, 0, 20)).toBe(true);
    expect(internetChecksum(h, 0, 20)).toBe(0);
  });

  it('equals the naive reference for every length 0..300 and sampled lengths to 9000, at random offsets', () => {
    const lengths: number[] = [];
    for (let n = 0; n <= 300; n++) lengths.push(n);
    for (let n = 301; n <= 9000; n += 97) lengths.push(n, n + 1);
    lengths.push(1499, 1500, 1501, 8999, 9000);
    fc.assert(
      fc.property(fc.constantFrom(...lengths), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0xffffffff }), (len, off, seed) => {
        const buf = new Uint8Array(off + len + 3);
        let x = seed >>> 0 || 1;
        for (let i = 0; i < buf.length; i++) {
          x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
          buf[i] = x & 0xff;
        }
        const expected = naiveChecksum(Array.from(buf.subarray(off, off + len)));
        expect(internetChecksum(buf, off, len)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles all-0xff data of jumbo length without overflowing the fold', () => {
    const buf = new Uint8Array(65535).fill(0xff);
    expect(internetChecksum(buf, 0, buf.length)).toBe(naiveChecksum(Array.from(buf)));
    expect(foldSum(2 ** 52 + 12345)).toBeLessThanOrEqual(0xffff);
  });

  it('verifyChecksum accepts data containing its own checksum and rejects a flipped bit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 600 }), fc.nat(), (data, flip) => {
        const buf = Uint8Array.from(data.length % 2 ? [...data, 0] : data);
        buf[0] = 0; buf[1] = 0;
        const c = internetChecksum(buf, 0, buf.length);
        buf[0] = c >> 8; buf[1] = c & 0xff;
        fc.pre(buf.some((b) => b !== 0));
        expect(verifyChecksum(buf, 0, buf.length)).toBe(true);
        const bit = flip % (buf.length * 8);
        buf[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyChecksum(buf, 0, buf.length)).toBe(false);
      }),
    );
  });
});

describe('pseudo-headers', () => {
  it('IPv4 pseudo-header from numbers equals the sum of the 12-byte pseudo-header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), (src, dst, proto, len) => {
        const ph = new Uint8Array(12);
        const dv = new DataView(ph.buffer);
        dv.setUint32(0, src); dv.setUint32(4, dst); ph[9] = proto; dv.setUint16(10, len);
        const ref = naiveChecksum(Array.from(ph));
        expect(finalizeChecksum(pseudoHeaderSumV4(src, dst, proto, len))).toBe(ref);
        expect(finalizeChecksum(pseudoHeaderSumV4At(ph, 0, 4, proto, len))).toBe(ref);
      }),
    );
  });

  it('IPv6 pseudo-header equals the sum of the 40-byte pseudo-header, including 32-bit lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffffff }), (addrs, nh, len) => {
        const ph = new Uint8Array(40);
        ph.set(addrs, 0);
        new DataView(ph.buffer).setUint32(32, len);
        ph[39] = nh;
        expect(finalizeChecksum(pseudoHeaderSumV6At(addrs, 0, 16, nh, len))).toBe(naiveChecksum(Array.from(ph)));
      }),
    );
  });
});

describe('RFC 1624 incremental update', () => {
  const packetArb = fc.uint8Array({ minLength: 4, maxLength: 120 }).map((a) => (a.length % 2 ? a.subarray(0, a.length - 1) : a));

  it('updateChecksum16 equals a full recompute for any word change', () => {
    fc.assert(
      fc.property(packetArb, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (data, pos, newWord) => {
        const buf = Uint8Array.from(data);
        const w = 2 * (pos % (buf.length / 2));
        const before = internetChecksum(buf, 0, buf.length);
        const oldWord = (buf[w] << 8) | buf[w + 1];
        buf[w] = newWord >> 8; buf[w + 1] = newWord & 0xff;
        fc.pre(buf.some((b) => b !== 0)); // all-zero data: +0 vs -0, see doc comment
        expect(updateChecksum16(before, oldWord, newWord)).toBe(internetChecksum(buf, 0, buf.length));
      }),
      { numRuns: 3000 },
    );
  });

  it('updateChecksum32 equals a full recompute for an address change', () => {
    fc.assert(
      fc.property(packetArb.filter((a) => a.length >= 8), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (data, pos, newValue) => {
        const buf = Uint8Array.from(data);
        const dv = new DataView(buf.buffer);
        const w = 2 * (pos % (buf.length / 2 - 1));
        const before = internetChecksum(buf, 0, buf.length);
        const oldValue = dv.getUint32(w);
        dv.setUint32(w, newValue);
        fc.pre(buf.some((b) => b !== 0));
        expect(updateChecksum32(before, oldValue, newValue)).toBe(internetChecksum(buf, 0, buf.length));
      }),
      { numRuns: 3000 },
    );
  });

  it('RFC 1624 §4 example: 0xdd2f + (0x5555 -> 0x3285)', () => {
    // HC = 0xdd2f, m = 0x5555, m' = 0x3285 -> HC' = 0x0000 (RFC 1624 §4, eqn. 3)
    expect(updateChecksum16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });
});
