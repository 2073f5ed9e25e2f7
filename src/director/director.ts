// The director: a connection table, the services, the virtual host and the data path over
// one PacketDevice, plus the timers (incremental expiry sweep, 2-second rate estimator)
// and the plain snapshot API that the control plane publishes.
import { performance } from 'node:perf_hooks';
import type { PacketDevice } from '../device/packet-device.js';
import type { OnFailurePolicy } from '../health/health-config.js';
import type { SteeringCheck } from '../control/queue-checks.js';
import { IPV6_ID_BASE, type Ipv6AddressTable } from './address-id.js';
import { ConnTable, DEFAULT_CONN_TABLE_CAPACITY, type ConnTableStats, KIND_TCP, KIND_TCP_TEMPLATE, KIND_UDP, KIND_UDP_TEMPLATE } from './conn-table.js';
import { Datapath } from './datapath.js';
import type { NeighborMemory } from './neighbor-resolver.js';
import { FORWARD_DR, FORWARD_LISTING_NAMES } from './forward-method.js';
import { formatIpv4 } from './ipv4-text.js';
import type { TrafficSnapshot } from './rate-estimator.js';
import { ServiceRegistry } from './service-registry.js';
import type { RealServer } from './real-server.js';
import { newFlowKey } from './schedulers/scheduler.js';
import { connStateName, TcpState } from './tcp-state.js';
import { Timeouts, type TimeoutSettings } from './timeouts.js';
import { TX_FAILED_INDEX, Verdict, VERDICT_NAMES, type VerdictName } from './verdicts.js';
import { VirtualHost } from './virtual-host.js';

export interface DirectorOptions {
  device: PacketDevice;
  /** The director's MAC on the TAP link. */
  mac: Uint8Array;
  /** The director's link address (uint32), e.g. 169.254.77.2. */
  linkAddress: number;
  /** The kernel's address on the TAP (uint32), e.g. 169.254.77.1. */
  kernelAddress: number;
  /** The kernel's MAC if already known (the TAP's own MAC, pinned); otherwise learned from ARP. */
  kernelMac?: Uint8Array;
  /**
   * Reads the TAP's MAC again. Called (at most once a second) when ARP or NDP disagrees with
   * the pinned MAC, so that an operator changing the TAP's MAC is followed while forged
   * frames change nothing. May throw (ignored).
   */
  readKernelMac?: () => Uint8Array;
  /** Outer source address for a real server. */
  dipFor: (rip: number) => number;
  connTableCapacity?: number;
  icmpEcho?: boolean;
  sloppyTcp?: boolean;
  mhTableSize?: number;
  /** Monotonic milliseconds (injectable for tests). */
  clock?: () => number;
  random?: (n: number) => number;
  /** Seed for the connection-table hash (random by default). */
  hashSeed?: number;
  /** Run the sweep and estimator timers (default true; tests drive them by hand). */
  timers?: boolean;
  /**
   * Run the expiry sweep timer (default true). False where the table holds no entry: the
   * main thread's Director when queue workers hold the connections, whose sweep would wake
   * the thread every 32 ms for nothing, on the CPUs the workers need.
   */
  sweep?: boolean;
  /** This director's IPv6 address table (a fresh one by default; pass it when dipFor makes IPv6 ids). */
  addresses?: Ipv6AddressTable;
  /** Looks up the tunnel sources of servers a change adds, before it is applied (async). */
  prepareSources?: (rips: readonly string[]) => Promise<void>;
  /** The host's VIP routes, kept in step with the service table (absent with --no-setup). */
  vipRoutes?: VipRoutes;
  /** VS/DR's neighbour table, shared by the main thread and every queue worker (absent: this director's own). */
  neighborMemory?: NeighborMemory;
}

/** What a change needs from the host's VIP routes (HostVipRoutes in host-setup.ts; fakes in tests). */
export interface VipRoutes {
  /** Routes the VIPs of `desired` not routed yet (all or none; throws); commit removes the others. */
  prepare(desired: ReadonlySet<string>): Promise<{ commit(): Promise<void>; rollback(): Promise<void> }>;
}

