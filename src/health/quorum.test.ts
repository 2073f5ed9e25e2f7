import { describe, expect, it } from 'vitest';
import { QuorumGate } from './quorum.js';

describe('QuorumGate', () => {
  it('defaults to "any weight up": gains at >= 1, loses at 0', () => {
    const q = new QuorumGate({ quorum: 1, hysteresis: 0 });
    expect(q.up).toBe(false);
    expect(q.update(0)).toBe(false);
    expect(q.update(1)).toBe(true);
    expect(q.up).toBe(true);
    expect(q.update(5)).toBe(false);
    expect(q.update(0)).toBe(true);
    expect(q.up).toBe(false);
  });

  it('gains quorum at q+h and loses it below q-h, holding its state in between', () => {
    const q = new QuorumGate({ quorum: 10, hysteresis: 2 });
    const trace = [8, 10, 11, 12, 11, 10, 9, 8, 7, 9, 11, 12].map((sum) => {
      q.update(sum);
      return q.up ? 1 : 0;
    });
    // up needs >= 12; once up, stays up down to 8 (not < 8); 7 loses it; back up only at 12
    expect(trace).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1]);
  });

  it('with hysteresis >= quorum, loses quorum only when nothing is up', () => {
    const q = new QuorumGate({ quorum: 2, hysteresis: 3 }, true);
    expect(q.update(1)).toBe(false);
    expect(q.up).toBe(true);
    expect(q.update(0)).toBe(true);
    expect(q.update(4)).toBe(false);
    expect(q.update(5)).toBe(true);
  });
});
