// Brings the director's live registry to a desired service table, changing only what
// differs, so that unchanged services and servers keep their objects, scheduler state and
// connections. All-or-nothing: the whole desired table is first built in a scratch
// registry (every check the live one makes), and only then applied. Servers that leave
// follow their service's expire_nodest_conn policy.
import { checkQueuesCanServe } from './queue-checks.js';
import { canonicalIpText, IPV6_ID_BASE, Ipv6AddressTable, parseAddressId } from '../director/address-id.js';
import type { Director, NodestPolicy, VipRoutes } from '../director/director.js';
import { DirectorError } from '../director/errors.js';
import { FORWARD_CODES } from '../director/forward-method.js';
import type { RealServer } from '../director/real-server.js';
import { MAX_REAL_SERVERS, MAX_SERVICES, ServiceRegistry } from '../director/service-registry.js';
import type { VirtualService } from '../director/virtual-service.js';
import type { RealServerConfig, ServiceConfig } from './config-schema.js';
import { VstunadmError, type ControlErrorCode } from './errors.js';
import { definitionsOf, setDefinitions } from './service-definitions.js';

/** Tunnel codes as the data path stores them (src/director/tunnel-mtu.ts). */
const TUNNEL_CODES = { ipip: 0, gue: 1 } as const;

export interface ReconcileSummary {
  servicesAdded: string[];
  servicesRemoved: string[];
  servicesChanged: string[];
  serversAdded: string[];
  serversRemoved: string[];
  serversChanged: string[];
  /** Connections expired or moved by expire_nodest_conn. */
  expired: number;
  rescheduled: number;
}

/** A DirectorError as a control-plane error with a stable code. */
export function toControlError(err: unknown, context: string): VstunadmError {
  if (err instanceof DirectorError) return new VstunadmError(err.controlCode, `${context}: ${err.message}`);
  if (err instanceof VstunadmError) return err;
  return new VstunadmError('ERR_REJECTED', `${context}: ${(err as Error).message ?? String(err)}`);
}

function serviceSpec(def: ServiceConfig) {
  return {
    protocol: def.protocol,
    vip: def.vip,
    port: def.port,
    scheduler: def.scheduler,
    flags: def.flags,
    persistence: def.persistence,
    netmask: String(def.netmask),
    onePacket: def.onePacket,
  };
}

/** The settings the data path reads beyond ipvsadm's. */
function applyServiceExtras(svc: VirtualService, def: ServiceConfig): void {
  svc.mssClamp = def.mssClamp;
  svc.tunnelMtu = def.tunnelMtu ?? 0;
  svc.sloppy = def.sloppy;
}

function applyServerExtras(rs: RealServer, def: RealServerConfig, servicePort: number): void {
  rs.forward = FORWARD_CODES[def.forward];
  rs.natPort = def.forward === 'masq' ? (def.port ?? servicePort) : 0;
  rs.tunnel = TUNNEL_CODES[def.tunnel];
  if (def.guePort !== undefined) rs.guePort = def.guePort;
  rs.tunnelMtu = def.tunnelMtu ?? 0;
  rs.setThresholds(def.upperThreshold ?? 0, def.lowerThreshold ?? 0);
}

/** Canonical VIP text of a definition (the same text the registry gives a live service). */
function vipOf(def: ServiceConfig): string {
  return canonicalIpText(def.vip) ?? def.vip;
}

/** `tcp:VIP:PORT` of a definition, as defKey(def) writes it, through src/wire's fast parsers. */
function defKey(def: ServiceConfig): string {
  return `${def.protocol}:${vipOf(def)}:${def.port}`;
}

function addressOf(rs: RealServerConfig): string {
  return canonicalIpText(rs.address) ?? rs.address;
}

/** `tcp:VIP:PORT` of a live service, with its VIP formatted for its family. */
function liveKey(svc: VirtualService): string {
  return `${svc.protocolName}:${svc.vipText}:${svc.port}`;
}

/**
 * Checks that the live registry could hold `desired` (throws VstunadmError otherwise).
 * Definitions equal to the live ones are known good; the others are built in a scratch
 * registry (every check the live one makes), and the table-wide limits are counted, so a
 * small change to a large table costs little. Nothing live is touched. The tunnel sources
 * of new servers must have been looked up (Director.prepareSources).
 */
