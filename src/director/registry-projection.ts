// What a queue worker's data path needs from the control plane, as plain data: every
// service and real server with the settings the data path reads (effective weight after
// health, slow start and feedback; tunnel, MTUs, thresholds, outer source), the timeouts,
// the default tunnel MTU and the probe source. The main thread owns the one desired state
// (its Director); projectDirector() reads it, applyProjection() makes a worker's registry
// equal to it. Counters and connection counts never travel this way (see counter-merge.ts).
import { newFlowKey } from './schedulers/index.js';
import { RoundRobinScheduler } from './schedulers/round-robin.js';
import { WeightedRoundRobinScheduler } from './schedulers/weighted-round-robin.js';
import { formatAddressId, parseAddressId } from './address-id.js';
import type { Director, NodestPolicy } from './director.js';
import type { ForwardCode } from './forward-method.js';
import type { RealServer } from './real-server.js';
import type { TimeoutSettings } from './timeouts.js';
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
  services: ServiceProjection[];
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

/**
 * Reads the main thread's desired data-path state. Allocates; control plane only.
 * `rrCursor` gives each rr service's shared position (absent: none shared).
 */
export function projectDirector(director: Director, rrCursor?: (label: string) => SharedArrayBuffer): DataplaneProjection {
  const reg = director.registry;
  const pins = director.datapath.probePins;
  return {
    services: reg.list().map((svc) => ({
      ...svc.spec(),
      rrCursor: (svc.schedulerName === 'rr' || svc.schedulerName === 'wrr') && rrCursor !== undefined ? rrCursor(svc.label) : null,
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
    })),
    timeouts: director.timeouts.get(),
    defaultTunnelMtu: director.datapath.defaultTunnelMtu,
    probe: pins === null ? null : { source: pins.source, portRange: [pins.portRange[0], pins.portRange[1]], memory: pins.memory },
  };
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
 * Makes `director`'s registry (a worker's) equal to `p`, keeping what did not change (a
 * server that stays keeps its entries, counters and scheduler position). Then applies each
 * `nodest` to the server it named before the change. Servers and services are matched by
 * protocol, VIP, port and address. Returns the nodest counts and main-id → server map for
 * probe pins. Throws only on a projection the main registry could not have produced.
 * `queue` (this worker's index) staggers round-robin schedulers (see staggerRoundRobin).
 */
export function applyProjection(director: Director, p: DataplaneProjection, queues: number, nodest: readonly NodestRequest[] = [], queue = 0): { expired: number; rescheduled: number; byMainId: Map<number, RealServer> } {
  const reg = director.registry;
  // The servers nodest requests name, found before the change removes them from their service.
  const live = new Map(reg.list().map((s) => [s.label, s]));
  const targets: Array<[RealServer, NodestPolicy]> = [];
  for (const n of nodest) {
    const rs = live.get(n.service)?.servers.find((r) => r.addressText === n.address && !r.removed);
    if (rs !== undefined) targets.push([rs, n.policy]);
  }
  const byMainId = new Map<number, RealServer>();
  reg.batch(() => {
    const wanted = new Map(p.services.map((s) => [`${s.protocol}:${s.vip}:${s.port}`, s]));
    for (const svc of live.values()) if (!wanted.has(svc.label)) reg.deleteService(svc.protocolName, svc.vipText, svc.port);
    for (const [label, sp] of wanted) {
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
      const want = new Map(sp.servers.map((r) => [r.address, r]));
      for (const rs of [...svc.servers]) if (!rs.removed && !want.has(rs.addressText)) reg.deleteRealServer(svc, rs.addressText);
      let weightsChanged = false;
      for (const rp of sp.servers) {
        let rs = svc.servers.find((r) => r.addressText === rp.address && !r.removed);
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
        byMainId.set(rp.id, rs);
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
  return { expired, rescheduled, byMainId };
}
