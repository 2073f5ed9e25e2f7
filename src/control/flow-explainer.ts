// `vstunadm explain`: where a flow from CLIENT:PORT to VIP:PORT goes and why — an existing
// connection entry, a persistence template, or the scheduler's decision now. Nothing is
// changed: the table is read without expiring anything, and the scheduler answers on a
// copy of its state, so asking does not move rr's pointer or lblc's memory.
import { KIND_TCP, KIND_TCP_TEMPLATE, KIND_UDP, KIND_UDP_TEMPLATE } from '../director/conn-table.js';
import type { Director } from '../director/director.js';
import { formatIpv4 } from '../director/ipv4-text.js';
import { parseIpv4Text } from '../wire/address-text.js';
import type { RealServer } from '../director/real-server.js';
import { newFlowKey, type Scheduler } from '../director/schedulers/scheduler.js';
import { connStateName } from '../director/tcp-state.js';
import type { VirtualService } from '../director/virtual-service.js';
import type { ServerAddress, ServiceKey } from './admin-model.js';
import { VstunadmError } from './errors.js';

export type ExplainReason = 'connection' | 'template' | 'scheduler' | 'no-server' | 'no-service';

export interface Explanation {
  service: ServiceKey;
  client: ServerAddress;
  reason: ExplainReason;
  /** The real server the next packet of this flow goes to, or null (dropped). */
  server: string | null;
  /** One sentence saying why. */
  detail: string;
  /** For reason connection: the entry's state and seconds left. */
  connection?: { state: string; expiresIn: number };
  /** For reason template (or a new template the scheduler would create). */
  template?: { network: string; expiresIn: number } | null;
  scheduler: string;
  /** What a TCP packet that is not a SYN does when there is no entry. */
  midFlowMiss?: string;
}

/** A copy of a scheduler whose schedule() cannot change the original's state. */
export function detachedScheduler(s: Scheduler): Scheduler {
  const copy = Object.create(Object.getPrototypeOf(s) as object) as Record<string, unknown>;
  for (const [k, v] of Object.entries(s)) {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) copy[k] = (v as unknown as { slice(): unknown }).slice();
    else if (Array.isArray(v)) copy[k] = v.slice();
    else if (v instanceof Map) copy[k] = new Map(v);
    else if (v instanceof Set) copy[k] = new Set(v);
    else copy[k] = v;
  }
  return copy as unknown as Scheduler;
}

/** Reads an entry without the lookup's expire-on-touch side effect; -1 when absent or expired. */
function peek(director: Director, kind: number, caddr: number, cport: number, vaddr: number, vport: number): number {
  const t = director.table;
  const now = director.clock();
  let found = -1;
  t.forEach((slot) => {
    if (found >= 0) return;
    if (t.kindAt(slot) === kind && t.clientAt(slot) === caddr && t.clientPortAt(slot) === cport && t.virtualAt(slot) === vaddr && t.virtualPortAt(slot) === vport && t.expiresAt(slot) > now) found = slot;
  });
  return found;
}

function serverText(rs: RealServer | undefined): string | null {
  return rs === undefined ? null : rs.addressText;
}

