// ipvsadm's rule dump (-S) and its restore input (-R). The dump is one ipvsadm command per
// line, services sorted, each followed by its real servers, in ipvsadm 1.31's form
// (print_tunnel_rule: tunnel servers carry their tunnel type, GUE ones its port and
// checksum option; masquerading and direct-routing servers carry -m or -g alone):
//   -A -t 10.0.0.1:80 -s wlc -p 300 -M 255.255.255.0
//   -a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type ipip
//   -a -t 10.0.0.1:80 -r 10.0.1.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
//   -a -t 10.0.0.1:80 -r 10.0.0.7:8080 -m -w 1
//   -a -t 10.0.0.1:80 -r 10.0.2.9:80 -g -w 1
// Restore reads such lines back into commands, and also the older form without
// --tun-type (ipvsadm before 1.31), which means ipip. Applying a dump to an empty table
// gives the same rules, so dump -> restore -> dump is byte-for-byte the same text.

import {
  FORWARD_SWITCHES,
  compareServers,
  compareServiceKeys,
  formatAddressPort,
  sameServer,
  sameServiceKey,
  type RealServerSpec,
  type ServiceKey,
  type ServiceRules,
  type ServiceSpec,
} from './admin-model.js';
import { parseVstunadmArgs, type RuleCommand } from './ipvsadm-args.js';
import { VstunadmError, isVstunadmError } from './errors.js';

/** `-t 10.0.0.1:80` / `-u [2001:db8::1]:53`: how a dump names a service. */
export function serviceOption(key: ServiceKey): string {
  return `${key.protocol === 'tcp' ? '-t' : '-u'} ${formatAddressPort(key.vip, key.port)}`;
}

/** The `-A` line for a service, without newline. */
export function formatServiceRule(spec: ServiceSpec): string {
  let line = `-A ${serviceOption(spec.key)} -s ${spec.scheduler}`;
  if (spec.persistence !== undefined) {
    line += ` -p ${spec.persistence}`;
    if (spec.netmask !== undefined) line += ` -M ${spec.netmask}`;
  }
  if (spec.onePacket) line += ' -o';
  if (spec.flags.length > 0) line += ` -b ${spec.flags.join(',')}`;
  return line;
}

/** The `-a` line for a real server of a service, without newline. Prints the configured weight. */
export function formatServerRule(key: ServiceKey, server: RealServerSpec): string {
  let line = `-a ${serviceOption(key)} -r ${formatAddressPort(server.address, server.port)} ${FORWARD_SWITCHES[server.forward]} -w ${server.weight}`;
  if (server.forward === 'tunnel') {
    line += ` --tun-type ${server.tunType}`;
    if (server.tunType === 'gue') line += ` --tun-port ${server.tunPort} --tun-${server.tunChecksum}`;
  }
  if (server.upperThreshold) line += ` -x ${server.upperThreshold}`;
  if (server.lowerThreshold) line += ` -y ${server.lowerThreshold}`;
  return line;
}

/**
 * `-S [-n]`: every service (sorted as ipvsadm sorts) then its servers (sorted). Addresses
 * are always numeric; ipvsadm without -n would print names. Snapshots fit ServiceRules.
 */
export function formatRules(services: readonly ServiceRules[]): string {
  let out = '';
  for (const service of [...services].sort((a, b) => compareServiceKeys(a.key, b.key))) {
    out += `${formatServiceRule(service)}\n`;
    for (const server of [...service.servers].sort(compareServers)) out += `${formatServerRule(service.key, server)}\n`;
  }
  return out;
}

export const RULES_JSON_SCHEMA = 'vstun.ipvs.rules/1';

/** `-S --json`: the same rules as data. */
export function formatRulesJson(services: readonly ServiceRules[]): string {
  const sorted = [...services].sort((a, b) => compareServiceKeys(a.key, b.key));
  return `${JSON.stringify(
    {
      schema: RULES_JSON_SCHEMA,
      services: sorted.map((s) => ({
        protocol: s.key.protocol,
        vip: s.key.vip,
        port: s.key.port,
        scheduler: s.scheduler,
        flags: [...s.flags],
        persistence: s.persistence ?? null,
        netmask: s.netmask ?? null,
        onePacket: s.onePacket,
        servers: [...s.servers]
          .sort(compareServers)
          .map((r) => ({ address: r.address, port: r.port, forward: r.forward, weight: r.weight, tunType: r.tunType, tunPort: r.tunPort, tunChecksum: r.tunChecksum })),
      })),
    },
    null,
    2,
  )}\n`;
}

/** One command of -R input and the 1-based line it came from. */
export interface RestoreLine {
  line: number;
  command: RuleCommand;
}

const RULE_KINDS = new Set<string>([
  'add-service',
  'edit-service',
  'delete-service',
  'add-server',
  'edit-server',
  'delete-server',
  'clear',
  'zero',
  'set-timeouts',
]);

