// VS/DR's neighbour table: the MAC of each direct-routing real server on the LAN the TAP
// shares with it (through the DR bridge), learned by ARP. The data path asks macOf() per
// packet; a server whose MAC is not known (yet, or any more) is noted with want(), and the
// director sends the ARP requests that takeRequests() hands out, at most one per server
// per retry interval. Only answers to our own requests are learned (an unsolicited ARP
// reply naming a real server's address is ignored), and an entry lives for `ttlMs`, then
// is asked for again while traffic still wants it. Bounded: at most `capacity` servers.
import { MAC_LENGTH } from '../wire/ethernet.js';

export interface NeighborResolverOptions {
  /** Most servers tracked at once (DR servers of the whole table). */
  capacity: number;
  /** Milliseconds between two requests for one address. */
  retryMs: number;
  /** Requests without an answer after which the address counts as failed (once per round). */
  failAfter: number;
  /** Milliseconds a learned MAC is trusted before it is asked for again. */
  ttlMs: number;
}

export const DEFAULT_NEIGHBOR_OPTIONS: NeighborResolverOptions = { capacity: 4096, retryMs: 1000, failAfter: 3, ttlMs: 60_000 };

export interface NeighborStats {
  entries: number;
  requests: number;
  replies: number;
  /** Addresses that stayed unanswered after failAfter requests (counted once per round). */
  failures: number;
  /** ARP replies ignored: not for an address we asked about. */
  unsolicited: number;
  /** want() refused: the table was full. */
  full: number;
}

export class NeighborResolver {
  private readonly index = new Map<number, number>();
  private readonly addr: Uint32Array;
  private readonly macs: Uint8Array;
  /** Time the MAC was learned (ms); -Infinity: not known. */
  private readonly learnedAt: Float64Array;
  private readonly lastAsked: Float64Array;
  private readonly unanswered: Uint16Array;
  private readonly pending: Uint8Array;
  private used = 0;
  private pendingCount = 0;
  readonly stats: NeighborStats = { entries: 0, requests: 0, replies: 0, failures: 0, unsolicited: 0, full: 0 };

  constructor(readonly options: NeighborResolverOptions = DEFAULT_NEIGHBOR_OPTIONS) {
    const n = options.capacity;
    this.addr = new Uint32Array(n);
    this.macs = new Uint8Array(n * MAC_LENGTH);
    this.learnedAt = new Float64Array(n).fill(-Infinity);
    this.lastAsked = new Float64Array(n).fill(-Infinity);
    this.unanswered = new Uint16Array(n);
    this.pending = new Uint8Array(n);
  }

  /**
   * Copies the MAC of IPv4 address `ip` to out[off..off+6) and returns true when it is
   * known and fresh; else notes that it is wanted (a request goes out) and returns false.
   */
  macOf(ip: number, out: Uint8Array, off: number, now: number): boolean {
    const i = this.index.get(ip);
    if (i !== undefined && now - this.learnedAt[i] < this.options.ttlMs) {
      const m = i * MAC_LENGTH;
      for (let k = 0; k < MAC_LENGTH; k++) out[off + k] = this.macs[m + k];
      return true;
    }
    this.want(ip, now);
    // A stale MAC still serves while the new request is out: servers rarely change MACs.
    if (i !== undefined && this.learnedAt[i] !== -Infinity) {
      const m = i * MAC_LENGTH;
      for (let k = 0; k < MAC_LENGTH; k++) out[off + k] = this.macs[m + k];
      return true;
    }
    return false;
  }

  /** Marks `ip` as needing a request (at most one per retryMs). */
  want(ip: number, now: number): void {
    let i = this.index.get(ip);
    if (i === undefined) {
      if (this.used >= this.options.capacity) {
        this.stats.full++;
        return;
      }
      i = this.used++;
      this.index.set(ip, i);
      this.addr[i] = ip;
      this.stats.entries = this.used;
    }
    if (now - this.lastAsked[i] < this.options.retryMs || this.pending[i] === 1) return;
    this.pending[i] = 1;
    this.pendingCount++;
  }

  /** True when takeRequests() has requests to hand out. */
  get wanting(): boolean {
    return this.pendingCount > 0;
  }

  /** Calls send(ip) for each address due a request, and records the request. */
  takeRequests(now: number, send: (ip: number) => void): void {
    for (let i = 0; i < this.used; i++) {
      if (this.pending[i] === 0) continue;
      this.pending[i] = 0;
      this.pendingCount--;
      this.lastAsked[i] = now;
      this.stats.requests++;
      if (++this.unanswered[i] === this.options.failAfter) this.stats.failures++;
      send(this.addr[i]);
    }
  }

  /**
   * An ARP reply (or request) from `ip` at mac[off..off+6): learned only when we asked
   * about `ip`. Returns true when learned.
   */
  learn(ip: number, mac: Uint8Array, off: number, now: number): boolean {
    const i = this.index.get(ip);
    if (i === undefined || this.lastAsked[i] === -Infinity) {
      this.stats.unsolicited++;
      return false;
    }
    const m = i * MAC_LENGTH;
    for (let k = 0; k < MAC_LENGTH; k++) this.macs[m + k] = mac[off + k];
    this.learnedAt[i] = now;
    this.unanswered[i] = 0;
    this.stats.replies++;
    return true;
  }

  /** True when `ip` has a MAC (fresh or stale). */
  has(ip: number): boolean {
    const i = this.index.get(ip);
    return i !== undefined && this.learnedAt[i] !== -Infinity;
  }
}
