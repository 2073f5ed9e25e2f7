// FTP data connections through VS/NAT (IPv4), each found from both sides:
//   from the client:  (client, cport) → VIP:vport     (passive: vport is the server's PASV
//                                                      port; active: the service port - 1)
//   from the server:  RIP:rport → (client, cport)
// A data connection's ports are its own (not the service's port or the server's port
// mapping), so it cannot live in the main connection table, whose NAT entries derive both
// from the service and the server. Two ConnTables (fixed capacity, open addressing, nothing
// allocated per packet) index one array of records; a table's rs field holds the record
// number. A record lives as long as its client-side entry: when that entry leaves (expiry,
// eviction, clear), the record is freed and its server-side entry removed; a server-side
// entry whose record was freed or reused is recognised by its key and dropped.
import { ConnTable, KIND_TCP, newConnEntry } from './conn-table.js';

export class FtpDataConns {
  readonly capacity: number;
  private readonly byClient: ConnTable;
  private readonly byServer: ConnTable;
  /** The entry being inserted (refilled each time). */
  private readonly entry = newConnEntry();
  // Records, index = record number.
  private readonly client: Uint32Array;
  private readonly cport: Uint16Array;
  private readonly vip: Uint32Array;
  private readonly vport: Uint16Array;
  private readonly rip: Uint32Array;
  private readonly rport: Uint16Array;
  private readonly svcIds: Uint16Array;
  private readonly rsIds: Uint32Array;
  private readonly states: Uint8Array;
  private readonly used: Uint8Array;
  /** Stack of free record numbers. */
  private readonly free: Int32Array;
  private freeTop: number;

  /** @param capacity most data connections at once (>= 1) */
  constructor(capacity = 4096, seed?: number) {
    this.capacity = capacity;
    // One record more than entries: a new connection takes its record before its insert
    // evicts (and so frees) another one when the tables are full.
    const records = capacity + 1;
    this.client = new Uint32Array(records);
    this.cport = new Uint16Array(records);
    this.vip = new Uint32Array(records);
    this.vport = new Uint16Array(records);
    this.rip = new Uint32Array(records);
    this.rport = new Uint16Array(records);
    this.svcIds = new Uint16Array(records);
    this.rsIds = new Uint32Array(records);
    this.states = new Uint8Array(records);
    this.used = new Uint8Array(records);
    this.free = new Int32Array(records);
    for (let i = 0; i < records; i++) this.free[i] = records - 1 - i;
    this.freeTop = records;
    this.byClient = new ConnTable(capacity, { released: (r) => this.release(r) }, seed);
    this.byServer = new ConnTable(capacity, { released() {} }, seed);
  }

  get size(): number {
    return this.byClient.size;
  }

  /**
   * A new data connection (all addresses IPv4 uint32). Returns its record number, or -1
   * when the tables are full of live connections.
   */
  add(client: number, cport: number, vip: number, vport: number, rip: number, rport: number, svcId: number, rsId: number, state: number, expires: number, now: number): number {
    const old = this.byClient.lookup(KIND_TCP, client, cport, vip, vport, now);
    if (old >= 0) this.byClient.remove(old);
    const stale = this.byServer.lookup(KIND_TCP, client, cport, rip, rport, now);
    if (stale >= 0) this.byServer.remove(stale);
    if (this.freeTop === 0) return -1;
    const r = this.free[--this.freeTop];
    this.used[r] = 1;
    this.client[r] = client;
    this.cport[r] = cport;
    this.vip[r] = vip;
    this.vport[r] = vport;
    this.rip[r] = rip;
    this.rport[r] = rport;
    this.svcIds[r] = svcId;
    this.rsIds[r] = rsId;
    this.states[r] = state;
    // Both keys hold the record number; they differ only in the far side (VIP or server).
    const e = this.entry;
    e.kind = KIND_TCP;
    e.caddr = client;
    e.cport = cport;
    e.vaddr = vip;
    e.vport = vport;
    e.svcId = 0;
    e.rsId = r;
    e.state = state;
    e.expires = expires;
    if (this.byClient.insert(e, now) < 0) {
      this.release(r);
      return -1;
    }
    e.vaddr = rip;
    e.vport = rport;
    if (this.byServer.insert(e, now) < 0) {
      this.byClient.remove(this.byClient.lookup(KIND_TCP, client, cport, vip, vport, now));
      return -1;
    }
    return r;
  }

  /** The record of the live connection a client packet client:cport → vip:vport belongs to, or -1. */
  fromClient(client: number, cport: number, vip: number, vport: number, now: number): number {
    const s = this.byClient.lookup(KIND_TCP, client, cport, vip, vport, now);
    return s < 0 ? -1 : this.byClient.rsAt(s);
  }

  /** The record of the live connection a server packet rip:rport → client:cport belongs to, or -1. */
  fromServer(rip: number, rport: number, client: number, cport: number, now: number): number {
    const s = this.byServer.lookup(KIND_TCP, client, cport, rip, rport, now);
    if (s < 0) return -1;
    const r = this.byServer.rsAt(s);
    if (this.used[r] === 1 && this.client[r] === client && this.cport[r] === cport && this.rip[r] === rip && this.rport[r] === rport) return r;
    this.byServer.remove(s);
    return -1;
  }

  /** Sets record r's TCP state and keeps both of its entries until `expires` (ms). */
  touch(r: number, state: number, expires: number, now: number): void {
    this.states[r] = state;
    const c = this.byClient.lookup(KIND_TCP, this.client[r], this.cport[r], this.vip[r], this.vport[r], now);
    if (c >= 0) {
      this.byClient.setExpires(c, expires);
      this.byClient.setState(c, state);
    }
    const s = this.byServer.lookup(KIND_TCP, this.client[r], this.cport[r], this.rip[r], this.rport[r], now);
    if (s >= 0) this.byServer.setExpires(s, expires);
  }

  stateOf(r: number): number {
    return this.states[r];
  }
  serviceOf(r: number): number {
    return this.svcIds[r];
  }
  serverOf(r: number): number {
    return this.rsIds[r];
  }
  vipOf(r: number): number {
    return this.vip[r];
  }
  vportOf(r: number): number {
    return this.vport[r];
  }
  ripOf(r: number): number {
    return this.rip[r];
  }
  rportOf(r: number): number {
    return this.rport[r];
  }

  /** Bounded expiry of both tables (as ConnTable.sweep). */
  sweep(now: number, maxSlots: number): void {
    if (this.byClient.size > 0) this.byClient.sweep(now, maxSlots);
    if (this.byServer.size > 0) this.byServer.sweep(now, maxSlots);
  }

  clear(): void {
    this.byClient.clear();
    this.byServer.clear();
  }

  /** The client-side entry of record r left: free r and drop its server-side entry. */
  private release(r: number): void {
    if (this.used[r] === 0) return;
    this.used[r] = 0;
    this.free[this.freeTop++] = r;
    const s = this.byServer.lookup(KIND_TCP, this.client[r], this.cport[r], this.rip[r], this.rport[r], -Infinity);
    if (s >= 0 && this.byServer.rsAt(s) === r) this.byServer.remove(s);
  }
}
