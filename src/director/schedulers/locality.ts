// lblc and lblcr: locality-based least-connection (IPVS ip_vs_lblc.c, ip_vs_lblcr.c), for
// caches: flows to one destination address stick to one server (lblc) or a small set
// (lblcr) unless it is overloaded. IPVS keeps a hash table of entries; here it is a
// fixed direct-mapped table of typed arrays (a colliding destination simply evicts the old
// entry, which then behaves as a miss), so scheduling allocates nothing.
import type { RealServer } from '../real-server.js';
import { hash1 } from '../flow-hash.js';
import { leastWeightedOverhead, type FlowKey, type Scheduler } from './scheduler.js';

const ENTRIES = 4096;
const MASK = ENTRIES - 1;
/** IPVS's lblc/lblcr expiration default: an entry unused this long is forgotten. */
const EXPIRATION_MS = 24 * 60 * 60 * 1000;
/** lblcr: a set unchanged this long sheds its most loaded member. */
const SET_SHRINK_MS = 6 * 60 * 1000;
/** lblcr: most servers one destination can map to. */
const SET_MAX = 8;

const overhead = (rs: RealServer) => rs.overhead;

/** IPVS's locality overload test: over its weight while some other server is below half of its own. */
function isOverloaded(rs: RealServer, servers: readonly RealServer[]): boolean {
  if (rs.activeConns <= rs.weight) return false;
  for (const d of servers) if (d.available && d.activeConns * 2 < d.weight) return true;
  return false;
}

abstract class LocalityBase {
  readonly consistent = false;
  protected servers: readonly RealServer[] = [];
  protected byId: (RealServer | undefined)[] = [];
  protected readonly keys = new Uint32Array(ENTRIES);
  protected readonly used = new Float64Array(ENTRIES);

  constructor(protected readonly now: () => number) {}

  update(servers: readonly RealServer[]): void {
    this.servers = servers;
    this.byId = [];
    for (const rs of servers) this.byId[rs.id] = rs;
  }

  /** Slot for a destination, and whether it currently holds that destination. */
  protected slot(vaddr: number): number {
    return hash1(0x6c626c63, vaddr) & MASK;
  }

  protected live(slot: number, vaddr: number, now: number): boolean {
    return this.used[slot] !== 0 && this.keys[slot] === vaddr && now - this.used[slot] < EXPIRATION_MS;
  }
}

export class LocalityLeastConnectionScheduler extends LocalityBase implements Scheduler {
  readonly name = 'lblc';
  private readonly server = new Int32Array(ENTRIES).fill(-1);

  schedule(flow: FlowKey): RealServer | null {
    const now = this.now();
    const s = this.slot(flow.vaddr);
    if (this.live(s, flow.vaddr, now)) {
      const rs = this.byId[this.server[s]];
      if (rs !== undefined && rs.available && !isOverloaded(rs, this.servers)) {
        this.used[s] = now;
        return rs;
      }
    }
    const rs = leastWeightedOverhead(this.servers, overhead);
    if (rs === null) return null;
    this.keys[s] = flow.vaddr;
    this.server[s] = rs.id;
    this.used[s] = now || 1;
    return rs;
  }
}

export class LocalityReplicatedScheduler extends LocalityBase implements Scheduler {
  readonly name = 'lblcr';
  private readonly members = new Int32Array(ENTRIES * SET_MAX).fill(-1);
  private readonly sizes = new Uint8Array(ENTRIES);
  private readonly modified = new Float64Array(ENTRIES);

  schedule(flow: FlowKey): RealServer | null {
    const now = this.now();
    const s = this.slot(flow.vaddr);
    if (!this.live(s, flow.vaddr, now)) {
      this.keys[s] = flow.vaddr;
      this.sizes[s] = 0;
      this.modified[s] = now;
    }
    this.used[s] = now || 1;
    let pick = this.leastInSet(s);
    if (pick === null || isOverloaded(pick, this.servers)) {
      const fresh = leastWeightedOverhead(this.servers, overhead);
      if (fresh === null) return pick;
      this.addToSet(s, fresh, now);
      pick = fresh;
    } else if (this.sizes[s] > 1 && now - this.modified[s] > SET_SHRINK_MS) {
      this.dropMostLoaded(s, now);
    }
    return pick;
  }

  private leastInSet(s: number): RealServer | null {
    let least: RealServer | null = null;
    const base = s * SET_MAX;
    for (let k = 0; k < this.sizes[s]; k++) {
      const rs = this.byId[this.members[base + k]];
      if (rs === undefined || !rs.available) continue;
      if (least === null || least.overhead * rs.weight > rs.overhead * least.weight) least = rs;
    }
    return least;
  }

  private addToSet(s: number, rs: RealServer, now: number): void {
    const base = s * SET_MAX;
    for (let k = 0; k < this.sizes[s]; k++) if (this.members[base + k] === rs.id) return;
    if (this.sizes[s] === SET_MAX) this.dropMostLoaded(s, now);
    this.members[base + this.sizes[s]++] = rs.id;
    this.modified[s] = now;
  }

  private dropMostLoaded(s: number, now: number): void {
    const base = s * SET_MAX;
    let worst = -1;
    let worstRs: RealServer | undefined;
    for (let k = 0; k < this.sizes[s]; k++) {
      const rs = this.byId[this.members[base + k]];
      if (rs === undefined || !rs.available) {
        worst = k;
        break;
      }
      if (worstRs === undefined || rs.overhead * worstRs.weight > worstRs.overhead * rs.weight) {
        worst = k;
        worstRs = rs;
      }
    }
    if (worst < 0) return;
    const last = --this.sizes[s];
    this.members[base + worst] = this.members[base + last];
    this.modified[s] = now;
  }
}
