// rr and wrr with a shared position (queue workers, one Int32 of shared memory): the same
// picks as the scheduler with its own position, whether one scheduler or several take turns.
import { describe, expect, test } from 'vitest';
import { RealServer } from '../real-server.js';
import { RoundRobinScheduler } from './round-robin.js';
import { newFlowKey, type Scheduler } from './scheduler.js';
import { WeightedRoundRobinScheduler } from './weighted-round-robin.js';

const servers = (weights: number[]) => weights.map((w, i) => new RealServer(i, 0, 0x0a000001 + i, 0, w, 0));
const flow = newFlowKey();
const picks = (s: Scheduler[], n: number) => Array.from({ length: n }, (_, k) => s[k % s.length].schedule(flow)?.id ?? -1);

describe.each([
  ['rr', () => new RoundRobinScheduler()],
  ['wrr', () => new WeightedRoundRobinScheduler()],
] as const)('%s with a shared cursor', (_name, make) => {
  test.each([[[1, 1, 1]], [[4, 3, 2]], [[5, 0, 3]], [[1]], [[2, 6]]])('weights %j: the same sequence as its own position, over two schedulers taking turns', (weights) => {
    const list = servers(weights);
    const own = make();
    own.update(list);
    const cursor = new Int32Array(new SharedArrayBuffer(4));
    const a = make();
    const b = make();
    for (const s of [a, b]) {
      s.update(list);
      s.shareCursor(cursor);
    }
    expect(picks([a, b], 40)).toEqual(picks([own], 40));
  });
});

test('wrr: a period too long to share is refused, and the scheduler keeps its own position', () => {
  const s = new WeightedRoundRobinScheduler();
  s.update(servers([65535, 65534]));
  expect(s.shareCursor(new Int32Array(new SharedArrayBuffer(4)))).toBe(false);
  expect(s.sharing).toBe(false);
  expect(s.schedule(flow)?.id).toBe(0);
});
