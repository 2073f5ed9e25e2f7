// What a queue worker's data path needs from the control plane, as plain data: every
// service and real server with the settings the data path reads (effective weight after
// health, slow start and feedback; tunnel, MTUs, thresholds, outer source), the timeouts,
// the default tunnel MTU and the probe source. The main thread owns the one desired state
// (its Director); a ProjectionSender reads it and gives what changed since it last sent
// (every service only the first time), applyProjection() makes a worker's registry equal to
// it. With 10 000 services x 10 servers a whole projection is tens of MB per worker: a change
// or a periodic check must not send it again. Counters never travel this way (counter-merge.ts).
import { newFlowKey } from './schedulers/index.js';
import { RoundRobinScheduler } from './schedulers/round-robin.js';
import { WeightedRoundRobinScheduler } from './schedulers/weighted-round-robin.js';
import { formatAddressId, IPV6_ID_BASE, parseAddressId } from './address-id.js';
import type { Director, NodestPolicy } from './director.js';
import type { ForwardCode } from './forward-method.js';
import type { RealServer } from './real-server.js';
import type { TimeoutSettings } from './timeouts.js';
import type { MainIdsOf } from './counter-rows.js';
import type { ProbePinMemory } from './probe-pins.js';
import type { VirtualServiceSpec, VirtualService } from './virtual-service.js';

export interface RealServerProjection {
  /** The main thread's registry id (probe pins name servers by it). */
  id: number;
  address: string;
  /** Effective weight (what the schedulers use). */
  weight: number;
  forward: ForwardCode;
  natPort: number;
  tunnel: number;
  guePort: number;
  tunnelMtu: number;
  pathMtu: number;
  upperThreshold: number;
  lowerThreshold: number;
  /** Outer source address as text. */
  dip: string;
}

export interface ServiceProjection extends Required<VirtualServiceSpec> {
  /** The main thread's registry id (counter rows name services by it). */
  id: number;
  /** rr's position, shared by every queue (one Int32). */
  rrCursor: SharedArrayBuffer | null;
  mssClamp: boolean;
  tunnelMtu: number;
  sloppy: boolean;
  servers: RealServerProjection[];
}

export interface ProbeProjection {
  source: number;
  portRange: [number, number];
  memory: ProbePinMemory;
}

export interface DataplaneProjection {
  /** True: `services` is every service (a worker deletes the others). False: only those that changed. */
  full: boolean;
  services: ServiceProjection[];
  /** Labels (protocol:vip:port) of the services deleted since the last projection (when not `full`). */
  removed: string[];
  timeouts: TimeoutSettings;
  defaultTunnelMtu: number;
  probe: ProbeProjection | null;
}

/** A connection policy to apply to one server's entries on every queue (expire_nodest_conn). */
export interface NodestRequest {
  /** Service label (VirtualService.label) and server address, as the main thread knew them. */
  service: string;
  address: string;
  policy: NodestPolicy;
}

/** A service as a worker needs it. Allocates: control plane only. */
function projectService(svc: VirtualService, reg: Director['registry'], rrCursor: SharedArrayBuffer | null): ServiceProjection {
  return {
    ...svc.spec(),
    id: svc.id,
    rrCursor,
    mssClamp: svc.mssClamp,
    tunnelMtu: svc.tunnelMtu,
    sloppy: svc.sloppy,
    servers: svc.servers
      .filter((rs) => !rs.removed)
      .map((rs) => ({
        id: rs.id,
        address: rs.addressText,
        weight: rs.weight,
        forward: rs.forward,
        natPort: rs.natPort,
        tunnel: rs.tunnel,
        guePort: rs.guePort,
        tunnelMtu: rs.tunnelMtu,
        pathMtu: rs.pathMtu,
        upperThreshold: rs.upperThreshold,
        lowerThreshold: rs.lowerThreshold,
        dip: formatAddressId(rs.dip, reg.addresses),
      })),
  };
}

/** A projection as sent, with the numbers its text fields were made from (compared without formatting). */
interface SentService {
  p: ServiceProjection;
  netmask: number;
  /** Each server's outer source id, in the order of p.servers. */
  dips: number[];
}