/** Explains the flow; throws VstunadmError for a non-IPv4 address. */
export function explainFlow(director: Director, service: ServiceKey, client: ServerAddress): Explanation {
  const vaddr = parseIpv4Text(service.vip);
  const caddr = parseIpv4Text(client.address);
  if (vaddr === null || caddr === null) throw new VstunadmError('ERR_UNSUPPORTED', 'explain handles IPv4 flows only in this director');
  const proto = service.protocol === 'tcp' ? 6 : 17;
  const svc: VirtualService | undefined = director.registry.lookup(proto, vaddr, service.port);
  const base = { service, client };
  if (svc === undefined) {
    return { ...base, reason: 'no-service', server: null, scheduler: '-', detail: `no virtual service ${service.protocol.toUpperCase()} ${service.vip}:${service.port} (nor an all-ports one on ${service.vip}); the packet is dropped as drop-no-service` };
  }
  const now = director.clock();
  const t = director.table;
  const kind = proto === 6 ? KIND_TCP : KIND_UDP;
  const slot = peek(director, kind, caddr, client.port, vaddr, service.port);
  const midFlowMiss =
    proto !== 6 ? undefined : svc.schedulerName === 'mh' || svc.sloppy || director.datapath.options.sloppyTcp ? 'scheduled like a SYN (mh or sloppy)' : 'dropped as drop-tcp-not-syn (no mh, no sloppy)';
  if (slot >= 0) {
    const rs = director.registry.servers[t.rsAt(slot)];
    const state = kind === KIND_UDP ? 'UDP' : connStateName(t.stateAt(slot));
    const expiresIn = Math.max(0, Math.round((t.expiresAt(slot) - now) / 1000));
    const drain = rs?.removed ? ' (the server was removed; the connection drains to it)' : '';
    return {
      ...base,
      reason: 'connection',
      server: serverText(rs),
      scheduler: svc.schedulerName,
      connection: { state, expiresIn },
      detail: `existing connection entry (${state}, expires in ${expiresIn} s) sends it to ${serverText(rs) ?? 'a server that is gone (dropped)'}${drain}`,
      midFlowMiss,
    };
  }
  if (svc.persistenceMs > 0) {
    const tkind = proto === 6 ? KIND_TCP_TEMPLATE : KIND_UDP_TEMPLATE;
    const cnet = (caddr & svc.netmask) >>> 0;
    const ts = peek(director, tkind, cnet, 0, vaddr, svc.port);
    const rs = ts >= 0 ? director.registry.servers[t.rsAt(ts)] : undefined;
    if (rs !== undefined && rs.available) {
      const expiresIn = Math.max(0, Math.round((t.expiresAt(ts) - now) / 1000));
      return {
        ...base,
        reason: 'template',
        server: rs.addressText,
        scheduler: svc.schedulerName,
        template: { network: `${formatIpv4(cnet)}/${formatIpv4(svc.netmask)}`, expiresIn },
        detail: `persistence template for client network ${formatIpv4(cnet)} (mask ${formatIpv4(svc.netmask)}, ${expiresIn} s left) sends new connections to ${rs.addressText}`,
        midFlowMiss,
      };
    }
  }
  const flow = newFlowKey();
  flow.protocol = proto;
  flow.caddr = caddr;
  flow.cport = client.port;
  flow.vaddr = vaddr;
  flow.vport = service.port;
  const picked = detachedScheduler(svc.scheduler).schedule(flow);
  if (picked === null) {
    return { ...base, reason: 'no-server', server: null, scheduler: svc.schedulerName, detail: `no entry, and scheduler ${svc.schedulerName} finds no available server (all removed, weight 0 or down); dropped as drop-no-real-server`, midFlowMiss };
  }
  const why = svc.scheduler.consistent ? `a hash of the flow (${svc.schedulerName}), the same on every director` : `scheduler ${svc.schedulerName} given the current weights and connection counts`;
  const persist = svc.persistenceMs > 0 ? `; a persistence template for ${formatIpv4((caddr & svc.netmask) >>> 0)} would be created` : '';
  return { ...base, reason: 'scheduler', server: picked.addressText, scheduler: svc.schedulerName, detail: `no entry: a new connection would go to ${picked.addressText}, chosen by ${why}${persist}`, midFlowMiss };
}

/** Human-readable form for vstunadm explain. */
export function formatExplanation(e: Explanation): string {
  const lines = [
    `flow:      ${e.service.protocol.toUpperCase()} ${e.client.address}:${e.client.port} -> ${e.service.vip}:${e.service.port}`,
    `goes to:   ${e.server ?? '(dropped)'}`,
    `because:   ${e.reason}: ${e.detail}`,
    `scheduler: ${e.scheduler}`,
  ];
  if (e.midFlowMiss !== undefined && e.reason !== 'connection') lines.push(`non-SYN:   a mid-flow TCP packet without an entry is ${e.midFlowMiss}`);
  return `${lines.join('\n')}\n`;
}
