// Counters of a multi-queue director: each queue worker reports its own (collectQueueStats;
// per service and server as packed rows of what moved, counter-rows.ts), and the main thread
// writes their sums into its Director (mergeQueueStats), whose data path never runs. So
// every reader of the main Director (vstunadm -L --stats/--rate, /metrics, the status page)
// sees the whole director without knowing there are queues, and the main thread's rate
// estimator folds the summed counters as it would its own.
import type { OffloadRxStats } from '../device/offload-rx.js';
import type { DeviceStats } from '../device/packet-device.js';
import { KIND_UDP, type ConnTableStats } from './conn-table.js';
import type { Director } from './director.js';
import type { CounterRowSums } from './counter-rows.js';
import type { RealServer } from './real-server.js';
import { Verdict } from './verdicts.js';

/** One worker's counters (plain data, posted to the main thread). */
export interface QueueStats {
  queue: number;
  /** The last -Z the worker applied (see QueuePool.zero): older reports are not merged over a newer zero. */
  zeroEpoch: number;
  framesIn: number;
  verdicts: number[];
  batchSizeCounts: number[];
  batchCount: number;
  batchPacketSum: number;
  table: ConnTableStats;
  probeForwarded: number;
  /** Per-service and per-server counts as rows (counter-rows.ts): those that moved since the last report, or all when `complete`. */
  rows: Float64Array;
  complete: boolean;
  device: DeviceStats | null;
  offload: OffloadRxStats | null;
}

/** A worker's counters now, with `counters` from its CounterRowWriter. Control plane only. */
export function collectQueueStats(director: Director, queue: number, zeroEpoch: number, counters: { rows: Float64Array; complete: boolean }, device?: { stats(): DeviceStats; offloadStats?(): OffloadRxStats | null }): QueueStats {
  return {
    queue,
    zeroEpoch,
    framesIn: director.datapath.framesIn,
    verdicts: Array.from(director.datapath.verdicts),
    batchSizeCounts: Array.from(director.batchSizeCounts),
    batchCount: director.batchCount,
    batchPacketSum: director.batchPacketSum,
    table: director.table.stats(),
    probeForwarded: director.datapath.probePins?.forwarded ?? 0,
    rows: counters.rows,
    complete: counters.complete,
    device: device ? device.stats() : null,
    offload: device?.offloadStats?.() ?? null,
  };
}

/** Field-wise sum of records of numbers (null entries skipped); null when there is none. */
export function sumRecords<T extends object>(list: ReadonlyArray<T | null>): T | null {
  let out: Record<string, number> | null = null;
  for (const r of list) {
    if (r === null) continue;
    out ??= {};
    for (const [k, v] of Object.entries(r)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  }
  return out as T | null;
}

/** The connection tables of every queue as one (entries, capacity, bytes… summed). */
export function sumTableStats(list: readonly QueueStats[]): ConnTableStats {
  return sumRecords(list.map((s) => s.table)) ?? { entries: 0, capacity: 0, slots: 0, bytes: 0, expired: 0, evictedEstablished: 0, evictedOther: 0 };
}

/**
 * Writes the sums of `reports` (the latest of each worker) into the main thread's Director:
 * frame and verdict counts, batch sizes; and, through `sums`, the per-service and per-server
 * traffic and connection counts of the rows `fresh` (the report that just came) carries.
 * Servers the main registry deleted are let go at once (their draining entries live in the
 * workers' tables).
 */
export function mergeQueueStats(director: Director, reports: readonly QueueStats[], sums: CounterRowSums, fresh?: QueueStats): void {
  const dp = director.datapath;
  dp.framesIn = 0;
  dp.verdicts.fill(0);
  director.batchSizeCounts.fill(0);
  director.batchCount = 0;
  director.batchPacketSum = 0;
  let forwarded = 0;
  for (const r of reports) {
    dp.framesIn += r.framesIn;
    for (let i = 0; i < dp.verdicts.length && i < r.verdicts.length; i++) dp.verdicts[i] += r.verdicts[i];
    for (let i = 0; i < director.batchSizeCounts.length && i < r.batchSizeCounts.length; i++) director.batchSizeCounts[i] += r.batchSizeCounts[i];
    director.batchCount += r.batchCount;
    director.batchPacketSum += r.batchPacketSum;
    forwarded += r.probeForwarded;
  }
  if (dp.probePins !== null) dp.probePins.forwarded = forwarded;
  if (fresh !== undefined) {
    for (const rs of sums.take(director.registry, fresh.queue, fresh.rows, fresh.complete)) {
      // The director-wide overload flag, as -L shows it (each worker enforces its share).
      if (rs.upperThreshold > 0 || rs.overloaded) rs.noteConnectionCount();
    }
  }
  releaseDeleted(director);
}

/**
 * A server deleted from the main registry while it had connections would wait there for
 * entries that only the workers hold; this lets it go (its id is free for reuse).
 */
function releaseDeleted(director: Director): void {
  const reg = director.registry;
  for (const rs of reg.servers) {
    if (rs === undefined || !rs.removed || rs.idle) continue;
    rs.activeConns = rs.persistConns = 0;
    rs.inactConns = 1;
    reg.released(rs.id, KIND_UDP, 0);
  }
}

/** One queue at a glance (the `queues` control op, vstun_queue_frames_total). */
export interface QueueSummary {
  queue: number;
  framesIn: number;
  forwarded: number;
  connections: number;
  /** "protocol:vip:port address" → that server's counts on this queue. */
  servers: Record<string, { conns: number; inPkts: number }>;
}

/**
 * Queue `s.queue` at a glance; `countsOf` gives a server's counts on that queue (a pool's
 * CounterRowSums, or the server's own for a single queue). Allocates a record per server.
 */
export function summarizeQueue(s: Pick<QueueStats, 'queue' | 'framesIn' | 'verdicts' | 'table'>, director: Director, countsOf: (rs: RealServer) => { conns: number; inPkts: number }): QueueSummary {
  const servers: QueueSummary['servers'] = {};
  for (const svc of director.registry.list()) for (const rs of svc.servers) if (!rs.removed) servers[`${svc.label} ${rs.addressText}`] = countsOf(rs);
  return { queue: s.queue, framesIn: s.framesIn, forwarded: s.verdicts[Verdict.Forward] ?? 0, connections: s.table.entries, servers };
}
