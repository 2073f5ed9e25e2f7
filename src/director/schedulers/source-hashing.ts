// sh and dh: static hash tables of 256 buckets (IPVS ip_vs_sh.c, ip_vs_dh.c).
//   sh: buckets are dealt to servers in list order, each server taking `weight` consecutive
//       buckets (at least one); the key is the client address (and port with sh-port).
//       An unavailable server's flows fail, or with sh-fallback are rehashed to another
//       bucket.
//   dh: buckets are dealt one per server; the key is the destination (virtual) address.
// The hashes are seedless, so every director with the same server list picks the same.
import type { RealServer } from '../real-server.js';
import { hash2 } from '../flow-hash.js';
import type { FlowKey, Scheduler, SchedulerFlag } from './scheduler.js';

const BUCKETS = 256;
const MASK = BUCKETS - 1;

function dealBuckets(servers: readonly RealServer[], table: (RealServer | null)[], weighted: boolean): void {
  const list = servers.filter((rs) => !rs.removed);
  let p = 0;
  let taken = 0;
  for (let i = 0; i < BUCKETS; i++) {
    if (list.length === 0) {
      table[i] = null;
      continue;
    }
    const rs = list[p];
    table[i] = rs;
    taken++;
    if (!weighted || taken >= rs.weight) {
      p = (p + 1) % list.length;
      taken = 0;
    }
  }
}

export class SourceHashingScheduler implements Scheduler {
  readonly name = 'sh';
  readonly consistent = true;
  private readonly table: (RealServer | null)[] = new Array(BUCKETS).fill(null);
  private readonly fallback: boolean;
  private readonly usePort: boolean;

  constructor(flags: ReadonlySet<SchedulerFlag>) {
    this.fallback = flags.has('sh-fallback');
    this.usePort = flags.has('sh-port');
  }

  update(servers: readonly RealServer[]): void {
    dealBuckets(servers, this.table, true);
  }

  schedule(flow: FlowKey): RealServer | null {
    const port = this.usePort ? flow.cport : 0;
    const rs = this.table[hash2(0, flow.caddr, port) & MASK];
    if (rs !== null && rs.available) return rs;
    if (!this.fallback) return null;
    for (let offset = 1; offset < BUCKETS; offset++) {
      const alt = this.table[hash2(offset, flow.caddr, port) & MASK];
      if (alt !== null && alt.available) return alt;
    }
    return null;
  }
}

export class DestinationHashingScheduler implements Scheduler {
  readonly name = 'dh';
  readonly consistent = true;
  private readonly table: (RealServer | null)[] = new Array(BUCKETS).fill(null);

  update(servers: readonly RealServer[]): void {
    dealBuckets(servers, this.table, false);
  }

  schedule(flow: FlowKey): RealServer | null {
    const rs = this.table[hash2(0, flow.vaddr, 0) & MASK];
    return rs !== null && rs.available ? rs : null;
  }
}
