// The director's desired service table, held as config-shaped definitions (ServiceConfig),
// and its two views: ipvsadm rules (what -S prints and -A/-a/-R edit) and the YAML file.
// ipvsadm commands edit only ipvsadm's fields; everything else a definition carries
// (tunnel type, MTU, MSS clamp, health checks, …) is kept across those edits.
import type { Director } from '../director/director.js';
import { formatIpv4Netmask, parseNetmaskText } from '../wire/address-text.js';
import { addressFamily, canonicalAddress, tunnelFields, type SchedFlag, type ServiceKey, type ServiceRules } from './admin-model.js';
import { directorProblems, serviceProblems, type CheckedDirector } from './config-checks.js';
import { ServiceConfig, type RealServerConfig } from './config-schema.js';
import { VstunadmError } from './errors.js';
import { applyRuleCommands, serviceOption, type RestoreLine } from './ipvsadm-dump.js';
import type { RuleCommand } from './ipvsadm-args.js';

/** Per director: the desired service table (config-shaped) its registry was last reconciled to. */
const desiredTables = new WeakMap<Director, ServiceConfig[]>();

/** The definitions `director` was last reconciled to ([] before the first reconcile). */
export function definitionsOf(director: Director): ServiceConfig[] {
  return desiredTables.get(director) ?? [];
}

/** Records the definitions `director` has been reconciled to (service-reconciler.ts). */
export function setDefinitions(director: Director, definitions: ServiceConfig[]): void {
  desiredTables.set(director, definitions);
}

/** The flags the director implements (sh/mh's two named bits). */
const DIRECTOR_FLAGS = new Set<string>(['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port']);
const FULL_MASK_V4 = '255.255.255.255';

/** The identity of a definition, in canonical address form. */
export function definitionKey(def: Pick<ServiceConfig, 'protocol' | 'vip' | 'port'>): ServiceKey {
  return { protocol: def.protocol, vip: canonicalAddress(def.vip), port: def.port };
}

export function keyText(key: ServiceKey): string {
  return `${key.protocol}:${key.vip}:${key.port}`;
}

/** A definition as ipvsadm rules: persistence 0 is "absent", a full netmask is "absent". */
export function definitionToRules(def: ServiceConfig): ServiceRules {
  const key = definitionKey(def);
  const rules: ServiceRules = { key, scheduler: def.scheduler, flags: [...def.flags] as SchedFlag[], onePacket: def.onePacket, servers: [] };
  if (def.persistence > 0) {
    rules.persistence = def.persistence;
    const family = addressFamily(key.vip);
    const bits = parseNetmaskText(String(def.netmask), family);
    // ipvsadm's forms: dotted for IPv4, a prefix length for IPv6; the full mask is "absent".
    if (family === 4 && bits !== null && bits < 32) rules.netmask = formatIpv4Netmask(bits);
    if (family === 6 && bits !== null && bits < 128) rules.netmask = bits;
  }
  rules.servers = def.realServers.map((rs) => {
    const address = canonicalAddress(rs.address);
    return {
      address,
      port: rs.forward === 'masq' ? (rs.port ?? def.port) : def.port,
      weight: rs.weight,
      forward: rs.forward,
      ...tunnelFields(address, rs.tunnel, rs.guePort),
      ...(rs.upperThreshold ? { upperThreshold: rs.upperThreshold } : {}),
      ...(rs.lowerThreshold ? { lowerThreshold: rs.lowerThreshold } : {}),
    };
  });
  return rules;
}

/** A fresh definition with the config's defaults, for a service first made by ipvsadm -A. */
function defaultDefinition(key: ServiceKey): ServiceConfig {
  // Only the defaults are wanted here: the key is judged with the whole table (checkDefinitions).
  const defaults = ServiceConfig.parse({ protocol: key.protocol, vip: '192.0.2.1', port: 1 });
  return { ...defaults, protocol: key.protocol, vip: key.vip, port: key.port };
}

function directorFlags(rules: ServiceRules): ServiceConfig['flags'] {
  for (const f of rules.flags) {
    if (!DIRECTOR_FLAGS.has(f)) {
      throw new VstunadmError('ERR_BAD_SCHED_FLAG', `scheduler flag '${f}' is not implemented by vstun's ${rules.scheduler}; only sh-fallback, sh-port (sh) and mh-fallback, mh-port (mh) are`);
    }
  }
  return rules.flags as ServiceConfig['flags'];
}

