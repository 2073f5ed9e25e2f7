// test/support/json-report.ts on a real vitest run: an error thrown outside any test must
// reach the report (vitest's own JSON report leaves it out and says success), so that
// scripts/test-summary.mjs counts it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'vstun-json-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('records an unhandled error of a run whose tests all passed, and the summary counts it', () => {
  writeFileSync(path.join(dir, 'vitest.config.mjs'), 'export default {};\n');
  writeFileSync(
    path.join(dir, 'late.test.ts'),
    [
      "import { expect, it } from 'vitest';",
      "it('passes', () => expect(1).toBe(1));",
      "it('leaves a timer that throws', async () => {",
      "  setTimeout(() => { throw new Error('thrown after the test'); }, 1);",
      '  await new Promise((r) => setTimeout(r, 50));',
      '});',
      '',
    ].join('\n'),
  );
  const reportFile = path.join(dir, 'report.json');
  const vitest = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, `--reporter=${path.join(ROOT, 'test/support/json-report.ts')}`, `--outputFile.json=${reportFile}`], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CI: '' } });
  expect(vitest.status).toBe(1);
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  expect(report.numPassedTests).toBe(2);
  expect(report.unhandledErrors).toEqual([{ name: 'Error', message: 'thrown after the test' }]);
  const summary = spawnSync(process.execPath, [path.join(ROOT, 'scripts/test-summary.mjs'), reportFile], { timeout: 60_000, encoding: 'utf8' });
  expect(summary.stdout).toBe('2 passed, 1 failed, 0 skipped\n');
  expect(summary.status).toBe(1);
}, 90_000);
