// The connection table: fixed capacity, open addressing (linear probing with backward-shift
// deletion, so no tombstones), one typed array per field, nothing allocated after
// construction. The table never grows: at capacity, an insert first evicts an expired
// entry, else the soonest-expiring non-established one, else the soonest-expiring
// established one, found by a bounded scan from the sweep cursor.
//
// Entry layout: one 32-byte record per slot in a single buffer (slots = capacity / 0.75
// → 43 bytes per entry, 44 with the occupancy byte of each slot, see `live`), so that a
// lookup reads one cache line, not one per field:
//   word 0  hash   u32  key hash (home slot = hash * slots / 2^32; also short-circuits compares)
//   word 1  caddr  u32  client address      word 2  vaddr u32  virtual address
//   word 3  ports  u32  cport << 16 | vport word 4  rs    u32  real-server id
//   (a u32 server id: 10 000 services x 10 servers is more than 65 535 servers)
//   word 5  kind (bits 0-7: 0 = empty; KIND_* (protocol / template); bit 7, KIND_V6,
//           marks IPv6), state (bits 8-15: TCP state or UDP_STATE), svc (bits 16-31: service id)
//   words 6-7 expires f64 milliseconds (monotonic clock)
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

/** u32 words per slot (32 bytes) and the word offset of each field. */
const WORDS = 8;
const W_HASH = 0;
const W_CADDR = 1;
const W_VADDR = 2;
const W_PORTS = 3;
const W_RS = 4;
const W_META = 5;
/** f64 elements per slot and the expiry's (words 6-7). */
const F64_PER_SLOT = WORDS / 2;
const F_EXPIRES = 3;
const KIND_MASK = 0xff;
const STATE_SHIFT = 8;
const STATE_MASK = 0xff << STATE_SHIFT;
const SVC_SHIFT = 16;

/** The meta word of an entry: kind, state and service id (u16) packed. */
function packMeta(kind: number, state: number, svcId: number): number {
  return ((kind & KIND_MASK) | ((state & 0xff) << STATE_SHIFT) | ((svcId & 0xffff) << SVC_SHIFT)) >>> 0;
}

/**
 * The home slot of a key hash (uint32) in a table of slots = scale * 2^32: hash * slots / 2^32,
 * a multiply where `hash % slots` would be an integer division (about a third of a lookup's
 * time). Always < slots: the product's relative rounding error (2^-53) is smaller than the
 * gap 2^-32 between (2^32 - 1) / 2^32 and 1.
 */
export function homeSlot(hash: number, scale: number): number {
  return Math.floor(hash * scale);
}

/**
 * A new entry for insert: its key, as lookup takes it (address ids), and what it holds. One
 * object per caller, refilled for each insert: named fields where ten positional numbers
 * were easy to pass in the wrong order.
 */
export interface ConnEntry {
  /** KIND_* (the table adds the IPv6 bit). */
  kind: number;
  caddr: number;
  cport: number;
  vaddr: number;
  vport: number;
  /** Service id (u16). */
  svcId: number;
  /** Real-server id, or what the table's owner keeps there (a record number). */
  rsId: number;
  /** TCP state or UDP_STATE (u8). */
  state: number;
  /** Expiry, ms on the monotonic clock. */
  expires: number;
}

