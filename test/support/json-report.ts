// vitest's JSON reporter, plus what its report leaves out: the unhandled errors of the run (an
// exception thrown outside any test makes vitest exit 1 while every test in the report passed)
// and why the run ended. scripts/test-summary.mjs counts both. Used by .ci/run:
//   vitest run --reporter=./test/support/json-report.ts --outputFile.json=report.json
import type { SerializedError } from 'vitest';
import { JsonReporter, type TestRunEndReason } from 'vitest/reporters';
import type { TestModule } from 'vitest/node';

export default class JsonReportWithErrors extends JsonReporter {
  private unhandledErrors: { name: string; message: string }[] = [];
  private runEndReason: TestRunEndReason = 'passed';

  override async onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = [], reason: TestRunEndReason = 'passed'): Promise<void> {
    this.unhandledErrors = unhandledErrors.map((e) => ({ name: e.name ?? 'Error', message: e.message ?? String(e) }));
    this.runEndReason = reason;
    await super.onTestRunEnd(testModules);
  }

  override async writeReport(report: string): Promise<void> {
    const extended = { ...JSON.parse(report), unhandledErrors: this.unhandledErrors, runEndReason: this.runEndReason };
    await super.writeReport(JSON.stringify(extended));
  }
}
