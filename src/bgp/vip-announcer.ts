// Tells BIRD which VIPs to announce: rewrites the generated include (vip-include.ts) and asks
// BIRD to `configure` over its control socket, one change at a time. The director decides
// what it wants (per VIP: live or not, and why); draining and stopping override that with
// "announce nothing". What is reported as announced is what BIRD last accepted, never the
// wish: when BIRD cannot be reached the wish waits, retried with backoff, and the error is
// shown. No BGP is spoken here: BIRD does that.
import { birdConfigure, birdProtocolState, type BirdControlOptions } from './bird-control.js';
import { renderVipInclude, writeFileAtomic } from './vip-include.js';

/** What the director wants for one VIP. */
export interface VipWish {
  vip: string;
  /** At least one of its services has a live server (the director forwards: it is running). */
  live: boolean;
  /** One sentence: why live or not. */
  reason: string;
}

export interface VipAnnouncement {
  vip: string;
  /** In the include BIRD last accepted. */
  announced: boolean;
  /** What the director wants now (false while draining or stopping). */
  wanted: boolean;
  reason: string;
  /** ISO time `announced` last changed; null if never announced. */
  since: string | null;
}

export interface AnnouncerSnapshot {
  birdSocket: string;
  includeFile: string;
  protocol: string;
  draining: boolean;
  stopping: boolean;
  /** The last failure talking to BIRD (cleared by a success), or null. */
  lastError: string | null;
  /** ISO time of the last configure BIRD accepted, or null. */
  lastConfigured: string | null;
  vips: VipAnnouncement[];
}

export interface AnnouncerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface VipAnnouncerOptions {
  birdSocket: string;
  includeFile: string;
  /** Name of the IPv4 static protocol in the include (IPv6: the name + "6"). */
  protocol: string;
  /** The TAP the VIP routes point through. */
  tap: string;
  log: AnnouncerLog;
  /** One BIRD exchange, ms (default 5000). */
  timeoutMs?: number;
  /** First retry after a failure, ms (doubles up to 10 s; default 500). */
  retryMs?: number;
}

const MAX_RETRY_MS = 10_000;

export class VipAnnouncer {
  private wishes = new Map<string, VipWish>();
  /** VIPs in the include BIRD last accepted → since (ms epoch). */
  private accepted = new Map<string, number>();
  /** The last include text BIRD accepted ('' = none yet): what makes a sync needed. */
  private acceptedText = '';
  private withdrawnSince = new Map<string, number>();
  private running: Promise<void> | null = null;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private closed = false;
  draining = false;
  stopping = false;
  lastError: string | null = null;
  lastConfigured: number | null = null;
  private readonly bird: BirdControlOptions;

  constructor(private readonly opts: VipAnnouncerOptions) {
    this.bird = { socketPath: opts.birdSocket, timeoutMs: opts.timeoutMs ?? 5000 };
    this.retryMs = opts.retryMs ?? 500;
    // Fail now on a bad protocol or TAP name, not at the first sync.
    renderVipInclude(opts.protocol, opts.tap, []);
  }

  /** Replaces the wishes; syncs BIRD if the VIPs to announce changed. Never throws. */
  update(wishes: readonly VipWish[]): void {
    this.wishes = new Map(wishes.map((w) => [w.vip, w]));
    if (this.includeText() !== this.acceptedText) void this.kick();
  }

  /** Withdraws every VIP (drain) or goes back to the health-driven set; resolves once BIRD took it (or failed). */
  setDraining(on: boolean): Promise<void> {
    this.draining = on;
    return this.kick();
  }

  /** Shutdown: withdraw everything and stay withdrawn; resolves once BIRD took it (or failed). */
  withdrawAll(): Promise<void> {
    this.stopping = true;
    return this.kick();
  }

  /** Stops retrying. Does not touch BIRD (call withdrawAll first). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  /** The VIPs to announce now, sorted. */
  targets(): string[] {
    if (this.draining || this.stopping) return [];
    return [...this.wishes.values()].filter((w) => w.live).map((w) => w.vip).sort();
  }

  snapshot(): AnnouncerSnapshot {
    const vips = new Set([...this.wishes.keys(), ...this.accepted.keys()]);
    const wanted = new Set(this.targets());
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      birdSocket: this.opts.birdSocket,
      includeFile: this.opts.includeFile,
      protocol: this.opts.protocol,
      draining: this.draining,
      stopping: this.stopping,
      lastError: this.lastError,
      lastConfigured: this.lastConfigured === null ? null : new Date(this.lastConfigured).toISOString(),
      vips: [...vips].sort().map((vip) => {
        const w = this.wishes.get(vip);
        const announced = this.accepted.has(vip);
        let reason = w?.reason ?? 'no longer configured';
        if (this.stopping) reason = 'withdrawn: the director is stopping';
        else if (this.draining) reason = 'withdrawn: drained by the operator (vstunadm undrain to announce again)';
        return { vip, announced, wanted: wanted.has(vip), reason, since: iso(announced ? this.accepted.get(vip) : this.withdrawnSince.get(vip)) };
      }),
    };
  }

  private includeText(): string {
    return renderVipInclude(this.opts.protocol, this.opts.tap, this.targets());
  }

  private kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.retryTimer);
    this.running = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && !this.closed);
      this.running = null;
    })();
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const targets = this.targets();
    const text = renderVipInclude(this.opts.protocol, this.opts.tap, targets);
    try {
      writeFileAtomic(this.opts.includeFile, text);
      await birdConfigure(this.bird);
      // BIRD took the file: check that its config includes it at all.
      if ((await birdProtocolState(this.bird, this.opts.protocol)) === null) {
        throw new Error(`BIRD has no protocol ${this.opts.protocol}: add include "${this.opts.includeFile}"; to its bird.conf`);
      }
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastError) this.opts.log.error({ err: message, vips: targets }, 'cannot update the VIPs BIRD announces; retrying');
      this.lastError = message;
      this.scheduleRetry();
      return;
    }
    const now = Date.now();
    const next = new Map<string, number>();
    for (const vip of targets) next.set(vip, this.accepted.get(vip) ?? now);
    for (const vip of this.accepted.keys()) if (!next.has(vip)) this.withdrawnSince.set(vip, now);
    const added = targets.filter((v) => !this.accepted.has(v));
    const removed = [...this.accepted.keys()].filter((v) => !next.has(v));
    this.accepted = next;
    this.acceptedText = text;
    this.lastConfigured = now;
    if (this.lastError !== null) this.opts.log.info({}, 'BIRD reachable again');
    this.lastError = null;
    this.retryMs = this.opts.retryMs ?? 500;
    if (added.length || removed.length) this.opts.log.info({ announced: added, withdrawn: removed, now: targets }, 'BIRD announces the VIPs');
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const delay = this.retryMs;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.retryTimer = setTimeout(() => void this.kick(), delay);
    this.retryTimer.unref();
  }
}
