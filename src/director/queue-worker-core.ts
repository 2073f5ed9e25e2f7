// What a queue worker does with the main thread's messages, apart from the thread itself
// (queue-worker.ts), so that tests run it in-process over a MessageChannel: it mirrors the
// main thread's desired state into its own Director (applyProjection), applies -Z and
// connection policies to its own table, and reports its counters and connections.
import type { DeviceStats } from '../device/packet-device.js';
import type { OffloadRxStats } from '../device/offload-rx.js';
import { collectQueueStats, type QueueStats } from './counter-merge.js';
import type { DirectorConnectionSnapshot, Director, FlowAnswer, FlowQuery } from './director.js';
import { ProbePinTable } from './probe-pins.js';
import type { RealServer } from './real-server.js';
import { CounterRowWriter } from './counter-rows.js';
import { applyProjection, MainIds, type DataplaneProjection, type NodestRequest } from './registry-projection.js';

export type ZeroTarget = { protocol: string; vip: string; port: number } | null;

/** Main thread → worker. */
export type ToWorker =
  | { t: 'apply'; seq: number; projection: DataplaneProjection | null; nodest: NodestRequest[]; zero: ZeroTarget[]; zeroEpoch: number }
  | { t: 'stats'; seq: number }
  | { t: 'conns'; seq: number; limit: number }
  | { t: 'explain'; seq: number; query: FlowQuery }
  | { t: 'stop' };

/** Worker → main thread. */
export type FromWorker =
  | { t: 'ack'; seq: number; expired: number; rescheduled: number; error: string | null }
  | { t: 'stats'; seq: number; stats: QueueStats }
  | { t: 'conns'; seq: number; connections: DirectorConnectionSnapshot[] }
  | { t: 'explain'; seq: number; explanation: FlowAnswer | null; error: { code: string; message: string } | null }
  | { t: 'stopped' };

/** The message port a worker core talks through (worker_threads' parentPort, or a MessagePort in tests). */
export interface CorePort {
  postMessage(msg: FromWorker): void;
  on(event: 'message', fn: (msg: ToWorker) => void): unknown;
}

export interface QueueWorkerCoreOptions {
  director: Director;
  port: CorePort;
  queue: number;
  queues: number;
  device?: { stats(): DeviceStats; offloadStats?(): OffloadRxStats | null };
  /** Called once after the first projection is applied (start the data path then). */
  onFirstApply?: () => void;
  /** Called on `stop` before `stopped` is posted. */
  onStop?: () => void;
  /** `vstunadm explain` on this worker's Director (the control plane's explainFlow); absent: explain is refused. */
  explain?: (director: Director, query: FlowQuery) => FlowAnswer;
  /** Push counters this often (ms) without being asked; 0: only when asked. */
  statsIntervalMs?: number;
}

export class QueueWorkerCore {
  private readonly ids = new MainIds();
  private readonly rows = new CounterRowWriter();
  private zeroEpoch = 0;
  private applied = false;
  private timer: NodeJS.Timeout | undefined;
  private lastPushed = '';
  private applies = 0;

  constructor(private readonly opts: QueueWorkerCoreOptions) {
    opts.port.on('message', (msg) => this.handle(msg));
    const every = opts.statsIntervalMs ?? 0;
    if (every > 0) {
      this.timer = setInterval(() => this.pushIfMoved(), every);
      this.timer.unref();
    }
  }

  /** This worker's counters now: the per-service and per-server rows that moved since the last report (all of them the first time and after a -Z). */
  stats(): QueueStats {
    const d = this.opts.director;
    const counters = { complete: this.rows.willSendAll, rows: this.rows.rows(d.registry, this.ids) };
    return collectQueueStats(d, this.opts.queue, this.zeroEpoch, counters, this.opts.device);
  }

  /**
   * The periodic report, skipped while nothing moved (no frame read, no entry added or
   * expired, no -Z): an idle director with a large table does not serialize it four times a
   * second per queue.
   */
  private pushIfMoved(): void {
    const d = this.opts.director;
    const t = d.table.stats();
    // A projection applied may name servers by new main ids: their rows go out even when idle.
    const key = `${d.datapath.framesIn}/${t.entries}/${t.expired}/${t.evictedEstablished + t.evictedOther}/${this.zeroEpoch}/${this.applies}`;
    if (key === this.lastPushed) return;
    this.lastPushed = key;
    this.postStats(-1);
  }

  private postStats(seq: number): void {
    this.opts.port.postMessage({ t: 'stats', seq, stats: this.stats() });
  }

  private handle(msg: ToWorker): void {
    const d = this.opts.director;
    switch (msg.t) {
      case 'apply': {
        let error: string | null = null;
        let r = { expired: 0, rescheduled: 0 };
        try {
          if (msg.projection !== null) {
            r = applyProjection(d, msg.projection, this.opts.queues, msg.nodest, this.opts.queue, this.ids);
            this.applies++;
            this.attachPins(msg.projection);
          }
          for (const z of msg.zero) d.zeroCounters(z ?? undefined);
          // The main thread drops reports of an older epoch: the first of the new one carries every row.
          if (this.zeroEpoch !== msg.zeroEpoch) this.rows.sendAllNext();
          this.zeroEpoch = msg.zeroEpoch;
        } catch (err) {
          error = (err as Error).message;
        }
        this.opts.port.postMessage({ t: 'ack', seq: msg.seq, expired: r.expired, rescheduled: r.rescheduled, error });
        if (!this.applied && msg.projection !== null) {
          this.applied = true;
          this.opts.onFirstApply?.();
        }
        return;
      }
      case 'stats':
        this.postStats(msg.seq);
        return;
      case 'conns':
        this.opts.port.postMessage({ t: 'conns', seq: msg.seq, connections: d.connections(msg.limit) });
        return;
      case 'explain':
        try {
          const explain = this.opts.explain;
          if (explain === undefined) throw Object.assign(new Error('explain is not available in this worker'), { code: 'ERR_UNSUPPORTED' });
          this.opts.port.postMessage({ t: 'explain', seq: msg.seq, explanation: explain(d, msg.query), error: null });
        } catch (err) {
          const e = err as { code?: string; message?: string };
          this.opts.port.postMessage({ t: 'explain', seq: msg.seq, explanation: null, error: { code: e.code ?? 'ERR_INTERNAL', message: e.message ?? String(err) } });
        }
        return;
      case 'stop':
        if (this.timer) clearInterval(this.timer);
        this.opts.onStop?.();
        this.opts.port.postMessage({ t: 'stopped' });
        return;
    }
  }

  /** Reads the main thread's probe pins from shared memory, naming servers by the main thread's ids. */
  private attachPins(p: DataplaneProjection): void {
    const dp = this.opts.director.datapath;
    if (p.probe === null) {
      dp.probePins = null;
      return;
    }
    // Views over the same shared slots; cheap to make again on every change.
    dp.probePins = ProbePinTable.attach(p.probe.source, p.probe.portRange, p.probe.memory, (id) => this.ids.get(id));
  }
}