export interface DirectorServerSnapshot {
  address: string;
  port: number;
  weight: number;
  /** ipvsadm's Forward column for the server's method. */
  forward: (typeof FORWARD_LISTING_NAMES)[number];
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats: TrafficSnapshot;
}

export interface DirectorServiceSnapshot {
  protocol: 'tcp' | 'udp';
  vip: string;
  port: number;
  scheduler: string;
  flags: string[];
  persistence: number;
  netmask: string;
  onePacket: boolean;
  stats: TrafficSnapshot;
  realServers: DirectorServerSnapshot[];
}

export interface DirectorSnapshot {
  framesIn: number;
  verdicts: Record<VerdictName, number>;
  connTable: ReturnType<ConnTable['stats']>;
  timeouts: TimeoutSettings;
  kernelMacKnown: boolean;
  services: DirectorServiceSnapshot[];
}

export interface DirectorConnectionSnapshot {
  protocol: 'TCP' | 'UDP';
  template: boolean;
  state: string;
  client: string;
  clientPort: number;
  virtual: string;
  virtualPort: number;
  realServer: string;
  /** Seconds until expiry. */
  expiresIn: number;
}

/**
 * The queue workers of a multi-queue director (queue-pool.ts). When set, this Director is
 * the control plane only: its registry is the desired state the workers mirror, its counters
 * are their sums, and what acts on connection entries is sent to every worker.
 */
export interface DirectorQueues {
  /** Applies an expire_nodest_conn policy to `rs`'s entries on every queue. */
  nodest(rs: RealServer, policy: NodestPolicy): void;
  /** -Z on every queue. */
  zero(only?: { protocol: string; vip: string; port: number }): void;
  /** Every queue's connection table as one. */
  tableStats(): ConnTableStats;
  /** Every queue's connection list, at most `limit` entries. */
  connections(limit: number): Promise<DirectorConnectionSnapshot[]>;
  /** How many queues (workers). */
  readonly count: number;
  /** `vstunadm explain` on the queue that holds the flow, else the one its packets are steered to (see QueuePool.explain). */
  explain(query: FlowQuery): Promise<FlowAnswer>;
  /** The TAP's queue steering by client (queue-steering.ts); null or absent: the kernel's flow hash. */
  readonly steering?: SteeringCheck | null;
}

/** A flow to explain: a service and a client, as text (the control plane's explain command). */
export interface FlowQuery {
  service: { protocol: string; vip: string; port: number };
  client: { address: string; port: number };
}

/** What explaining a flow said (the control plane's Explanation; `reason` is what the queues compare). */
export interface FlowAnswer {
  reason: string;
  [field: string]: unknown;
}

/** Upper bounds of the packets-per-batch histogram buckets (the last bucket is +Inf). */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

/** What a removed or failed server's connections do; one type with the health checks' onFailure. */
export type NodestPolicy = OnFailurePolicy;

export interface NodestResult {
  expired: number;
  rescheduled: number;
}

// The idle-time expiry sweep: 8192 slots every 32 ms, the same 256 k slots/s as one 65536-slot
// sweep every 250 ms, in chunks an eighth the size. On a 1 M-entry table a 65536-slot call
// held the loop 0.5 ms (all live) to 1.8 ms (all expiring), four times a second, in front of
// whatever packets had just arrived; an 8192-slot call holds it about 0.03 to 0.25 ms.
const SWEEP_TICK_MS = 32;
const SWEEP_PER_TICK = 8192;
const ESTIMATOR_INTERVAL_S = 2;

