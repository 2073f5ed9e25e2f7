// mh: Maglev consistent hashing (Eisenbud et al., NSDI 2016; IPVS ip_vs_mh.c). Each server
// gets a permutation of the M table slots from two hashes of its address and port
// (offset, skip); servers take turns claiming their next free slot, `weight/gcd` slots per
// turn, until the table is full. Every server ends up with floor or ceil of its weighted
// share, and removing one server remaps little more than its own slots. The lookup key is
// the client address (and port with mh-port). Hashes are seedless: any director with the
// same server set builds the same table, which is what makes stateless failover work.
// That holds only if nothing else differs: the members are sorted by their address and port
// before the turns are taken (the order servers were added or reloaded in decides who wins a
// contested slot), and an IPv6 server is hashed by its 16 bytes, not by its process-local id.
import { hashIpv6At, IPV6_ID_BASE } from '../address-id.js';
import { parseIpv6Into } from '../../wire/ipv6-address.js';
import type { RealServer } from '../real-server.js';
import { hash2 } from '../flow-hash.js';
import { gcd, type FlowKey, type Scheduler, type SchedulerFlag } from './scheduler.js';

const SEED_OFFSET = 0x6d616731;
const SEED_SKIP = 0x6d616732;
const SEED_LOOKUP = 0x6d616733;
/** Rehash attempts with mh-fallback before giving up. */
const FALLBACK_TRIES = 64;
/** Largest per-turn slot count after dividing by the gcd (keeps turns fair for big weights). */
const MAX_TURNS = 256;

export const DEFAULT_MH_TABLE_SIZE = 65537;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

const keyA = new Uint8Array(16);
const keyB = new Uint8Array(16);

/** The 16 bytes of an IPv6 server, from its text (ids are per director, the text is not). */
function ipv6BytesOf(rs: RealServer, out: Uint8Array): Uint8Array {
  if (!parseIpv6Into(rs.addressText, out, 0)) throw new RangeError(`real server ${rs.addressText} has an IPv6 id but no IPv6 text`);
  return out;
}

/** What a server's permutation is hashed from: the IPv4 value, or a hash of the IPv6 bytes (never the id). */
function serverHashKey(rs: RealServer): number {
  return rs.address < IPV6_ID_BASE ? rs.address : hashIpv6At(ipv6BytesOf(rs, keyA), 0);
}

/**
 * Canonical order of servers: IPv4 before IPv6, then address bytes, then port. The same on
 * every director whatever order the servers were added in (ids and insertion order differ).
 */
export function compareServerKeys(a: RealServer, b: RealServer): number {
  const a6 = a.address >= IPV6_ID_BASE;
  const b6 = b.address >= IPV6_ID_BASE;
  if (a6 !== b6) return a6 ? 1 : -1;
  if (a6) {
    ipv6BytesOf(a, keyA);
    ipv6BytesOf(b, keyB);
    for (let i = 0; i < 16; i++) if (keyA[i] !== keyB[i]) return keyA[i] - keyB[i];
  } else if (a.address !== b.address) {
    return a.address - b.address;
  }
  return a.port - b.port;
}

export class MaglevScheduler implements Scheduler {
  readonly name = 'mh';
  readonly consistent = true;
  /** Slot → index into `members`, -1 when the table is empty. */
  readonly lookup: Int32Array;
  private members: RealServer[] = [];
  private readonly fallback: boolean;
  private readonly usePort: boolean;

  /** @param tableSize M, a prime (RangeError otherwise). */
  constructor(
    flags: ReadonlySet<SchedulerFlag>,
    readonly tableSize: number = DEFAULT_MH_TABLE_SIZE,
  ) {
    if (!isPrime(tableSize)) throw new RangeError(`Maglev table size must be a prime, got ${tableSize}`);
    this.lookup = new Int32Array(tableSize).fill(-1);
    this.fallback = flags.has('mh-fallback');
    this.usePort = flags.has('mh-port');
  }

  update(servers: readonly RealServer[]): void {
    // Weight-0 and removed servers take no slots (as in IPVS); overloaded ones keep theirs
    // and are skipped at lookup, so a transient overload does not reshuffle the table.
    const members = servers.filter((rs) => rs.weight > 0 && !rs.removed);
    members.sort(compareServerKeys);
    this.members = members;
    this.populate();
  }

  private populate(): void {
    const m = this.tableSize;
    const n = this.members.length;
    this.lookup.fill(-1);
    if (n === 0) return;
    // pos[i] walks server i's permutation (offset + k * skip) mod M by repeated addition:
    // the same table as the textbook formula, without a multiply and modulo per probe.
    const pos = new Uint32Array(n);
    const skip = new Uint32Array(n);
    const turns = new Uint32Array(n);
    let g = 0;
    let maxW = 0;
    for (const rs of this.members) {
      g = gcd(g, rs.weight);
      maxW = Math.max(maxW, rs.weight);
    }
    let shift = 0;
    while (maxW / g >> shift > MAX_TURNS) shift++;
    for (let i = 0; i < n; i++) {
      const rs = this.members[i];
      const key = serverHashKey(rs);
      pos[i] = hash2(SEED_OFFSET, key, rs.port) % m;
      skip[i] = (hash2(SEED_SKIP, key, rs.port) % (m - 1)) + 1;
      turns[i] = Math.max(1, (rs.weight / g) >> shift);
    }
    const lookup = this.lookup;
    let filled = 0;
    for (;;) {
      for (let i = 0; i < n; i++) {
        const step = skip[i];
        let c = pos[i];
        for (let t = turns[i]; t > 0; t--) {
          while (lookup[c] >= 0) {
            c += step;
            if (c >= m) c -= m;
          }
          lookup[c] = i;
          c += step;
          if (c >= m) c -= m;
          if (++filled === m) return;
        }
        pos[i] = c;
      }
    }
  }

  /** How many slots each member owns (for tests and listings), keyed by server id. */
  slotCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const rs of this.members) counts.set(rs.id, 0);
    for (let i = 0; i < this.tableSize; i++) {
      const idx = this.lookup[i];
      if (idx >= 0) {
        const id = this.members[idx].id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    return counts;
  }

  schedule(flow: FlowKey): RealServer | null {
    const port = this.usePort ? flow.cport : 0;
    const idx = this.lookup[hash2(SEED_LOOKUP, flow.caddr, port) % this.tableSize];
    if (idx < 0) return null;
    const rs = this.members[idx];
    if (rs.available) return rs;
    if (!this.fallback) return null;
    for (let k = 1; k <= FALLBACK_TRIES; k++) {
      const alt = this.lookup[hash2(SEED_LOOKUP + k, flow.caddr, port) % this.tableSize];
      if (alt >= 0 && this.members[alt].available) return this.members[alt];
    }
    return null;
  }
}
