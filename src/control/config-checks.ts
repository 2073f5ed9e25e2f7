// The rules a service table must meet beyond each field's type, in one place for every way
// rules arrive: the YAML file (config-schema.ts calls these from its refinements) and
// vstunadm's -A/-a/-e/-R (service-definitions.ts calls them on the resulting table). So a
// table that the file refuses, vstunadm refuses too, with the same words.
// Each problem names the field (a path inside the config), the value and what is valid.
import { ADDRESS_USE_TEXT, addressUse, parseAddressText, parseIpv4Text, parseNetmaskText, type ParsedAddress } from '../wire/address-text.js';
import { MAX_REAL_SERVERS as REGISTRY_MAX_REAL_SERVERS, MAX_SERVICES as REGISTRY_MAX_SERVICES } from '../director/service-registry.js';
import { parseMac } from '../wire/ethernet.js';
import { ipv4InPrefix } from '../wire/ipv4-address.js';

/** Config files larger than this are refused before they are read (config-loader.ts). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** The registry's limits: services in a 16-bit field of the connection table, real servers in a 32-bit one (capped for memory). */
export const MAX_SERVICES = REGISTRY_MAX_SERVICES;
export const MAX_REAL_SERVERS = REGISTRY_MAX_REAL_SERVERS;

export interface ConfigProblem {
  /** Where, inside the config: ['services', 0, 'vip']. */
  path: (string | number)[];
  /** The value and what would be valid, e.g. `"0.0.0.0" is the unspecified address; …`. */
  message: string;
}

/** The fields of a service definition these rules read (ServiceConfig has them all). */
export interface CheckedService {
  protocol: string;
  vip: unknown;
  port: number;
  persistence: number;
  netmask: string;
  healthCheck?: { kind?: string };
  realServers: ReadonlyArray<{ address: unknown; forward?: string; port?: number; healthCheck?: { kind?: string } }>;
}

/** The fields of the director section these rules read. */
export interface CheckedDirector {
  linkAddress: string;
  kernelAddress: string;
  linkPrefixLength: number;
  mac: string;
  dip?: string;
  probeSource?: string;
  /** VS/DR's bridge (config-schema.ts); direct-routing servers need it. */
  dr?: { bridge: string };
}

const USABLE = 'a unicast address (not 0.0.0.0, loopback, multicast, broadcast, 0.0.0.0/8 or 240.0.0.0/4)';

function unusable(a: ParsedAddress): boolean {
  const use = addressUse(a);
  return use !== 'unicast' && use !== 'link-local';
}

/** Problems of one service, paths relative to the service. */
export function serviceProblems(s: CheckedService): ConfigProblem[] {
  // Runs on input that may have failed its field checks too: read nothing without a look.
  const out: ConfigProblem[] = [];
  const vip = typeof s.vip === 'string' ? parseAddressText(s.vip) : null;
  if (vip !== null && unusable(vip)) {
    out.push({ path: ['vip'], message: `"${s.vip}" is ${ADDRESS_USE_TEXT[addressUse(vip)]}; a VIP must be ${USABLE}` });
  }
  const realServers = Array.isArray(s.realServers) ? s.realServers : [];
  realServers.forEach((rs, i) => {
    const a = typeof rs?.address === 'string' ? parseAddressText(rs.address) : null;
    if (a !== null && unusable(a)) {
      out.push({ path: ['realServers', i, 'address'], message: `"${rs.address}" is ${ADDRESS_USE_TEXT[addressUse(a)]}; a real server must be ${USABLE}, reachable through a tunnel` });
    }
    // As ipvsadm: only a tunnel can carry one family inside the other.
    const forward = rs?.forward ?? 'tunnel';
    if (a !== null && vip !== null && forward !== 'tunnel' && a.family !== vip.family) {
      out.push({ path: ['realServers', i, 'address'], message: `"${rs.address}" is IPv${a.family} and the VIP IPv${vip.family}; forward: ${forward} needs both of one family (only tunnelling crosses families)` });
    }
    if (forward === 'masq' && s.port === 0) {
      // A reply names the server's port only: without one service port it cannot be mapped back.
      out.push({ path: ['realServers', i, 'forward'], message: '"masq" is not supported in a port-0 (all ports) service; give the service a port, or use tunnel or route' });
    }
  });
  if (s.port === 0 && s.persistence === 0) {
    out.push({ path: ['port'], message: '0 (every port) is only allowed for a persistent service, as in ipvsadm; give a port 1..65535, or set persistence (vstunadm: -p)' });
  }
  if (vip !== null && typeof s.netmask === 'string') out.push(...netmaskProblems(s.netmask, vip));
  return out;
}

