// VS/DR's neighbour table: the MAC of each direct-routing real server on the LAN the TAP
// shares with it (through the DR bridge), learned by ARP. The data path asks macOf() per
// packet; a server whose MAC is not known (yet, or any more) is noted with want(), and the
// director sends the ARP requests that takeRequests() hands out, at most one per server
// per retry interval. Only answers to our own requests are learned (an unsolicited ARP
// reply naming a real server's address is ignored), and an entry lives for `ttlMs`, then
// is asked for again while traffic still wants it. Bounded: at most `capacity` servers.
//
// Several queues: the table's addresses, "asked" marks and MACs live in one NeighborMemory
// (a SharedArrayBuffer) that every queue worker and the main thread attach. An answer lands
// on one queue only (the steering program sends ARP to queue 0; without it, the kernel's
// flow hash picks one), whichever thread asked: so a request marks the address asked in
// the shared table before its frame is written, the queue that receives the answer checks
// that mark, and the MAC it learns is visible to every queue at its next packet. Messages
// through the main thread would race the answer (a reply can arrive before a relayed
// "asked"), cost a post per learned answer, and leave a queue forwarding to a stale MAC
// until the relay came. Each thread keeps its own copy of the MACs it uses (refreshed when
// the slot's version moves: one atomic read per packet), its own retry timers and counters.
import { MAC_LENGTH } from '../wire/ethernet.js';

export interface NeighborResolverOptions {
  /** Most servers tracked at once (DR servers of the whole table, every queue together). */
  capacity: number;
  /** Milliseconds between two requests for one address (per thread). */
  retryMs: number;
  /** Requests without an answer after which the address counts as failed (once per round). */
  failAfter: number;
  /** Milliseconds a learned MAC is trusted before it is asked for again. */
  ttlMs: number;
}

export const DEFAULT_NEIGHBOR_OPTIONS: NeighborResolverOptions = { capacity: 4096, retryMs: 1000, failAfter: 3, ttlMs: 60_000 };

export interface NeighborStats {
  /** Addresses in the (shared) table. */
  entries: number;
  requests: number;
  replies: number;
  /** Addresses that stayed unanswered after failAfter requests (counted once per round). */
  failures: number;
  /** ARP replies ignored: not for an address the director asked about. */
  unsolicited: number;
  /** want() refused: the table was full. */
  full: number;
}

// Header words of the shared table.
const H_CAPACITY = 0;
const H_SLOTS = 1;
const H_COUNT = 2;
const HEADER_WORDS = 4;
/** Key of an empty slot (0.0.0.0 is never a real server). */
const EMPTY = 0;
/** Slot found but the table is full / address absent (slotOf's answers below 0). */
const FULL = -2;
const ABSENT = -1;

/**
 * The shared part of a neighbour table: an open-addressed hash over IPv4 addresses (keys
 * inserted by compare-and-swap, never removed: servers come back, and the bound holds),
 * an "asked" mark per slot, and each slot's MAC under a version word (odd while written).
 * Plain data: pass `buffer` to a worker and attach() it there.
 */
export class NeighborMemory {
  readonly header: Int32Array;
  readonly keys: Int32Array;
  readonly asked: Int32Array;
  readonly versions: Int32Array;
  readonly macs: Uint8Array;
  readonly capacity: number;
  readonly slots: number;

  private constructor(readonly buffer: SharedArrayBuffer | ArrayBuffer) {
    const head = new Int32Array(buffer, 0, HEADER_WORDS);
    this.capacity = head[H_CAPACITY];
    this.slots = head[H_SLOTS];
    const s = this.slots;
    this.header = head;
    this.keys = new Int32Array(buffer, HEADER_WORDS * 4, s);
    this.asked = new Int32Array(buffer, (HEADER_WORDS + s) * 4, s);
    this.versions = new Int32Array(buffer, (HEADER_WORDS + 2 * s) * 4, s);
    this.macs = new Uint8Array(buffer, (HEADER_WORDS + 3 * s) * 4, s * MAC_LENGTH);
  }

  /** A table for `capacity` addresses (1..65536), shared between threads unless `shared` is false. */
  static create(capacity: number, shared = true): NeighborMemory {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) throw new RangeError(`neighbour table capacity ${capacity}: 1..65536`);
    // At most half full: probes stay short.
    let slots = 2;
    while (slots < capacity * 2) slots *= 2;
    const bytes = (HEADER_WORDS + 3 * slots) * 4 + slots * MAC_LENGTH;
    const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const head = new Int32Array(buffer, 0, HEADER_WORDS);
    head[H_CAPACITY] = capacity;
    head[H_SLOTS] = slots;
    return new NeighborMemory(buffer);
  }

  /** The table another thread made (its `buffer`). */
  static attach(buffer: SharedArrayBuffer | ArrayBuffer): NeighborMemory {
    return new NeighborMemory(buffer);
  }
}

