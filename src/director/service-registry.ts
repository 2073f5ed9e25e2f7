// Services and real servers, the control plane's view of the director: add/edit/delete in
// ipvsadm's terms, numeric ids for the connection table, per-server connection counts
// kept in step with the table (ConnAccounting), and the per-packet service lookup.
import { ServiceIndex, type ServiceIndexEntry } from './service-index.js';
import { KIND_TCP, KIND_TCP_TEMPLATE, KIND_UDP_TEMPLATE, type ConnAccounting } from './conn-table.js';
import { DirectorError } from './errors.js';
import { findAddressId, formatAddressId, Ipv6AddressTable, parseAddressId } from './address-id.js';
import { formatIpv4, parseNetmask } from './ipv4-text.js';
import { RealServer } from './real-server.js';
import { DEFAULT_MH_TABLE_SIZE } from './schedulers/maglev.js';
import { createScheduler, SCHEDULER_NAMES, type SchedulerFlag, type SchedulerName, type SchedulerOptions } from './schedulers/index.js';
import { TcpState } from './tcp-state.js';
import { PROTO_TCP, PROTO_UDP, serviceKey, VirtualService, type VirtualServiceSpec } from './virtual-service.js';

/** Service ids fit the connection table's 16-bit field; server ids its 32-bit one (bounded for memory). */
export const MAX_SERVICES = 65535;
export const MAX_REAL_SERVERS = 1 << 20;
const SCHEDULER_FLAGS: readonly SchedulerFlag[] = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'];

export interface RealServerParams {
  address: string;
  /** 0..65535, default 1. */
  weight?: number;
}

export interface RegistryOptions {
  /** Outer source address for a real server (uint32 → uint32). */
  dipFor: (rip: number) => number;
  mhTableSize?: number;
  random?: (n: number) => number;
  now: () => number;
  /** The director's IPv6 address table (a fresh one by default). */
  addresses?: Ipv6AddressTable;
}

export class ServiceRegistry implements ConnAccounting {
  /** Index = service id; holes after deletion. */
  readonly services: (VirtualService | undefined)[] = [];
  /** Index = real-server id (what the connection table stores). */
  readonly servers: (RealServer | undefined)[] = [];
  private readonly byKey = new Map<number, VirtualService>();
  /** VIP → number of services on it (non-VIP traffic is dropped, not relayed). */
  private readonly vips = new Map<number, number>();
  /** byKey and vips for the data path, without allocation per lookup. */
  private readonly index = new ServiceIndex();
  private readonly schedOpts: SchedulerOptions;
  /** This director's IPv6 addresses: every address id of its services, servers and connections is a slot here. */
  readonly addresses: Ipv6AddressTable;
  /** Lowest ids that may be free (ids are reused lowest first; the hints keep adds O(1) amortized). */
  private freeServiceHint = 0;
  private freeServerHint = 0;
  /** batch() depth: while > 0 the data-path index is rebuilt once at the end, not per change. */
  private batchDepth = 0;
  private indexStale = false;

  constructor(private readonly opts: RegistryOptions) {
    this.addresses = opts.addresses ?? new Ipv6AddressTable();
    this.schedOpts = {
      flags: new Set(),
      mhTableSize: opts.mhTableSize ?? DEFAULT_MH_TABLE_SIZE,
      random: opts.random ?? ((n) => Math.floor(Math.random() * n)),
      now: opts.now,
    };
  }

  // ---- data path ----

  /** The service for a packet: exact port first, then the VIP's port-0 service; undefined if none. */
  lookup(protocol: number, vip: number, port: number): VirtualService | undefined {
    let id = this.index.get(protocol, vip, port);
    if (id < 0) id = this.index.get(protocol, vip, 0);
    return id < 0 ? undefined : this.services[id];
  }

  isVip(addr: number): boolean {
    return this.index.get(0, addr, 0) >= 0;
  }

