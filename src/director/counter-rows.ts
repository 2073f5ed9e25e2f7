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
import type { TrafficStats } from './rate-estimator.js';

/**
 * Numbers per row: kind, the main thread's id, then the counts: conns, inPkts, inBytes,
 * outPkts, outBytes (VS/NAT replies), activeConns, inactConns, persistConns.
 */
export const ROW_WIDTH = 10;
export const ROW_SERVICE = 0;
export const ROW_SERVER = 1;
/** The counts of a row (columns 2..9), as the main thread keeps them per queue. */
const COUNTS = 8;
const C_CONNS = 0;
const C_IN_PKTS = 1;
const C_IN_BYTES = 2;
const C_OUT_PKTS = 3;
const C_OUT_BYTES = 4;
const C_ACTIVE = 5;
const C_INACT = 6;
const C_PERSIST = 7;

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
  /** The counts of the row being written. */
  private readonly counts = new Float64Array(COUNTS);

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
        this.counts.fill(0);
        this.statsInto(svc.stats);
        this.put(this.services, svc.id, all, ROW_SERVICE, main);
      }
      for (const rs of svc.servers) {
        if (rs.removed) continue;
        const mainRs = ids.serverOf(rs);
        if (mainRs === undefined) continue;
        this.servers = grow(this.servers, (rs.id + 1) * ROW_WIDTH);
        this.statsInto(rs.stats);
        this.counts[C_ACTIVE] = rs.activeConns;
        this.counts[C_INACT] = rs.inactConns;
        this.counts[C_PERSIST] = rs.persistConns;
        this.put(this.servers, rs.id, all, ROW_SERVER, mainRs);
      }
    }
    return this.out.slice(0, this.n * ROW_WIDTH);
  }

  private statsInto(stats: TrafficStats): void {
    const c = this.counts;
    c[C_CONNS] = stats.conns;
    c[C_IN_PKTS] = stats.inPkts;
    c[C_IN_BYTES] = stats.inBytes;
    c[C_OUT_PKTS] = stats.outPkts;
    c[C_OUT_BYTES] = stats.outBytes;
  }

  /** Writes `this.counts` as the row of `local` unless it equals the row last sent (and `all` is false). */
  private put(last: Float64Array, local: number, all: boolean, kind: number, main: number): void {
    const o = local * ROW_WIDTH;
    const c = this.counts;
    let same = !all && last[o] === 1 && last[o + 1] === main;
    for (let k = 0; same && k < COUNTS; k++) same = last[o + 2 + k] === c[k];
    if (same) return;
    last[o] = 1;
    last[o + 1] = main;
    last.set(c, o + 2);
    this.out = grow(this.out, (this.n + 1) * ROW_WIDTH);
    const w = this.n++ * ROW_WIDTH;
    this.out[w] = kind;
    this.out[w + 1] = main;
    this.out.set(c, w + 2);
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
    return o + COUNTS <= s.length ? { conns: s[o + C_CONNS], inPkts: s[o + C_IN_PKTS] } : { conns: 0, inPkts: 0 };
  }

  private sum(stores: Float64Array[], id: number, col: number): number {
    let n = 0;
    const o = id * COUNTS + col;
    for (const s of stores) if (o < s.length) n += s[o];
    return n;
  }

  private writeService(svc: VirtualService): void {
    const st = svc.stats;
    st.conns = this.sum(this.services, svc.id, C_CONNS);
    st.inPkts = this.sum(this.services, svc.id, C_IN_PKTS);
    st.inBytes = this.sum(this.services, svc.id, C_IN_BYTES);
    st.outPkts = this.sum(this.services, svc.id, C_OUT_PKTS);
    st.outBytes = this.sum(this.services, svc.id, C_OUT_BYTES);
  }

  private writeServer(rs: RealServer): void {
    const st = rs.stats;
    st.conns = this.sum(this.servers, rs.id, C_CONNS);
    st.inPkts = this.sum(this.servers, rs.id, C_IN_PKTS);
    st.inBytes = this.sum(this.servers, rs.id, C_IN_BYTES);
    st.outPkts = this.sum(this.servers, rs.id, C_OUT_PKTS);
    st.outBytes = this.sum(this.servers, rs.id, C_OUT_BYTES);
    rs.activeConns = this.sum(this.servers, rs.id, C_ACTIVE);
    rs.inactConns = this.sum(this.servers, rs.id, C_INACT);
    rs.persistConns = this.sum(this.servers, rs.id, C_PERSIST);
  }
}
