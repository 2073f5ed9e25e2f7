// What every checker returns. A check never throws: a refused connection, a wrong status or
// a timeout is a result with ok=false and a detail a human can act on.

/** The checker kinds vstun implements (the `kind` field of a healthCheck config). */
export type CheckKind = 'tcp' | 'http' | 'https' | 'udp' | 'exec' | 'tunnel' | 'dns' | 'ping' | 'smtp';

export interface CheckResult {
  /** True when the server passed this one check (before rise/fall dampening). */
  ok: boolean;
  /** Why it passed or failed, e.g. "connect ECONNREFUSED", "status 503 not in 200". */
  detail: string;
  /** Wall time the check took, in milliseconds. */
  latencyMs: number;
}

export interface Checker {
  readonly kind: CheckKind;
  /**
   * Runs one check. Aborting `signal` (the caller's timeout) ends it promptly with
   * ok=false; the promise never rejects.
   */
  check(signal: AbortSignal): Promise<CheckResult>;
}

/** Milliseconds since `startMs` (a performance.now() reading), rounded to 0.01 ms. */
export function elapsedSince(startMs: number): number {
  return Math.round((performance.now() - startMs) * 100) / 100;
}

/** Text for an unexpected error: its errno code when it has one, else its message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code} ${err.message}`.trim() : err.message;
  }
  return String(err);
}

/** Detail text used when a check's signal fired; keeps timeouts recognisable in logs. */
export function abortDetail(signal: AbortSignal): string {
  const reason = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return 'timeout';
  return typeof reason === 'string' ? reason : 'timeout';
}

/**
 * Runs `checker` with a real-time timeout of `timeoutMs` milliseconds. For tools and tests;
 * the health manager uses its own clock instead.
 */
export async function runCheck(checker: Checker, timeoutMs: number): Promise<CheckResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort('timeout'), timeoutMs);
  try {
    return await checker.check(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
