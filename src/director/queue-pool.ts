// The main thread's side of a multi-queue director: one worker per TAP queue, each with its
// own Datapath and connection table (the kernel keeps a flow on one queue). The main
// thread's Director stays the control plane: every change made to it (vstunadm, -R, reload,
// SIGHUP, health, slow start, feedback, PMTU, timeouts) reaches every worker as a projection
// of the services that changed (registry-projection.ts), sent when something says it changed
// and, for what changes on its own, checked every `syncIntervalMs`. Probe pins are shared memory, in
// effect on every queue at once. Connection policies and -Z are sent to every worker; the
// workers' counters come back and are summed into the main Director (counter-merge.ts).
import type { ConnTableStats } from './conn-table.js';
import { mergeQueueStats, summarizeQueue, sumRecords, sumTableStats, type QueueStats, type QueueSummary } from './counter-merge.js';
import { CounterRowSums } from './counter-rows.js';
import type { DirectorConnectionSnapshot, Director, DirectorQueues, FlowAnswer, FlowQuery, NodestPolicy } from './director.js';
import type { QueueSteering } from './queue-steering.js';
import type { RealServer } from './real-server.js';
import { ProjectionSender, type NodestRequest } from './registry-projection.js';
import type { FromWorker, ToWorker, ZeroTarget } from './queue-worker-core.js';
import type { OffloadRxStats } from '../device/offload-rx.js';
import type { DeviceStats } from '../device/packet-device.js';

/** How the pool talks to one worker (a worker_threads Worker, or a MessagePort in tests). */
export interface PoolPort {
  postMessage(msg: ToWorker): void;
  on(event: 'message', fn: (msg: FromWorker) => void): unknown;
}

export interface QueuePoolOptions {
  director: Director;
  /** One per queue, in queue order. */
  ports: PoolPort[];
  /**
   * How often (ms) to look for changes nobody announced (slow-start ramps, feedback weights,
   * PMTU): a cheap fingerprint of the servers' numbers each time, the whole state every 25th.
   * Default 200; 0: never.
   */
  syncIntervalMs?: number;
  /** How long (ms) to wait for a worker's answer before going on without it. Default 2000. */
  replyTimeoutMs?: number;
  /** Told when a worker refused a change or did not answer in time. */
  onProblem?: (queue: number, what: string) => void;
  /** Told what a connection policy did on a queue (entries expired, rescheduled), when it did anything. */
  onPolicyApplied?: (queue: number, expired: number, rescheduled: number) => void;
}

interface Waiter {
  left: Set<number>;
  replies: Map<number, FromWorker>;
  resolve: (replies: Map<number, FromWorker>) => void;
  timer: NodeJS.Timeout;
}

const EMPTY_ROWS = new Float64Array(0);

export class QueuePool implements DirectorQueues {
  private readonly director: Director;
  private readonly ports: PoolPort[];
  /** Each worker's latest report (its rows taken into `sums` and let go). */
  private readonly latest: Array<QueueStats | null>;
  private readonly sums: CounterRowSums;
  private readonly waiters = new Map<number, Waiter>();
  private seq = 0;
  private readonly sender = new ProjectionSender();
  private pendingNodest: NodestRequest[] = [];
  private pendingZero: ZeroTarget[] = [];
  private zeroEpoch = 0;
  /** Service id → label as of the last flush: a nodest may name a server whose service was just deleted. */
  private labels = new Map<number, string>();
  private flushQueued: Promise<void> | null = null;
  /** The last change sent, until every worker applied it (a flush with nothing new waits for it). */
  private inflight: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastFingerprint = 0;
  private readonly cursors = new Map<string, SharedArrayBuffer>();
  private ticks = 0;
  /** The TAP's queue steering by client (set by the daemon when it works; see queue-steering.ts). */
  steering: QueueSteering | null = null;

  constructor(private readonly opts: QueuePoolOptions) {
    this.director = opts.director;
    this.ports = opts.ports;
    this.latest = opts.ports.map(() => null);
    this.sums = new CounterRowSums(opts.ports.length);
    opts.ports.forEach((port, q) => port.on('message', (msg) => this.onMessage(q, msg)));
  }

  get count(): number {
    return this.ports.length;
  }

  /**
   * Takes over the Director's data path: sends the current state to every worker and resolves
   * once they applied it (or the reply timeout passed), then keeps them in step.
   */
  async start(): Promise<void> {
    this.director.queues = this;
    this.director.onServicesChanged(() => void this.flushSoon());
    await this.flush(true);
    const every = this.opts.syncIntervalMs ?? 200;
    if (every > 0) {
      this.timer = setInterval(() => {
        if (++this.ticks % 25 === 0 || this.fingerprint() !== this.lastFingerprint) void this.flush();
      }, every);
      this.timer.unref();
    }
  }