  released(rsId: number, kind: number, state: number): void {
    const rs = this.servers[rsId];
    if (rs === undefined) return;
    if (kind === KIND_TCP_TEMPLATE || kind === KIND_UDP_TEMPLATE) rs.persistConns--;
    else if (kind === KIND_TCP && state === TcpState.Established) rs.activeConns--;
    else rs.inactConns--;
    if (rs.overloaded) rs.noteConnectionCount();
    if (rs.removed && rs.idle) this.freeServer(rsId);
  }

  /** A new entry bound to `rs` (IPVS ip_vs_bind_dest): everything starts inactive. */
  bound(rs: RealServer, kind: number): void {
    if (kind === KIND_TCP_TEMPLATE || kind === KIND_UDP_TEMPLATE) rs.persistConns++;
    else {
      rs.inactConns++;
      if (rs.upperThreshold > 0) rs.noteConnectionCount();
    }
  }

  /** A TCP entry changed state: move it between ActiveConn and InActConn. */
  transition(rs: RealServer, from: number, to: number): void {
    if (from === to) return;
    if (to === TcpState.Established) {
      rs.activeConns++;
      rs.inactConns--;
    } else if (from === TcpState.Established) {
      rs.activeConns--;
      rs.inactConns++;
    }
  }

  // ---- control plane ----

