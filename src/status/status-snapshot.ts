// The status page's data: one JSON document (GET /status.json) with the services, their
// real servers (health, weights, connections, cumulative traffic), drops by reason, the
// connection table and the event-loop delay since the previous poll. Cumulative counters
// are sent as they are; the page turns them into rates between two polls. Read-only, and
// nothing in it is secret: no config path, no control socket, no peer addresses but the
// services' own.
import type { Director } from '../director/director.js';
import { formatIpv4 } from '../director/ipv4-text.js';
import { kernelDrops } from '../director/kernel-drops.js';
import { VERDICT_NAMES } from '../director/verdicts.js';
import type { ServiceHealthSnapshot } from '../health/health-manager.js';
import { buildInfo } from '../metrics/build-info.js';
import type { EventLoopDelayWindow } from '../metrics/event-loop-delay.js';
import { definitionsOf } from '../control/service-definitions.js';

export type ServerHealthText = 'up' | 'down' | 'unchecked';

export interface StatusServer {
  address: string;
  port: number;
  health: ServerHealthText;
  /** The operator's weight, and the one the scheduler uses now (health, slow start, feedback). */
  configuredWeight: number;
  weight: number;
  activeConns: number;
  inactConns: number;
  conns: number;
  inPkts: number;
  inBytes: number;
}

export interface StatusService {
  key: string;
  protocol: string;
  vip: string;
  port: number;
  scheduler: string;
  /** Announcement state (BGP) when the director announces its VIPs; absent otherwise. */
  announced?: string;
  conns: number;
  inPkts: number;
  inBytes: number;
  servers: StatusServer[];
}

export interface StatusDocument {
  schema: 'vstun.status-page/1';
  /** Wall clock ms (Date.now()) when the document was made. */
  at: number;
  version: string;
  uptimeS: number;
  framesIn: number;
  drops: Record<string, number>;
  connTable: { entries: number; capacity: number };
  eventLoop: EventLoopDelayWindow;
  services: StatusService[];
}

export interface StatusSources {
  director: Director;
  /** The health binding's snapshot (absent: no service is health-checked). */
  health?: () => ServiceHealthSnapshot[];
  /** The event-loop delay window since the last poll. */
  eventLoop: () => EventLoopDelayWindow;
  /** VIP text → announcement state, when announcements exist. */
  announcements?: () => ReadonlyMap<string, string>;
}

export function statusDocument(src: StatusSources): StatusDocument {
  const d = src.director;
  const health = new Map<string, Map<string, string>>();
  for (const svc of src.health?.() ?? []) health.set(svc.serviceId, new Map(svc.servers.map((s) => [s.rsId, s.state])));
  const announced = src.announcements?.();
  const drops: Record<string, number> = {};
  VERDICT_NAMES.forEach((name, i) => {
    if (name.startsWith('drop-')) drops[name.slice(5)] = d.datapath.verdicts[i] ?? 0;
  });
  // Drops the kernel makes on our devices and the nftables guard's, as in vstun_drops_total.
  for (const [reason, n] of Object.entries(kernelDrops(d))) drops[reason] = (drops[reason] ?? 0) + n;
  const configured = new Map<string, number>();
  for (const def of definitionsOf(d)) for (const rs of def.realServers) configured.set(`${def.protocol}:${def.vip}:${def.port}/${rs.address}`, rs.weight ?? 1);
  return {
    schema: 'vstun.status-page/1',
    at: Date.now(),
    version: buildInfo().version,
    uptimeS: Math.round(process.uptime()),
    framesIn: d.datapath.framesIn,
    drops,
    connTable: ((t) => ({ entries: t.entries, capacity: t.capacity }))(d.tableStats()),
    eventLoop: src.eventLoop(),
    services: d.registry.list().map((svc) => {
      const vip = formatIpv4(svc.vip);
      const checked = health.get(svc.label);
      const service: StatusService = {
        key: svc.label,
        protocol: svc.protocolName,
        vip,
        port: svc.port,
        scheduler: svc.schedulerName,
        conns: svc.stats.conns,
        inPkts: svc.stats.inPkts,
        inBytes: svc.stats.inBytes,
        servers: svc.servers
          .filter((rs) => !rs.removed)
          .map((rs) => ({
            address: rs.addressText,
            port: rs.port || svc.port,
            health: (checked?.get(rs.addressText) as ServerHealthText | undefined) ?? 'unchecked',
            configuredWeight: configured.get(`${svc.label}/${rs.addressText}`) ?? rs.weight,
            weight: rs.available ? rs.weight : 0,
            activeConns: rs.activeConns,
            inactConns: rs.inactConns,
            conns: rs.stats.conns,
            inPkts: rs.stats.inPkts,
            inBytes: rs.stats.inBytes,
          })),
      };
      const a = announced?.get(vip);
      if (a !== undefined) service.announced = a;
      return service;
    }),
  };
}