function atLine(err: unknown, line: number): never {
  if (isVstunadmError(err)) {
    throw new VstunadmError(err.code, `line ${line}: ${err.message}`, { line, cause: err });
  }
  throw err;
}

/**
 * Parses -R input: one ipvsadm command per line, words split on blanks; blank lines and
 * `#` comments are skipped. Only rule-changing commands may appear. Throws VstunadmError
 * whose message starts with the line number and whose `line` is set.
 */
export function parseRestore(text: string): RestoreLine[] {
  const out: RestoreLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i].replace(/#.*$/, '').trim();
    if (content === '') continue;
    const line = i + 1;
    let command;
    try {
      command = parseVstunadmArgs(content.split(/\s+/));
    } catch (err) {
      atLine(err, line);
    }
    if (!RULE_KINDS.has(command.kind)) {
      throw new VstunadmError(
        'ERR_USAGE',
        `line ${line}: '${content}' is not a rule command; -R input may hold only -A -E -D -a -e -d -C -Z and --set lines`,
        { line },
      );
    }
    out.push({ line, command: command as RuleCommand });
  }
  return out;
}

function copyService(s: ServiceRules): ServiceRules {
  return { ...s, key: { ...s.key }, flags: [...s.flags], servers: s.servers.map((r) => ({ ...r })) };
}

function copySpec(spec: ServiceSpec): ServiceSpec {
  const { key, scheduler, flags, persistence, netmask, onePacket } = spec;
  const out: ServiceSpec = { key: { ...key }, scheduler, flags: [...flags], onePacket };
  if (persistence !== undefined) out.persistence = persistence;
  if (netmask !== undefined) out.netmask = netmask;
  return out;
}

function findService(rules: ServiceRules[], key: ServiceKey): ServiceRules {
  const service = rules.find((s) => sameServiceKey(s.key, key));
  if (service === undefined) {
    throw new VstunadmError('ERR_NO_SUCH_SERVICE', `service ${serviceOption(key)} does not exist; add it first with -A`);
  }
  return service;
}

/**
 * Applies rule commands, in order, to a copy of `initial` and returns the resulting table,
 * with IPVS's semantics: adding what exists or changing what does not is an error
 * (ERR_SERVICE_EXISTS, ERR_NO_SUCH_SERVICE, ERR_SERVER_EXISTS, ERR_NO_SUCH_SERVER).
 * -Z and --set do not change rules and are skipped here. `initial` is not modified.
 */
export function applyRuleCommands(
  initial: readonly ServiceRules[],
  commands: ReadonlyArray<RuleCommand | RestoreLine>,
): ServiceRules[] {
  let rules = initial.map(copyService);
  for (const entry of commands) {
    const command = 'command' in entry ? entry.command : entry;
    try {
      switch (command.kind) {
        case 'add-service':
          if (rules.some((s) => sameServiceKey(s.key, command.service.key))) {
            throw new VstunadmError('ERR_SERVICE_EXISTS', `service ${serviceOption(command.service.key)} already exists; change it with -E`);
          }
          rules.push({ ...copySpec(command.service), servers: [] });
          break;
        case 'edit-service': {
          const service = findService(rules, command.service.key);
          rules[rules.indexOf(service)] = { ...copySpec(command.service), servers: service.servers };
          break;
        }
        case 'delete-service': {
          const service = findService(rules, command.service);
          rules = rules.filter((s) => s !== service);
          break;
        }
        case 'add-server': {
          const service = findService(rules, command.service);
          if (service.servers.some((r) => sameServer(r, command.server))) {
            throw new VstunadmError(
              'ERR_SERVER_EXISTS',
              `real server ${formatAddressPort(command.server.address, command.server.port)} is already in ${serviceOption(command.service)}; change it with -e`,
            );
          }
          service.servers.push({ ...command.server });
          break;
        }
        case 'edit-server':
        case 'delete-server': {
          const service = findService(rules, command.service);
          const index = service.servers.findIndex((r) => sameServer(r, command.server));
          if (index === -1) {
            throw new VstunadmError(
              'ERR_NO_SUCH_SERVER',
              `real server ${formatAddressPort(command.server.address, command.server.port)} is not in ${serviceOption(command.service)}`,
            );
          }
          if (command.kind === 'edit-server') service.servers[index] = { ...command.server };
          else service.servers.splice(index, 1);
          break;
        }
        case 'clear':
          rules = [];
          break;
        case 'zero':
        case 'set-timeouts':
          break;
      }
    } catch (err) {
      if ('line' in entry) atLine(err, entry.line);
      throw err;
    }
  }
  return rules;
}

/** Convenience: the table -R input builds from empty. */
export function restoreRules(text: string): ServiceRules[] {
  return applyRuleCommands([], parseRestore(text));
}