export class NeighborResolver {
  readonly memory: NeighborMemory;
  /**
   * memory.versions, read per packet without Atomics (an aligned Int32 never tears) as a hint
   * that a slot moved; refresh() then reads it under the seqlock.
   */
  private readonly versions: Int32Array;
  /** This thread's address → slot (only addresses present in the shared table). */
  private readonly index = new Map<number, number>();
  /** The slots in `index`, in the order this thread met them. */
  private readonly order: Int32Array;
  private known = 0;
  /** This thread's copy of each slot's MAC, as of version seen[slot]. */
  private readonly macs: Uint8Array;
  private readonly seen: Int32Array;
  /** Time this thread learned or first saw the slot's current MAC (its clock, ms). */
  private readonly learnedAt: Float64Array;
  private readonly lastAsked: Float64Array;
  private readonly unanswered: Uint16Array;
  private readonly pending: Uint8Array;
  private pendingCount = 0;
  /** refresh()'s read of a shared MAC, kept only once its version held. */
  private readonly scratch = new Uint8Array(MAC_LENGTH);
  /** 32 - log2(slots): the hash's top bits pick the first slot. */
  private readonly shift: number;
  readonly stats: NeighborStats = { entries: 0, requests: 0, replies: 0, failures: 0, unsolicited: 0, full: 0 };

  /**
   * `memory`: the table shared with the other queues (one private table by default, sized
   * by options.capacity; a shared one brings its own capacity).
   */
  constructor(
    readonly options: NeighborResolverOptions = DEFAULT_NEIGHBOR_OPTIONS,
    memory?: NeighborMemory,
  ) {
    this.memory = memory ?? NeighborMemory.create(options.capacity, false);
    this.versions = this.memory.versions;
    const s = this.memory.slots;
    this.order = new Int32Array(this.memory.capacity);
    this.macs = new Uint8Array(s * MAC_LENGTH);
    this.seen = new Int32Array(s);
    this.learnedAt = new Float64Array(s).fill(-Infinity);
    this.lastAsked = new Float64Array(s).fill(-Infinity);
    this.unanswered = new Uint16Array(s);
    this.pending = new Uint8Array(s);
    this.shift = 32 - Math.log2(s);
  }

  /**
   * Copies the MAC of IPv4 address `ip` to out[off..off+6) and returns true when it is
   * known and fresh; else notes that it is wanted (a request goes out) and returns false.
   */
  macOf(ip: number, out: Uint8Array, off: number, now: number): boolean {
    // This thread's index first (the per-packet case), then the shared table.
    const i = this.index.get(ip) ?? this.slotOf(ip, false);
    if (i >= 0) {
      if (this.versions[i] !== this.seen[i]) this.refresh(i, now);
      if (now - this.learnedAt[i] < this.options.ttlMs) {
        const b = i * MAC_LENGTH;
        for (let k = 0; k < MAC_LENGTH; k++) out[off + k] = this.macs[b + k];
        return true;
      }
    }
    this.want(ip, now);
    // A stale MAC still serves while the new request is out: servers rarely change MACs.
    if (i >= 0 && this.seen[i] !== 0) {
      this.copyOut(i, out, off);
      return true;
    }
    return false;
  }

  /** Marks `ip` as needing a request (at most one per retryMs from this thread). */
  want(ip: number, now: number): void {
    const i = this.slotOf(ip, true);
    if (i === FULL) this.stats.full++;
    if (i < 0) return;
    if (now - this.lastAsked[i] < this.options.retryMs || this.pending[i] === 1) return;
    this.pending[i] = 1;
    this.pendingCount++;
  }

  /** True when takeRequests() has requests to hand out. */
  get wanting(): boolean {
    return this.pendingCount > 0;
  }

  /**
   * Calls send(ip) for each address due a request, and records the request (in the shared
   * table first, so that whichever queue the answer reaches accepts it).
   */
  takeRequests(now: number, send: (ip: number) => void): void {
    const m = this.memory;
    for (let k = 0; k < this.known; k++) {
      const i = this.order[k];
      if (this.pending[i] === 0) continue;
      this.pending[i] = 0;
      this.pendingCount--;
      this.lastAsked[i] = now;
      Atomics.store(m.asked, i, 1);
      this.stats.requests++;
      if (++this.unanswered[i] === this.options.failAfter) this.stats.failures++;
      send(Atomics.load(m.keys, i) >>> 0);
    }
  }

