import { describe, expect, it } from 'vitest';
import { isRamping, slowStartWeight } from './slow-start.js';

describe('slowStartWeight', () => {
  it('ramps linearly from 1 to the target over the duration', () => {
    const opts = { durationMs: 10_000 };
    const weights = [0, 1000, 2500, 5000, 7500, 9999, 10_000, 60_000].map((t) => slowStartWeight(t, 101, opts));
    expect(weights).toEqual([1, 11, 26, 51, 76, 100, 101, 101]);
  });

  it('starts at initialWeight and never goes below it or above the target', () => {
    const opts = { durationMs: 4000, initialWeight: 10 };
    expect([0, 1000, 2000, 3000, 4000].map((t) => slowStartWeight(t, 50, opts))).toEqual([10, 20, 30, 40, 50]);
    expect(slowStartWeight(-500, 50, opts)).toBe(10);
    // a target below the initial weight is reached at once
    expect(slowStartWeight(0, 3, opts)).toBe(3);
  });

  it('is monotonic over the ramp', () => {
    let prev = 0;
    for (let t = 0; t <= 30_000; t += 250) {
      const w = slowStartWeight(t, 7, { durationMs: 30_000 });
      expect(w).toBeGreaterThanOrEqual(prev);
      prev = w;
    }
    expect(prev).toBe(7);
  });

  it('keeps weight 0 at 0 and is off with a zero duration', () => {
    expect(slowStartWeight(0, 0, { durationMs: 1000 })).toBe(0);
    expect(slowStartWeight(0, 9, { durationMs: 0 })).toBe(9);
  });

  it('isRamping is true only inside the window', () => {
    expect(isRamping(1000, 1000, { durationMs: 500 })).toBe(true);
    expect(isRamping(1499, 1000, { durationMs: 500 })).toBe(true);
    expect(isRamping(1500, 1000, { durationMs: 500 })).toBe(false);
    expect(isRamping(1000, 1000, { durationMs: 0 })).toBe(false);
  });
});
