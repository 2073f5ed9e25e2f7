// Drops that happen in the kernel, before the director reads a frame (so they can never be
// a verdict): the TAP's queue overflowing when the director falls behind, frames the director
// wrote that the kernel refused, and the nftables guard (guard.ts) spilling a flood. Sources
// register here per director; `vstunadm counters` and /metrics read the merged counts.
import { readFile } from 'node:fs/promises';

/** A group of kernel-side drop counters, cumulative since the director started. */
export interface KernelDropSource {
  /** Counts by reason name, e.g. {'tap-queue-full': 12}. Never throws; cheap (cached values). */
  read(): Record<string, number>;
}

const sources = new WeakMap<object, KernelDropSource[]>();

/** Attaches `source` to `director` (any object identifying one director). */
export function registerKernelDrops(director: object, source: KernelDropSource): void {
  const list = sources.get(director) ?? [];
  list.push(source);
  sources.set(director, list);
}

/** Every registered source's counts, merged by reason (empty when none is registered). */
export function kernelDrops(director: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sources.get(director) ?? []) {
    for (const [k, v] of Object.entries(s.read())) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/**
 * A source read asynchronously on a timer: `refresh()` does one read (it may fail; the last
 * counts stay), never two at a time, and the timer does not keep the process alive.
 */
export abstract class PolledDropSource implements KernelDropSource {
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  abstract read(): Record<string, number>;
  protected abstract refresh(): Promise<void>;

  /** Reads once now and then every `intervalMs` (default 1 s). */
  start(intervalMs = 1000): Promise<void> {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
    return this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One read now; skipped while the previous one runs. Never rejects. */
  async poll(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      await this.refresh();
    } catch {
      /* keep the last counts */
    } finally {
      this.reading = false;
    }
  }
}

/**
 * The TAP's counters as the kernel keeps them, under /sys/class/net/TAP/statistics:
 * tx_dropped = frames the kernel could not queue to us (our read side was full),
 * rx_dropped = frames we wrote that the kernel dropped. Read asynchronously once per
 * interval (never on the data path, never synchronously); counts are relative to the first
 * successful read, so a TAP that existed before the director does not report old drops.
 */
export class TapDropWatcher extends PolledDropSource {
  private base: { tx: number; rx: number } | null = null;
  private counts = { 'tap-queue-full': 0, 'tap-write-dropped': 0 };

  constructor(
    readonly tap: string,
    private readonly sysfs = '/sys/class/net',
  ) {
    super();
  }

  read(): Record<string, number> {
    return { ...this.counts };
  }

  /** Both files; a missing TAP (closing) skips the round. */
  protected async refresh(): Promise<void> {
    const dir = `${this.sysfs}/${this.tap}/statistics`;
    const [tx, rx] = await Promise.all([readCounter(`${dir}/tx_dropped`), readCounter(`${dir}/rx_dropped`)]);
    if (tx === null || rx === null) return;
    if (this.base === null) this.base = { tx, rx };
    this.counts = { 'tap-queue-full': Math.max(0, tx - this.base.tx), 'tap-write-dropped': Math.max(0, rx - this.base.rx) };
  }
}

async function readCounter(file: string): Promise<number | null> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}
