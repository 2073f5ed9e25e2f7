// Pinned flows for the tunnel health check (see src/health/checkers/tunnel.ts for the
// contract). A probe from the director host's probe source P to VIP:port must reach the one
// real server being checked — even a down or weight-0 one — so the data path looks these
// packets up here instead of in the connection table, and never schedules them.
//
// Only source ports in the prober's range (default 61000..64999, above Linux's ephemeral
// range) mark a probe, so the probe source may be the DIP itself — already routed back to
// this director — without capturing anything else the host sends from it.
//
// The prober never reuses a (protocol, source port) that is still pinned, so a pin is keyed
// by those two alone: one slot per (TCP|UDP, port) in typed arrays, O(1) and allocation-free
// for the data path. The VIP, VIP port and RS address are checked too, so a stray packet of
// another flow, or of a server whose id was reused, is never sent anywhere.
import type { RealServer } from './real-server.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ip-protocol.js';

const SLOTS = 2 * 65536;
const EMPTY = -1;

/** The flow of one probe as the binding hands it over (addresses as uint32). */
export interface PinnedProbeFlow {
  /** 6 (TCP) or 17 (UDP). */
  protocol: number;
  srcPort: number;
  vip: number;
  vipPort: number;
}

/** Finds a real server by registry id (the director's ServiceRegistry.servers). */
export type RealServerById = (id: number) => RealServer | undefined;

/**
 * The pin slots in shared memory: queue workers (queue-worker.ts) read the very slots the
 * health binding writes, so a pin is in effect on every queue before the probe is sent.
 */
export interface ProbePinMemory {
  rsId: SharedArrayBuffer;
  rip: SharedArrayBuffer;
  vip: SharedArrayBuffer;
  vipPort: SharedArrayBuffer;
}

export class ProbePinTable {
  /** Probe packets forwarded to their pinned server (they are not client traffic). */
  forwarded = 0;
  private readonly rsId: Int32Array;
  private readonly rip: Uint32Array;
  private readonly vip: Uint32Array;
  private readonly vipPort: Uint16Array;
  /** The slots' memory, for ProbePinTable.attach in another thread. */
  readonly memory: ProbePinMemory;
  /** Bumped by every pin, so a late unpin of an older pin of the same slot does nothing. */
  private readonly generation = new Uint32Array(SLOTS);
  private live = 0;

  /**
   * @param source     the probe source address P (uint32, non-zero)
   * @param serverById the registry lookup the data path uses for pinned servers
   * @param portRange  the prober's source ports, inclusive (default 61000..64999)
   * @param memory     slots shared with the table that writes them (attach); fresh when absent
   * Throws RangeError for a zero source or a bad range.
   */
  constructor(
    readonly source: number,
    private readonly serverById: RealServerById,
    readonly portRange: readonly [number, number] = [61000, 64999],
    memory?: ProbePinMemory,
  ) {
    if (!Number.isInteger(source) || source <= 0 || source > 0xffffffff) throw new RangeError(`probe source must be a non-zero IPv4 address as uint32, got ${source}`);
    const [low, high] = portRange;
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < 1 || high > 65535 || low > high) throw new RangeError(`probe port range ${low}..${high} must be within 1..65535, low <= high`);
    this.memory = memory ?? {
      rsId: new SharedArrayBuffer(SLOTS * 4),
      rip: new SharedArrayBuffer(SLOTS * 4),
      vip: new SharedArrayBuffer(SLOTS * 4),
      vipPort: new SharedArrayBuffer(SLOTS * 2),
    };
    this.rsId = new Int32Array(this.memory.rsId);
    this.rip = new Uint32Array(this.memory.rip);
    this.vip = new Uint32Array(this.memory.vip);
    this.vipPort = new Uint16Array(this.memory.vipPort);
    if (memory === undefined) this.rsId.fill(EMPTY);
  }

  /**
   * A read-only view of another thread's table (its `memory`), for that thread's data path:
   * `serverById` maps the writer's real-server ids to this thread's servers. Only target()
   * and isProbePort() are meant to be used on it.
   */
  static attach(source: number, portRange: readonly [number, number], memory: ProbePinMemory, serverById: RealServerById): ProbePinTable {
    return new ProbePinTable(source, serverById, portRange, memory);
  }

  /** Data path: true when a packet from the probe source with this source port is a probe. */
  isProbePort(port: number): boolean {
    return port >= this.portRange[0] && port <= this.portRange[1];
  }

  /** Pins currently in effect. */
  get size(): number {
    return this.live;
  }

  /**
   * Pins a flow to `rs` until the returned function is called (idempotent). Throws
   * RangeError for a protocol other than TCP/UDP or a port outside 1..65535.
   */
  pin(flow: PinnedProbeFlow, rs: RealServer): () => void {
    const slot = slotOf(flow.protocol, flow.srcPort);
    if (slot < 0 || !this.isProbePort(flow.srcPort)) {
      throw new RangeError(`cannot pin protocol ${flow.protocol} source port ${flow.srcPort}: TCP/UDP and ports ${this.portRange[0]}..${this.portRange[1]} only`);
    }
    if (!Number.isInteger(flow.vipPort) || flow.vipPort < 1 || flow.vipPort > 65535) throw new RangeError(`cannot pin VIP port ${flow.vipPort}: 1..65535 only`);
    if (this.rsId[slot] === EMPTY) this.live++;
    this.rsId[slot] = rs.id;
    this.rip[slot] = rs.address;
    this.vip[slot] = flow.vip >>> 0;
    this.vipPort[slot] = flow.vipPort;
    const generation = ++this.generation[slot];
    return () => {
      if (this.generation[slot] !== generation || this.rsId[slot] === EMPTY) return;
      this.rsId[slot] = EMPTY;
      this.live--;
    };
  }

  /** Drops every pin (the director is reconfiguring or stopping). */
  clear(): void {
    this.rsId.fill(EMPTY);
    for (let i = 0; i < SLOTS; i++) this.generation[i]++;
    this.live = 0;
  }

  /**
   * Data path: the server a probe packet is pinned to, or undefined (the caller drops it as
   * probe-unpinned). Never throws, never allocates.
   */
  target(protocol: number, srcPort: number, vip: number, vipPort: number): RealServer | undefined {
    const slot = protocol === IPPROTO_TCP ? srcPort : protocol === IPPROTO_UDP ? 65536 + srcPort : -1;
    if (slot < 0) return undefined;
    const id = this.rsId[slot];
    if (id === EMPTY || this.vip[slot] !== vip >>> 0 || this.vipPort[slot] !== vipPort) return undefined;
    const rs = this.serverById(id);
    if (rs === undefined || rs.address !== this.rip[slot]) return undefined;
    this.forwarded++;
    return rs;
  }
}

function slotOf(protocol: number, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return -1;
  if (protocol === IPPROTO_TCP) return port;
  if (protocol === IPPROTO_UDP) return 65536 + port;
  return -1;
}
