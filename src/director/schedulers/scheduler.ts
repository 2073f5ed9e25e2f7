// The scheduler seam: IPVS's schedulers pick a real server for a new connection. Each one
// is told the current server list on every change (update) and then answers schedule()
// without allocating. A server is eligible only when `available` (weight > 0, not
// overloaded, not removed): weight 0 is quiescent, existing connections continue elsewhere.
import type { RealServer } from '../real-server.js';

/** The new flow being scheduled; one mutable instance is reused by the data path. */
export interface FlowKey {
  /** 6 (TCP) or 17 (UDP). */
  protocol: number;
  /** Client address (uint32). */
  caddr: number;
  cport: number;
  /** Virtual address (uint32). */
  vaddr: number;
  vport: number;
}

export function newFlowKey(): FlowKey {
  return { protocol: 0, caddr: 0, cport: 0, vaddr: 0, vport: 0 };
}

/** Scheduler flags as ipvsadm spells them (-b). */
export type SchedulerFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

export interface SchedulerOptions {
  flags: ReadonlySet<SchedulerFlag>;
  /** Maglev lookup table size (a prime). */
  mhTableSize: number;
  /** Uniform random integer in [0, n) (twos); injectable for deterministic tests. */
  random: (n: number) => number;
  /** Milliseconds, monotonic (lblc/lblcr expiry). */
  now: () => number;
}

export interface Scheduler {
  readonly name: string;
  /** Replaces the server list (order matters, as in IPVS: the order servers were added). */
  update(servers: readonly RealServer[]): void;
  /** Picks a server for a new connection, or null when none is available. */
  schedule(flow: FlowKey): RealServer | null;
  /**
   * True when the choice depends only on the flow and the server set (not on counters or
   * history), so a second director picks the same server (used for TCP non-SYN misses).
   */
  readonly consistent: boolean;
}

/** Every scheduler vstun implements, by ipvsadm's names; the control plane accepts exactly these. */
export const SCHEDULER_NAMES = ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'sh', 'dh', 'lblc', 'lblcr', 'fo', 'ovf', 'mh', 'twos'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Least (overhead / weight) among available servers, first wins ties; IPVS's wlc comparison. */
export function leastWeightedOverhead(servers: readonly RealServer[], overhead: (rs: RealServer) => number): RealServer | null {
  let least: RealServer | null = null;
  let loh = 0;
  for (let i = 0; i < servers.length; i++) {
    const rs = servers[i];
    if (!rs.available) continue;
    const doh = overhead(rs);
    if (least === null || loh * rs.weight > doh * least.weight) {
      least = rs;
      loh = doh;
    }
  }
  return least;
}