function sentService(svc: VirtualService, p: ServiceProjection): SentService {
  return { p, netmask: svc.netmask, dips: svc.servers.filter((rs) => !rs.removed).map((rs) => rs.dip) };
}

/**
 * Whether `sent` still describes `svc` exactly, shared rr position included. Allocates
 * nothing: it runs over every service on each periodic check.
 */
function sameService(svc: VirtualService, sent: SentService, reg: Director['registry'], rrCursor: SharedArrayBuffer | null): boolean {
  const p = sent.p;
  if (p.id !== svc.id || p.rrCursor !== rrCursor || p.scheduler !== svc.schedulerName || p.persistence !== svc.persistenceMs / 1000 || p.onePacket !== svc.onePacket) return false;
  if (p.mssClamp !== svc.mssClamp || p.tunnelMtu !== svc.tunnelMtu || p.sloppy !== svc.sloppy || sent.netmask !== svc.netmask || p.flags.length !== svc.flags.length) return false;
  for (let i = 0; i < p.flags.length; i++) if (p.flags[i] !== svc.flags[i]) return false;
  let k = 0;
  for (const rs of svc.servers) {
    if (rs.removed) continue;
    const r = p.servers[k];
    if (r === undefined || r.id !== rs.id || r.address !== rs.addressText || r.weight !== rs.weight || r.forward !== rs.forward || r.natPort !== rs.natPort) return false;
    if (r.tunnel !== rs.tunnel || r.guePort !== rs.guePort || r.tunnelMtu !== rs.tunnelMtu || r.pathMtu !== rs.pathMtu) return false;
    if (r.upperThreshold !== rs.upperThreshold || r.lowerThreshold !== rs.lowerThreshold || sent.dips[k] !== rs.dip) return false;
    // An IPv6 id could name another address after being freed and taken again: compare its text.
    if (rs.dip >= IPV6_ID_BASE && r.dip !== formatAddressId(rs.dip, reg.addresses)) return false;
    k++;
  }
  return k === p.servers.length;
}

/**
 * The main thread's side: remembers the projection of each service it sent, so that the next
 * one carries only the services that differ (compared field by field, nothing allocated for a
 * service that did not change) and the labels of those that went.
 */
export class ProjectionSender {
  private sent = new Map<string, SentService>();
  private lastGlobals = '';
  private lastProbeMemory: ProbePinMemory | null = null;
  private mustSendAll = true;

  /** The next projection sends every service (after a worker refused one, the workers may differ). */
  sendAllNext(): void {
    this.mustSendAll = true;
  }

  /**
   * What changed in `director`'s desired state since the last call (everything on the first
   * call, after sendAllNext, or with `all`), and whether anything did. `rrCursor` gives each
   * rr or wrr service's shared position (absent: none shared). Control plane only.
   */
  next(director: Director, rrCursor?: (label: string) => SharedArrayBuffer, all = false): { projection: DataplaneProjection; changed: boolean } {
    const reg = director.registry;
    const full = all || this.mustSendAll;
    this.mustSendAll = false;
    const services: ServiceProjection[] = [];
    const live = new Set<string>();
    for (const svc of reg.list()) {
      const cursor = (svc.schedulerName === 'rr' || svc.schedulerName === 'wrr') && rrCursor !== undefined ? rrCursor(svc.label) : null;
      live.add(svc.label);
      const before = this.sent.get(svc.label);
      if (!full && before !== undefined && sameService(svc, before, reg, cursor)) continue;
      const p = projectService(svc, reg, cursor);
      this.sent.set(svc.label, sentService(svc, p));
      services.push(p);
    }
    const removed: string[] = [];
    for (const label of this.sent.keys()) {
      if (live.has(label)) continue;
      this.sent.delete(label);
      removed.push(label);
    }
    const pins = director.datapath.probePins;
    const probe: ProbeProjection | null = pins === null ? null : { source: pins.source, portRange: [pins.portRange[0], pins.portRange[1]], memory: pins.memory };
    const timeouts = director.timeouts.get();
    const globals = JSON.stringify([timeouts, director.datapath.defaultTunnelMtu, probe?.source, probe?.portRange]);
    const changed = full || services.length > 0 || removed.length > 0 || globals !== this.lastGlobals || (probe?.memory ?? null) !== this.lastProbeMemory;
    this.lastGlobals = globals;
    this.lastProbeMemory = probe?.memory ?? null;
    return { projection: { full, services, removed: full ? [] : removed, timeouts, defaultTunnelMtu: director.datapath.defaultTunnelMtu, probe }, changed };
  }
}

