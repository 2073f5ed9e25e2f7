// Renders snapshots as ipvsadm prints them, column for column (trailing blanks included),
// so that scripts that parse `ipvsadm -L -n` output work on vstunadm's. The layouts follow
// ipvsadm.c's print_title / print_service_entry / print_largenum / print_conn printf
// formats. ipvsadm resolves host and service names unless given -n; vstun never resolves
// (it would block on DNS) and prints numbers in the same columns either way.
// Also the --json renderings, one stable schema per listing.

import {
  FORWARD_NAMES,
  IPVS_VERSION,
  addressFamily,
  compareServers,
  compareServiceKeys,
  formatAddressPort,
  type ConnectionSnapshot,
  type RealServerSnapshot,
  type RealServerSpec,
  type ServiceSnapshot,
  type ServiceSpec,
  type TimeoutSettings,
  type TrafficCounters,
  type TunnelChecksum,
  type TrafficRates,
} from './admin-model.js';
import type { ListFormat } from './ipvsadm-args.js';

/** What a full `-L` listing needs besides the format switches. */
export interface ListingInput {
  /** Connection-table capacity, printed as `(size=N)` in the version line. */
  connTableSize: number;
  services: readonly ServiceSnapshot[];
  /** Defaults to IPVS_VERSION. */
  version?: string;
}

// printf helpers: %-Ns pads right, %Ns pads left; neither truncates.
const left = (text: string | number, width: number): string => String(text).padEnd(width);
const right = (text: string | number, width: number): string => String(text).padStart(width);

const TITLE_LOCAL = 'Prot LocalAddress:Port';
const TITLE_REMOTE = '  -> RemoteAddress:Port';

/** `IP Virtual Server version 1.2.1 (size=4096)`. */
export function formatVersionLine(connTableSize: number, version: string = IPVS_VERSION): string {
  return `IP Virtual Server version ${version} (size=${connTableSize})\n`;
}

/**
 * One counter cell as ipvsadm's print_largenum: 9 columns, right-aligned. Without --exact,
 * values of 100 million and up are scaled to K/M/G/T (powers of 1000, truncated) in 8
 * columns plus the unit letter. With --exact, the full value, widening the cell if needed.
 * Input: a non-negative integer (fractions are truncated).
 */
export function formatLargeNumber(value: number, exact: boolean): string {
  const n = Math.max(0, Math.trunc(value));
  if (exact) {
    const digits = String(n);
    return right(digits, digits.length <= 8 ? 9 : digits.length + 1);
  }
  if (n < 1e8) return right(n, 9);
  if (n < 1e9) return `${right(Math.trunc(n / 1e3), 8)}K`;
  if (n < 1e11) return `${right(Math.trunc(n / 1e6), 8)}M`;
  if (n < 1e14) return `${right(Math.trunc(n / 1e9), 8)}G`;
  return `${right(Math.trunc(n / 1e12), 8)}T`;
}

type Layout = 'stats' | 'rate' | 'thresholds' | 'persistent-conn' | 'tun-info' | 'plain';

// Which columns a listing shows when several switches are given: print_title's precedence.
function layoutOf(format: ListFormat): Layout {
  if (format.stats) return 'stats';
  if (format.rate) return 'rate';
  if (format.thresholds) return 'thresholds';
  if (format.persistentConn) return 'persistent-conn';
  if (format.tunInfo) return 'tun-info';
  return 'plain';
}