export function validateDefinitions(director: Director, desired: readonly ServiceConfig[]): Set<string> {
  const live = new Map<string, ServiceConfig>();
  for (const d of definitionsOf(director)) live.set(defKey(d), d);
  const seen = new Set<string>();
  const changed: ServiceConfig[] = [];
  const unchanged = new Set<string>();
  let servers = director.registry.drainingServers();
  let v6 = 0;
  for (const def of desired) {
    const key = defKey(def);
    if (seen.has(key)) throw new VstunadmError('ERR_SERVICE_EXISTS', `service ${key} is given twice; give each service once`);
    seen.add(key);
    servers += def.realServers.length;
    // The same object (a reload of an unchanged file reuses its parse) needs no comparing.
    const before = live.get(key);
    if (before === def || (before !== undefined && JSON.stringify(before) === JSON.stringify(def))) {
      unchanged.add(key);
      continue;
    }
    changed.push(def);
    v6 += 1 + def.realServers.length;
  }
  if (desired.length > MAX_SERVICES) throw new VstunadmError('ERR_REJECTED', `${desired.length} services: at most ${MAX_SERVICES}`);
  if (servers > MAX_REAL_SERVERS) throw new VstunadmError('ERR_REJECTED', `${servers} real servers (with those still draining): at most ${MAX_REAL_SERVERS} in all`);
  // Its own address table, sized to the change: nothing is acquired in the live one.
  const scratch = new ServiceRegistry({ dipFor: () => 0, mhTableSize: director.mhTableSize, now: director.clock, addresses: new Ipv6AddressTable(Math.max(16, v6)) });
  scratch.batch(() => {
    for (const def of changed) {
      const label = defKey(def);
      let svc: VirtualService;
      try {
        svc = scratch.addService(serviceSpec(def));
      } catch (err) {
        throw toControlError(err, `service ${label}`);
      }
      for (const rs of def.realServers) {
        try {
          scratch.addRealServer(svc, { address: rs.address, weight: rs.weight });
          // The live registry asks for the tunnel source now; fail here rather than half-way.
          checkTunnelSource(director, rs.address);
        } catch (err) {
          throw toControlError(err, `service ${label}, real server ${rs.address}`);
        }
      }
    }
  });
  return unchanged;
}

/** Asks the live director for a server's tunnel source (it throws when there is none), holding no address. */
function checkTunnelSource(director: Director, address: string): void {
  const live = director.registry.addresses;
  const id = parseAddressId(address, live);
  if (id === null) return; // the scratch registry has refused it already
  try {
    director.dipFor(id);
  } finally {
    if (id >= IPV6_ID_BASE) live.release(id);
  }
}

function sameServiceParams(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.flags.join(',') === b.flags.join(',') &&
    a.persistence === b.persistence &&
    String(a.netmask) === String(b.netmask) &&
    a.onePacket === b.onePacket
  );
}

/** Every address a change may need a tunnel source for: real servers and sorry servers. */
function serverAddresses(desired: readonly ServiceConfig[]): string[] {
  const out: string[] = [];
  for (const def of desired) {
    for (const rs of def.realServers) out.push(rs.address);
    const sorry = def.healthCheck?.sorryServer?.address;
    if (sorry !== undefined) out.push(sorry);
  }
  return out;
}

/**
 * Makes the live registry and the host's VIP routes match `desired`, all or nothing: the
 * new servers' tunnel sources are looked up, the whole table is validated, the new VIPs are
 * routed, and only then is the registry changed (and the routes of VIPs that left are
 * removed). Throws VstunadmError, with nothing changed, when any step fails. Unchanged
 * services and servers are not touched. Call it inside director.exclusive().
 */
export async function reconcile(director: Director, desired: readonly ServiceConfig[], defaultPolicy: NodestPolicy): Promise<ReconcileSummary> {
  // Masquerading needs one TAP queue without steering (queue-checks.ts), before anything is looked up.
  checkQueuesCanServe(director, desired);
  try {
    await director.prepareSources(serverAddresses(desired));
  } catch (err) {
    throw toControlError(err, 'tunnel source');
  }
  const unchanged = validateDefinitions(director, desired);
  let routes: Awaited<ReturnType<VipRoutes['prepare']>> | undefined;
  if (director.vipRoutes !== undefined) {
    try {
      routes = await director.vipRoutes.prepare(new Set(desired.map(vipOf)));
    } catch (err) {
      throw new VstunadmError('ERR_REJECTED', `cannot route a VIP into the director: ${(err as Error).message}; nothing was changed`);
    }
  }
  if (director.natReplies !== undefined) {
    try {
      director.natReplies.sync(natServerAddresses(desired));
    } catch (err) {
      await routes?.rollback();
      throw new VstunadmError('ERR_REJECTED', `cannot steer NAT replies into the director: ${(err as Error).message}; nothing was changed`);
    }
  }
  let sum: ReconcileSummary;
  try {
    sum = director.registry.batch(() => applyDefinitions(director, desired, defaultPolicy, unchanged));
  } catch (err) {
    await routes?.rollback();
    throw toControlError(err, 'apply');
  }
  director.servicesChanged();
  await routes?.commit();
  return sum;
}