const staggerFlow = newFlowKey();

/**
 * rr and wrr take their position from shared memory, so that every queue's scheduler of the
 * service goes round as one (IPVS's one scheduler per service). False when not shared (no
 * cursor, another scheduler, or a wrr period too long to share).
 */
function shareRoundRobin(svc: VirtualService, cursor: SharedArrayBuffer | null, fresh: boolean): boolean {
  if (cursor === null) return false;
  const s = svc.scheduler;
  if (s instanceof RoundRobinScheduler) {
    s.shareCursor(new Int32Array(cursor));
    return true;
  }
  if (s instanceof WeightedRoundRobinScheduler) return !fresh && s.sharing ? true : s.shareCursor(new Int32Array(cursor));
  return false;
}

/**
 * rr or wrr without a shared position (a wrr period too long to share) keeps its place per
 * worker. Worker q starts q picks further on, so that the first flows of different queues
 * go to different servers, as one director would send them; otherwise every queue's first
 * flow would take the first.
 */
function staggerRoundRobin(svc: VirtualService, queue: number): void {
  if (svc.schedulerName !== 'rr' && svc.schedulerName !== 'wrr') return;
  for (let k = 0; k < queue; k++) svc.scheduler.schedule(staggerFlow);
}

function sameParams(svc: VirtualService, p: ServiceProjection): boolean {
  const s = svc.spec();
  return s.scheduler === p.scheduler && s.flags.join(',') === p.flags.join(',') && s.persistence === p.persistence && s.netmask === p.netmask && s.onePacket === p.onePacket;
}

/**
 * Thresholds are per director; a worker sees only its share of the connections (the kernel
 * spreads flows over the queues), so it enforces its share of the limit, rounded up.
 */
export function thresholdShare(limit: number, queues: number): number {
  return limit === 0 ? 0 : Math.max(1, Math.ceil(limit / queues));
}

/**
 * A worker's map between the main thread's ids and its own services and servers (probe pins
 * and counter rows name them by main id), kept across projections that carry only some
 * services.
 */
export class MainIds implements MainIdsOf {
  private readonly byMain = new Map<number, RealServer>();
  private readonly mainOf = new WeakMap<RealServer, number>();
  private readonly mainOfService = new WeakMap<VirtualService, number>();

  /** The server main id `mainId` stands for here. */
  get(mainId: number): RealServer | undefined {
    return this.byMain.get(mainId);
  }

  set(mainId: number, rs: RealServer): void {
    const old = this.mainOf.get(rs);
    if (old !== undefined && old !== mainId && this.byMain.get(old) === rs) this.byMain.delete(old);
    this.byMain.set(mainId, rs);
    this.mainOf.set(rs, mainId);
  }

  /** `rs` left its service here: no main id names it any more. */
  forget(rs: RealServer): void {
    const id = this.mainOf.get(rs);
    if (id !== undefined && this.byMain.get(id) === rs) this.byMain.delete(id);
    this.mainOf.delete(rs);
  }

  setService(svc: VirtualService, mainId: number): void {
    this.mainOfService.set(svc, mainId);
  }

  serviceOf(svc: VirtualService): number | undefined {
    return this.mainOfService.get(svc);
  }

  serverOf(rs: RealServer): number | undefined {
    return this.mainOf.get(rs);
  }

  /** How many main server ids name a server here. */
  get size(): number {
    return this.byMain.size;
  }
}

/**
 * Makes `director`'s registry (a worker's) equal to `p`: with `p.full`, to exactly its
 * services; otherwise the services `p` carries are made equal to it, those it names as
 * removed are deleted, and the others are left alone. What did not change is kept (a server
 * that stays keeps its entries, counters and scheduler position). Then applies each `nodest`
 * to the server it named before the change. Servers and services are matched by protocol,
 * VIP, port and address; `ids` follows the main thread's server ids. Returns the nodest
 * counts. Throws only on a projection the main registry could not have produced. `queue`
 * (this worker's index) staggers round-robin schedulers (see staggerRoundRobin).
 */