function formatTitle(layout: Layout): string {
  const counters = (names: string[]): string =>
    `${left(TITLE_LOCAL, 33)} ${names.map((name) => right(name, 8)).join(' ')}\n${TITLE_REMOTE}\n`;
  switch (layout) {
    case 'stats':
      return counters(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes']);
    case 'rate':
      return counters(['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS']);
    case 'thresholds':
      return `${left(TITLE_LOCAL, 33)} ${left('Uthreshold', 10)} ${left('Lthreshold', 10)} ${left('ActiveConn', 10)} ${left('InActConn', 10)}\n${TITLE_REMOTE}\n`;
    case 'persistent-conn':
      return `${left(TITLE_LOCAL, 33)} ${left('Weight', 9)} ${left('PersistConn', 11)} ${left('ActiveConn', 10)} ${left('InActConn', 10)}\n${TITLE_REMOTE}\n`;
    case 'tun-info':
      return `Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n`;
    case 'plain':
      return `Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n`;
  }
}

/** `TCP  10.0.0.1:80`: protocol in 4 columns, a blank, address:port (IPv4 cut at 33 as ipvsadm). */
function serviceName(spec: ServiceSpec): string {
  const name = `${left(spec.key.protocol.toUpperCase(), 4)} ${formatAddressPort(spec.key.vip, spec.key.port)}`;
  return addressFamily(spec.key.vip) === 4 ? name.slice(0, 33) : name;
}

function serverName(server: RealServerSnapshot): string {
  const name = formatAddressPort(server.address, server.port);
  return addressFamily(server.address) === 4 ? name.slice(0, 28) : name;
}

// ipvsadm 1.31's tunflags[], indexed like TUNNEL_CHECKSUMS.
const TUNNEL_FLAG_TEXT: Record<TunnelChecksum, string> = { nocsum: '-c', csum: '+c', remcsum: 'r+c' };

/** The --tun-info column, as ipvsadm 1.31's fwd_tun_info: `ipip`, or `gue:PORT:-c|+c|r+c`. */
export function formatTunnelInfo(server: Pick<RealServerSpec, 'tunType' | 'tunPort' | 'tunChecksum'>): string {
  return server.tunType === 'gue' ? `gue:${server.tunPort}:${TUNNEL_FLAG_TEXT[server.tunChecksum]}` : 'ipip';
}

/** The scheduler flags as ipvsadm lists them: comma-joined, canonical order. */
export function formatSchedFlags(spec: ServiceSpec): string {
  return spec.flags.join(',');
}

/** The persistence suffix of a plain service line: ` persistent 300 mask 255.255.255.0`. */
function persistenceSuffix(spec: ServiceSpec): string {
  if (spec.persistence === undefined) return '';
  let out = ` persistent ${spec.persistence}`;
  if (spec.netmask !== undefined) out += ` mask ${spec.netmask}`;
  return out;
}

function counterCells(values: number[], exact: boolean): string {
  return values.map((value) => formatLargeNumber(value, exact)).join('');
}

function statsValues(stats: TrafficCounters): number[] {
  return [stats.conns, stats.inpkts, stats.outpkts, stats.inbytes, stats.outbytes];
}

function rateValues(rates: TrafficRates): number[] {
  return [rates.cps, rates.inpps, rates.outpps, rates.inbps, rates.outbps];
}

function formatServiceLine(service: ServiceSnapshot, layout: Layout, exact: boolean): string {
  const name = serviceName(service);
  if (layout === 'stats') return `${left(name, 33)}${counterCells(statsValues(service.stats), exact)}\n`;
  if (layout === 'rate') return `${left(name, 33)}${counterCells(rateValues(service.rates), exact)}\n`;
  let line = `${name} ${service.scheduler}`;
  if (service.flags.length > 0) line += ` (${formatSchedFlags(service)})`;
  line += persistenceSuffix(service);
  if (service.onePacket) line += ' ops';
  return `${line}\n`;
}

function formatServerLine(server: RealServerSnapshot, layout: Layout, exact: boolean): string {
  const name = serverName(server);
  const active = left(server.activeConns, 10);
  const inactive = left(server.inactConns, 10);
  switch (layout) {
    case 'stats':
      return `  -> ${left(name, 28)}${counterCells(statsValues(server.stats), exact)}\n`;
    case 'rate': {
      // ipvsadm prints a server's CPS/InPPS/OutPPS unscaled and only scales its byte rates.
      const r = server.rates;
      return `  -> ${left(name, 28)} ${right(r.cps, 8)} ${right(r.inpps, 8)} ${right(r.outpps, 8)}${counterCells([r.inbps, r.outbps], exact)}\n`;
    }
    case 'thresholds':
      // 0 is "not set", as IPVS shows it.
      return `  -> ${left(name, 28)} ${left(server.upperThreshold ?? 0, 10)} ${left(server.lowerThreshold ?? 0, 10)} ${active} ${inactive}\n`;
    case 'persistent-conn':
      return `  -> ${left(name, 28)} ${left(server.effectiveWeight, 9)} ${left(server.persistConns, 11)} ${active} ${inactive}\n`;
    case 'tun-info':
      // ipvsadm prints "n/a" for a server that is not tunnelled.
      return `  -> ${left(name, 28)} ${left(FORWARD_NAMES[server.forward], 7)} ${left(server.forward === 'tunnel' ? formatTunnelInfo(server) : 'n/a', 13)} ${left(server.effectiveWeight, 6)} ${active} ${inactive}\n`;
    case 'plain':
      // The weight the scheduler uses now, as the kernel's table shows after a health
      // checker quiesces a server; -S prints the configured weight instead.
      return `  -> ${left(name, 28)} ${left(FORWARD_NAMES[server.forward], 7)} ${left(server.effectiveWeight, 6)} ${active} ${inactive}\n`;
  }
}

function sortedServices(services: readonly ServiceSnapshot[], sort: boolean): ServiceSnapshot[] {
  return sort ? [...services].sort((a, b) => compareServiceKeys(a.key, b.key)) : [...services];
}

function sortedServers(servers: readonly RealServerSnapshot[], sort: boolean): RealServerSnapshot[] {
  return sort ? [...servers].sort(compareServers) : [...servers];
}

function formatServiceEntry(service: ServiceSnapshot, format: ListFormat): string {
  const layout = layoutOf(format);
  let out = formatServiceLine(service, layout, format.exact);
  for (const server of sortedServers(service.servers, format.sort)) out += formatServerLine(server, layout, format.exact);
  return out;
}

/** `-L [-n] [--stats|--rate|--exact|...]`: version line, title, every service with its servers. */
export function formatServiceList(input: ListingInput, format: ListFormat): string {
  let out = formatVersionLine(input.connTableSize, input.version);
  out += formatTitle(layoutOf(format));
  for (const service of sortedServices(input.services, format.sort)) out += formatServiceEntry(service, format);
  return out;
}

/** `-L -t VIP:PORT`: like the full list for one service, without the version line (as ipvsadm). */
export function formatSingleService(service: ServiceSnapshot, format: ListFormat): string {
  return formatTitle(layoutOf(format)) + formatServiceEntry(service, format);
}

/** Seconds as ipvsadm's `-c` expire column: MM:SS, minutes not capped (e.g. 180:03). */
export function formatExpire(seconds: number): string {
  const s = Math.max(0, Math.trunc(seconds));
  return `${String(Math.trunc(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * `-L -c`: connection entries in the order given. With --persistent-conn ipvsadm adds
 * persistence-engine columns to the title; vstun has no engines, so rows stay plain, as
 * ipvsadm prints rows that carry no engine data.
 */
export function formatConnections(connections: readonly ConnectionSnapshot[], format: Pick<ListFormat, 'persistentConn'>): string {
  let out = 'IPVS connection entries\n';
  out += format.persistentConn
    ? `pro expire ${left('state', 11)} ${left('source', 18)} ${left('virtual', 18)} ${left('destination', 18)} ${left('pe name', 16)} pe_data\n`
    : `pro expire ${left('state', 11)} ${left('source', 18)} ${left('virtual', 18)} destination\n`;
  for (const c of connections) {
    out += `${left(c.protocol.toUpperCase(), 3)} ${left(formatExpire(c.expires), 6)} ${left(c.state, 11)} ${left(formatAddressPort(c.client.address, c.client.port), 18)} ${left(formatAddressPort(c.virtual.address, c.virtual.port), 18)} ${formatAddressPort(c.server.address, c.server.port)}\n`;
  }
  return out;
}

/** `-L --timeout`. */
export function formatTimeouts(timeouts: TimeoutSettings): string {
  return `Timeout (tcp tcpfin udp): ${timeouts.tcp} ${timeouts.tcpfin} ${timeouts.udp}\n`;
}

/** `-L --daemon`: vstun runs no sync daemon, and ipvsadm prints nothing when none runs. */
export function formatDaemons(): string {
  return '';
}

// ---- JSON -----------------------------------------------------------------------------
// Stable schemas: every key is always present (null when not applicable), keys are in a
// fixed order, and `schema` names the shape and its version for consumers to check.

export const LIST_JSON_SCHEMA = 'vstun.ipvs.list/1';
export const CONNECTIONS_JSON_SCHEMA = 'vstun.ipvs.connections/1';
export const TIMEOUTS_JSON_SCHEMA = 'vstun.ipvs.timeouts/1';

function countersJson(c: TrafficCounters): TrafficCounters {
  return { conns: c.conns, inpkts: c.inpkts, outpkts: c.outpkts, inbytes: c.inbytes, outbytes: c.outbytes };
}

function ratesJson(r: TrafficRates): TrafficRates {
  return { cps: r.cps, inpps: r.inpps, outpps: r.outpps, inbps: r.inbps, outbps: r.outbps };
}

function serviceJson(service: ServiceSnapshot, sort: boolean): object {
  return {
    protocol: service.key.protocol,
    vip: service.key.vip,
    port: service.key.port,
    scheduler: service.scheduler,
    flags: [...service.flags],
    persistence: service.persistence ?? null,
    netmask: service.netmask ?? null,
    onePacket: service.onePacket,
    stats: countersJson(service.stats),
    rates: ratesJson(service.rates),
    servers: sortedServers(service.servers, sort).map((s) => ({
      address: s.address,
      port: s.port,
      forward: s.forward,
      tunType: s.tunType,
      tunPort: s.tunPort,
      tunChecksum: s.tunChecksum,
      weight: s.weight,
      effectiveWeight: s.effectiveWeight,
      activeConns: s.activeConns,
      inactConns: s.inactConns,
      persistConns: s.persistConns,
      stats: countersJson(s.stats),
      rates: ratesJson(s.rates),
    })),
  };
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** `-L --json` (and `-L -t VIP:PORT --json` with one service). */
export function formatServiceListJson(input: ListingInput, format: Pick<ListFormat, 'sort'>): string {
  return json({
    schema: LIST_JSON_SCHEMA,
    version: input.version ?? IPVS_VERSION,
    connTableSize: input.connTableSize,
    services: sortedServices(input.services, format.sort).map((s) => serviceJson(s, format.sort)),
  });
}

/** `-L -c --json`. */
export function formatConnectionsJson(connections: readonly ConnectionSnapshot[]): string {
  return json({
    schema: CONNECTIONS_JSON_SCHEMA,
    connections: connections.map((c) => ({
      protocol: c.protocol,
      expires: c.expires,
      state: c.state,
      client: { address: c.client.address, port: c.client.port },
      virtual: { address: c.virtual.address, port: c.virtual.port },
      server: { address: c.server.address, port: c.server.port },
    })),
  });
}

/** `-L --timeout --json`. */
export function formatTimeoutsJson(timeouts: TimeoutSettings): string {
  return json({ schema: TIMEOUTS_JSON_SCHEMA, tcp: timeouts.tcp, tcpfin: timeouts.tcpfin, udp: timeouts.udp });
}
