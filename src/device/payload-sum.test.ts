import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../native/addon.js';
import { foldSum, sumBytes } from '../wire/checksum.js';
import { payloadSum } from './payload-sum.js';

/** Word-by-word reference, independent of both implementations. */
function naive(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) + (i + 1 < len ? b[off + i + 1] : 0);
  return foldSum(s);
}

describe('payloadSum (native for long ranges, JS for short ones)', () => {
  it('equals the naive sum for every length 0..600 at odd and even offsets, and for random ranges', () => {
    const buf = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let len = 0; len <= 600; len++) {
      for (const off of [0, 1, 2, 3]) expect(foldSum(payloadSum(buf, off, len)), `len ${len} off ${off}`).toBe(naive(buf, off, len));
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffffff }), (b, a, l, initial) => {
        const off = a % b.length;
        const len = l % (b.length - off + 1);
        expect(foldSum(payloadSum(b, off, len, initial))).toBe(foldSum(sumBytes(b, off, len, initial)));
      }),
    );
  });

  it('the addon itself: folded, not complemented; a range outside the array throws, payloadSum falls back instead', () => {
    const addon = loadAddon();
    const b = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00]);
    expect(addon.checksumSum(b, 0, 5)).toBe(naive(b, 0, 5));
    expect(addon.checksumSum(b.subarray(1), 0, 4)).toBe(naive(b, 1, 4));
    expect(() => addon.checksumSum(b, 3, 3)).toThrow(RangeError);
    const big = new Uint8Array(300).fill(1);
    expect(foldSum(payloadSum(big, 200, 200))).toBe(foldSum(sumBytes(big, 200, 200)));
  });
});
