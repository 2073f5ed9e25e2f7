// Per-service and per-server counters of a queue worker on their way to the main thread, as
// one Float64Array of fixed-width rows rather than an object per service and server (10 000
// services x 10 servers made 120 000 objects per report, four reports a second per worker
// while traffic flows). A worker sends only the rows that moved since its last report
// (CounterRowWriter); the main thread keeps each queue's latest counts per service and server
// and writes their sums into its registry for the rows that came (CounterRowSums). Rows name
// services and servers by the main thread's ids, which the projections carry.
import type { ServiceRegistry } from './service-registry.js';
import type { RealServer } from './real-server.js';
import type { VirtualService } from './virtual-service.js';

/** Numbers per row: kind, the main thread's id, conns, inPkts, inBytes, activeConns, inactConns, persistConns. */
export const ROW_WIDTH = 8;
export const ROW_SERVICE = 0;
export const ROW_SERVER = 1;
/** The counts of a row (columns 2..7), as the main thread keeps them per queue. */
const COUNTS = 6;

/** The main thread's ids of a worker's services and servers (undefined: not from a projection). */
export interface MainIdsOf {
  serviceOf(svc: VirtualService): number | undefined;
  serverOf(rs: RealServer): number | undefined;
}

/** A Float64Array of at least `n` numbers holding `a`'s (doubling: amortized). */
function grow(a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
  if (a.length >= n) return a;
  const b = new Float64Array(Math.max(n, a.length * 2, 64));
  b.set(a);
  return b;
}

/**
 * A worker's side: remembers the row it last sent for each of its services and servers
 * (by its own registry ids) and writes the rows that differ. Control plane of the worker;
 * allocates only the returned array (and when the registry grew).
 */
export class CounterRowWriter {
  /** Per local id: the last row sent (column 0 is 1 once sent, then 0 after the entry went). */
  private services: Float64Array<ArrayBuffer> = new Float64Array(0);
  private servers: Float64Array<ArrayBuffer> = new Float64Array(0);
  private out: Float64Array<ArrayBuffer> = new Float64Array(0);
  private n = 0;
  private all = true;

  /** The next rows() gives every row (after a -Z, or when the main thread may have lost some). */
  sendAllNext(): void {
    this.all = true;
  }

  /** Whether the next rows() gives every row. */
  get willSendAll(): boolean {
    return this.all;
  }

  /** The rows of `reg` that moved since the last call (every row the first time and after sendAllNext). */
  rows(reg: ServiceRegistry, ids: MainIdsOf): Float64Array {
    const all = this.all;
    this.all = false;
    this.n = 0;
    for (const svc of reg.services) {
      if (svc === undefined) continue;
      const main = ids.serviceOf(svc);
      if (main !== undefined) {
        this.services = grow(this.services, (svc.id + 1) * ROW_WIDTH);
        this.put(this.services, svc.id, all, ROW_SERVICE, main, svc.stats.conns, svc.stats.inPkts, svc.stats.inBytes, 0, 0, 0);
      }
      for (const rs of svc.servers) {
        if (rs.removed) continue;
        const mainRs = ids.serverOf(rs);
        if (mainRs === undefined) continue;
        this.servers = grow(this.servers, (rs.id + 1) * ROW_WIDTH);
        this.put(this.servers, rs.id, all, ROW_SERVER, mainRs, rs.stats.conns, rs.stats.inPkts, rs.stats.inBytes, rs.activeConns, rs.inactConns, rs.persistConns);
      }
    }
    return this.out.slice(0, this.n * ROW_WIDTH);
  }

