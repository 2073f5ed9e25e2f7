// The connection table: fixed capacity, open addressing (linear probing with backward-shift
// deletion, so no tombstones), one typed array per field, nothing allocated after
// construction. The table never grows: at capacity, an insert first evicts an expired
// entry, else the soonest-expiring non-established one, else the soonest-expiring
// established one, found by a bounded scan from the sweep cursor.
//
// Entry layout (32 bytes per slot, slots = capacity / 0.75 → 43 bytes per entry):
//   hash   u32  key hash (home slot = hash % slots; also short-circuits compares)
//   caddr  u32  client address      vaddr u32  virtual address
//   ports  u32  cport << 16 | vport rs    u32  real-server id   svc u16  service id
//   (a u32 server id: 10 000 services x 10 servers is more than 65 535 servers)
//   state  u8   TCP state or UDP_STATE
//   kind   u8   0 = empty; KIND_* (protocol / template); bit 7 (KIND_V6) marks IPv6
//   expires f64 milliseconds (monotonic clock)
// IPv6: callers pass address ids (address-id.ts); an IPv6 entry stores the slots of its
// client and virtual address in the interned side table of 16-byte addresses (each entry
// holds a reference on both, dropped when the entry goes) and sets KIND_V6, so IPv4
// entries, the common case, stay 32 bytes.
//
// Expiry never scans the whole table per packet: lookups expire the entry they hit, and
// sweep() checks a bounded number of slots per call from a rotating cursor.
import { IPV6_ID_BASE, Ipv6AddressTable } from './address-id.js';
import { hash4 } from './flow-hash.js';
import { TcpState } from './tcp-state.js';

export const KIND_TCP = 1;
export const KIND_UDP = 2;
/** Persistence templates (client network → real server), one kind per service protocol. */
export const KIND_TCP_TEMPLATE = 3;
export const KIND_UDP_TEMPLATE = 4;
/** Set in the stored kind of IPv6 entries. */
export const KIND_V6 = 0x80;

export const DEFAULT_CONN_TABLE_CAPACITY = 1 << 20;
const LOAD = 0.75;
const EVICT_SCAN = 256;

/** Told about every entry that leaves the table, so per-server counts stay right. */
export interface ConnAccounting {
  released(rsId: number, kind: number, state: number): void;
}

export interface ConnTableStats {
  entries: number;
  capacity: number;
  slots: number;
  bytes: number;
  expired: number;
  evictedEstablished: number;
  evictedOther: number;
}

export class ConnTable {
  readonly capacity: number;
  readonly slots: number;
  private readonly hash: Uint32Array;
  private readonly caddr: Uint32Array;
  private readonly vaddr: Uint32Array;
  private readonly ports: Uint32Array;
  private readonly rsId: Uint32Array;
  private readonly svcId: Uint16Array;
  private readonly stateArr: Uint8Array;
  private readonly kind: Uint8Array;
  private readonly expiresArr: Float64Array;
  private count = 0;
  private cursor = 0;
  private expiredCount = 0;
  private evictedEst = 0;
  private evictedOther = 0;

  /**
   * @param capacity   most entries held at once (>= 1; RangeError otherwise)
   * @param accounting notified of every removal
   * @param seed       hash seed (random per process by default)
   */
  constructor(
    capacity: number = DEFAULT_CONN_TABLE_CAPACITY,
    private readonly accounting: ConnAccounting = { released() {} },
    private readonly seed: number = (Math.random() * 0x100000000) >>> 0,
    /** The director's IPv6 address table (the ids callers pass are its slots). */
    private readonly addresses: Ipv6AddressTable = new Ipv6AddressTable(1024),
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64 * 1024 * 1024) {
      throw new RangeError(`connection table capacity must be an integer in 1..67108864, got ${capacity}`);
    }
    this.capacity = capacity;
    this.slots = Math.ceil(capacity / LOAD) + 1;
    const n = this.slots;
    this.hash = new Uint32Array(n);
    this.caddr = new Uint32Array(n);
    this.vaddr = new Uint32Array(n);
    this.ports = new Uint32Array(n);
    this.rsId = new Uint32Array(n);
    this.svcId = new Uint16Array(n);
    this.stateArr = new Uint8Array(n);
    this.kind = new Uint8Array(n);
    this.expiresArr = new Float64Array(n);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by all the table's arrays. */
  get byteLength(): number {
    return (
      this.hash.byteLength +
      this.caddr.byteLength +
      this.vaddr.byteLength +
      this.ports.byteLength +
      this.rsId.byteLength +
      this.svcId.byteLength +
      this.stateArr.byteLength +
      this.kind.byteLength +
      this.expiresArr.byteLength
    );
  }

