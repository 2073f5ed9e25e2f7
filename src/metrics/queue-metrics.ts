// Per-queue view of a multi-queue director: frames each TAP queue's worker read, so an
// operator sees whether the kernel spreads the flows (one hot queue means one busy core).
import { Counter, type Registry } from 'prom-client';
import type { QueueSummary } from '../director/counter-merge.js';

/** Registers vstun_queue_frames_total{queue}; `queues` returns each queue's latest summary. */
export function registerQueueMetrics(registry: Registry, queues: () => QueueSummary[]): void {
  new Counter({
    name: 'vstun_queue_frames_total',
    help: 'Frames read from each TAP queue (one worker thread per queue; the kernel keeps a flow on one queue).',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      this.reset();
      for (const q of queues()) this.inc({ queue: String(q.queue) }, q.framesIn);
    },
  });
}