  /**
   * An ARP reply (or request) from `ip` at mac[off..off+6): learned only when the director
   * (this thread or another sharing the table) asked about `ip`. Returns true when learned.
   */
  learn(ip: number, mac: Uint8Array, off: number, now: number): boolean {
    const m = this.memory;
    const i = this.slotOf(ip, false);
    if (i < 0 || Atomics.load(m.asked, i) !== 1) {
      this.stats.unsolicited++;
      return false;
    }
    const b = i * MAC_LENGTH;
    for (let k = 0; k < MAC_LENGTH; k++) this.macs[b + k] = mac[off + k];
    this.learnedAt[i] = now;
    this.unanswered[i] = 0;
    this.stats.replies++;
    // Publish: odd while written. Another writer at work: it writes the same answer; keep ours locally.
    const v = Atomics.load(m.versions, i);
    if ((v & 1) === 0 && Atomics.compareExchange(m.versions, i, v, v + 1) === v) {
      for (let k = 0; k < MAC_LENGTH; k++) m.macs[b + k] = mac[off + k];
      Atomics.store(m.versions, i, v + 2);
      this.seen[i] = v + 2;
    } else if (this.seen[i] === 0) this.seen[i] = -1;
    return true;
  }

  /** True when `ip` has a MAC (fresh or stale), learned by any thread sharing the table. */
  has(ip: number): boolean {
    const i = this.slotOf(ip, false);
    return i >= 0 && (this.seen[i] !== 0 || Atomics.load(this.memory.versions, i) !== 0);
  }

  /**
   * Takes another thread's newer MAC for slot i into this thread's copy. Read into a scratch
   * first: a read that a writer overtook is thrown away whole (this packet keeps the last
   * whole MAC, the next one retries), never half copied over the MAC this packet is sent to.
   */
  private refresh(i: number, now: number): void {
    const m = this.memory;
    const v = Atomics.load(m.versions, i);
    if (v === this.seen[i] || (v & 1) === 1 || v === 0) return;
    const b = i * MAC_LENGTH;
    const t = this.scratch;
    for (let k = 0; k < MAC_LENGTH; k++) t[k] = m.macs[b + k];
    if (Atomics.load(m.versions, i) !== v) return;
    for (let k = 0; k < MAC_LENGTH; k++) this.macs[b + k] = t[k];
    this.seen[i] = v;
    this.learnedAt[i] = now;
    this.unanswered[i] = 0;
  }

  private copyOut(i: number, out: Uint8Array, off: number): void {
    const b = i * MAC_LENGTH;
    for (let k = 0; k < MAC_LENGTH; k++) out[off + k] = this.macs[b + k];
  }

  /**
   * The slot of `ip`: this thread's index, else the shared table (found, or inserted when
   * `insert`). ABSENT when not there (or ip is 0), FULL when it cannot be inserted.
   */
  private slotOf(ip: number, insert: boolean): number {
    const cached = this.index.get(ip);
    if (cached !== undefined) return cached;
    if (ip === EMPTY) return ABSENT;
    const m = this.memory;
    const key = ip | 0;
    const mask = m.slots - 1;
    let i = Math.imul(ip, 0x9e3779b1) >>> this.shift;
    for (let n = 0; n < m.slots; n++, i = (i + 1) & mask) {
      const k = Atomics.load(m.keys, i);
      if (k === key) return this.remember(ip, i);
      if (k !== EMPTY) continue;
      if (!insert) return ABSENT;
      if (Atomics.add(m.header, H_COUNT, 1) >= m.capacity) {
        Atomics.sub(m.header, H_COUNT, 1);
        return FULL;
      }
      const prev = Atomics.compareExchange(m.keys, i, EMPTY, key);
      if (prev === EMPTY) return this.remember(ip, i);
      // Another thread took this slot meanwhile: for the same address, or go on probing.
      Atomics.sub(m.header, H_COUNT, 1);
      if (prev === key) return this.remember(ip, i);
    }
    return insert ? FULL : ABSENT;
  }

  private remember(ip: number, i: number): number {
    this.index.set(ip, i);
    this.order[this.known++] = i;
    this.stats.entries = Atomics.load(this.memory.header, H_COUNT);
    return i;
  }
}
