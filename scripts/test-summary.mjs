// Prints vitest's JSON report as one plain line: "N passed, N failed, N skipped".
// Exits 1 if the report is missing or unreadable (a run that crashed before reporting).
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-report.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`no vitest JSON report at ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const suitesFailed = report.numFailedTestSuites ?? 0;
const failed = (report.numFailedTests ?? 0) || suitesFailed; // a suite that failed to load has no tests
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