export class Director {
  readonly registry: ServiceRegistry;
  readonly table: ConnTable;
  readonly timeouts = new Timeouts();
  readonly host: VirtualHost;
  readonly datapath: Datapath;
  readonly clock: () => number;
  private readonly device: PacketDevice;
  private timers: NodeJS.Timeout[] = [];
  private readonly useSweep: boolean;
  private readonly probe = new Uint8Array(64);
  private readonly probeMeta = new Int32Array(4);
  private readonly useTimers: boolean;
  /** Outer source address for a real server (uint32 → uint32). */
  readonly dipFor: (rip: number) => number;
  readonly mhTableSize: number | undefined;
  /** Count of batches per BATCH_SIZE_BUCKETS bucket (last = larger), plus totals. */
  readonly batchSizeCounts = new Float64Array(BATCH_SIZE_BUCKETS.length + 1);
  batchCount = 0;
  batchPacketSum = 0;
  /** Told each batch's size (metrics); once per batch. */
  batchObserver: ((packets: number) => void) | null = null;
  private readonly changeListeners: Array<() => void> = [];
  private readonly readKernelMac: (() => Uint8Array) | undefined;
  private spoofedSeen = 0;
  private lastMacRead = -Infinity;
  /** See DirectorOptions; the control plane's reconciler uses them. */
  vipRoutes: VipRoutes | undefined;
  /** VS/NAT: the host's reply steering for NAT servers (host-setup.ts NatReplyRules); absent without host setup. */
  natReplies: { sync(servers: Iterable<string>): void } | undefined;
  readonly prepareSources: (rips: readonly string[]) => Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();
  /** Set by QueuePool: the data path runs in queue workers (see DirectorQueues). */
  queues: DirectorQueues | null = null;

  constructor(opts: DirectorOptions) {
    this.device = opts.device;
    this.dipFor = opts.dipFor;
    this.mhTableSize = opts.mhTableSize;
    this.useTimers = opts.timers ?? true;
    this.useSweep = opts.sweep ?? true;
    this.readKernelMac = opts.readKernelMac;
    this.vipRoutes = opts.vipRoutes;
    this.prepareSources = opts.prepareSources ?? (async () => {});
    this.clock = opts.clock ?? (() => performance.now());
    this.registry = new ServiceRegistry({ dipFor: opts.dipFor, mhTableSize: opts.mhTableSize, random: opts.random, now: this.clock, addresses: opts.addresses });
    this.table = new ConnTable(opts.connTableCapacity ?? DEFAULT_CONN_TABLE_CAPACITY, this.registry, opts.hashSeed, this.registry.addresses);
    this.host = new VirtualHost(opts.mac, opts.linkAddress, opts.kernelAddress, opts.kernelMac);
    this.datapath = new Datapath(this.registry, this.table, this.timeouts, this.host, {
      icmpEcho: opts.icmpEcho ?? true,
      sloppyTcp: opts.sloppyTcp ?? false,
      sweepPerBatch: 256,
      neighborMemory: opts.neighborMemory,
    });
  }

  /** Starts taking batches from the device, the expiry sweep and the rate estimator. */
  start(): void {
    this.device.onBatch((batch) => {
      this.recordBatchSize(batch.count);
      this.datapath.processBatch(batch, this.device, this.clock());
      if (this.datapath.needKernelMac) this.probeKernel();
      if (this.datapath.neighbors.wanting) this.askNeighbors();
      if (this.datapath.verdicts[Verdict.DropKernelMacSpoofed] !== this.spoofedSeen) this.recheckKernelMac();
    });
    // DR servers' MACs are asked for as soon as they are configured, not at their first packet.
    this.onServicesChanged(() => this.wantDrNeighbors());
    this.wantDrNeighbors();
    if (!this.host.kernelMacKnown) this.probeKernel();
    if (!this.useTimers) return;
    const est = setInterval(() => this.estimate(ESTIMATOR_INTERVAL_S), ESTIMATOR_INTERVAL_S * 1000);
    est.unref();
    this.timers.push(est);
    if (!this.useSweep) return;
    const sweep = setInterval(() => this.table.sweep(this.clock(), SWEEP_PER_TICK), SWEEP_TICK_MS);
    sweep.unref();
    this.timers.push(sweep);
  }

  /** Stops timers and closes the device. Idempotent. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.device.close();
  }

  /** ARP/NDP disagreed with the pinned MAC: forged, or the TAP's MAC was changed. Asks the device. */
  private recheckKernelMac(): void {
    this.spoofedSeen = this.datapath.verdicts[Verdict.DropKernelMacSpoofed];
    const now = this.clock();
    if (!this.readKernelMac || now - this.lastMacRead < 1000) return;
    this.lastMacRead = now;
    try {
      this.host.repin(this.readKernelMac());
    } catch {
      /* the device cannot say; keep the pin */
    }
  }

