import { describe, expect, test } from 'vitest';
import { RealServer } from '../real-server.js';
import { createScheduler, newFlowKey, type SchedulerFlag, type SchedulerName } from './index.js';
import { MaglevScheduler, isPrime } from './maglev.js';
import { SCHEDULER_NAMES } from './scheduler.js';

function servers(weights: number[]): RealServer[] {
  return weights.map((w, i) => new RealServer(i, 0, (10 << 24) | (77 << 16) | (3 << 8) | (i + 2), 0, w, 0x0a4d0201));
}

function make(name: SchedulerName, rs: RealServer[], flags: SchedulerFlag[] = [], random = (n: number) => 0 % n) {
  const s = createScheduler(name, { flags: new Set(flags), mhTableSize: 251, random, now: () => 1000 });
  s.update(rs);
  return s;
}

const flow = newFlowKey();
function pick(s: ReturnType<typeof make>, caddr = 0x0a4d0102, cport = 40000, vaddr = 0x0a4d0064): number {
  flow.protocol = 6;
  flow.caddr = caddr;
  flow.cport = cport;
  flow.vaddr = vaddr;
  flow.vport = 80;
  return s.schedule(flow)?.id ?? -1;
}

describe('schedulers: choices on fixed sequences', () => {
  test('rr cycles and skips weight 0 (quiescent)', () => {
    const rs = servers([1, 0, 1]);
    const s = make('rr', rs);
    expect([0, 1, 2, 3].map(() => pick(s))).toEqual([0, 2, 0, 2]);
  });

  test('wrr 4:3:2 gives IPVS interleaving AABABCABC', () => {
    const s = make('wrr', servers([4, 3, 2]));
    expect(Array.from({ length: 9 }, () => 'ABC'[pick(s)]).join('')).toBe('AABABCABC');
  });

  test('lc picks the least overhead (active*256 + inactive)', () => {
    const rs = servers([1, 1, 1]);
    rs[0].activeConns = 1;
    rs[1].inactConns = 300;
    rs[2].inactConns = 10;
    expect(pick(make('lc', rs))).toBe(2);
  });

  test('wlc divides overhead by weight', () => {
    const rs = servers([1, 3, 1]);
    rs[0].activeConns = 1; // 256
    rs[1].activeConns = 2; // 512/3 = 170
    rs[2].activeConns = 1; // 256
    expect(pick(make('wlc', rs))).toBe(1);
  });

  test('sed uses (active+1)/weight; nq prefers an idle server', () => {
    const rs = servers([1, 5, 1]);
    rs[0].activeConns = 0; // 1/1
    rs[1].activeConns = 3; // 4/5
    rs[2].activeConns = 2;
    expect(pick(make('sed', rs))).toBe(1);
    expect(pick(make('nq', rs))).toBe(0);
  });

  test('fo takes the highest weight; ovf the highest weight still under its weight in active conns', () => {
    const rs = servers([2, 5, 3]);
    expect(pick(make('fo', rs))).toBe(1);
    rs[1].activeConns = 5;
    expect(pick(make('ovf', rs))).toBe(2);
    rs[1].weight = 0;
    expect(pick(make('fo', rs))).toBe(2);
  });

  test('sh: same client → same server; sh-port spreads ports; fallback only with sh-fallback', () => {
    const rs = servers([1, 1, 1, 1]);
    const s = make('sh', rs);
    const a = pick(s, 0x0a000001, 1);
    expect(pick(s, 0x0a000001, 2)).toBe(a);
    const sp = make('sh', rs, ['sh-port']);
    const seen = new Set(Array.from({ length: 64 }, (_, p) => pick(sp, 0x0a000001, p)));
    expect(seen.size).toBeGreaterThan(1);
    rs[a].weight = 0;
    expect(pick(make('sh', rs), 0x0a000001, 1)).toBe(-1);
    const fb = pick(make('sh', rs, ['sh-fallback']), 0x0a000001, 1);
    expect(fb).not.toBe(-1);
    expect(fb).not.toBe(a);
  });

  test('dh: same destination → same server regardless of client', () => {
    const s = make('dh', servers([1, 1, 1]));
    const a = pick(s, 1, 1, 0x0a000064);
    for (let c = 2; c < 20; c++) expect(pick(s, c, c, 0x0a000064)).toBe(a);
  });

  test('lblc sticks a destination to a server until it is overloaded', () => {
    const rs = servers([2, 2]);
    const s = make('lblc', rs);
    const a = pick(s, 1, 1, 0x0a000064);
    rs[a].activeConns = 1;
    expect(pick(s, 2, 2, 0x0a000064)).toBe(a); // 1 <= weight 2: still fine
    rs[a].activeConns = 3; // over its weight while the other is idle
    expect(pick(s, 3, 3, 0x0a000064)).toBe(1 - a);
  });

  test('lblcr grows the set when its least loaded member is overloaded', () => {
    const rs = servers([1, 1, 1]);
    const s = make('lblcr', rs);
    const a = pick(s, 1, 1, 0x0a000064);
    expect(pick(s, 2, 2, 0x0a000064)).toBe(a);
    rs[a].activeConns = 5;
    const b = pick(s, 3, 3, 0x0a000064);
    expect(b).not.toBe(a);
  });

  test('twos draws two by weight and keeps the less loaded one', () => {
    const rs = servers([1, 1]);
    rs[0].activeConns = 4;
    const draws = [0, 1];
    const s = make('twos', rs, [], () => draws.shift() ?? 0);
    expect(pick(s)).toBe(1);
  });

  test('mh: same client → same server; no fallback → null when its server is quiescent', () => {
    const rs = servers([1, 1, 1]);
    const s = make('mh', rs);
    const a = pick(s, 0x0a000009, 1);
    expect(pick(s, 0x0a000009, 2)).toBe(a);
    rs[a].overloaded = true;
    expect(pick(s, 0x0a000009, 1)).toBe(-1);
    const fb = make('mh', rs, ['mh-fallback']);
    const b = pick(fb, 0x0a000009, 1);
    expect(b).not.toBe(-1);
    expect(b).not.toBe(a);
  });

  test('no available server → null for every scheduler', () => {
    for (const name of SCHEDULER_NAMES) {
      expect(pick(make(name, servers([0, 0])))).toBe(-1);
      expect(pick(make(name, []))).toBe(-1);
    }
  });
});

