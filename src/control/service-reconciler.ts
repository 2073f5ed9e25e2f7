// Brings the director's live registry to a desired service table, changing only what
// differs, so that unchanged services and servers keep their objects, scheduler state and
// connections. All-or-nothing: the whole desired table is first built in a scratch
// registry (every check the live one makes), and only then applied. Servers that leave
// follow their service's expire_nodest_conn policy.
import type { Director, NodestPolicy } from '../director/director.js';
import { DirectorError } from '../director/errors.js';
import type { RealServer } from '../director/real-server.js';
import { ServiceRegistry } from '../director/service-registry.js';
import type { VirtualService } from '../director/virtual-service.js';
import { canonicalAddress } from './admin-model.js';
import type { RealServerConfig, ServiceConfig } from './config-schema.js';
import { VstunadmError, type ControlErrorCode } from './errors.js';
import { definitionKey, keyText } from './service-definitions.js';

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

const DIRECTOR_TO_CONTROL: Record<string, ControlErrorCode> = {
  SERVICE_EXISTS: 'ERR_SERVICE_EXISTS',
  SERVICE_NOT_FOUND: 'ERR_NO_SUCH_SERVICE',
  REAL_SERVER_EXISTS: 'ERR_SERVER_EXISTS',
  REAL_SERVER_NOT_FOUND: 'ERR_NO_SUCH_SERVER',
  BAD_SCHEDULER: 'ERR_UNKNOWN_SCHEDULER',
  BAD_ARGUMENT: 'ERR_BAD_SERVICE',
  TOO_MANY: 'ERR_REJECTED',
  UNSUPPORTED: 'ERR_UNSUPPORTED',
};

/** A DirectorError as a control-plane error with a stable code. */
export function toControlError(err: unknown, context: string): VstunadmError {
  if (err instanceof DirectorError) return new VstunadmError(DIRECTOR_TO_CONTROL[err.code] ?? 'ERR_REJECTED', `${context}: ${err.message}`);
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

function applyServerExtras(rs: RealServer, def: RealServerConfig): void {
  rs.tunnel = TUNNEL_CODES[def.tunnel];
  if (def.guePort !== undefined) rs.guePort = def.guePort;
  rs.tunnelMtu = def.tunnelMtu ?? 0;
  rs.setThresholds(def.upperThreshold ?? 0, def.lowerThreshold ?? 0);
}

/**
 * Checks that the live registry could hold `desired` (throws VstunadmError otherwise), by
 * building it in a scratch registry. Nothing live is touched.
 */
export function validateDefinitions(director: Director, desired: readonly ServiceConfig[]): void {
  const scratch = new ServiceRegistry({ dipFor: () => 0, mhTableSize: director.mhTableSize, now: director.clock });
  for (const def of desired) {
    const label = keyText(definitionKey(def));
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
        director.dipFor(scratch.findRealServer(svc, rs.address).address);
      } catch (err) {
        throw toControlError(err, `service ${label}, real server ${rs.address}`);
      }
    }
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

/**
 * Makes the live registry match `desired` (validated first; throws VstunadmError and
 * changes nothing if it cannot). Unchanged services and servers are not touched.
 */
export function reconcile(director: Director, desired: readonly ServiceConfig[], defaultPolicy: NodestPolicy): ReconcileSummary {
  validateDefinitions(director, desired);
  const sum: ReconcileSummary = { servicesAdded: [], servicesRemoved: [], servicesChanged: [], serversAdded: [], serversRemoved: [], serversChanged: [], expired: 0, rescheduled: 0 };
  const reg = director.registry;
  const previous = new Map<string, ServiceConfig>();
  for (const d of director.definitions) previous.set(keyText(definitionKey(d)), d);
  const wanted = new Map<string, ServiceConfig>();
  for (const d of desired) wanted.set(keyText(definitionKey(d)), d);
  const policyOf = (def: ServiceConfig | undefined): NodestPolicy => def?.expireNodestConn ?? defaultPolicy;
  const drop = (rs: RealServer, policy: NodestPolicy) => {
    const r = director.applyNodestPolicy(rs, policy);
    sum.expired += r.expired;
    sum.rescheduled += r.rescheduled;
  };

  // Services that go: their servers' connections follow the policy (nowhere to reschedule).
  for (const svc of reg.list()) {
    const label = `${svc.protocolName}:${canonicalAddress(formatVip(svc))}:${svc.port}`;
    if (wanted.has(label)) continue;
    const servers = [...svc.servers];
    reg.deleteService(svc.protocolName, formatVip(svc), svc.port);
    const policy = policyOf(previous.get(label));
    for (const rs of servers) drop(rs, policy === 'reschedule' ? 'expire' : policy);
    sum.servicesRemoved.push(label);
  }

  for (const def of desired) {
    const label = keyText(definitionKey(def));
    const old = previous.get(label);
    let svc: VirtualService;
    const live = reg.list().find((s) => s.protocolName === def.protocol && formatVip(s) === canonicalAddress(def.vip) && s.port === def.port);
    if (live === undefined) {
      svc = reg.addService(serviceSpec(def));
      sum.servicesAdded.push(label);
    } else {
      svc = live;
      if (old === undefined || !sameServiceParams(old, def)) {
        reg.editService(serviceSpec(def));
        sum.servicesChanged.push(label);
      }
    }
    applyServiceExtras(svc, def);
    const want = new Map<string, RealServerConfig>();
    for (const rs of def.realServers) want.set(canonicalAddress(rs.address), rs);
    for (const rs of [...svc.servers]) {
      if (want.has(rs.addressText)) continue;
      reg.deleteRealServer(svc, rs.addressText);
      drop(rs, policyOf(def));
      sum.serversRemoved.push(`${label} ${rs.addressText}`);
    }
    for (const rsDef of def.realServers) {
      const addr = canonicalAddress(rsDef.address);
      const existing = svc.servers.find((s) => s.addressText === addr && !s.removed);
      let rs: RealServer;
      if (existing === undefined) {
        rs = reg.addRealServer(svc, { address: addr, weight: rsDef.weight });
        sum.serversAdded.push(`${label} ${addr}`);
      } else {
        rs = existing;
        if (rs.weight !== rsDef.weight) {
          reg.editRealServer(svc, addr, rsDef.weight);
          sum.serversChanged.push(`${label} ${addr}`);
        }
      }
      applyServerExtras(rs, rsDef);
    }
  }
  director.definitions = desired.map((d) => d);
  director.servicesChanged();
  return sum;
}

function formatVip(svc: VirtualService): string {
  return `${svc.vip >>> 24}.${(svc.vip >>> 16) & 255}.${(svc.vip >>> 8) & 255}.${svc.vip & 255}`;
}