  private put(last: Float64Array, local: number, all: boolean, kind: number, main: number, a: number, b: number, c: number, d: number, e: number, f: number): void {
    const o = local * ROW_WIDTH;
    if (!all && last[o] === 1 && last[o + 1] === main && last[o + 2] === a && last[o + 3] === b && last[o + 4] === c && last[o + 5] === d && last[o + 6] === e && last[o + 7] === f) return;
    last[o] = 1;
    last[o + 1] = main;
    last[o + 2] = a;
    last[o + 3] = b;
    last[o + 4] = c;
    last[o + 5] = d;
    last[o + 6] = e;
    last[o + 7] = f;
    this.out = grow(this.out, (this.n + 1) * ROW_WIDTH);
    const w = this.n++ * ROW_WIDTH;
    this.out[w] = kind;
    this.out[w + 1] = main;
    this.out.set(last.subarray(o + 2, o + ROW_WIDTH), w + 2);
  }
}

/**
 * The main thread's side: each queue's latest counts per main service and server id, and
 * their sums written into the main registry. Control plane only.
 */
export class CounterRowSums {
  private readonly services: Array<Float64Array<ArrayBuffer>>;
  private readonly servers: Array<Float64Array<ArrayBuffer>>;

  constructor(queues: number) {
    this.services = Array.from({ length: queues }, () => new Float64Array(0));
    this.servers = Array.from({ length: queues }, () => new Float64Array(0));
  }

  /**
   * Takes queue `q`'s rows (every one of its rows when `complete`: what it does not name is
   * zero) and writes the sums over the queues of the services and servers they name into
   * `reg` (of all of them when `complete`). Returns the servers whose counts were written.
   * Ids the registry no longer has are kept (a report may come before the change that made
   * them) and written nowhere.
   */
  take(reg: ServiceRegistry, q: number, rows: Float64Array, complete: boolean): RealServer[] {
    if (complete) {
      this.services[q].fill(0);
      this.servers[q].fill(0);
    }
    const touched: RealServer[] = [];
    for (let o = 0; o + ROW_WIDTH <= rows.length; o += ROW_WIDTH) {
      const id = rows[o + 1];
      const server = rows[o] === ROW_SERVER;
      const stores = server ? this.servers : this.services;
      const store = (stores[q] = grow(stores[q], (id + 1) * COUNTS));
      store.set(rows.subarray(o + 2, o + ROW_WIDTH), id * COUNTS);
      if (complete) continue;
      if (server) {
        const rs = reg.servers[id];
        if (rs !== undefined && !rs.removed) {
          this.writeServer(rs);
          touched.push(rs);
        }
      } else {
        const svc = reg.services[id];
        if (svc !== undefined) this.writeService(svc);
      }
    }
    if (complete) {
      for (const svc of reg.services) {
        if (svc === undefined) continue;
        this.writeService(svc);
        for (const rs of svc.servers) {
          if (rs.removed) continue;
          this.writeServer(rs);
          touched.push(rs);
        }
      }
    }
    return touched;
  }

  /** Queue `q`'s counts of main server `id`: conns and inPkts (zeros when it sent none). */
  serverOn(q: number, id: number): { conns: number; inPkts: number } {
    const s = this.servers[q];
    const o = id * COUNTS;
    return o + COUNTS <= s.length ? { conns: s[o], inPkts: s[o + 1] } : { conns: 0, inPkts: 0 };
  }

  private sum(stores: Float64Array[], id: number, col: number): number {
    let n = 0;
    const o = id * COUNTS + col;
    for (const s of stores) if (o < s.length) n += s[o];
    return n;
  }

  private writeService(svc: VirtualService): void {
    svc.stats.conns = this.sum(this.services, svc.id, 0);
    svc.stats.inPkts = this.sum(this.services, svc.id, 1);
    svc.stats.inBytes = this.sum(this.services, svc.id, 2);
  }

  private writeServer(rs: RealServer): void {
    rs.stats.conns = this.sum(this.servers, rs.id, 0);
    rs.stats.inPkts = this.sum(this.servers, rs.id, 1);
    rs.stats.inBytes = this.sum(this.servers, rs.id, 2);
    rs.activeConns = this.sum(this.servers, rs.id, 3);
    rs.inactConns = this.sum(this.servers, rs.id, 4);
    rs.persistConns = this.sum(this.servers, rs.id, 5);
  }
}