/** Canonical addresses of every masquerading (VS/NAT) server: their replies must come back through the director. */
export function natServerAddresses(defs: readonly ServiceConfig[]): Set<string> {
  const out = new Set<string>();
  for (const d of defs) for (const rs of d.realServers) if (rs.forward === 'masq') out.add(addressOf(rs));
  return out;
}

/** The registry part of reconcile(), after validation: linear in the size of the table. */
function applyDefinitions(director: Director, desired: readonly ServiceConfig[], defaultPolicy: NodestPolicy, unchanged: ReadonlySet<string>): ReconcileSummary {
  const sum: ReconcileSummary = { servicesAdded: [], servicesRemoved: [], servicesChanged: [], serversAdded: [], serversRemoved: [], serversChanged: [], expired: 0, rescheduled: 0 };
  const reg = director.registry;
  const previous = new Map<string, ServiceConfig>();
  for (const d of definitionsOf(director)) previous.set(defKey(d), d);
  const wanted = new Map<string, ServiceConfig>();
  for (const d of desired) wanted.set(defKey(d), d);
  const policyOf = (def: ServiceConfig | undefined): NodestPolicy => def?.expireNodestConn ?? defaultPolicy;
  const drop = (rs: RealServer, policy: NodestPolicy) => {
    const r = director.applyNodestPolicy(rs, policy);
    sum.expired += r.expired;
    sum.rescheduled += r.rescheduled;
  };

  // Services that go: their servers' connections follow the policy (nowhere to reschedule).
  const live = new Map<string, VirtualService>();
  for (const svc of reg.list()) {
    const label = liveKey(svc);
    if (wanted.has(label)) {
      live.set(label, svc);
      continue;
    }
    const servers = [...svc.servers];
    reg.deleteService(svc.protocolName, svc.vipText, svc.port);
    const policy = policyOf(previous.get(label));
    for (const rs of servers) drop(rs, policy === 'reschedule' ? 'expire' : policy);
    sum.servicesRemoved.push(label);
  }

  for (const def of desired) {
    const label = defKey(def);
    const old = previous.get(label);
    let svc = live.get(label);
    // Equal to what is live (validateDefinitions compared them): nothing to do.
    if (svc !== undefined && unchanged.has(label)) continue;
    if (svc === undefined) {
      svc = reg.addService(serviceSpec(def));
      sum.servicesAdded.push(label);
    } else if (old === undefined || !sameServiceParams(old, def)) {
      reg.editService(serviceSpec(def));
      sum.servicesChanged.push(label);
    }
    applyServiceExtras(svc, def);
    const want = new Map<string, RealServerConfig>();
    for (const rs of def.realServers) want.set(addressOf(rs), rs);
    const have = new Map<string, RealServer>();
    for (const rs of [...svc.servers]) {
      if (want.has(rs.addressText)) {
        if (!rs.removed) have.set(rs.addressText, rs);
        continue;
      }
      reg.deleteRealServer(svc, rs.addressText);
      drop(rs, policyOf(def));
      sum.serversRemoved.push(`${label} ${rs.addressText}`);
    }
    for (const rsDef of def.realServers) {
      const addr = addressOf(rsDef);
      let rs = have.get(addr);
      if (rs === undefined) {
        rs = reg.addRealServer(svc, { address: addr, weight: rsDef.weight });
        sum.serversAdded.push(`${label} ${addr}`);
      } else if (rs.weight !== rsDef.weight) {
        reg.editRealServer(svc, addr, rsDef.weight);
        sum.serversChanged.push(`${label} ${addr}`);
      }
      applyServerExtras(rs, rsDef, def.port);
    }
  }
  setDefinitions(director, desired.map((d) => d));
  return sum;
}
