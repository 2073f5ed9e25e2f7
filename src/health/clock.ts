// Time source and timers for the health subsystem, injected so that dampening, quorum,
// slow start and feedback staleness can be tested with a fake clock.

export interface TimerHandle {
  readonly _timer: unknown;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Calls `fn` once after `delayMs` milliseconds (negative counts as 0). */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; unknown or already fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: performance.now() and Node timers that do not keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, delayMs) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return { _timer: t };
  },
  clearTimeout(handle) {
    clearTimeout(handle._timer as NodeJS.Timeout);
  },
};