describe('scheduler distribution', () => {
  test('wrr 1:2:3 over 6000 new flows: each server within ±2% of its share', () => {
    const s = make('wrr', servers([1, 2, 3]));
    const counts = [0, 0, 0];
    for (let i = 0; i < 6000; i++) counts[pick(s)]++;
    const shares = [1 / 6, 2 / 6, 3 / 6];
    counts.forEach((c, i) => expect(Math.abs(c / 6000 - shares[i])).toBeLessThanOrEqual(0.02));
  });

  test('Maglev 65537 slots: each of 7 equal servers gets 0.99..1.01 of its fair share', () => {
    expect(isPrime(65537)).toBe(true);
    const m = new MaglevScheduler(new Set(), 65537);
    const rs = servers([1, 1, 1, 1, 1, 1, 1]);
    m.update(rs);
    const fair = 65537 / rs.length;
    for (const [, n] of m.slotCounts()) {
      expect(n / fair).toBeGreaterThanOrEqual(0.99);
      expect(n / fair).toBeLessThanOrEqual(1.01);
    }
  });

  test('Maglev: removing one of N servers remaps at most 1/N + 1% of flows', () => {
    for (const n of [3, 5, 10]) {
      const rs = servers(Array(n).fill(1));
      const before = new MaglevScheduler(new Set(), 65537);
      before.update(rs);
      const after = new MaglevScheduler(new Set(), 65537);
      after.update(rs.slice(0, n - 1));
      const flows = 20000;
      let moved = 0;
      for (let i = 0; i < flows; i++) {
        const c = (0x0a000000 + i * 7919) >>> 0;
        if (pick(before, c) !== pick(after, c)) moved++;
      }
      expect(moved / flows).toBeLessThanOrEqual(1 / n + 0.01);
    }
  });

  test('Maglev weights: 1:3 takes about a quarter and three quarters of the slots', () => {
    const m = new MaglevScheduler(new Set(), 65537);
    m.update(servers([1, 3]));
    const c = m.slotCounts();
    expect(Math.abs(c.get(0)! / 65537 - 0.25)).toBeLessThan(0.01);
  });

  test('Maglev rejects a table size that is not prime', () => {
    expect(() => new MaglevScheduler(new Set(), 65536)).toThrow(/prime/);
  });
});
