import { describe, expect, it } from 'vitest';
import { Dampener } from './dampener.js';

function feed(d: Dampener, results: string): string {
  // '+' success, '-' failure; returns the state after each result as 'U'/'D'
  return [...results].map((c) => (d.record(c === '+', c) ? (d.up ? 'U' : 'D') : d.up ? 'u' : 'd')).join('');
}

describe('Dampener', () => {
  it('starts DOWN by default (alpha) and needs `rise` consecutive successes', () => {
    const d = new Dampener('rs1', { rise: 2, fall: 3 }, () => 0);
    expect(d.state).toBe('down');
    // lowercase: no transition; uppercase: transition on that result
    expect(feed(d, '+-+' + '+')).toBe('dddU');
  });

  it('starts UP when startUp is set, and then needs `fall` consecutive failures', () => {
    const d = new Dampener('rs1', { rise: 2, fall: 3, startUp: true }, () => 0);
    expect(d.state).toBe('up');
    expect(feed(d, '--+---')).toBe('uuuuuD');
  });

  it('counts only consecutive results against the current state', () => {
    const d = new Dampener('rs1', { rise: 3, fall: 2 }, () => 0);
    expect(feed(d, '++-++-+++')).toBe('ddddddddU');
    expect(d.pendingStreak).toBe(0);
    expect(feed(d, '-+-')).toBe('uuu');
    expect(d.pendingStreak).toBe(1);
    expect(feed(d, '-')).toBe('D');
  });

  it('does not flap on alternating results when rise and fall exceed 1', () => {
    const up = new Dampener('a', { rise: 2, fall: 2, startUp: true }, () => 0);
    const down = new Dampener('b', { rise: 2, fall: 2 }, () => 0);
    const alternating = '+-'.repeat(50);
    expect(feed(up, alternating)).toBe('u'.repeat(100));
    expect(feed(down, alternating)).toBe('d'.repeat(100));
  });

  it('with rise = fall = 1 follows every result', () => {
    const d = new Dampener('rs1', { rise: 1, fall: 1 }, () => 0);
    expect(feed(d, '+-+-')).toBe('UDUD');
  });

  it('reports the transition with rs, from, to, a reason and the clock time', () => {
    let now = 1000;
    const d = new Dampener('rs7', { rise: 2, fall: 1, startUp: false }, () => now);
    expect(d.since).toBe(1000);
    expect(d.record(true, 'connected')).toBeNull();
    now = 6000;
    expect(d.record(true, 'connected')).toEqual({ rs: 'rs7', from: 'down', to: 'up', reason: '2 consecutive successes, last: connected', at: 6000 });
    now = 9000;
    expect(d.record(false, 'connect ECONNREFUSED')).toEqual({ rs: 'rs7', from: 'up', to: 'down', reason: '1 consecutive failure, last: connect ECONNREFUSED', at: 9000 });
    expect(d.since).toBe(9000);
  });

  it('force() sets the state and clears the streak', () => {
    const d = new Dampener('rs1', { rise: 2, fall: 2 }, () => 5);
    d.record(true);
    expect(d.force('up', 'operator')).toMatchObject({ from: 'down', to: 'up', reason: 'operator' });
    expect(d.force('up', 'again')).toBeNull();
    expect(d.pendingStreak).toBe(0);
  });

  it.each([
    { rise: 0, fall: 1 },
    { rise: 1, fall: 0 },
    { rise: 1.5, fall: 1 },
  ])('rejects rise/fall %o', (opts) => {
    expect(() => new Dampener('x', opts, () => 0)).toThrow(RangeError);
  });
});