/**
 * The persistence netmask against the VIP's family. For IPv6 the data path keeps one
 * persistence template per client address, so only the full /128 is served.
 */
function netmaskProblems(netmask: string, vip: ParsedAddress): ConfigProblem[] {
  if (vip.family === 4) {
    if (parseNetmaskText(netmask, 4) === null) {
      return [{ path: ['netmask'], message: `"${netmask}" is not a netmask for an IPv4 VIP; give a dotted mask like 255.255.255.0 or a prefix length 0..32` }];
    }
    return [];
  }
  if (netmask === '255.255.255.255' || parseNetmaskText(netmask, 6) === 128) return [];
  return [
    {
      path: ['netmask'],
      message: `"${netmask}" cannot be served for an IPv6 VIP: vstun keeps IPv6 persistence per client address (/128) and does not group IPv6 clients by prefix; give 128 or leave netmask out (vstunadm: -M 128 or no -M)`,
    },
  ];
}

function usesTunnelCheck(s: CheckedService): boolean {
  return s.healthCheck?.kind === 'tunnel' || (Array.isArray(s.realServers) && s.realServers.some((rs) => rs?.healthCheck?.kind === 'tunnel'));
}

/** Problems of the whole table against the director section; paths from the config's top. */
export function directorProblems(d: CheckedDirector, services: readonly CheckedService[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const link = parseIpv4Text(d.linkAddress);
  const kernel = parseIpv4Text(d.kernelAddress);
  if (link !== null && link === kernel) {
    out.push({ path: ['director', 'kernelAddress'], message: `"${d.kernelAddress}" is also director.linkAddress; the kernel's and the director's ends of the TAP link need two addresses` });
  } else if (link !== null && kernel !== null && !ipv4InPrefix(kernel, link, d.linkPrefixLength)) {
    out.push({ path: ['director', 'kernelAddress'], message: `"${d.kernelAddress}" is not in ${d.linkAddress}/${d.linkPrefixLength}; both ends of the TAP link must share its prefix` });
  }
  const mac = parseMac(d.mac);
  if (mac !== null && ((mac[0] & 1) === 1 || mac.every((b) => b === 0))) {
    const kind = mac.every((b) => b === 0) ? 'the zero' : mac.every((b) => b === 0xff) ? 'the broadcast' : 'a multicast';
    out.push({ path: ['director', 'mac'], message: `"${d.mac}" is ${kind} MAC; give a unicast MAC (first octet even), e.g. 02:56:53:54:00:02` });
  }
  const own: Array<[string, string | undefined]> = [
    ['linkAddress', d.linkAddress],
    ['kernelAddress', d.kernelAddress],
    ['probeSource', d.probeSource],
  ];
  services.forEach((s, i) => {
    const vip = typeof s.vip === 'string' ? parseIpv4Text(s.vip) : null;
    if (vip === null) return;
    for (const [field, text] of own) {
      if (text !== undefined && parseIpv4Text(text) === vip) {
        out.push({ path: ['services', i, 'vip'], message: `"${s.vip}" is also director.${field}; a VIP must not be one of the director's own addresses` });
      }
    }
    if (link !== null && ipv4InPrefix(vip, link, d.linkPrefixLength) && parseIpv4Text(d.linkAddress) !== vip && parseIpv4Text(d.kernelAddress) !== vip) {
      out.push({ path: ['services', i, 'vip'], message: `"${s.vip}" is inside the TAP link ${d.linkAddress}/${d.linkPrefixLength}; give a VIP outside it (the VIP is routed into the link)` });
    }
  });
  if (d.probeSource === undefined && d.dip === undefined) {
    const i = services.findIndex(usesTunnelCheck);
    if (i !== -1) {
      out.push({ path: ['services', i, 'healthCheck', 'kind'], message: '"tunnel" checks need a probe source: set director.probeSource (a /32 routed back to this host) or director.dip' });
    }
  }
  if (d.dr === undefined) {
    for (let i = 0; i < services.length; i++) {
      const rs = Array.isArray(services[i].realServers) ? services[i].realServers : [];
      const j = rs.findIndex((r) => r?.forward === 'route');
      if (j === -1) continue;
      out.push({
        path: ['services', i, 'realServers', j, 'forward'],
        message: '"route" (direct routing, -g) needs director.dr: the bridge on the real servers\' LAN that the TAP joins (README: VS/DR)',
      });
      break;
    }
  }
  if (services.length > MAX_SERVICES) out.push({ path: ['services'], message: `has ${services.length} services; at most ${MAX_SERVICES} are allowed` });
  return out;
}