  /** VS/DR: every direct-routing server's MAC is wanted (the resolver asks at most once a second each). */
  private wantDrNeighbors(): void {
    const now = this.clock();
    for (const svc of this.registry.list()) for (const rs of svc.servers) if (rs.forward === FORWARD_DR && !rs.removed && rs.address < IPV6_ID_BASE) this.datapath.neighbors.want(rs.address, now);
    if (this.datapath.neighbors.wanting) this.askNeighbors();
  }

  /** Writes the ARP requests the neighbour resolver hands out, one frame each. */
  private askNeighbors(): void {
    this.datapath.neighbors.takeRequests(this.clock(), (ip) => {
      const len = this.datapath.methods.writeRequest(this.probe, 0, ip);
      this.probeMeta[0] = 0;
      this.probeMeta[1] = len;
      this.device.writeBatch(this.probe, this.probeMeta, 1);
    });
  }

  /** Sends one ARP request for the kernel's address (its MAC is where every frame goes). */
  probeKernel(): void {
    this.datapath.needKernelMac = false;
    const len = this.host.writeKernelProbe(this.probe, 0);
    this.probeMeta[0] = 0;
    this.probeMeta[1] = len;
    this.device.writeBatch(this.probe, this.probeMeta, 1);
  }

  /** One histogram bump per batch (never per packet). */
  recordBatchSize(count: number): void {
    const b = BATCH_SIZE_BUCKETS;
    let i = 0;
    while (i < b.length && count > b[i]) i++;
    this.batchSizeCounts[i]++;
    this.batchCount++;
    this.batchPacketSum += count;
    if (this.batchObserver !== null) this.batchObserver(count);
  }

  /**
   * Runs `fn` after every change queued before it has finished, so that control-plane
   * changes (vstunadm ops, -R, reload, SIGHUP) never interleave across their awaits. Must not
   * be called from inside `fn` (it would wait for itself).
   */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(() => fn());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Calls `fn` after every change of services or real servers (add, edit, delete, reload). */
  onServicesChanged(fn: () => void): void {
    this.changeListeners.push(fn);
  }

  /** Tells the listeners that the service table changed (the reconciler calls it). */
  servicesChanged(): void {
    for (const fn of this.changeListeners) fn();
  }

  /**
   * Applies an expire_nodest_conn policy to the connections bound to `rs` (a server just
   * removed, quiesced or failed): `keep` leaves them draining to it; `expire` deletes their
   * entries; `reschedule` moves each connection to the server its service's scheduler picks
   * now (mh picks what any director would), and deletes persistence templates. A flow with
   * nowhere to go is expired. Control plane only: walks the whole table.
   */
  applyNodestPolicy(rs: RealServer, policy: NodestPolicy): NodestResult {
    const result = { expired: 0, rescheduled: 0 };
    if (policy === 'keep') return result;
    // The workers apply it to their own tables (their counts are theirs to log).
    this.queues?.nodest(rs, policy);
    const t = this.table;
    const entries: number[][] = [];
    t.forEach((slot) => {
      if (t.rsAt(slot) !== rs.id) return;
      entries.push([t.kindAt(slot), t.clientAt(slot), t.clientPortAt(slot), t.virtualAt(slot), t.virtualPortAt(slot), t.serviceAt(slot), t.stateAt(slot), t.expiresAt(slot)]);
    });
    const now = this.clock();
    const flow = newFlowKey();
    for (const [kind, caddr, cport, vaddr, vport, svcId, state] of entries) {
      const slot = t.lookup(kind, caddr, cport, vaddr, vport, now);
      if (slot < 0 || t.rsAt(slot) !== rs.id) continue;
      const svc = this.registry.services[svcId];
      const template = kind === KIND_TCP_TEMPLATE || kind === KIND_UDP_TEMPLATE;
      if (policy === 'expire' || template || svc === undefined) {
        t.remove(slot);
        result.expired++;
        continue;
      }
      flow.protocol = svc.protocol;
      // As the data path hashes it: an IPv6 client by its address, not its table slot.
      flow.caddr = caddr >= IPV6_ID_BASE ? this.registry.addresses.addressHash(caddr) : caddr;
      flow.cport = cport;
      flow.vaddr = vaddr;
      flow.vport = vport;
      const next = svc.scheduler.schedule(flow);
      if (next === null || next === rs) {
        t.remove(slot);
        result.expired++;
        continue;
      }
      // In place: removing and re-inserting would drop the entry's IPv6 address references
      // in between (the client's last one frees its id for the next new client).
      t.rebind(slot, next.id);
      this.registry.bound(next, kind);
      if (kind === KIND_TCP && state === TcpState.Established) this.registry.transition(next, TcpState.None, TcpState.Established);
      result.rescheduled++;
    }
    return result;
  }

