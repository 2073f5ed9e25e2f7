// A line per test file started and ended, and per test finished, appended to the file that
// VSTUN_TEST_PROGRESS names (nothing without it). .ci/run watches it: a run whose file stops
// growing has a stuck test (a worker blocked in a synchronous call never reaches vitest's
// timeouts), and the lines say which files were still running.
//   vitest run --reporter=default --reporter=./test/support/progress-report.ts
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class ProgressReporter implements Reporter {
  private readonly file = process.env.VSTUN_TEST_PROGRESS;

  private write(event: string, module: TestModule, detail = ''): void {
    if (!this.file) return;
    const name = path.relative(process.cwd(), module.moduleId);
    appendFileSync(this.file, `${new Date().toISOString()}\t${event}\t${module.project.name}\t${name}\t${detail}\n`);
  }

  onTestModuleStart(module: TestModule): void {
    this.write('start', module);
  }

  onTestCaseResult(test: TestCase): void {
    this.write('test', test.module, `${test.result().state} ${test.fullName}`);
  }

  onTestModuleEnd(module: TestModule): void {
    this.write('end', module, module.state());
  }
}
