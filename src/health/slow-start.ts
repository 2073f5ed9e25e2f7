// Slow start: a server that has just come back gets a small weight that grows linearly to
// its full weight, so a cold cache or JIT is not hit by its whole share at once. Weights
// are relative, so ramping several servers together changes nothing between them.

export interface SlowStartOptions {
  /** Ramp length in ms; 0 disables slow start. */
  durationMs: number;
  /** Weight at the start of the ramp (default 1). */
  initialWeight?: number;
}

/**
 * The weight `elapsedMs` after recovery, ramping linearly from initialWeight to
 * targetWeight over durationMs, rounded down to an integer and never below initialWeight
 * (nor above targetWeight). Negative elapsed counts as 0; a target of 0 stays 0.
 */
export function slowStartWeight(elapsedMs: number, targetWeight: number, options: SlowStartOptions): number {
  if (targetWeight <= 0) return 0;
  const start = Math.min(options.initialWeight ?? 1, targetWeight);
  if (options.durationMs <= 0 || elapsedMs >= options.durationMs) return targetWeight;
  const fraction = Math.max(0, elapsedMs) / options.durationMs;
  return Math.max(start, Math.floor(start + (targetWeight - start) * fraction));
}

/** True while a server recovered at `recoveredAt` is still ramping at `now`. */
export function isRamping(now: number, recoveredAt: number, options: SlowStartOptions): boolean {
  return options.durationMs > 0 && now - recoveredAt < options.durationMs;
}