  /** Flushes on the next microtask: the changes made in this turn go out as one. */
  flushSoon(): Promise<void> {
    this.flushQueued ??= Promise.resolve().then(() => {
      this.flushQueued = null;
      return this.flush();
    });
    return this.flushQueued;
  }

  /**
   * Sends what changed since the last flush (state, connection policies, -Z) to every worker
   * and resolves when all of them applied it and every change sent before (or the reply
   * timeout passed).
   */
  flush(force = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.lastFingerprint = this.fingerprint();
    const { projection, changed } = this.sender.next(this.director, (label) => this.cursor(label), force);
    if (!changed && this.pendingNodest.length === 0 && this.pendingZero.length === 0) return this.inflight;
    const nodest = this.pendingNodest;
    const zero = this.pendingZero;
    this.pendingNodest = [];
    this.pendingZero = [];
    this.labels = new Map(this.director.registry.list().map((s) => [s.id, s.label]));
    for (const label of projection.removed) this.cursors.delete(label);
    for (const s of projection.services) if (s.rrCursor === null) this.cursors.delete(`${s.protocol}:${s.vip}:${s.port}`);
    // Replies come in the order the messages went out, so this one settles after the earlier ones.
    this.inflight = this.ask((seq) => ({ t: 'apply', seq, projection: changed || nodest.length > 0 ? projection : null, nodest, zero, zeroEpoch: this.zeroEpoch })).then((replies) => {
      for (const [q, r] of replies) {
        if (r.t !== 'ack') continue;
        if (r.error !== null) {
          this.opts.onProblem?.(q, `refused a change: ${r.error}`);
          // That worker may now differ from what the sender remembers sending: send it all next time.
          this.sender.sendAllNext();
        }
        if (r.expired + r.rescheduled > 0) this.opts.onPolicyApplied?.(q, r.expired, r.rescheduled);
      }
    });
    return this.inflight;
  }

  /**
   * A hash of what changes without a change being announced (servers' weights, path MTUs,
   * the default tunnel MTU, timeouts) and of the table's shape: O(servers), no allocation.
   */
  private fingerprint(): number {
    let h = 0x2545f491;
    const mix = (x: number) => {
      h = (Math.imul(h ^ x, 0x9e3779b1) + 0x7f4a7c15) | 0;
    };
    const d = this.director;
    mix(d.datapath.defaultTunnelMtu);
    const t = d.timeouts.get();
    mix(t.tcp);
    mix(t.tcpfin);
    mix(t.udp);
    for (const svc of d.registry.services) {
      if (svc === undefined) continue;
      mix(svc.id);
      for (const rs of svc.servers) {
        mix(rs.id);
        mix(rs.weight);
        mix(rs.pathMtu);
        mix(rs.removed ? 1 : 0);
      }
    }
    return h;
  }

  /** The shared rr position of a service (made on first use; dropped when the service goes). */
  private cursor(label: string): SharedArrayBuffer {
    let c = this.cursors.get(label);
    if (c === undefined) this.cursors.set(label, (c = new SharedArrayBuffer(4)));
    return c;
  }

  /** Asks every worker for its counters and merges them into the Director. */
  async refresh(): Promise<void> {
    if (this.stopped) return;
    await this.ask((seq) => ({ t: 'stats', seq }));
  }

  /** The latest counters of each worker (null: none yet); their rows are in the sums. */
  queueStats(): ReadonlyArray<QueueStats | null> {
    return this.latest;
  }

  /** Each reporting queue at a glance, with its own counts of each server. */
  summaries(): QueueSummary[] {
    const out: QueueSummary[] = [];
    for (const s of this.latest) if (s !== null) out.push(summarizeQueue(s, this.director, (rs) => this.sums.serverOn(s.queue, rs.id)));
    return out;
  }

  // ---- DirectorQueues ----

  nodest(rs: RealServer, policy: NodestPolicy): void {
    const service = this.labels.get(rs.serviceId) ?? this.director.registry.services[rs.serviceId]?.label;
    if (service === undefined) return;
    this.pendingNodest.push({ service, address: rs.addressText, policy });
    void this.flushSoon();
  }

