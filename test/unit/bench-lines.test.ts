// The bench's figures and the README table made from them (bench/lines.mjs, bench/readme.mjs):
// three significant digits that never round onto a target, targets checked on the unrounded
// figure, and a README block refused for figures that are not the commit's full run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { figure, formatTable, line, SECTIONS, sig3, type Target } from '../../bench/lines.mjs';
import { profileText, summarizeProfile } from '../../bench/profile.mjs';
import { problems, replaceBlock } from '../../bench/readme.mjs';

const atLeast1: Target = { on: 'ratio', op: '>=', bound: 1.0, text: '≥ 1.0' };
const atMost125: Target = { on: 'ratio', op: '<=', bound: 1.25, text: '≤ 1.25' };

describe('sig3', () => {
  it('gives three significant digits', () => {
    expect(sig3(0.123456)).toBe('0.123');
    expect(sig3(1)).toBe('1.00');
    expect(sig3(12.345)).toBe('12.3');
    expect(sig3(0.0012345)).toBe('0.00123');
    expect(sig3(1234.5)).toBe('1,230');
    expect(sig3(Number.NaN)).toBe('n/a');
    expect(sig3(null)).toBe('n/a');
  });

  it('adds digits rather than round onto a target from the wrong side', () => {
    expect(sig3(0.9996, atLeast1)).toBe('0.9996');
    expect(sig3(0.99951, atLeast1)).toBe('0.9995');
    expect(sig3(0.999996, atLeast1)).toBe('0.999996');
    expect(sig3(1.2504, atMost125)).toBe('1.2504');
    // Rounding that keeps the side is left at three digits.
    expect(sig3(1.0004, atLeast1)).toBe('1.00');
    expect(sig3(0.994, atLeast1)).toBe('0.994');
    expect(sig3(1.2496, atMost125)).toBe('1.25');
  });
});

describe('line', () => {
  it('computes the ratio to the reference and checks the target on the unrounded ratio', () => {
    const l = line({ id: 'x', what: 'pps', value: 99_960, unit: 'pps', reference: { what: 'C', value: 100_000 }, target: atLeast1 });
    expect(l.ratio).toBeCloseTo(0.9996, 10);
    expect(l.met).toBe(false);
    expect(line({ id: 'x', what: 'pps', value: 100_000, unit: 'pps', reference: { what: 'C', value: 100_000 }, target: atLeast1 }).met).toBe(true);
  });

  it('checks value targets on the value, and reports no verdict without a figure', () => {
    const t: Target = { on: 'value', op: '<=', bound: 500, text: '≤ 500 µs' };
    expect(line({ id: 'r', what: 'p99', value: 500.4, unit: 'µs', target: t }).met).toBe(false);
    expect(line({ id: 'r', what: 'p99', value: null, unit: 'µs', target: t }).met).toBeNull();
    expect(line({ id: 'r', what: 'p99', value: 10, unit: 'µs', reference: { what: 'floor', value: null }, target: atMost125 }).met).toBeNull();
    expect(line({ id: 'r', what: 'p99', value: 10, unit: 'µs' }).met).toBeNull();
  });

  it('takes a given ratio as it is (a ratio of medians, computed elsewhere)', () => {
    expect(line({ id: 'b', what: 'up', value: 1, unit: 'Gbit/s', reference: { what: 'kernel', value: 4 }, ratio: 0.3, target: { on: 'ratio', op: '>=', bound: 0.5, text: '≥ 0.5' } })).toMatchObject({ ratio: 0.3, met: false });
  });
});

describe('figure', () => {
  it('prints large figures whole and small ones to three digits, without rounding onto a value target', () => {
    expect(figure(299_143.7, 'pps')).toBe('299,144 pps');
    expect(figure(43.81, 'B/flow')).toBe('43.8 B/flow');
    expect(figure('kept working', null)).toBe('kept working');
    expect(figure(500.4, 'µs', { on: 'value', op: '<=', bound: 500, text: '' })).toBe('500.4 µs');
  });
});

const full = (over: Record<string, unknown> = {}) => ({
  schema: 2,
  commit: 'a'.repeat(40),
  dirty: [],
  date: '2026-12-02T12:00:00.000Z',
  command: 'npm run bench',
  machine: { kernel: '6.18', cpu: 'cpu', nproc: 2, node: 'v20' },
  loadAverage: { before: [1, 1, 1], after: [2, 2, 2] },
  settings: { sections: SECTIONS },
  elapsedSeconds: 400,
  lines: [line({ id: 'pps', what: 'forwarding', value: 99_960, unit: 'pps', reference: { what: 'batched C', value: 100_000 }, target: atLeast1 })],
  ...over,
});