  /** Adds a service (ipvsadm -A). Throws DirectorError on a bad spec or a duplicate. */
  addService(spec: VirtualServiceSpec): VirtualService {
    const protocol = spec.protocol === 'tcp' ? PROTO_TCP : spec.protocol === 'udp' ? PROTO_UDP : -1;
    if (protocol < 0) throw new DirectorError('BAD_ARGUMENT', `protocol must be tcp or udp, got "${spec.protocol}"`);
    const vip = parseAddressId(spec.vip, this.addresses);
    if (vip === null) throw new DirectorError('BAD_ARGUMENT', `vip "${spec.vip}" is not an IPv4 or IPv6 address`);
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) throw new DirectorError('BAD_ARGUMENT', `port must be 0..65535, got ${spec.port}`);
    const key = serviceKey(protocol, vip, spec.port);
    if (this.byKey.has(key)) throw new DirectorError('SERVICE_EXISTS', `service ${spec.protocol}:${spec.vip}:${spec.port} already exists; use edit to change it`);
    const id = firstFree(this.services, this.freeServiceHint);
    this.freeServiceHint = id + 1;
    if (id >= MAX_SERVICES) throw new DirectorError('TOO_MANY', `at most ${MAX_SERVICES} services`);
    const p = this.checkServiceParams(spec);
    const svc = new VirtualService(id, protocol, vip, spec.port, p.scheduler, spec.scheduler, p.flags, p.persistenceMs, p.netmask, p.onePacket, this.addressText(vip));
    this.services[id] = svc;
    this.byKey.set(key, svc);
    this.vips.set(vip, (this.vips.get(vip) ?? 0) + 1);
    this.reindex();
    svc.refresh();
    return svc;
  }

  /** Changes scheduler, flags, persistence or one-packet of an existing service (ipvsadm -E). */
  editService(spec: VirtualServiceSpec): VirtualService {
    const svc = this.findService(spec.protocol, spec.vip, spec.port);
    const p = this.checkServiceParams(spec);
    svc.scheduler = p.scheduler;
    svc.schedulerName = spec.scheduler;
    svc.flags = p.flags;
    svc.persistenceMs = p.persistenceMs;
    svc.netmask = p.netmask;
    svc.onePacket = p.onePacket;
    svc.refresh();
    return svc;
  }

  /** Deletes a service (ipvsadm -D); its servers drain like deleted servers. */
  deleteService(protocol: string, vip: string, port: number): void {
    const svc = this.findService(protocol, vip, port);
    for (const rs of svc.servers) this.retire(rs);
    this.byKey.delete(serviceKey(svc.protocol, svc.vip, svc.port));
    const n = (this.vips.get(svc.vip) ?? 1) - 1;
    if (n === 0) this.vips.delete(svc.vip);
    else this.vips.set(svc.vip, n);
    this.services[svc.id] = undefined;
    this.freeServiceHint = Math.min(this.freeServiceHint, svc.id);
    this.reindex();
  }

  /**
   * Runs a run of control-plane changes with the data-path index rebuilt once at the end
   * (linear instead of quadratic for large tables). The data path must not run inside `fn`
   * (it is synchronous, so it cannot).
   */
  batch<T>(fn: () => T): T {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.batchDepth === 0 && this.indexStale) this.reindex();
    }
  }

  private reindex(): void {
    if (this.batchDepth > 0) {
      this.indexStale = true;
      return;
    }
    this.indexStale = false;
    const entries: ServiceIndexEntry[] = [];
    for (const svc of this.byKey.values()) entries.push({ protocol: svc.protocol, address: svc.vip, port: svc.port, value: svc.id });
    for (const vip of this.vips.keys()) entries.push({ protocol: 0, address: vip, port: 0, value: 1 });
    this.index.rebuild(entries);
  }

  /** Adds a real server to a service (ipvsadm -a). */
  addRealServer(svc: VirtualService, spec: RealServerParams): RealServer {
    const address = parseAddressId(spec.address, this.addresses);
    if (address === null) throw new DirectorError('BAD_ARGUMENT', `real server "${spec.address}" is not an IPv4 or IPv6 address`);
    const weight = this.checkWeight(spec.weight ?? 1);
    if (svc.servers.some((rs) => rs.address === address && !rs.removed)) {
      throw new DirectorError('REAL_SERVER_EXISTS', `real server ${spec.address} already in ${svc.label}; use edit to change its weight`);
    }
    const id = firstFree(this.servers, this.freeServerHint);
    this.freeServerHint = id + 1;
    if (id >= MAX_REAL_SERVERS) throw new DirectorError('TOO_MANY', `at most ${MAX_REAL_SERVERS} real servers in all`);
    const rs = new RealServer(id, svc.id, address, 0, weight, this.opts.dipFor(address), this.addressText(address));
    this.servers[id] = rs;
    svc.servers = svc.servers.filter((s) => !s.removed).concat(rs);
    svc.refresh();
    return rs;
  }

  /** Changes a real server's weight (ipvsadm -e); 0 quiesces it. */
  editRealServer(svc: VirtualService, address: string, weight: number): RealServer {
    const rs = this.findRealServer(svc, address);
    rs.weight = this.checkWeight(weight);
    svc.refresh();
    return rs;
  }

  /** Removes a real server (ipvsadm -d): no new connections, existing ones drain. */
  deleteRealServer(svc: VirtualService, address: string): void {
    const rs = this.findRealServer(svc, address);
    this.retire(rs);
    svc.servers = svc.servers.filter((s) => s !== rs);
    svc.refresh();
  }

  findService(protocol: string, vip: string, port: number): VirtualService {
    const proto = protocol === 'tcp' ? PROTO_TCP : protocol === 'udp' ? PROTO_UDP : -1;
    const addr = findAddressId(vip, this.addresses);
    const svc = proto < 0 || addr === null ? undefined : this.byKey.get(serviceKey(proto, addr, port));
    if (!svc) throw new DirectorError('SERVICE_NOT_FOUND', `no service ${protocol}:${vip}:${port}`);
    return svc;
  }

  findRealServer(svc: VirtualService, address: string): RealServer {
    const addr = findAddressId(address, this.addresses);
    const rs = svc.servers.find((s) => s.address === addr && !s.removed);
    if (!rs) throw new DirectorError('REAL_SERVER_NOT_FOUND', `no real server ${address} in ${svc.label}`);
    return rs;
  }

  /** Servers deleted but still holding their id while their connections drain. */
  drainingServers(): number {
    let n = 0;
    for (const rs of this.servers) if (rs !== undefined && rs.removed) n++;
    return n;
  }

  /** Text of an address id of this director (dotted quad or RFC 5952). */
  addressText(id: number): string {
    return formatAddressId(id, this.addresses);
  }

  /** Live services in id order. */
  list(): VirtualService[] {
    return this.services.filter((s): s is VirtualService => s !== undefined);
  }

  private retire(rs: RealServer): void {
    rs.removed = true;
    if (rs.idle) this.freeServer(rs.id);
  }

  private freeServer(id: number): void {
    this.servers[id] = undefined;
    this.freeServerHint = Math.min(this.freeServerHint, id);
  }

  private checkWeight(w: number): number {
    if (!Number.isInteger(w) || w < 0 || w > 65535) throw new DirectorError('BAD_ARGUMENT', `weight must be an integer 0..65535, got ${w}`);
    return w;
  }

  private checkServiceParams(spec: VirtualServiceSpec) {
    if (!SCHEDULER_NAMES.includes(spec.scheduler)) {
      throw new DirectorError('BAD_SCHEDULER', `unknown scheduler "${spec.scheduler}"; use one of ${SCHEDULER_NAMES.join(', ')}`);
    }
    const flags = spec.flags ?? [];
    for (const f of flags) if (!SCHEDULER_FLAGS.includes(f)) throw new DirectorError('BAD_ARGUMENT', `unknown scheduler flag "${f}"; use ${SCHEDULER_FLAGS.join(', ')}`);
    const persistence = spec.persistence ?? 0;
    if (!Number.isInteger(persistence) || persistence < 0 || persistence > 31_536_000) throw new DirectorError('BAD_ARGUMENT', `persistence must be whole seconds 0..31536000, got ${persistence}`);
    const netmask = spec.vip.includes(':') ? checkIpv6Netmask(spec.netmask) : parseNetmask(spec.netmask ?? '255.255.255.255');
    if (netmask === null) throw new DirectorError('BAD_ARGUMENT', `netmask "${spec.netmask}" is not a contiguous IPv4 netmask`);
    const onePacket = spec.onePacket ?? false;
    if (onePacket && spec.protocol !== 'udp') throw new DirectorError('BAD_ARGUMENT', 'onePacket (-o) applies to UDP services only');
    let scheduler;
    try {
      scheduler = createScheduler(spec.scheduler, { ...this.schedOpts, flags: new Set(flags) });
    } catch (err) {
      throw new DirectorError('BAD_ARGUMENT', (err as Error).message);
    }
    return { scheduler, flags: [...flags], persistenceMs: persistence * 1000, netmask, onePacket };
  }
}

/**
 * An IPv6 service's persistence netmask: a prefix length. The data path keys an IPv6
 * client's template by its whole address, so only 128 (the default) is accepted; a shorter
 * prefix is refused rather than silently ignored. Returns the (unused) IPv4 full mask.
 */
function checkIpv6Netmask(text: string | undefined): number {
  // The config's default netmask is the IPv4 full mask; for an IPv6 service it means "whole address" too.
  if (text === undefined || text === '128' || text === '255.255.255.255') return 0xffffffff;
  if (/^\d{1,3}$/.test(text) && Number(text) >= 1 && Number(text) < 128) {
    throw new DirectorError('UNSUPPORTED', `persistence netmask /${text} for an IPv6 service is not supported (IPv6 clients persist per address); use 128`);
  }
  throw new DirectorError('BAD_ARGUMENT', `netmask "${text}" is not an IPv6 prefix length 1..128`);
}

/** The lowest index >= hint holding no entry (the array's length when none). */
function firstFree<T>(list: readonly (T | undefined)[], hint: number): number {
  let i = Math.min(hint, list.length);
  while (i < list.length && list[i] !== undefined) i++;
  return i;
}

export { formatIpv4 };
