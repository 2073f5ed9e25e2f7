// The typed data vstunadm and the control socket exchange: service and real-server specs
// (what -A/-a carry and -S prints), snapshots with counters (what -L prints), connection
// entries (-L -c) and timeouts (--timeout / --set). Addresses are always held in one
// canonical text form (see canonicalAddress) so that equal addresses compare equal as strings.

import { GUE_PORT } from '../wire/gue.js';
import {
  addressTextFamily,
  addressTextHint,
  formatAddressPortText,
  formatAddressText,
  parseAddressText,
  type AddressFamily,
  type ParsedAddress,
} from '../wire/address-text.js';
import { BadAddressError } from './errors.js';

/** Schedulers vstun accepts, by ipvsadm's names: the director's list (one place). */
export { SCHEDULER_NAMES as SCHEDULERS, type SchedulerName } from '../director/schedulers/scheduler.js';
import { SCHEDULER_NAMES as SCHEDULERS, type SchedulerName } from '../director/schedulers/scheduler.js';
/** ipvsadm's default when -s is not given. */
export const DEFAULT_SCHEDULER: SchedulerName = 'wlc';

/**
 * Scheduler flags in ipvsadm's canonical order. sh and mh give flag-1/flag-2 their own names
 * (fallback to the next server when the hashed one is unavailable; include the port in the
 * hash); flag-3 and the generic names apply to the other schedulers.
 */
export const SCHED_FLAGS = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port', 'flag-1', 'flag-2', 'flag-3'] as const;
export type SchedFlag = (typeof SCHED_FLAGS)[number];

/** `-p` without a value, as ipvsadm. */
export const DEFAULT_PERSISTENCE_SECONDS = 300;
/** Largest timeout ipvsadm accepts for -p and --set: 31 days, in seconds. */
export const MAX_TIMEOUT_SECONDS = 86_400 * 31;
/** The IPVS version ipvsadm prints in its first line; vstun reports the one scripts expect. */
export const IPVS_VERSION = '1.2.1';

export type Protocol = 'tcp' | 'udp';
export type { AddressFamily };

/** A virtual service: protocol, VIP (canonical IPv4 or IPv6 text) and port 0..65535. fwmark is not supported. */
export interface ServiceKey {
  protocol: Protocol;
  vip: string;
  port: number;
}

/** A real server's identity within a service. */
export interface ServerAddress {
  address: string;
  port: number;
}

export interface ServiceSpec {
  key: ServiceKey;
  scheduler: SchedulerName;
  /** Canonical order (SCHED_FLAGS order), no duplicates. */
  flags: SchedFlag[];
  /** Persistence timeout in seconds (1..MAX_TIMEOUT_SECONDS); absent when not persistent. */
  persistence?: number;
  /**
   * Persistence granularity: dotted mask for an IPv4 VIP, prefix length 1..128 for IPv6.
   * Absent means the full address (/32 or /128). Only meaningful with persistence.
   */
  netmask?: string | number;
  /** One-packet scheduling (-o), UDP only. */
  onePacket: boolean;
}

/**
 * ipvsadm's three forwarding methods, per real server: -i tunnel (IPIP/GUE, vstun's
 * default), -m masquerading (VS/NAT), -g gatewaying (VS/DR, ipvsadm's default).
 */
export const FORWARD_METHODS = ['tunnel', 'masq', 'route'] as const;
export type ForwardMethod = (typeof FORWARD_METHODS)[number];
/** ipvsadm's fwd_name(): the Forward column of -L. */
export const FORWARD_NAMES: Record<ForwardMethod, string> = { tunnel: 'Tunnel', masq: 'Masq', route: 'Route' };
/** ipvsadm's fwd_switch(): the option -S writes. */
export const FORWARD_SWITCHES: Record<ForwardMethod, string> = { tunnel: '-i', masq: '-m', route: '-g' };

/** ipvsadm 1.31's --tun-type values that vstun's data path implements (gre is not). */
export const TUNNEL_TYPES = ['ipip', 'gue'] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];
/** ipvsadm 1.31's tunnel flags, in its order: --tun-nocsum, --tun-csum, --tun-remcsum. */
export const TUNNEL_CHECKSUMS = ['nocsum', 'csum', 'remcsum'] as const;
export type TunnelChecksum = (typeof TUNNEL_CHECKSUMS)[number];
/** The GUE port the data path uses when the config names none (src/wire/gue.ts). */
export const DEFAULT_GUE_PORT = GUE_PORT;

export interface RealServerSpec extends ServerAddress {
  /** 0..65535; 0 quiesces the server (no new connections). */
  weight: number;
  forward: ForwardMethod;
  /** Encapsulation toward the server (ipvsadm --tun-type; ipip when not given). */
  tunType: TunnelType;
  /** GUE destination UDP port 1..65535 (--tun-port); 0 for ipip, as in ipvsadm. */
  tunPort: number;
  /** GUE UDP checksum (--tun-nocsum/--tun-csum); 'nocsum' for ipip, as in ipvsadm. */
  tunChecksum: TunnelChecksum;
  /** Connection thresholds (-x upper, -y lower); absent or 0 = none. */
  upperThreshold?: number;
  lowerThreshold?: number;
}

