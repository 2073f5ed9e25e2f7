// scripts/test-summary.mjs on small synthetic vitest JSON reports: every way a run can fail
// must show in the "failed" count and in the exit status, not only failed tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/test-summary.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'vstun-test-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Status = 'passed' | 'failed' | 'skipped' | 'todo';
interface FileSpec {
  name: string;
  status?: 'passed' | 'failed';
  message?: string;
  tests?: [string, Status][];
}

/** A report shaped like vitest's (and test/support/json-report.ts's) JSON output. */
function report(files: FileSpec[], extra: Record<string, unknown> = {}) {
  const testResults = files.map((f) => ({
    name: path.join(dir, f.name),
    status: f.status ?? ((f.tests ?? []).some(([, s]) => s === 'failed') ? 'failed' : 'passed'),
    message: f.message ?? '',
    assertionResults: (f.tests ?? []).map(([title, status]) => ({ ancestorTitles: [], fullName: title, title, status, failureMessages: status === 'failed' ? [`AssertionError: ${title} broke\n    at x`] : [] })),
  }));
  const all = testResults.flatMap((f) => f.assertionResults);
  const count = (s: Status) => all.filter((t) => t.status === s).length;
  return { numPassedTests: count('passed'), numFailedTests: count('failed'), numPendingTests: count('skipped'), numTodoTests: count('todo'), success: !testResults.some((f) => f.status === 'failed'), testResults, ...extra };
}

let n = 0;
function summarize(body: unknown, ...args: string[]) {
  const file = path.join(dir, `report-${n++}.json`);
  if (body !== undefined) writeFileSync(file, JSON.stringify(body));
  const r = spawnSync(process.execPath, [SCRIPT, file, ...args], { timeout: 60_000, encoding: 'utf8', cwd: dir });
  return { line: r.stdout, stderr: r.stderr, status: r.status };
}

const green: FileSpec = { name: 'a.test.ts', tests: [['one', 'passed'], ['two', 'passed'], ['later', 'skipped']] };

describe('test-summary', () => {
  it('all passed: one plain line, exit 0', () => {
    expect(summarize(report([green]))).toEqual({ line: '2 passed, 0 failed, 1 skipped\n', stderr: '', status: 0 });
  });

  it('a failed test is counted and named', () => {
    const r = summarize(report([green, { name: 'b.test.ts', tests: [['sums', 'failed'], ['ok', 'passed']] }]));
    expect(r.line).toBe('3 passed, 1 failed, 1 skipped\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('b.test.ts > sums: AssertionError: sums broke');
  });

  it('a file that did not load (no tests in it) is a failure', () => {
    const r = summarize(report([green, { name: 'c.test.ts', status: 'failed', message: "Cannot find module './gone.js'" }]));
    expect(r.line).toBe('2 passed, 1 failed, 1 skipped\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("c.test.ts: Cannot find module './gone.js'");
  });

  it('a file whose hook failed while its tests passed or were skipped is a failure', () => {
    const r = summarize(report([{ name: 'd.test.ts', status: 'failed', tests: [['after the hook', 'passed'], ['under a failed beforeAll', 'skipped']] }]));
    expect(r.line).toBe('1 passed, 1 failed, 1 skipped\n');
    expect(r.status).toBe(1);
  });

  it('an unhandled error fails the run although every test passed (the old summary said "0 failed")', () => {
    const r = summarize(report([green], { unhandledErrors: [{ name: 'Error', message: 'boom outside a test\nstack' }] }));
    expect(r.line).toBe('2 passed, 1 failed, 1 skipped\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Error: boom outside a test');
  });

  it('vitest exiting non-zero with a clean report (e.g. vitest\'s own JSON reporter) is a failure', () => {
    const r = summarize(report([green]), '--vitest-exit', '1');
    expect(r.line).toBe('2 passed, 1 failed, 1 skipped\n');
    expect(r.status).toBe(1);
    expect(summarize(report([green]), '--vitest-exit', '0').status).toBe(0);
  });

  it('failures of every kind add up', () => {
    const r = summarize(report([green, { name: 'b.test.ts', tests: [['sums', 'failed']] }, { name: 'c.test.ts', status: 'failed', message: 'SyntaxError' }], { unhandledErrors: [{ message: 'late' }, { message: 'later' }] }));
    expect(r.line).toBe('2 passed, 4 failed, 1 skipped\n');
  });

  it('an interrupted run, an empty run and a missing report are failures', () => {
    expect(summarize(report([green], { runEndReason: 'interrupted' }))).toMatchObject({ line: '2 passed, 1 failed, 1 skipped\n', status: 1 });
    expect(summarize(report([]))).toMatchObject({ line: '0 passed, 1 failed, 0 skipped\n', status: 1 });
    expect(summarize(undefined)).toMatchObject({ line: '0 passed, 1 failed, 0 skipped\n', status: 1 });
  });

  it('--no-skips: a skipped or todo test makes the exit non-zero and is named', () => {
    const r = summarize(report([green, { name: 'e.test.ts', tests: [['someday', 'todo']] }]), '--no-skips');
    expect(r.line).toBe('2 passed, 0 failed, 2 skipped\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('a.test.ts > later');
    expect(r.stderr).toContain('e.test.ts > someday');
    expect(summarize(report([{ name: 'f.test.ts', tests: [['one', 'passed']] }]), '--no-skips').status).toBe(0);
  });
});
