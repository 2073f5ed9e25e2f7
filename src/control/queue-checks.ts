// What a multi-queue director (src/director/queue-pool.ts) cannot serve, in the control
// plane's terms: VS/NAT replies (RIP:rport → client) hash to another queue than their
// connection's requests, and VS/DR's ARP answers land on one queue only, so a worker would
// miss the state another queue holds. Checked at start (the CLI) and on every change.
import type { Director } from '../director/director.js';
import type { ServiceConfig } from './config-schema.js';
import { VstunadmError } from './errors.js';

/** Why a table needs a single queue, or null. */
export function singleQueueReason(services: readonly ServiceConfig[], drBridge: boolean): string | null {
  if (drBridge) return 'director.dr (VS/DR) needs one queue';
  for (const s of services) {
    const rs = s.realServers.find((r) => r.forward !== 'tunnel');
    if (rs !== undefined) return `${s.protocol}:${s.vip}:${s.port} server ${rs.address} is forward: ${rs.forward} (VS/${rs.forward === 'masq' ? 'NAT' : 'DR'}), which needs one queue: its replies or ARP do not stay on the queue of their flow`;
  }
  return null;
}

/** Throws ERR_UNSUPPORTED when `director` runs queue workers and `desired` needs one queue. */
export function checkQueuesCanServe(director: Director, desired: readonly ServiceConfig[]): void {
  if (director.queues === null) return;
  const why = singleQueueReason(desired, false);
  if (why !== null) throw new VstunadmError('ERR_UNSUPPORTED', `${why}; this director runs ${director.queues.count} queues (restart it with --queues 1); nothing was changed`);
}
