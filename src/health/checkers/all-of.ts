// Several checkers on one server (keepalived: several checkers in one real_server): every
// one runs each round, in parallel, each bounded by its own timeout; the round passes only
// when all of them pass. The detail names each failure, or all the passes.
import { abortDetail, elapsedSince, type Checker, type CheckKind, type CheckResult } from '../check-result.js';

export interface TimedChecker {
  checker: Checker;
  /** This checker's own timeout in ms (the round's signal bounds it too). */
  timeoutMs: number;
}

export class AllOfChecker implements Checker {
  readonly kind: CheckKind;

  constructor(readonly members: readonly TimedChecker[]) {
    if (members.length === 0) throw new RangeError('AllOfChecker needs at least one checker');
    this.kind = members[0].checker.kind;
  }

  async check(signal: AbortSignal): Promise<CheckResult> {
    const start = performance.now();
    const results = await Promise.all(this.members.map((m) => runBounded(m, signal)));
    const failed = results.filter((r) => !r.ok);
    const shown = failed.length > 0 ? failed : results;
    return {
      ok: failed.length === 0,
      detail: `${failed.length === 0 ? 'all' : `${failed.length} of`} ${results.length} checks ${failed.length === 0 ? 'pass' : 'fail'}: ${shown.map((r) => r.detail).join('; ')}`,
      latencyMs: elapsedSince(start),
    };
  }
}

async function runBounded(m: TimedChecker, outer: AbortSignal): Promise<CheckResult> {
  const controller = new AbortController();
  const onOuter = (): void => controller.abort(outer.reason);
  if (outer.aborted) onOuter();
  else outer.addEventListener('abort', onOuter, { once: true });
  const timer = setTimeout(() => controller.abort('timeout'), m.timeoutMs);
  try {
    const r = await m.checker.check(controller.signal);
    return controller.signal.aborted && r.ok ? { ...r, ok: false, detail: `${r.detail} (${abortDetail(controller.signal)})` } : r;
  } catch (err) {
    return { ok: false, detail: `checker threw: ${err instanceof Error ? err.message : String(err)}`, latencyMs: 0 };
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onOuter);
  }
}
