// Starts the queue workers of a multi-queue TAP (src/cli/director-queue-worker.ts), one thread per queue fd,
// and tells the caller when one of them fails: a dead worker leaves its queue unread, so
// the daemon must not go on as if it were whole.
import { Worker } from 'node:worker_threads';
import type { PoolPort } from './queue-pool.js';

/** What a worker needs to build its Director (plain data: it crosses threads). */
export interface QueueWorkerData {
  tap: string;
  /** The device whose MAC is the kernel's on the TAP link (the TAP, or the DR bridge). */
  kernelLink: string;
  /** This worker's queue fd (it owns and closes it). */
  fd: number;
  queue: number;
  queues: number;
  vnetHdrLen: number;
  offloadFlags: number;
  mac: number[];
  linkAddress: number;
  kernelAddress: number;
  kernelMac: number[];
  /** This worker's share of director.connTableSize. */
  connTableCapacity: number;
  mhTableSize?: number;
  icmpEcho?: boolean;
  sloppyTcp?: boolean;
  /** VS/DR's neighbour table, shared by every queue and the main thread (NeighborMemory.buffer). */
  neighbors: SharedArrayBuffer;
  /** Where the worker publishes its event-loop delay read-out (metrics/event-loop-delay.ts). */
  loopDelay?: SharedArrayBuffer;
}

export interface QueueThreads {
  ports: PoolPort[];
  /** Ends every worker (after the pool's stop, or when one failed). */
  terminate(): Promise<void>;
}

/**
 * Starts one worker per entry of `each`, running `script` (the thread entry,
 * src/cli/director-queue-worker.ts). `onFailure` is called once, with the queue and the
 * reason, the first time a worker throws or exits while not terminating.
 */
export function startQueueThreads(script: URL, each: QueueWorkerData[], onFailure: (queue: number, reason: string) => void): QueueThreads {
  const url = script;
  let ending = false;
  let failed = false;
  const fail = (q: number, reason: string) => {
    if (ending || failed) return;
    failed = true;
    onFailure(q, reason);
  };
  const workers = each.map((data) => {
    const w = new Worker(url, { workerData: data, name: `vstun-queue-${data.queue}` });
    w.on('error', (err) => fail(data.queue, err.message));
    w.on('exit', (code) => fail(data.queue, `exited with code ${code}`));
    return w;
  });
  return {
    ports: workers as unknown as PoolPort[],
    async terminate() {
      ending = true;
      await Promise.allSettled(workers.map((w) => w.terminate()));
    },
  };
}

/** Each queue's share of a connection-table capacity (rounded up, at least 1). */
export function tableShare(capacity: number, queues: number): number {
  return Math.max(1, Math.ceil(capacity / queues));
}
