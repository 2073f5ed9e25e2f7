// No check: the server always passes (a keepalived real_server without checkers, in a
// service whose other servers are checked or which has a sorry server or quorum).
import type { Checker, CheckResult } from '../check-result.js';

export class NoneChecker implements Checker {
  readonly kind = 'none' as const;

  check(): Promise<CheckResult> {
    return Promise.resolve({ ok: true, detail: 'not checked (kind none)', latencyMs: 0 });
  }
}