  /** Slot of a live entry, or -1. An entry found expired is removed and reported as a miss. */
  lookup(kind: number, caddr: number, cport: number, vaddr: number, vport: number, now: number): number {
    if (caddr >= IPV6_ID_BASE) {
      kind |= KIND_V6;
      caddr -= IPV6_ID_BASE;
      vaddr = vaddr >= IPV6_ID_BASE ? vaddr - IPV6_ID_BASE : vaddr;
    }
    const ports = ((cport << 16) | vport) >>> 0;
    const h = hash4(this.seed, kind, caddr, ports, vaddr);
    const n = this.slots;
    let i = h % n;
    for (;;) {
      const k = this.kind[i];
      if (k === 0) return -1;
      if (this.hash[i] === h && k === kind && this.caddr[i] === caddr && this.ports[i] === ports && this.vaddr[i] === vaddr) {
        if (this.expiresArr[i] <= now) {
          this.expiredCount++;
          this.removeAt(i);
          return -1;
        }
        return i;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  /**
   * Inserts a new entry (the caller has checked there is none with this key) and returns its
   * slot. At capacity, one entry is evicted first; returns -1 only if nothing can be evicted.
   */
  insert(
    kind: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    svcId: number,
    rsId: number,
    state: number,
    expires: number,
    now: number,
  ): number {
    if (this.count >= this.capacity && !this.evictOne(now)) return -1;
    if (caddr >= IPV6_ID_BASE) {
      // The entry holds its addresses in the side table until it goes.
      this.addresses.retain(caddr);
      kind |= KIND_V6;
      caddr -= IPV6_ID_BASE;
      this.addresses.retain(vaddr);
      vaddr -= IPV6_ID_BASE;
    }
    const ports = ((cport << 16) | vport) >>> 0;
    const h = hash4(this.seed, kind, caddr, ports, vaddr);
    const n = this.slots;
    let i = h % n;
    while (this.kind[i] !== 0) i = i + 1 === n ? 0 : i + 1;
    this.hash[i] = h;
    this.kind[i] = kind;
    this.caddr[i] = caddr;
    this.vaddr[i] = vaddr;
    this.ports[i] = ports;
    this.svcId[i] = svcId;
    this.rsId[i] = rsId;
    this.stateArr[i] = state;
    this.expiresArr[i] = expires;
    this.count++;
    return i;
  }

  /** KIND_* without the IPv6 bit. */
  kindAt(slot: number): number {
    return this.kind[slot] & ~KIND_V6;
  }
  isV6At(slot: number): boolean {
    return (this.kind[slot] & KIND_V6) !== 0;
  }
  rsAt(slot: number): number {
    return this.rsId[slot];
  }
  serviceAt(slot: number): number {
    return this.svcId[slot];
  }
  stateAt(slot: number): number {
    return this.stateArr[slot];
  }
  setState(slot: number, state: number): void {
    this.stateArr[slot] = state;
  }
  expiresAt(slot: number): number {
    return this.expiresArr[slot];
  }
  setExpires(slot: number, expires: number): void {
    this.expiresArr[slot] = expires;
  }
  /** The client's address id (IPv4 uint32, or an IPv6 id). */
  clientAt(slot: number): number {
    return (this.kind[slot] & KIND_V6) !== 0 ? this.caddr[slot] + IPV6_ID_BASE : this.caddr[slot];
  }
  clientPortAt(slot: number): number {
    return this.ports[slot] >>> 16;
  }
  /** The virtual address id (an IPv6 entry's client and VIP are both IPv6). */
  virtualAt(slot: number): number {
    return (this.kind[slot] & KIND_V6) !== 0 ? this.vaddr[slot] + IPV6_ID_BASE : this.vaddr[slot];
  }
  virtualPortAt(slot: number): number {
    return this.ports[slot] & 0xffff;
  }

  /** Removes the entry in `slot` (reporting it to the accounting). */
  remove(slot: number): void {
    this.removeAt(slot);
  }

  /**
   * Moves the entry in `slot` to another real server (reschedule), in place: the old
   * server is told the entry left it (accounting), the key, the addresses it holds (IPv6
   * references) and the expiry stay. The caller accounts the entry to the new server.
   */
  rebind(slot: number, rsId: number): void {
    this.accounting.released(this.rsId[slot], this.kind[slot] & ~KIND_V6, this.stateArr[slot]);
    this.rsId[slot] = rsId;
  }

  /**
   * Checks up to `maxSlots` slots from the rotating cursor and removes expired entries.
   * Returns how many were removed. Call once per batch and from a timer.
   */
  sweep(now: number, maxSlots: number): number {
    const n = this.slots;
    let removed = 0;
    let i = this.cursor;
    for (let checked = 0; checked < maxSlots && this.count > 0; checked++) {
      if (this.kind[i] !== 0 && this.expiresArr[i] <= now) {
        this.removeAt(i);
        this.expiredCount++;
        removed++;
        // Backward shift may have moved a later entry into i: look at i again.
        continue;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    this.cursor = i;
    return removed;
  }

  /** Calls fn for every live entry (control plane: listings). Does not expire anything. */
  forEach(fn: (slot: number) => void): void {
    for (let i = 0; i < this.slots; i++) if (this.kind[i] !== 0) fn(i);
  }

  /** Removes every entry (ipvsadm -C), reporting each. */
  clear(): void {
    for (let i = 0; i < this.slots; i++) {
      if (this.kind[i] !== 0) {
        this.accounting.released(this.rsId[i], this.kind[i] & ~KIND_V6, this.stateArr[i]);
        this.releaseAddresses(i);
        this.kind[i] = 0;
      }
    }
    this.count = 0;
  }

  stats(): ConnTableStats {
    return {
      entries: this.count,
      capacity: this.capacity,
      slots: this.slots,
      bytes: this.byteLength,
      expired: this.expiredCount,
      evictedEstablished: this.evictedEst,
      evictedOther: this.evictedOther,
    };
  }

  private evictOne(now: number): boolean {
    const n = this.slots;
    let i = this.cursor;
    let victimOther = -1;
    let victimEst = -1;
    for (let seen = 0, checked = 0; seen < EVICT_SCAN && checked < n; checked++) {
      if (this.kind[i] !== 0) {
        seen++;
        const exp = this.expiresArr[i];
        if (exp <= now) {
          this.expiredCount++;
          this.removeAt(i);
          return true;
        }
        const established = this.stateArr[i] === TcpState.Established && (this.kind[i] & ~KIND_V6) === KIND_TCP;
        if (established) {
          if (victimEst < 0 || exp < this.expiresArr[victimEst]) victimEst = i;
        } else if (victimOther < 0 || exp < this.expiresArr[victimOther]) {
          victimOther = i;
        }
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    this.cursor = i;
    if (victimOther >= 0) {
      this.evictedOther++;
      this.removeAt(victimOther);
      return true;
    }
    if (victimEst >= 0) {
      this.evictedEst++;
      this.removeAt(victimEst);
      return true;
    }
    return false;
  }

  /** Knuth's algorithm R: pull later entries of the probe run back so lookups stay correct. */
  private releaseAddresses(slot: number): void {
    if ((this.kind[slot] & KIND_V6) === 0) return;
    this.addresses.release(this.caddr[slot] + IPV6_ID_BASE);
    this.addresses.release(this.vaddr[slot] + IPV6_ID_BASE);
  }

  private removeAt(slot: number): void {
    this.accounting.released(this.rsId[slot], this.kind[slot] & ~KIND_V6, this.stateArr[slot]);
    this.releaseAddresses(slot);
    const n = this.slots;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = j + 1 === n ? 0 : j + 1;
      if (this.kind[j] === 0) break;
      const home = this.hash[j] % n;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      this.hash[hole] = this.hash[j];
      this.kind[hole] = this.kind[j];
      this.caddr[hole] = this.caddr[j];
      this.vaddr[hole] = this.vaddr[j];
      this.ports[hole] = this.ports[j];
      this.svcId[hole] = this.svcId[j];
      this.rsId[hole] = this.rsId[j];
      this.stateArr[hole] = this.stateArr[j];
      this.expiresArr[hole] = this.expiresArr[j];
      hole = j;
    }
    this.kind[hole] = 0;
    this.count--;
  }
}
