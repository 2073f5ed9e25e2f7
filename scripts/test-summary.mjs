// Prints a vitest JSON report as one plain line: "N passed, N failed, N skipped", and exits 1
// when anything failed. "Failed" counts every way a run can go wrong, not only failed tests:
//   - a test that failed;
//   - a test file that failed without a failed test (it did not load or collect, or a
//     beforeAll/afterAll hook threw);
//   - an unhandled error (test/support/json-report.ts adds them to the report: vitest's own
//     JSON report leaves them out and says success);
//   - vitest exiting non-zero (--vitest-exit N) with none of the above in its report.
// With --no-skips (CI), a skipped test also makes the exit 1: CI cannot pass by skipping.
// What failed or was skipped is listed on stderr; stdout has the one line.
//
//   node scripts/test-summary.mjs REPORT.json [--vitest-exit N] [--no-skips]
import { readFileSync } from 'node:fs';
import path from 'node:path';

const LISTED = 20; // entries listed per kind on stderr; the count covers them all

function parseArgs(argv) {
  const opts = { file: '.vitest-report.json', vitestExit: 0, noSkips: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--no-skips') opts.noSkips = true;
    else if (arg === '--vitest-exit') {
      opts.vitestExit = Number(argv[++i]);
      if (!Number.isInteger(opts.vitestExit)) usage('--vitest-exit: give vitest\'s exit status, an integer');
    } else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else opts.file = arg;
  }
  return opts;
}

function usage(message) {
  process.stderr.write(`test-summary: ${message}\nusage: node scripts/test-summary.mjs REPORT.json [--vitest-exit N] [--no-skips]\n`);
  process.exit(2);
}

function list(title, entries) {
  if (!entries.length) return;
  process.stderr.write(`${title} (${entries.length}):\n`);
  for (const e of entries.slice(0, LISTED)) process.stderr.write(`  ${e}\n`);
  if (entries.length > LISTED) process.stderr.write(`  ... and ${entries.length - LISTED} more\n`);
}

function firstLine(text) {
  return String(text ?? '').trim().split('\n')[0];
}

const opts = parseArgs(process.argv.slice(2));
let report;
try {
  report = JSON.parse(readFileSync(opts.file, 'utf8'));
} catch (err) {
  process.stderr.write(`no vitest JSON report at ${opts.file}: ${err.message} (the run crashed before it reported)\n`);
  process.stdout.write('0 passed, 1 failed, 0 skipped\n');
  process.exit(1);
}

const files = report.testResults ?? [];
const rel = (file) => path.relative(process.cwd(), file);
const tests = files.flatMap((f) => (f.assertionResults ?? []).map((t) => ({ ...t, file: rel(f.name) })));
const failedTests = tests.filter((t) => t.status === 'failed');
const failedFiles = files.filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((t) => t.status === 'failed'));
const unhandled = report.unhandledErrors ?? [];
const skippedTests = tests.filter((t) => ['skipped', 'pending', 'todo', 'disabled'].includes(t.status));

const problems = [];
if (report.runEndReason === 'interrupted') problems.push('the run was interrupted before every test ran');
if (!files.length) problems.push('no test file ran');
let failed = failedTests.length + failedFiles.length + unhandled.length + problems.length;
if (!failed && opts.vitestExit !== 0) {
  problems.push(`vitest exited ${opts.vitestExit} but its report shows no failure (see vitest's output above)`);
  failed = 1;
}

list('failed tests', failedTests.map((t) => `${t.file} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`));
list('failed test files (did not load, or a hook failed)', failedFiles.map((f) => `${rel(f.name)}: ${firstLine(f.message) || 'a beforeAll/afterAll hook or the file itself failed'}`));
list('unhandled errors', unhandled.map((e) => `${e.name ?? 'Error'}: ${firstLine(e.message)}`));
list('run errors', problems);
if (opts.noSkips) list('skipped tests, which are failures here (--no-skips)', skippedTests.map((t) => `${t.file} > ${t.fullName}`));

process.stdout.write(`${tests.filter((t) => t.status === 'passed').length} passed, ${failed} failed, ${skippedTests.length} skipped\n`);
process.exit(failed || (opts.noSkips && skippedTests.length) ? 1 : 0);
