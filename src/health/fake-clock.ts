// A manual clock for tests: time moves only when the test calls advance(). Timers fire in
// due order, and pending promise callbacks settle between them, so async code driven by
// the clock (a checker resolving, then the manager reacting) runs as it would for real.
import type { Clock, TimerHandle } from './clock.js';

interface PendingTimer {
  id: number;
  due: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private timers: PendingTimer[] = [];

  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, due: this.time + Math.max(0, delayMs), fn };
    this.timers.push(timer);
    return { _timer: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle._timer);
  }

  /** Timers not yet fired. */
  get pendingCount(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.due > end) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = next.due;
      next.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}

/** Lets queued promise callbacks (several hops deep) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
