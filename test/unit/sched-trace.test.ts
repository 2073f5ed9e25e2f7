// bench/sched-trace.mjs: the bpftrace program it generates for a set of threads, and the
// per-thread summary it folds out of bpftrace's JSON output (fixed output lines in the
// format bpftrace 0.17 prints with -f json).
import { describe, expect, it } from 'vitest';
import { schedProgram, summarizeSched } from '../../bench/sched-trace.mjs';

const threads = new Map([
  [100, { process: 'director', role: 'main' }],
  [101, { process: 'director', role: 'thread 101' }],
  [200, { process: 'agent', role: 'main' }],
  [201, { process: 'agent', role: 'thread 201' }],
]);

const output = [
  '{"type": "attached_probes", "data": {"probes": 3}}',
  '',
  '{"type": "map", "data": {"@waits": {"101": 1000, "200": 900}}}',
  '{"type": "map", "data": {"@waitus": {"101": 50000, "200": 27000}}}',
  '{"type": "map", "data": {"@runs": {"101": 1001, "200": 900, "100": 3}}}',
  '{"type": "map", "data": {"@runus": {"101": 61234, "200": 40000, "100": 90}}}',
  '{"type": "map", "data": {"@longruns": {"101": 2}}}',
  '{"type": "map", "data": {"@preempted": {"101": 400}}}',
  '{"type": "map", "data": {"@over0": {"101": 20, "200": 9}, "@over1": {"101": 5, "200": 1}, "@over2": {"101": 1}}}',
  '{"type": "map", "data": {"@stallus": {"101": 12000, "200": 1500}}}',
  '{"type": "map", "data": {"@before": {"101,200,node": 7000, "101,999,vitest worker": 5000, "200,101,node": 1500, "300,101,node": 42}}}',
  'not json',
];

describe('summarizeSched', () => {
  it('gives one row per thread that ran or waited, by stall time, with the waits over each bound', () => {
    const { rows } = summarizeSched(output, threads);
    expect(rows.map((r) => r.tid)).toEqual([101, 200, 100]);
    expect(rows[0]).toEqual({
      process: 'director',
      role: 'thread 101',
      tid: 101,
      waits: 1000,
      meanWaitUs: 50,
      preempted: 400,
      stallMs: 12,
      runs: 1001,
      cpuMs: 61.23,
      runsOver1ms: 2,
      waitsOver250us: 20,
      waitsOver1ms: 5,
      waitsOver4ms: 1,
      waitsOver16ms: 0,
    });
    expect(rows[1]).toMatchObject({ process: 'agent', role: 'main', waits: 900, meanWaitUs: 30, stallMs: 1.5, waitsOver1ms: 1, waitsOver4ms: 0 });
    // A thread that only ran (never waited after a wake-up) still has its row.
    expect(rows[2]).toMatchObject({ role: 'main', waits: 0, meanWaitUs: 0, runs: 3, cpuMs: 0.09 });
  });

  it('names who held the CPU before a long wait ended: our own thread, or another process by its comm', () => {
    const { ranBefore } = summarizeSched(output, threads);
    expect(ranBefore).toEqual([
      { what: 'director thread 101 after agent main', stallMs: 7 },
      { what: 'director thread 101 after other: vitest worker', stallMs: 5 },
      { what: 'agent main after director thread 101', stallMs: 1.5 },
    ]);
  });

  it('is empty for output without maps', () => {
    expect(summarizeSched(['ERROR: something', ''], threads)).toEqual({ rows: [], ranBefore: [] });
  });
});

describe('schedProgram', () => {
  it('tests every thread id on each tracepoint and exits after the given seconds', () => {
    const p = schedProgram([100, 200], 7);
    expect(p).toContain('if ($p == 100 || $p == 200)');
    expect(p).toContain('if ($pp == 100 || $pp == 200)');
    expect(p).toContain('if ($np == 100 || $np == 200)');
    expect(p).toContain('interval:s:7 { exit(); }');
    // No predicate reads args directly (bpftrace 0.17's code for that fails the verifier).
    expect(p).not.toMatch(/^tracepoint:\S+\s*\//m);
    expect(p).toMatch(/^tracepoint:sched:sched_switch \{$/m);
  });

  it('refuses bad thread lists and durations', () => {
    expect(() => schedProgram([], 5)).toThrow(/thread ids/);
    expect(() => schedProgram([1.5], 5)).toThrow(/thread ids/);
    expect(() => schedProgram(Array.from({ length: 257 }, (_, i) => i + 1), 5)).toThrow(/thread ids/);
    expect(() => schedProgram([1], 0)).toThrow(/seconds/);
  });
});