  /** Folds the last interval into every service's and server's rates. */
  estimate(intervalS: number): void {
    for (const svc of this.registry.list()) {
      svc.stats.estimate(intervalS);
      for (const rs of svc.servers) rs.stats.estimate(intervalS);
    }
  }

  setTimeouts(t: Partial<TimeoutSettings>): TimeoutSettings {
    this.timeouts.set(t);
    return this.timeouts.get();
  }

  /** Zeroes traffic counters of every service and server, or of one service (ipvsadm -Z [-t|-u]). */
  zeroCounters(only?: { protocol: string; vip: string; port: number }): void {
    this.queues?.zero(only);
    const list = only ? [this.registry.findService(only.protocol, only.vip, only.port)] : this.registry.list();
    for (const svc of list) {
      svc.stats.reset();
      for (const rs of svc.servers) rs.stats.reset();
    }
  }

  snapshot(): DirectorSnapshot {
    const verdicts = {} as Record<VerdictName, number>;
    VERDICT_NAMES.forEach((name, i) => (verdicts[name] = this.datapath.verdicts[i]));
    return {
      framesIn: this.datapath.framesIn,
      verdicts,
      connTable: this.tableStats(),
      timeouts: this.timeouts.get(),
      kernelMacKnown: this.host.kernelMacKnown,
      services: this.registry.list().map((svc) => ({
        ...svc.spec(),
        stats: svc.stats.snapshot(),
        realServers: svc.servers.map((rs) => ({
          address: rs.addressText,
          port: rs.port,
          weight: rs.weight,
          forward: FORWARD_LISTING_NAMES[rs.forward],
          activeConns: rs.activeConns,
          inactConns: rs.inactConns,
          persistConns: rs.persistConns,
          stats: rs.stats.snapshot(),
        })),
      })),
    };
  }

  /** The connection table's figures; with queue workers, of all their tables together. */
  tableStats(): ConnTableStats {
    return this.queues !== null ? this.queues.tableStats() : this.table.stats();
  }

  /** The connection list (ipvsadm -Lc) of every queue; at most `limit` entries. */
  listConnections(limit = 10_000): Promise<DirectorConnectionSnapshot[]> {
    return this.queues !== null ? this.queues.connections(limit) : Promise.resolve(this.connections(limit));
  }

  /** Verdict counts that are per-frame (every frame in lands in exactly one). */
  frameVerdictSum(): number {
    let s = 0;
    for (let i = 0; i < this.datapath.verdicts.length; i++) if (i !== TX_FAILED_INDEX) s += this.datapath.verdicts[i];
    return s;
  }

  /** The connection list (ipvsadm -Lc); at most `limit` entries. */
  connections(limit = 10_000): DirectorConnectionSnapshot[] {
    const now = this.clock();
    const out: DirectorConnectionSnapshot[] = [];
    const t = this.table;
    t.forEach((slot) => {
      if (out.length >= limit) return;
      const kind = t.kindAt(slot);
      const template = kind === KIND_TCP_TEMPLATE || kind === KIND_UDP_TEMPLATE;
      const rs = this.registry.servers[t.rsAt(slot)];
      out.push({
        protocol: kind === KIND_TCP || kind === KIND_TCP_TEMPLATE ? 'TCP' : 'UDP',
        template,
        state: template ? 'NONE' : kind === KIND_UDP ? 'UDP' : connStateName(t.stateAt(slot)),
        client: this.registry.addressText(t.clientAt(slot)),
        clientPort: t.clientPortAt(slot),
        virtual: this.registry.addressText(t.virtualAt(slot)),
        virtualPort: t.virtualPortAt(slot),
        realServer: rs ? rs.addressText : '?',
        expiresIn: Math.max(0, Math.round((t.expiresAt(slot) - now) / 1000)),
      });
    });
    return out;
  }
}
