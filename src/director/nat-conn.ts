// VS/NAT's second key. A NAT connection is found from the client's side by the main
// connection table (client:cport → VIP:vport) and from the real server's side, for its
// replies, by this table (RIP:rport → client:cport), which leads back to the service (so
// to VIP:vport for the reverse rewrite) and to the main entry (so one TCP state machine
// sees both directions, as IPVS's NAT table does).
//
// It is a second ConnTable (same fixed-capacity open addressing, nothing allocated per
// packet) whose entries count for nobody: per-server counts belong to the main entry.
// A reply entry expires with its main entry (both expiry times are set together on every
// packet); one left behind by an eviction or -C is found stale at its next use (the main
// entry is gone) and removed then.
import { IPV6_ID_BASE, type Ipv6AddressTable } from './address-id.js';
import { ConnTable, KIND_TCP, KIND_UDP, newConnEntry } from './conn-table.js';

/** Reply-entry kinds: the main entry's protocol. */
export const NAT_KIND_TCP = KIND_TCP;
export const NAT_KIND_UDP = KIND_UDP;

export class NatReplyTable {
  /** Allocated with the first NAT connection: a director without NAT servers pays nothing. */
  private table: ConnTable | null = null;
  /** The entry being inserted (refilled each time). */
  private readonly entry = newConnEntry();

  /**
   * @param capacity  most reply entries at once (the main table's capacity is right: one per NAT entry)
   * @param addresses the director's IPv6 address table (ids of IPv6 clients and servers)
   */
  constructor(
    private readonly capacity: number,
    private readonly addresses: Ipv6AddressTable,
    private readonly seed?: number,
  ) {}

  get size(): number {
    return this.table === null ? 0 : this.table.size;
  }

  get byteLength(): number {
    return this.table === null ? 0 : this.table.byteLength;
  }

  /**
   * Records that replies from rip:rport to client:cport belong to service svcId's
   * connection to server rsId (ids as the main table stores them). An older entry with the
   * same key (the same client port reused toward another VIP mapped onto the same server)
   * is replaced. Returns the slot, or -1 when the table is full of live entries.
   * IPv4 and IPv6 may not be mixed in one key (NAT never crosses families).
   */
  add(kind: number, client: number, cport: number, rip: number, rport: number, svcId: number, rsId: number, expires: number, now: number): number {
    if ((client >= IPV6_ID_BASE) !== (rip >= IPV6_ID_BASE)) return -1;
    const table = (this.table ??= new ConnTable(this.capacity, { released() {} }, this.seed, this.addresses));
    const old = table.lookup(kind, client, cport, rip, rport, now);
    if (old >= 0) table.remove(old);
    const e = this.entry;
    e.kind = kind;
    e.caddr = client;
    e.cport = cport;
    e.vaddr = rip;
    e.vport = rport;
    e.svcId = svcId;
    e.rsId = rsId;
    e.state = 0;
    e.expires = expires;
    return table.insert(e, now);
  }

  /** Slot of the live reply entry for a packet rip:rport → client:cport, or -1. */
  find(kind: number, rip: number, rport: number, client: number, cport: number, now: number): number {
    if (this.table === null || (client >= IPV6_ID_BASE) !== (rip >= IPV6_ID_BASE)) return -1;
    return this.table.lookup(kind, client, cport, rip, rport, now);
  }

  // The slot accessors below take a slot find() or add() returned (so the table exists).
  serviceAt(slot: number): number {
    return this.table!.serviceAt(slot);
  }
  rsAt(slot: number): number {
    return this.table!.rsAt(slot);
  }
  /** Keeps the entry alive as long as its main entry (milliseconds, monotonic clock). */
  setExpires(slot: number, expires: number): void {
    this.table!.setExpires(slot, expires);
  }
  remove(slot: number): void {
    this.table!.remove(slot);
  }
  /** Bounded expiry, as ConnTable.sweep. */
  sweep(now: number, maxSlots: number): number {
    return this.table === null ? 0 : this.table.sweep(now, maxSlots);
  }
  clear(): void {
    this.table?.clear();
  }
}