describe('the README block', () => {
  it('formats every line with its reference, ratio, target and verdict', () => {
    const t = formatTable(full());
    expect(t).toContain('on aaaaaaaaaaaa, 2026-12-02 12:00 UTC');
    expect(t).toContain('load average 1 1 1 before, 2 2 2 after');
    expect(t).toContain('| forwarding | 99,960 pps | batched C: 100,000 pps | 0.9996 | ≥ 1.0 | missed |');
  });

  it('accepts only a full run of the committed code', () => {
    expect(problems(full(), [])).toEqual([]);
    expect(problems(full({ dirty: ['src/x.ts'] }), [])).toEqual(['measured with uncommitted changes in src/x.ts']);
    expect(problems(full(), ['src/director/datapath.ts'])[0]).toMatch(/^code changed since the measured commit aaaaaaaaaaaa: src\/director\/datapath.ts/);
    expect(problems(full({ settings: { sections: ['memory'] } }), [])[0]).toMatch(/^partial run, without forwarding/);
    expect(problems(full({ incomplete: 'time limit' }), [])).toEqual(['incomplete run: time limit']);
    expect(problems(full({ errors: { agent: 'boom' } }), [])).toEqual(['section agent failed: boom']);
    expect(problems({ machine: {}, forwarding: {} }, [])[0]).toMatch(/no schema 2/);
  });

  it('replaces only what is between the markers', () => {
    const begin = '<!-- bench:begin (generated by npm run bench:readme from bench/results.json: do not edit) -->';
    const readme = `# x\n\n${begin}\n\nold table\n\n<!-- bench:end -->\n\n## next\n`;
    const next = replaceBlock(readme, 'new table');
    expect(next).toBe(`# x\n\n${begin}\n\nnew table\n\n<!-- bench:end -->\n\n## next\n`);
    expect(replaceBlock(next, 'new table')).toBe(next);
    expect(() => replaceBlock('# no markers\n', 't')).toThrow(/no <!-- bench:begin/);
  });
});

describe('summarizeProfile', () => {
  // A .cpuprofile as node --cpu-prof writes it: nodes, one sample (node id) per tick, and the
  // microseconds between ticks. Start-up (ids 2) for 1 s, traffic (3 and 4) for 2 s, shutdown (5).
  const node = (id: number, functionName: string) => ({ id, callFrame: { functionName, url: `file:///x/${functionName}.js`, lineNumber: 9 } });
  const samples = [...Array(10).fill(2), ...Array(15).fill(3), ...Array(5).fill(4), ...Array(4).fill(1), ...Array(6).fill(5)];
  const profile = {
    nodes: [node(1, '(idle)'), node(2, 'compile'), node(3, 'writeBatch'), node(4, 'handle'), node(5, 'spawnSync')],
    samples,
    timeDeltas: samples.map(() => 100_000),
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'vt-bench-profile-'));
  writeFileSync(path.join(dir, 'x.cpuprofile'), JSON.stringify(profile));

  it('shares self time over the whole profile, idle left out', () => {
    const all = summarizeProfile(dir);
    expect(all.map((p) => p.fn)).toEqual(['writeBatch writeBatch.js:10', 'compile compile.js:10', 'spawnSync spawnSync.js:10', 'handle handle.js:10']);
    expect(all[0].pct).toBe(41.7); // 15 of the 36 non-idle samples
  });

  it('counts only the window of the measured traffic', () => {
    const traffic = summarizeProfile(dir, 8, 1050, 3050); // sample i is at (i + 1) × 100 ms
    expect(traffic).toEqual([
      { fn: 'writeBatch writeBatch.js:10', pct: 75 },
      { fn: 'handle handle.js:10', pct: 25 },
    ]);
    expect(profileText(traffic, 1)).toBe('writeBatch writeBatch.js:10 75%');
  });

  it('gives nothing for a directory without a profile', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'vt-bench-profile-'));
    expect(summarizeProfile(empty)).toEqual([]);
    expect(summarizeProfile(path.join(empty, 'missing'))).toEqual([]);
    rmSync(empty, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
});