export function applyProjection(director: Director, p: DataplaneProjection, queues: number, nodest: readonly NodestRequest[] = [], queue = 0, ids = new MainIds()): { expired: number; rescheduled: number } {
  const reg = director.registry;
  // The servers nodest requests name, found before the change removes them from their service.
  const live = new Map(reg.list().map((s) => [s.label, s]));
  const targets: Array<[RealServer, NodestPolicy]> = [];
  for (const n of nodest) {
    const rs = live.get(n.service)?.servers.find((r) => r.addressText === n.address && !r.removed);
    if (rs !== undefined) targets.push([rs, n.policy]);
  }
  const dropService = (svc: VirtualService) => {
    for (const rs of svc.servers) ids.forget(rs);
    reg.deleteService(svc.protocolName, svc.vipText, svc.port);
  };
  reg.batch(() => {
    if (p.full) {
      const wanted = new Set(p.services.map((s) => `${s.protocol}:${s.vip}:${s.port}`));
      for (const svc of live.values()) if (!wanted.has(svc.label)) dropService(svc);
    } else {
      for (const label of p.removed) {
        const svc = live.get(label);
        if (svc !== undefined) dropService(svc);
      }
    }
    for (const sp of p.services) {
      const label = `${sp.protocol}:${sp.vip}:${sp.port}`;
      const spec = { protocol: sp.protocol, vip: sp.vip, port: sp.port, scheduler: sp.scheduler, flags: sp.flags, persistence: sp.persistence, netmask: sp.netmask, onePacket: sp.onePacket };
      let svc = live.get(label);
      let fresh = svc === undefined;
      if (svc === undefined) svc = reg.addService(spec);
      else if (!sameParams(svc, sp)) {
        reg.editService(spec);
        fresh = true;
      }
      svc.mssClamp = sp.mssClamp;
      svc.tunnelMtu = sp.tunnelMtu;
      svc.sloppy = sp.sloppy;
      ids.setService(svc, sp.id);
      const want = new Map(sp.servers.map((r) => [r.address, r]));
      const have = new Map<string, RealServer>();
      for (const rs of [...svc.servers]) {
        if (rs.removed) continue;
        if (want.has(rs.addressText)) have.set(rs.addressText, rs);
        else {
          ids.forget(rs);
          reg.deleteRealServer(svc, rs.addressText);
        }
      }
      let weightsChanged = false;
      for (const rp of sp.servers) {
        let rs = have.get(rp.address);
        if (rs === undefined) {
          rs = reg.addRealServer(svc, { address: rp.address, weight: rp.weight });
          fresh = true;
        } else if (rs.weight !== rp.weight) {
          rs.weight = rp.weight;
          weightsChanged = true;
        }
        rs.forward = rp.forward;
        rs.natPort = rp.natPort;
        rs.tunnel = rp.tunnel;
        rs.guePort = rp.guePort;
        rs.tunnelMtu = rp.tunnelMtu;
        rs.pathMtu = rp.pathMtu;
        rs.setThresholds(thresholdShare(rp.upperThreshold, queues), thresholdShare(rp.lowerThreshold, queues));
        if (formatAddressId(rs.dip, reg.addresses) !== rp.dip) rs.dip = parseAddressId(rp.dip, reg.addresses) ?? rs.dip;
        ids.set(rp.id, rs);
      }
      if (weightsChanged) svc.refresh();
      if (!shareRoundRobin(svc, sp.rrCursor, fresh) && fresh) staggerRoundRobin(svc, queue);
    }
  });
  director.timeouts.set(p.timeouts);
  director.datapath.defaultTunnelMtu = p.defaultTunnelMtu;
  let expired = 0;
  let rescheduled = 0;
  for (const [rs, policy] of targets) {
    const r = director.applyNodestPolicy(rs, policy);
    expired += r.expired;
    rescheduled += r.rescheduled;
  }
  return { expired, rescheduled };
}