/**
 * The GUE checksum vstun's data path sends to a real server: none over IPv4 (ipvsadm's
 * default), always over IPv6, where RFC 8200 requires it. Remote checksum offload never.
 */
export function gueChecksumFor(address: string): TunnelChecksum {
  return addressFamily(address) === 6 ? 'csum' : 'nocsum';
}

/** The tunnel fields of a real server: ipip, or gue to `port` with the family's checksum. */
export function tunnelFields(address: string, type: TunnelType, port: number = DEFAULT_GUE_PORT): Pick<RealServerSpec, 'tunType' | 'tunPort' | 'tunChecksum'> {
  return type === 'gue' ? { tunType: 'gue', tunPort: port, tunChecksum: gueChecksumFor(address) } : { tunType: 'ipip', tunPort: 0, tunChecksum: 'nocsum' };
}

/** Cumulative counters since the service or server was added (or last zeroed). */
export interface TrafficCounters {
  conns: number;
  inpkts: number;
  /** Always 0 for VS/TUN: replies go from the real server straight to the client. */
  outpkts: number;
  inbytes: number;
  outbytes: number;
}

/** Per-second rates, estimated by the director. */
export interface TrafficRates {
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

export interface RealServerSnapshot extends RealServerSpec {
  /** What the scheduler uses now: the configured weight, lowered by health checks. */
  effectiveWeight: number;
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats: TrafficCounters;
  rates: TrafficRates;
}

export interface ServiceSnapshot extends ServiceSpec {
  stats: TrafficCounters;
  rates: TrafficRates;
  servers: RealServerSnapshot[];
}

/** A service with its real servers, as -S prints and -R rebuilds. Snapshots fit this shape. */
export interface ServiceRules extends ServiceSpec {
  servers: RealServerSpec[];
}

/** One entry of the connection table, for `-L -c`. */
export interface ConnectionSnapshot {
  protocol: Protocol;
  /** Seconds until the entry expires. */
  expires: number;
  /** IPVS state name: ESTABLISHED, SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, NONE (templates), UDP... */
  state: string;
  client: ServerAddress;
  virtual: ServerAddress;
  server: ServerAddress;
}

/** Connection timeouts in seconds (the director's TimeoutSettings). In --set, 0 means "leave unchanged", as in IPVS. */
export type { TimeoutSettings } from '../director/timeouts.js';

export function isScheduler(name: string): name is SchedulerName {
  return (SCHEDULERS as readonly string[]).includes(name);
}

export function zeroCounters(): TrafficCounters {
  return { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0 };
}

export function zeroRates(): TrafficRates {
  return { cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
}

// ---- Addresses -------------------------------------------------------------------------

export type { ParsedAddress };

/**
 * Parses a numeric IPv4 (dotted quad) or IPv6 address (src/wire/address-text.ts). Host
 * names are not resolved, and prefixes or zone ids are not addresses: all of those throw
 * BadAddressError (ERR_BAD_ADDRESS).
 */
export function parseAddress(text: string): ParsedAddress {
  const parsed = parseAddressText(text);
  if (parsed === null) throw new BadAddressError(`'${text}' is not a numeric IPv4 or IPv6 address${addressTextHint(text)}`);
  return parsed;
}

/** The canonical text of an address: glibc inet_ntop's, so what ipvsadm -n prints. */
export const formatAddress = formatAddressText;

/** Parses and re-prints an address in canonical form; throws BadAddressError on bad input. */
export function canonicalAddress(text: string): string {
  return formatAddressText(parseAddress(text));
}

export const addressFamily: (canonical: string) => AddressFamily = addressTextFamily;

/** `a.b.c.d:port` or `[v6]:port`, as ipvsadm prints an address with its port. */
export const formatAddressPort = formatAddressPortText;

/** Orders addresses as ipvsadm sorts: IPv4 before IPv6, then numerically. */
export function compareAddresses(a: string, b: string): number {
  const pa = parseAddress(a);
  const pb = parseAddress(b);
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}

/** Orders services as ipvsadm's default sort: family, protocol (TCP before UDP), address, port. */
export function compareServiceKeys(a: ServiceKey, b: ServiceKey): number {
  const fa = addressFamily(a.vip);
  const fb = addressFamily(b.vip);
  if (fa !== fb) return fa - fb;
  if (a.protocol !== b.protocol) return a.protocol === 'tcp' ? -1 : 1;
  return compareAddresses(a.vip, b.vip) || a.port - b.port;
}

/** Orders real servers as ipvsadm's default sort: address, then port. */
export function compareServers(a: ServerAddress, b: ServerAddress): number {
  return compareAddresses(a.address, b.address) || a.port - b.port;
}

export function sameServiceKey(a: ServiceKey, b: ServiceKey): boolean {
  return a.protocol === b.protocol && a.vip === b.vip && a.port === b.port;
}

export function sameServer(a: ServerAddress, b: ServerAddress): boolean {
  return a.address === b.address && a.port === b.port;
}