/** Rules back to a definition, keeping every non-ipvsadm field of `previous` (same key). */
export function rulesToDefinition(rules: ServiceRules, previous: ServiceConfig | undefined): ServiceConfig {
  const base = previous ?? defaultDefinition(rules.key);
  const oldServers = new Map<string, RealServerConfig>();
  for (const rs of base.realServers) oldServers.set(canonicalAddress(rs.address), rs);
  const netmask = rules.netmask === undefined ? FULL_MASK_V4 : String(rules.netmask);
  return {
    ...base,
    protocol: rules.key.protocol,
    vip: rules.key.vip,
    port: rules.key.port,
    scheduler: rules.scheduler,
    flags: directorFlags(rules),
    persistence: rules.persistence ?? 0,
    netmask,
    onePacket: rules.onePacket,
    realServers: rules.servers.map((s) => {
      // -a/-e give the whole ipvsadm view of a server; fields ipvsadm has no words for
      // (tunnel MTU, health check overrides, feedback) stay as they were.
      const { guePort: _oldPort, port: _oldRsPort, tunnelMtu, ...old } = oldServers.get(s.address) ?? {};
      const server: RealServerConfig = {
        ...old,
        address: s.address,
        weight: s.weight,
        forward: s.forward,
        tunnel: s.forward === 'tunnel' ? s.tunType : 'ipip',
        upperThreshold: s.upperThreshold || undefined,
        lowerThreshold: s.lowerThreshold || undefined,
      };
      // A tunnel MTU is kept while the server stays tunnelled; -m/-g drop it with the tunnel.
      if (s.forward === 'tunnel' && tunnelMtu !== undefined) server.tunnelMtu = tunnelMtu;
      if (s.forward === 'tunnel' && s.tunType === 'gue') server.guePort = s.tunPort;
      // The YAML names the server's port only when NAT maps it to another one.
      if (s.forward === 'masq' && s.port !== rules.key.port) server.port = s.port;
      return server;
    }),
  };
}

/**
 * Applies ipvsadm rule commands to `current` and returns the new definitions, or throws
 * VstunadmError (nothing changes: `current` is not modified). IPVS's semantics: adding
 * what exists or changing what does not is an error. The result must pass the config
 * file's rules (checkDefinitions), against `director` when given.
 */
export function applyCommandsToDefinitions(current: readonly ServiceConfig[], commands: ReadonlyArray<RuleCommand | RestoreLine>, director?: CheckedDirector): ServiceConfig[] {
  const before = new Map<string, ServiceConfig>();
  for (const d of current) before.set(keyText(definitionKey(d)), d);
  const rules = applyRuleCommands(current.map(definitionToRules), commands);
  // A service deleted and re-added in one batch starts fresh, as in IPVS.
  const recreated = new Set<string>();
  for (const entry of commands) {
    const c = 'command' in entry ? entry.command : entry;
    if (c.kind === 'delete-service') recreated.add(keyText(c.service));
    if (c.kind === 'clear') for (const k of before.keys()) recreated.add(k);
  }
  const defs = rules.map((r) => {
    const k = keyText(r.key);
    return rulesToDefinition(r, recreated.has(k) ? undefined : before.get(k));
  });
  checkDefinitions(defs, director);
  return defs;
}

const FIELD_LABELS: Record<string, string> = { vip: 'VIP', address: 'real server', port: 'port', netmask: 'netmask (-M)', kind: 'health check' };

/**
 * The file's rules (config-checks.ts) on a table made by ipvsadm commands: throws
 * ERR_BAD_SERVICE naming the service, the value and what is valid. `director` adds the
 * checks against the director's own addresses and the table's size.
 */
export function checkDefinitions(defs: readonly ServiceConfig[], director?: CheckedDirector): void {
  const problems = defs.flatMap((d, i) => serviceProblems(d).map((p) => ({ ...p, path: ['services', i, ...p.path] })));
  if (director !== undefined) problems.push(...directorProblems(director, defs));
  if (problems.length === 0) return;
  const [p] = problems;
  const i = typeof p.path[1] === 'number' ? p.path[1] : -1;
  const field = [...p.path].reverse().find((x): x is string => typeof x === 'string') ?? '';
  const where = i === -1 ? 'the service table' : serviceOption(definitionKey(defs[i]));
  throw new VstunadmError('ERR_BAD_SERVICE', `${where}: ${FIELD_LABELS[field] ?? field} ${p.message}`);
}

/** Finds a definition by key or throws ERR_NO_SUCH_SERVICE. */
export function findDefinition(defs: readonly ServiceConfig[], key: ServiceKey): ServiceConfig {
  const d = defs.find((x) => {
    const k = definitionKey(x);
    return k.protocol === key.protocol && k.vip === key.vip && k.port === key.port;
  });
  if (!d) throw new VstunadmError('ERR_NO_SUCH_SERVICE', `service ${serviceOption(key)} does not exist; add it first with -A`);
  return d;
}