export function newConnEntry(): ConnEntry {
  return { kind: 0, caddr: 0, cport: 0, vaddr: 0, vport: 0, svcId: 0, rsId: 0, state: 0, expires: 0 };
}

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
  /** slots / 2^32: a key's home slot is floor(hash * homeScale) (see homeSlot). */
  private readonly homeScale: number;
  /** The slots' records, WORDS u32 words each (fields at the W_* offsets). */
  private readonly words: Uint32Array;
  /** The same buffer as f64: a slot's expiry is at slot * 4 + 3. */
  private readonly f64: Float64Array;
  /**
   * 1 per occupied slot. The sweep and the eviction scan walk these (64 slots per cache
   * line) and read a record only for a live slot: walking the 32-byte records themselves
   * (2 per line) made each per-batch sweep read 8 KB, mostly of empty slots, which with the
   * TAP's small batches cost as much as forwarding them. Lookups read the record's own kind.
   */
  private readonly live: Uint8Array;
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
    this.homeScale = this.slots / 0x100000000;
    const buffer = new ArrayBuffer(this.slots * WORDS * 4);
    this.words = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.live = new Uint8Array(this.slots);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by all the table's arrays. */
  get byteLength(): number {
    return this.words.byteLength + this.live.byteLength;
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
    const w = this.words;
    let i = homeSlot(h, this.homeScale);
    for (;;) {
      const b = i * WORDS;
      const k = w[b + W_META] & KIND_MASK;
      if (k === 0) return -1;
      if (w[b + W_HASH] === h && k === kind && w[b + W_CADDR] === caddr && w[b + W_PORTS] === ports && w[b + W_VADDR] === vaddr) {
        if (this.f64[i * F64_PER_SLOT + F_EXPIRES] <= now) {
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
   * `entry` is read, not kept: a caller refills one object per insert (newConnEntry).
   */
  insert(entry: Readonly<ConnEntry>, now: number): number {
    if (this.count >= this.capacity && !this.evictOne(now)) return -1;
    let kind = entry.kind;
    let caddr = entry.caddr;
    let vaddr = entry.vaddr;
    if (caddr >= IPV6_ID_BASE) {
      // The entry holds its addresses in the side table until it goes.
      this.addresses.retain(caddr);
      kind |= KIND_V6;
      caddr -= IPV6_ID_BASE;
      this.addresses.retain(vaddr);
      vaddr -= IPV6_ID_BASE;
    }
    const ports = ((entry.cport << 16) | entry.vport) >>> 0;
    const h = hash4(this.seed, kind, caddr, ports, vaddr);
    const n = this.slots;
    const w = this.words;
    let i = homeSlot(h, this.homeScale);
    while ((w[i * WORDS + W_META] & KIND_MASK) !== 0) i = i + 1 === n ? 0 : i + 1;
    const b = i * WORDS;
    w[b + W_HASH] = h;
    w[b + W_CADDR] = caddr;
    w[b + W_VADDR] = vaddr;
    w[b + W_PORTS] = ports;
    w[b + W_RS] = entry.rsId;
    w[b + W_META] = packMeta(kind, entry.state, entry.svcId);
    this.f64[i * F64_PER_SLOT + F_EXPIRES] = entry.expires;
    this.live[i] = 1;
    this.count++;
    return i;
  }

  /** KIND_* without the IPv6 bit. */
  kindAt(slot: number): number {
    return this.kindByte(slot) & ~KIND_V6;
  }
  isV6At(slot: number): boolean {
    return (this.kindByte(slot) & KIND_V6) !== 0;
  }
  rsAt(slot: number): number {
    return this.words[slot * WORDS + W_RS];
  }
  serviceAt(slot: number): number {
    return this.words[slot * WORDS + W_META] >>> SVC_SHIFT;
  }
  stateAt(slot: number): number {
    return (this.words[slot * WORDS + W_META] >>> STATE_SHIFT) & 0xff;
  }
  setState(slot: number, state: number): void {
    const m = slot * WORDS + W_META;
    this.words[m] = (this.words[m] & ~STATE_MASK) | ((state & 0xff) << STATE_SHIFT);
  }
  expiresAt(slot: number): number {
    return this.f64[slot * F64_PER_SLOT + F_EXPIRES];
  }
  setExpires(slot: number, expires: number): void {
    this.f64[slot * F64_PER_SLOT + F_EXPIRES] = expires;
  }
  /** The client's address id (IPv4 uint32, or an IPv6 id). */
  clientAt(slot: number): number {
    const a = this.words[slot * WORDS + W_CADDR];
    return (this.kindByte(slot) & KIND_V6) !== 0 ? a + IPV6_ID_BASE : a;
  }
  clientPortAt(slot: number): number {
    return this.words[slot * WORDS + W_PORTS] >>> 16;
  }
  /** The virtual address id (an IPv6 entry's client and VIP are both IPv6). */
  virtualAt(slot: number): number {
    const a = this.words[slot * WORDS + W_VADDR];
    return (this.kindByte(slot) & KIND_V6) !== 0 ? a + IPV6_ID_BASE : a;
  }
  virtualPortAt(slot: number): number {
    return this.words[slot * WORDS + W_PORTS] & 0xffff;
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
    this.report(slot);
    this.words[slot * WORDS + W_RS] = rsId;
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
      if (this.live[i] !== 0 && this.f64[i * F64_PER_SLOT + F_EXPIRES] <= now) {
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
    for (let i = 0; i < this.slots; i++) if (this.live[i] !== 0) fn(i);
  }

  /** Removes every entry (ipvsadm -C), reporting each. */
  clear(): void {
    for (let i = 0; i < this.slots; i++) {
      if (this.live[i] !== 0) {
        this.report(i);
        this.releaseAddresses(i);
        this.words[i * WORDS + W_META] = 0;
      }
    }
    this.live.fill(0);
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
      if (this.live[i] !== 0) {
        const kind = this.kindByte(i);
        seen++;
        const exp = this.expiresAt(i);
        if (exp <= now) {
          this.expiredCount++;
          this.removeAt(i);
          return true;
        }
        const established = this.stateAt(i) === TcpState.Established && (kind & ~KIND_V6) === KIND_TCP;
        if (established) {
          if (victimEst < 0 || exp < this.expiresAt(victimEst)) victimEst = i;
        } else if (victimOther < 0 || exp < this.expiresAt(victimOther)) {
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
    if ((this.kindByte(slot) & KIND_V6) === 0) return;
    this.addresses.release(this.words[slot * WORDS + W_CADDR] + IPV6_ID_BASE);
    this.addresses.release(this.words[slot * WORDS + W_VADDR] + IPV6_ID_BASE);
  }

  /** The stored kind byte (KIND_V6 included); 0 for an empty slot. */
  private kindByte(slot: number): number {
    return this.words[slot * WORDS + W_META] & KIND_MASK;
  }

  /** Tells the accounting that the entry in `slot` leaves its server. */
  private report(slot: number): void {
    const meta = this.words[slot * WORDS + W_META];
    this.accounting.released(this.words[slot * WORDS + W_RS], meta & KIND_MASK & ~KIND_V6, (meta >>> STATE_SHIFT) & 0xff);
  }

  private removeAt(slot: number): void {
    this.report(slot);
    this.releaseAddresses(slot);
    const n = this.slots;
    const w = this.words;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = j + 1 === n ? 0 : j + 1;
      if (this.live[j] === 0) break;
      const home = homeSlot(w[j * WORDS + W_HASH], this.homeScale);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      w.copyWithin(hole * WORDS, j * WORDS, (j + 1) * WORDS);
      hole = j;
    }
    w[hole * WORDS + W_META] = 0;
    this.live[hole] = 0;
    this.count--;
  }
}
