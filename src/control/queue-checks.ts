// What a multi-queue director (src/director/queue-pool.ts) cannot serve, in the control
// plane's terms. VS/DR is not among it: the real servers' ARP answers land on one queue, but
// the neighbour table they fill is shared by every queue (neighbor-resolver.ts). VS/NAT replies
// (RIP:rport → client) hash to another queue than their requests unless the TAP's queues
// are steered by client (src/director/queue-steering.ts); without steering, or with more
// addresses than one steering program holds, VS/NAT needs one queue too. Checked at start
// (the CLI) and on every change.
import type { Director } from '../director/director.js';
import type { ServiceConfig } from './config-schema.js';
import { VstunadmError } from './errors.js';

/** What the queue steering says of a table: why it cannot steer it, or null. */
export interface SteeringCheck {
  check(services: readonly ServiceConfig[]): string | null;
}

/**
 * Why a table needs a single queue, or null. `steering`: the TAP's queue steering when it
 * works (null: unavailable, the kernel's flow hash picks the queues).
 */
export function singleQueueReason(services: readonly ServiceConfig[], steering: SteeringCheck | null = null): string | null {
  for (const s of services) {
    const rs = steering === null ? s.realServers.find((r) => r.forward === 'masq') : undefined;
    if (rs === undefined) continue;
    return `${s.protocol}:${s.vip}:${s.port} server ${rs.address} is forward: masq (VS/NAT), which needs one queue when the TAP's queues cannot be steered by client (bpf() or TUNSETSTEERINGEBPF unavailable): its replies do not stay on the queue of their flow`;
  }
  if (steering === null) return null;
  const why = steering.check(services);
  return why === null ? null : `${why}, so VS/NAT needs one queue`;
}

/** Throws ERR_UNSUPPORTED when `director` runs queue workers and `desired` needs one queue. */
export function checkQueuesCanServe(director: Director, desired: readonly ServiceConfig[]): void {
  if (director.queues === null) return;
  const why = singleQueueReason(desired, director.queues.steering ?? null);
  if (why !== null) throw new VstunadmError('ERR_UNSUPPORTED', `${why}; this director runs ${director.queues.count} queues (restart it with --queues 1); nothing was changed`);
}