  zero(only?: { protocol: string; vip: string; port: number }): void {
    this.pendingZero.push(only ?? null);
    // Reports of an earlier epoch are not merged: the main Director's counts stay as
    // zeroCounters left them until each worker's first report after this -Z (every row).
    this.zeroEpoch++;
    void this.flushSoon();
  }

  tableStats(): ConnTableStats {
    return sumTableStats(this.latest.filter((s): s is QueueStats => s !== null));
  }

  async connections(limit: number): Promise<DirectorConnectionSnapshot[]> {
    const replies = await this.ask((seq) => ({ t: 'conns', seq, limit }));
    const out: DirectorConnectionSnapshot[] = [];
    for (let q = 0; q < this.ports.length; q++) {
      const r = replies.get(q);
      if (r?.t === 'conns') for (const c of r.connections) if (out.length < limit) out.push(c);
    }
    return out;
  }

  /**
   * `vstunadm explain` over every queue: the queue that holds the flow's entry (or template)
   * answers; with none, the queue the steering program would send the flow to says what its
   * scheduler would pick now (each queue keeps its own counts); without steering (the
   * kernel's flow hash, which the director cannot compute), queue 0. Throws the workers'
   * error (e.g. no such service).
   */
  async explain(query: FlowQuery): Promise<FlowAnswer> {
    const replies = await this.ask((seq) => ({ t: 'explain', seq, query }));
    const answers = new Map<number, FlowAnswer>();
    for (let q = 0; q < this.ports.length; q++) {
      const r = replies.get(q);
      if (r?.t !== 'explain') continue;
      if (r.error !== null) throw Object.assign(new Error(r.error.message), { code: r.error.code });
      if (r.explanation !== null) answers.set(q, r.explanation);
    }
    const all = [...answers.values()];
    const steered = this.steering?.queueOf(query.client.address, query.client.port, query.service.vip, query.service.port) ?? null;
    const found = all.find((a) => a.reason === 'connection') ?? all.find((a) => a.reason === 'template') ?? (steered !== null ? answers.get(steered) : undefined) ?? all[0];
    if (found === undefined) throw Object.assign(new Error('no queue worker answered; try again'), { code: 'ERR_BUSY' });
    return found;
  }

  /** The queues' device counters summed (null before any report). */
  deviceStats(): DeviceStats | null {
    return sumRecords(this.latest.map((s) => s?.device ?? null));
  }

  /** The queues' offload counters summed (null without offloads). */
  offloadStats(): OffloadRxStats | null {
    return sumRecords(this.latest.map((s) => s?.offload ?? null));
  }

  /** Stops the periodic sync and tells every worker to stop; resolves when they said so (or timed out). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearInterval(this.timer);
    this.stopped = true;
    if (this.director.queues === this) this.director.queues = null;
    await this.ask(() => ({ t: 'stop' }), 'stopped');
  }

  private onMessage(q: number, msg: FromWorker): void {
    if (msg.t === 'stats') {
      // A report from before the last -Z would put the zeroed traffic counts back.
      const fresh = msg.stats.zeroEpoch === this.zeroEpoch ? msg.stats : undefined;
      this.latest[q] = { ...msg.stats, rows: EMPTY_ROWS };
      mergeQueueStats(this.director, this.latest.filter((s): s is QueueStats => s !== null), this.sums, fresh);
    }
    const seq = msg.t === 'stopped' ? -2 : msg.seq;
    const w = this.waiters.get(seq);
    if (w === undefined || !w.left.delete(q)) return;
    w.replies.set(q, msg);
    if (w.left.size === 0) this.settle(seq, w);
  }

  /** Posts one message per worker and waits for each one's reply (type `reply`, same seq). */
  private ask(make: (seq: number) => ToWorker, reply?: 'stopped'): Promise<Map<number, FromWorker>> {
    const seq = reply === 'stopped' ? -2 : this.seq++;
    return new Promise((resolve) => {
      const left = new Set(this.ports.map((_, q) => q));
      const timer = setTimeout(() => {
        for (const q of w.left) this.opts.onProblem?.(q, `no answer within ${this.opts.replyTimeoutMs ?? 2000} ms`);
        this.settle(seq, w);
      }, this.opts.replyTimeoutMs ?? 2000);
      timer.unref();
      const w: Waiter = { left, replies: new Map(), resolve, timer };
      this.waiters.set(seq, w);
      const msg = make(seq);
      for (const port of this.ports) port.postMessage(msg);
    });
  }

  private settle(seq: number, w: Waiter): void {
    clearTimeout(w.timer);
    this.waiters.delete(seq);
    w.resolve(w.replies);
  }
}
