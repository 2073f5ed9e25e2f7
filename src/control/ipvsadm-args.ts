// ipvsadm's command-line grammar, parsed by hand into a typed AdminCommand. The grammar is
// irregular (bundled short options like -Lnt, optional values for -p, one command letter
// among options, positional values only for --set), which is why this is not commander.
// It follows ipvsadm.c's option table and its command/option legality table; where vstun
// differs, the difference is named at the spot. Pure: no I/O, no name resolution.

import {
  DEFAULT_PERSISTENCE_SECONDS,
  DEFAULT_SCHEDULER,
  FORWARD_SWITCHES,
  MAX_TIMEOUT_SECONDS,
  SCHED_FLAGS,
  SCHEDULERS,
  addressFamily,
  canonicalAddress,
  isScheduler,
  tunnelFields,
  type ForwardMethod,
  type Protocol,
  type RealServerSpec,
  type SchedFlag,
  type SchedulerName,
  type ServerAddress,
  type TunnelChecksum,
  type ServiceKey,
  type ServiceSpec,
  type TimeoutSettings,
} from './admin-model.js';
import {
  BadAddressError,
  BadPortError,
  ForwardUnsupportedError,
  UnknownSchedulerError,
  UnsupportedError,
  UsageError,
  VstunadmError,
  WeightRangeError,
} from './errors.js';
import { formatIpv4Netmask, parseNetmaskText } from '../wire/address-text.js';

/** Which table -L prints. */
export type ListView = 'services' | 'connections' | 'timeout' | 'daemon';

/** Output switches of a listing. `stats` wins over `rate`, as in ipvsadm's print_title. */
export interface ListFormat {
  /** -n. vstun always prints numbers; the flag is kept so output and scripts match. */
  numeric: boolean;
  stats: boolean;
  rate: boolean;
  thresholds: boolean;
  persistentConn: boolean;
  exact: boolean;
  /** Sorting is the default; --nosort turns it off (--sort is accepted as a no-op). */
  sort: boolean;
  tunInfo: boolean;
  json: boolean;
}

export type AdminCommand =
  | { kind: 'add-service'; service: ServiceSpec }
  | { kind: 'edit-service'; service: ServiceSpec }
  | { kind: 'delete-service'; service: ServiceKey }
  | { kind: 'add-server'; service: ServiceKey; server: RealServerSpec }
  | { kind: 'edit-server'; service: ServiceKey; server: RealServerSpec }
  | { kind: 'delete-server'; service: ServiceKey; server: ServerAddress }
  | { kind: 'clear' }
  | { kind: 'zero'; service?: ServiceKey }
  | { kind: 'set-timeouts'; timeouts: TimeoutSettings }
  | { kind: 'list'; view: ListView; service?: ServiceKey; format: ListFormat }
  | { kind: 'save'; numeric: boolean; json: boolean }
  | { kind: 'restore' }
  | { kind: 'explain'; service: ServiceKey; client: ServerAddress; json: boolean }
  | { kind: 'counters'; json: boolean }
  | { kind: 'help' }
  | { kind: 'version' };

export type CommandKind = AdminCommand['kind'];

/** The commands that change rules, i.e. the ones -R input may contain. */
export type RuleCommand = Extract<
  AdminCommand,
  { kind: 'add-service' | 'edit-service' | 'delete-service' | 'add-server' | 'edit-server' | 'delete-server' | 'clear' | 'zero' | 'set-timeouts' }
>;

// ---- Option table ----------------------------------------------------------------------

type OptionId =
  | 'numeric'
  | 'connection'
  | 'service'
  | 'scheduler'
  | 'persistent'
  | 'netmask'
  | 'server'
  | 'forward'
  | 'weight'
  | 'timeout'
  | 'daemon'
  | 'stats'
  | 'rate'
  | 'thresholds'
  | 'persistent-conn'
  | 'nosort'
  | 'sort'
  | 'exact'
  | 'ops'
  | 'sched-flags'
  | 'tun-info'
  | 'tun-type'
  | 'tun-port'
  | 'tun-checksum'
  | 'json'
  | 'client'
  | 'u-threshold'
  | 'l-threshold';

type ArgKind = 'none' | 'required' | 'optional';

interface CommandOption {
  type: 'command';
  command: CommandKind;
  short?: string;
  long: string;
}
interface ValueOption {
  type: 'option';
  id: OptionId;
  short?: string;
  long: string;
  arg: ArgKind;
  /** For options that share one slot (-t/-u, -i/-g/-m): what this spelling selects. */
  variant?: string;
}
interface UnsupportedOption {
  type: 'unsupported';
  short?: string;
  long: string;
  arg: ArgKind;
  why: string;
}
type OptionDef = CommandOption | ValueOption | UnsupportedOption;

const OPTIONS: readonly OptionDef[] = [
  { type: 'command', command: 'add-service', short: 'A', long: 'add-service' },
  { type: 'command', command: 'edit-service', short: 'E', long: 'edit-service' },
  { type: 'command', command: 'delete-service', short: 'D', long: 'delete-service' },
  { type: 'command', command: 'clear', short: 'C', long: 'clear' },
  { type: 'command', command: 'list', short: 'L', long: 'list' },
  { type: 'command', command: 'list', short: 'l', long: 'list' },
  { type: 'command', command: 'zero', short: 'Z', long: 'zero' },
  { type: 'command', command: 'add-server', short: 'a', long: 'add-server' },
  { type: 'command', command: 'edit-server', short: 'e', long: 'edit-server' },
  { type: 'command', command: 'delete-server', short: 'd', long: 'delete-server' },
  { type: 'command', command: 'set-timeouts', long: 'set' },
  { type: 'command', command: 'restore', short: 'R', long: 'restore' },
  { type: 'command', command: 'save', short: 'S', long: 'save' },
  { type: 'command', command: 'help', short: 'h', long: 'help' },
  { type: 'command', command: 'version', short: 'v', long: 'version' },
  { type: 'option', id: 'service', short: 't', long: 'tcp-service', arg: 'required', variant: 'tcp' },
  { type: 'option', id: 'service', short: 'u', long: 'udp-service', arg: 'required', variant: 'udp' },
  { type: 'option', id: 'scheduler', short: 's', long: 'scheduler', arg: 'required' },
  { type: 'option', id: 'persistent', short: 'p', long: 'persistent', arg: 'optional' },
  { type: 'option', id: 'netmask', short: 'M', long: 'netmask', arg: 'required' },
  { type: 'option', id: 'server', short: 'r', long: 'real-server', arg: 'required' },
  { type: 'option', id: 'forward', short: 'i', long: 'ipip', arg: 'none', variant: 'tunnel' },
  { type: 'option', id: 'forward', short: 'g', long: 'gatewaying', arg: 'none', variant: 'route' },
  { type: 'option', id: 'forward', short: 'm', long: 'masquerading', arg: 'none', variant: 'masq' },
  { type: 'option', id: 'weight', short: 'w', long: 'weight', arg: 'required' },
  { type: 'option', id: 'numeric', short: 'n', long: 'numeric', arg: 'none' },
  { type: 'option', id: 'connection', short: 'c', long: 'connection', arg: 'none' },
  { type: 'option', id: 'timeout', long: 'timeout', arg: 'none' },
  { type: 'option', id: 'daemon', long: 'daemon', arg: 'none' },
  { type: 'option', id: 'stats', long: 'stats', arg: 'none' },
  { type: 'option', id: 'rate', long: 'rate', arg: 'none' },
  { type: 'option', id: 'thresholds', long: 'thresholds', arg: 'none' },
  { type: 'option', id: 'persistent-conn', long: 'persistent-conn', arg: 'none' },
  { type: 'option', id: 'nosort', long: 'nosort', arg: 'none' },
  { type: 'option', id: 'sort', long: 'sort', arg: 'none' },
  { type: 'option', id: 'exact', short: 'X', long: 'exact', arg: 'none' },
  { type: 'option', id: 'ops', short: 'o', long: 'ops', arg: 'none' },
  { type: 'option', id: 'sched-flags', short: 'b', long: 'sched-flags', arg: 'required' },
  { type: 'option', id: 'tun-info', long: 'tun-info', arg: 'none' },
  { type: 'option', id: 'tun-type', long: 'tun-type', arg: 'required' },
  { type: 'option', id: 'tun-port', long: 'tun-port', arg: 'required' },
  { type: 'option', id: 'tun-checksum', long: 'tun-nocsum', arg: 'none', variant: 'nocsum' },
  { type: 'option', id: 'tun-checksum', long: 'tun-csum', arg: 'none', variant: 'csum' },
  { type: 'option', id: 'tun-checksum', long: 'tun-remcsum', arg: 'none', variant: 'remcsum' },
  { type: 'option', id: 'json', long: 'json', arg: 'none' },
  { type: 'option', id: 'client', long: 'client', arg: 'required' },
  { type: 'unsupported', short: 'f', long: 'fwmark-service', arg: 'required', why: 'firewall-mark services are not supported; give the service as -t VIP:PORT or -u VIP:PORT' },
  { type: 'unsupported', long: 'sctp-service', arg: 'required', why: 'SCTP services are not supported; use -t (TCP) or -u (UDP)' },
  { type: 'unsupported', short: '6', long: 'ipv6', arg: 'none', why: '-6 only applies to fwmark services, which are not supported' },
  { type: 'option', id: 'u-threshold', short: 'x', long: 'u-threshold', arg: 'required' },
  { type: 'option', id: 'l-threshold', short: 'y', long: 'l-threshold', arg: 'required' },
  { type: 'unsupported', long: 'pe', arg: 'required', why: 'persistence engines (--pe) are not supported; persistence by client address (-p) is' },
  { type: 'unsupported', long: 'start-daemon', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'stop-daemon', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'syncid', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'mcast-interface', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'mcast-group', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'mcast-port', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'mcast-ttl', arg: 'required', why: 'the connection sync daemon is not supported' },
  { type: 'unsupported', long: 'sync-maxlen', arg: 'required', why: 'the connection sync daemon is not supported' },
];

const BY_SHORT = new Map<string, OptionDef>();
const BY_LONG = new Map<string, OptionDef>();
for (const def of OPTIONS) {
  if (def.short !== undefined) BY_SHORT.set(def.short, def);
  if (!BY_LONG.has(def.long)) BY_LONG.set(def.long, def);
}

/** How an option is named in messages: the spelling the user typed. */
type Spelling = string;

// What each command may take: '+' required, ' ' optional, '1' optional but at most one of
// the '1's. Anything absent is illegal. Mirrors ipvsadm's commands_v_options table, plus
// vstun's --json and the explain/counters extensions.
type Legality = '+' | ' ' | '1';
const LEGAL: Record<CommandKind, Partial<Record<OptionId, Legality>>> = {
  'add-service': { service: '+', scheduler: ' ', persistent: ' ', netmask: ' ', ops: ' ', 'sched-flags': ' ' },
  'edit-service': { service: '+', scheduler: ' ', persistent: ' ', netmask: ' ', ops: ' ', 'sched-flags': ' ' },
  'delete-service': { service: '+' },
  clear: {},
  list: {
    numeric: ' ',
    connection: '1',
    service: '1',
    timeout: '1',
    daemon: '1',
    stats: ' ',
    rate: ' ',
    thresholds: ' ',
    'persistent-conn': ' ',
    nosort: ' ',
    sort: ' ',
    exact: ' ',
    'tun-info': ' ',
    json: ' ',
  },
  'add-server': { service: '+', server: '+', forward: ' ', weight: ' ', 'tun-type': ' ', 'tun-port': ' ', 'tun-checksum': ' ', 'u-threshold': ' ', 'l-threshold': ' ' },
  'edit-server': { service: '+', server: '+', forward: ' ', weight: ' ', 'tun-type': ' ', 'tun-port': ' ', 'tun-checksum': ' ', 'u-threshold': ' ', 'l-threshold': ' ' },
  'delete-server': { service: '+', server: '+' },
  'set-timeouts': {},
  restore: {},
  save: { numeric: ' ', json: ' ' },
  zero: { service: ' ' },
  explain: { service: '+', client: '+', numeric: ' ', json: ' ' },
  counters: { json: ' ' },
  help: {},
  version: {},
};

// ipvsadm's long names, used in its messages ("You need to supply the 'real-server' option").
const OPTION_NAMES: Record<OptionId, string> = {
  numeric: '-n',
  connection: '-c',
  service: '-t|-u VIP:PORT',
  scheduler: '-s',
  persistent: '-p',
  netmask: '-M',
  server: '-r',
  forward: '-i',
  weight: '-w',
  timeout: '--timeout',
  daemon: '--daemon',
  stats: '--stats',
  rate: '--rate',
  thresholds: '--thresholds',
  'persistent-conn': '--persistent-conn',
  nosort: '--nosort',
  sort: '--sort',
  exact: '--exact',
  ops: '-o',
  'sched-flags': '-b',
  'tun-info': '--tun-info',
  'tun-type': '--tun-type',
  'tun-port': '--tun-port',
  'tun-checksum': '--tun-nocsum|--tun-csum|--tun-remcsum',
  json: '--json',
  client: '--client',
  'u-threshold': '-x',
  'l-threshold': '-y',
};

const COMMAND_NAMES: Record<CommandKind, string> = {
  'add-service': '-A (add-service)',
  'edit-service': '-E (edit-service)',
  'delete-service': '-D (delete-service)',
  clear: '-C (clear)',
  list: '-L (list)',
  'add-server': '-a (add-server)',
  'edit-server': '-e (edit-server)',
  'delete-server': '-d (delete-server)',
  'set-timeouts': '--set',
  restore: '-R (restore)',
  save: '-S (save)',
  zero: '-Z (zero)',
  explain: 'explain',
  counters: 'counters',
  help: '-h (help)',
  version: '-v (version)',
};

// ---- Tokenizing -----------------------------------------------------------------------

interface SeenOption {
  def: ValueOption;
  spelling: Spelling;
  value: string | undefined;
}

interface Scan {
  command?: { kind: CommandKind; spelling: Spelling };
  options: Map<OptionId, SeenOption>;
  positionals: string[];
}

function setCommand(scan: Scan, kind: CommandKind, spelling: Spelling): void {
  if (scan.command !== undefined) {
    throw new VstunadmError(
      'ERR_DUPLICATE_OPTION',
      `multiple commands specified (${scan.command.spelling} and ${spelling}); give exactly one command`,
    );
  }
  scan.command = { kind, spelling };
}

function addOption(scan: Scan, def: OptionDef, spelling: Spelling, value: string | undefined): void {
  if (def.type === 'command') {
    setCommand(scan, def.command, spelling);
    return;
  }
  if (def.type === 'unsupported') throw new UnsupportedError(`${spelling}: ${def.why}`);
  const previous = scan.options.get(def.id);
  if (previous !== undefined) {
    throw new VstunadmError(
      'ERR_DUPLICATE_OPTION',
      previous.spelling === spelling
        ? `option ${spelling} given twice; give it once`
        : `options ${previous.spelling} and ${spelling} both set ${OPTION_NAMES[def.id]}; give only one`,
    );
  }
  scan.options.set(def.id, { def, spelling, value });
}

/** popt-style scan: bundled short options, attached or separate values, --long[=value], '--'. */
function scanArgv(argv: readonly string[]): Scan {
  const scan: Scan = { options: new Map(), positionals: [] };
  let i = 0;
  const takeNext = (spelling: Spelling, kind: ArgKind): string | undefined => {
    const next = argv[i];
    if (kind === 'optional') {
      // An optional value is the next word only if it does not look like an option.
      if (next !== undefined && !next.startsWith('-')) {
        i++;
        return next;
      }
      return undefined;
    }
    if (next === undefined) throw new UsageError(`option ${spelling} needs a value`);
    i++;
    return next;
  };
  while (i < argv.length) {
    const word = argv[i++];
    if (word === '--') {
      scan.positionals.push(...argv.slice(i));
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      const spelling = `--${name}`;
      const def = BY_LONG.get(name);
      if (def === undefined) throw new UsageError(`unknown option ${spelling}; see vstunadm -h`);
      const arg: ArgKind = def.type === 'command' ? 'none' : def.arg;
      let value: string | undefined;
      if (eq !== -1) {
        if (arg === 'none') throw new UsageError(`option ${spelling} takes no value`);
        value = word.slice(eq + 1);
      } else if (arg !== 'none') {
        value = takeNext(spelling, arg);
      }
      addOption(scan, def, spelling, value);
      continue;
    }
    if (word.startsWith('-') && word.length > 1) {
      for (let k = 1; k < word.length; k++) {
        const letter = word[k];
        const spelling = `-${letter}`;
        const def = BY_SHORT.get(letter);
        if (def === undefined) throw new UsageError(`unknown option ${spelling}; see vstunadm -h`);
        const arg: ArgKind = def.type === 'command' ? 'none' : def.arg;
        if (arg === 'none') {
          addOption(scan, def, spelling, undefined);
          continue;
        }
        // A value-taking letter ends the bundle: the rest of the word is its value.
        const rest = word.slice(k + 1);
        const value = rest !== '' ? rest : takeNext(spelling, arg);
        addOption(scan, def, spelling, value);
        break;
      }
      continue;
    }
    scan.positionals.push(word);
  }
  return scan;
}

// ---- Values ---------------------------------------------------------------------------

function parsePort(text: string, what: string): number {
  if (!/^\d+$/.test(text)) {
    const hint = /[a-z]/i.test(text) ? ' (service names are not resolved; give the port number)' : '';
    throw new BadPortError(`${what}: port '${text}' is not a number 0..65535${hint}`);
  }
  const port = Number(text);
  if (port > 65535) throw new BadPortError(`${what}: port ${text} is out of range; ports are 0..65535`);
  return port;
}

/**
 * host[:port] as ipvsadm's parse_service reads it: `[v6]:port`, bare IPv6 (no port), or
 * IPv4[:port]. Returns the canonical address and the port if one was given.
 */
export function parseAddressPort(text: string, what: string): { address: string; port: number | undefined } {
  const bad = (detail: string): never => {
    throw new BadAddressError(`${what}: '${text}' ${detail}`);
  };
  if (text === '' || /^\d+$/.test(text)) bad('is not an address; give ADDRESS[:PORT], e.g. 10.0.0.1:80 or [2001:db8::1]:80');
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) bad("has '[' without ']'; write IPv6 as [2001:db8::1]:80");
    const inner = text.slice(1, close);
    const tail = text.slice(close + 1);
    if (!inner.includes(':')) bad('puts a non-IPv6 address in brackets; brackets are for IPv6 only');
    const address = withAddressContext(inner, what);
    if (tail === '') return { address, port: undefined };
    if (!tail.startsWith(':')) bad("has text after ']' that is not ':PORT'");
    return { address, port: parsePort(tail.slice(1), what) };
  }
  const colons = text.split(':').length - 1;
  if (colons >= 2) {
    // More than one colon: a bare IPv6 address, which cannot carry a port (as in ipvsadm).
    return { address: withAddressContext(text, what), port: undefined };
  }
  if (colons === 1) {
    const at = text.indexOf(':');
    return { address: withAddressContext(text.slice(0, at), what), port: parsePort(text.slice(at + 1), what) };
  }
  return { address: withAddressContext(text, what), port: undefined };
}

function withAddressContext(text: string, what: string): string {
  try {
    return canonicalAddress(text);
  } catch (err) {
    if (err instanceof VstunadmError) throw new BadAddressError(`${what}: ${err.message}`);
    throw err;
  }
}

function parseServiceKey(seen: SeenOption): ServiceKey {
  const protocol = seen.def.variant as Protocol;
  const { address, port } = parseAddressPort(seen.value ?? '', `${seen.spelling} (virtual service)`);
  return { protocol, vip: address, port: port ?? 0 };
}

function parseScheduler(text: string): SchedulerName {
  if (!isScheduler(text)) {
    throw new UnknownSchedulerError(`unknown scheduler '${text}'; use one of ${SCHEDULERS.join(' ')}`);
  }
  return text;
}

/** -b: comma-separated flags, checked against the scheduler and put in canonical order. */
export function parseSchedFlags(text: string, scheduler: SchedulerName): SchedFlag[] {
  const flags = new Set<SchedFlag>();
  for (const item of text.split(',')) {
    const specific = item.match(/^(sh|mh)-(fallback|port)$/);
    if (specific !== null) {
      if (specific[1] !== scheduler) {
        throw new VstunadmError(
          'ERR_BAD_SCHED_FLAG',
          `scheduler flag '${item}' needs -s ${specific[1]}, but the scheduler is ${scheduler}`,
        );
      }
      flags.add(item as SchedFlag);
      continue;
    }
    if (item === 'flag-1' || item === 'flag-2' || item === 'flag-3') {
      if (scheduler === 'sh' || scheduler === 'mh') {
        // sh and mh name the first two bits; the third means nothing to them.
        if (item === 'flag-3') {
          throw new VstunadmError('ERR_BAD_SCHED_FLAG', `scheduler flag 'flag-3' has no meaning for ${scheduler}; use ${scheduler}-fallback or ${scheduler}-port`);
        }
        flags.add(`${scheduler}-${item === 'flag-1' ? 'fallback' : 'port'}` as SchedFlag);
      } else {
        flags.add(item);
      }
      continue;
    }
    throw new VstunadmError(
      'ERR_BAD_SCHED_FLAG',
      `invalid scheduler flag '${item}'; use a comma-separated list of sh-fallback, sh-port (with -s sh), mh-fallback, mh-port (with -s mh) or flag-1, flag-2, flag-3`,
    );
  }
  return SCHED_FLAGS.filter((flag) => flags.has(flag));
}

function parseTimeoutValue(text: string, min: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > MAX_TIMEOUT_SECONDS) {
    throw new VstunadmError(
      'ERR_BAD_TIMEOUT',
      `invalid ${what} '${text}'; give whole seconds ${min}..${MAX_TIMEOUT_SECONDS}`,
    );
  }
  return Number(text);
}

/**
 * -M: a dotted netmask for an IPv4 service, a prefix length 1..128 for IPv6 (ipvsadm's
 * grammar; what the director serves is checked when the rules are applied). Returns
 * undefined for the full-address default, so specs compare equal however it was spelled.
 */
export function parseMaskOption(text: string, vip: string): string | number | undefined {
  if (addressFamily(vip) === 6) {
    const bits = parseNetmaskText(text, 6);
    if (bits === null || bits < 1) {
      throw new VstunadmError('ERR_BAD_NETMASK', `invalid IPv6 netmask '${text}'; give a prefix length 1..128`);
    }
    return bits === 128 ? undefined : bits;
  }
  const bits = /^\d+$/.test(text) ? null : parseNetmaskText(text, 4);
  if (bits === null) {
    throw new VstunadmError('ERR_BAD_NETMASK', `invalid netmask '${text}'; give a dotted mask like 255.255.255.0`);
  }
  return bits === 32 ? undefined : formatIpv4Netmask(bits);
}

function parseWeight(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new WeightRangeError(`illegal weight '${text}'; give an integer 0..65535 (0 stops new connections)`);
  }
  return Number(text);
}

// ---- Assembly -------------------------------------------------------------------------

function checkLegality(scan: Scan, kind: CommandKind): void {
  const table = LEGAL[kind];
  let exclusive: SeenOption | undefined;
  for (const seen of scan.options.values()) {
    const legality = table[seen.def.id];
    if (legality === undefined) {
      const hint =
        seen.def.id === 'json' ? '; --json applies to listings (-L, -S, counters, explain)' : '';
      throw new VstunadmError('ERR_ILLEGAL_OPTION', `option ${seen.spelling} does not apply to ${COMMAND_NAMES[kind]}${hint}`);
    }
    if (legality === '1') {
      // -L -c -t|-u VIP:PORT lists one service's connections (vstun's addition to ipvsadm).
      const connectionsOfService = kind === 'list' && exclusive !== undefined && new Set([exclusive.def.id, seen.def.id]).size === 2 && [exclusive.def.id, seen.def.id].every((id) => id === 'connection' || id === 'service');
      if (exclusive !== undefined && !connectionsOfService) {
        throw new VstunadmError(
          'ERR_OPTION_CONFLICT',
          `options ${exclusive.spelling} and ${seen.spelling} cannot be combined in ${COMMAND_NAMES[kind]}; list one thing at a time`,
        );
      }
      exclusive = seen;
    }
  }
  for (const [id, legality] of Object.entries(table) as Array<[OptionId, Legality]>) {
    if (legality === '+' && !scan.options.has(id)) {
      throw new VstunadmError('ERR_MISSING_OPTION', `${COMMAND_NAMES[kind]} needs the ${OPTION_NAMES[id]} option`);
    }
  }
}

function buildService(scan: Scan, key: ServiceKey): ServiceSpec {
  const opt = scan.options;
  const scheduler = opt.has('scheduler') ? parseScheduler(opt.get('scheduler')!.value ?? '') : DEFAULT_SCHEDULER;
  const flags = opt.has('sched-flags') ? parseSchedFlags(opt.get('sched-flags')!.value ?? '', scheduler) : [];
  const spec: ServiceSpec = { key, scheduler, flags, onePacket: opt.has('ops') };
  if (opt.has('persistent')) {
    const value = opt.get('persistent')!.value;
    spec.persistence = value === undefined ? DEFAULT_PERSISTENCE_SECONDS : parseTimeoutValue(value, 1, 'persistence timeout');
  }
  if (opt.has('netmask')) {
    const netmask = parseMaskOption(opt.get('netmask')!.value ?? '', key.vip);
    if (netmask !== undefined) spec.netmask = netmask;
  }
  if (key.port === 0 && spec.persistence === undefined) {
    throw new VstunadmError(
      'ERR_BAD_SERVICE',
      `zero port specified for a non-persistent service; give VIP:PORT, or add -p to make an all-ports persistent service`,
    );
  }
  if (spec.onePacket && key.protocol !== 'udp') {
    throw new VstunadmError('ERR_BAD_SERVICE', 'one-packet scheduling (-o) is only for UDP services; drop -o or use -u');
  }
  return spec;
}

function buildServer(scan: Scan, service: ServiceKey): RealServerSpec {
  const opt = scan.options;
  const seen = opt.get('server')!;
  const { address, port: givenPort } = parseAddressPort(seen.value ?? '', `${seen.spelling} (real server)`);
  // vstun defaults to -i (ipvsadm defaults to -g): existing vstun configs and scripts
  // that give no method keep meaning tunnelling.
  const forward = (opt.get('forward')?.def.variant ?? 'tunnel') as ForwardMethod;
  // As ipvsadm: only masquerading rewrites the port, so -g and -i take the service's port
  // whatever -r says; only tunnelling may cross address families; tunnel options need -i.
  const port = forward === 'masq' ? (givenPort ?? service.port) : service.port;
  if (forward !== 'tunnel' && addressFamily(address) !== addressFamily(service.vip)) {
    throw new VstunadmError('ERR_BAD_ADDRESS', `real server ${address} and VIP ${service.vip} are of different address families; that is allowed only for tunnelling servers (-i)`);
  }
  if (forward === 'masq' && service.port === 0) {
    // A reply names the server's port only: without one service port it cannot be mapped back.
    throw new UnsupportedError('masquerading (-m) is not supported in a port-0 (all ports) service; give the service a port, or use -i or -g');
  }
  const tunnelOption = opt.get('tun-type') ?? opt.get('tun-port') ?? opt.get('tun-checksum');
  if (forward !== 'tunnel' && tunnelOption !== undefined) {
    throw new UsageError(`${tunnelOption.spelling} conflicts with ${FORWARD_SWITCHES[forward]}: tunnel options are only for tunnelling servers (-i)`);
  }
  // -a and -e give the whole server: what is not given takes ipvsadm's default.
  const weight = opt.has('weight') ? parseWeight(opt.get('weight')!.value ?? '') : 1;
  const spec: RealServerSpec = { address, port, weight, forward, ...parseTunnelOptions(scan, address) };
  const upper = opt.has('u-threshold') ? parseThreshold(opt.get('u-threshold')!.value ?? '', 'upper (-x)') : 0;
  const lower = opt.has('l-threshold') ? parseThreshold(opt.get('l-threshold')!.value ?? '', 'lower (-y)') : 0;
  if (lower > upper) throw new VstunadmError('ERR_BAD_THRESHOLD', `lower threshold ${lower} is higher than upper threshold ${upper}; give -x above -y`);
  if (upper) spec.upperThreshold = upper;
  if (lower) spec.lowerThreshold = lower;
  return spec;
}

/** A connection threshold, 0..2^31-1 (0 = none), as ipvsadm's -x/-y. */
function parseThreshold(text: string, which: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 2 ** 31 - 1) throw new VstunadmError('ERR_BAD_THRESHOLD', `illegal ${which} threshold '${text}'; give a number of connections, 0 for none`);
  return Number(text);
}

/**
 * --tun-type and its options, checked as ipvsadm 1.31's tunnel_opt_check does (gue needs
 * --tun-port; ipip takes neither a port nor a checksum option), then against what vstun's
 * data path sends: GUE over IPv4 without UDP checksum, over IPv6 always with one (RFC 8200),
 * never remote checksum offload, and no GRE.
 */
function parseTunnelOptions(scan: Scan, address: string): Pick<RealServerSpec, 'tunType' | 'tunPort' | 'tunChecksum'> {
  const opt = scan.options;
  const typeText = opt.get('tun-type')?.value ?? 'ipip';
  if (typeText === 'gre') {
    throw new ForwardUnsupportedError("tunnel type 'gre' is not supported; vstun's data path encapsulates with --tun-type ipip or --tun-type gue");
  }
  if (typeText !== 'ipip' && typeText !== 'gue') throw new UsageError(`illegal tunnel type '${typeText}'; use --tun-type ipip or --tun-type gue`);
  const port = opt.get('tun-port');
  const checksum = opt.get('tun-checksum');
  if (typeText === 'ipip') {
    const extra = port ?? checksum;
    if (extra !== undefined) throw new UsageError(`option ${extra.spelling} does not apply to the ipip tunnel type; it is for --tun-type gue`);
    return tunnelFields(address, 'ipip');
  }
  if (port === undefined) throw new UsageError("the gue tunnel type needs the --tun-port option: the real server's GUE UDP port, e.g. --tun-port 6080");
  const text = port.value ?? '';
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new BadPortError(`illegal tunnel port '${text}'; give --tun-port 1..65535`);
  const fields = tunnelFields(address, 'gue', Number(text));
  const asked = checksum?.def.variant as TunnelChecksum | undefined;
  if (asked === 'remcsum') {
    throw new UnsupportedError('--tun-remcsum: remote checksum offload is not supported by vstun\'s data path; use --tun-nocsum for an IPv4 real server, --tun-csum for an IPv6 one');
  }
  if (asked !== undefined && asked !== fields.tunChecksum) {
    throw new UnsupportedError(
      fields.tunChecksum === 'nocsum'
        ? `${checksum!.spelling}: vstun sends GUE to IPv4 real servers without a UDP checksum; use --tun-nocsum or leave the option out`
        : `${checksum!.spelling}: IPv6 requires the UDP checksum (RFC 8200), so vstun always sends it to IPv6 real servers; use --tun-csum or leave the option out`,
    );
  }
  return fields;
}

function listFormat(scan: Scan): ListFormat {
  const has = (id: OptionId): boolean => scan.options.has(id);
  return {
    numeric: has('numeric'),
    stats: has('stats'),
    rate: has('rate'),
    thresholds: has('thresholds'),
    persistentConn: has('persistent-conn'),
    exact: has('exact'),
    sort: !has('nosort'),
    tunInfo: has('tun-info'),
    json: has('json'),
  };
}

function buildList(scan: Scan): AdminCommand {
  const has = (id: OptionId): boolean => scan.options.has(id);
  // ipvsadm's extra list checks: connection/timeout/daemon listings have no stats columns.
  const table = has('connection') ? '-c' : has('timeout') ? '--timeout' : has('daemon') ? '--daemon' : undefined;
  const columns = has('stats') ? '--stats' : has('rate') ? '--rate' : has('thresholds') ? '--thresholds' : undefined;
  if (table !== undefined && columns !== undefined) {
    throw new VstunadmError('ERR_OPTION_CONFLICT', `options ${table} and ${columns} cannot be combined in -L; drop one`);
  }
  if ((has('timeout') || has('daemon')) && has('persistent-conn')) {
    throw new VstunadmError('ERR_OPTION_CONFLICT', `option --persistent-conn cannot be combined with ${table} in -L`);
  }
  const view: ListView = has('connection') ? 'connections' : has('timeout') ? 'timeout' : has('daemon') ? 'daemon' : 'services';
  const format = listFormat(scan);
  if (has('service')) return { kind: 'list', view, service: parseServiceKey(scan.options.get('service')!), format };
  return { kind: 'list', view, format };
}

function build(scan: Scan): AdminCommand {
  const command = scan.command;
  if (command === undefined) {
    throw new UsageError('no command given; start with a command such as -A, -a, -L, -S or -R (see vstunadm -h)');
  }
  const { kind } = command;
  checkLegality(scan, kind);
  if (kind === 'set-timeouts') {
    if (scan.positionals.length < 3) {
      throw new UsageError('--set needs three timeout values: --set TCP TCPFIN UDP (seconds, 0 leaves one unchanged)');
    }
    if (scan.positionals.length > 3) throw new UsageError(`unexpected argument '${scan.positionals[3]}'`);
    const [tcp, tcpfin, udp] = scan.positionals.map((text, i) =>
      parseTimeoutValue(text, 0, `${['tcp', 'tcpfin', 'udp'][i]} timeout`),
    );
    return { kind, timeouts: { tcp, tcpfin, udp } };
  }
  if (scan.positionals.length > 0) {
    throw new UsageError(`unexpected argument '${scan.positionals[0]}'; option values follow their option, e.g. -s rr`);
  }
  const serviceKey = (): ServiceKey => parseServiceKey(scan.options.get('service')!);
  switch (kind) {
    case 'add-service':
    case 'edit-service':
      return { kind, service: buildService(scan, serviceKey()) };
    case 'delete-service':
      return { kind, service: serviceKey() };
    case 'add-server':
    case 'edit-server': {
      const service = serviceKey();
      return { kind, service, server: buildServer(scan, service) };
    }
    case 'delete-server': {
      const service = serviceKey();
      const seen = scan.options.get('server')!;
      const { address, port } = parseAddressPort(seen.value ?? '', `${seen.spelling} (real server)`);
      return { kind, service, server: { address, port: port ?? service.port } };
    }
    case 'clear':
    case 'restore':
    case 'help':
    case 'version':
      return { kind };
    case 'zero':
      return scan.options.has('service') ? { kind, service: serviceKey() } : { kind };
    case 'list':
      return buildList(scan);
    case 'save':
      return { kind, numeric: scan.options.has('numeric'), json: scan.options.has('json') };
    case 'counters':
      return { kind, json: scan.options.has('json') };
    case 'explain': {
      const seen = scan.options.get('client')!;
      const { address, port } = parseAddressPort(seen.value ?? '', '--client');
      if (port === undefined) throw new BadPortError(`--client: '${seen.value}' has no port; give the client as IP:PORT`);
      return { kind, service: serviceKey(), client: { address, port }, json: scan.options.has('json') };
    }
  }
}

/** vstun's own subcommands, given as the first word. */
const SUBCOMMANDS: Partial<Record<string, CommandKind>> = { explain: 'explain', counters: 'counters' };

/**
 * Parses vstunadm's arguments (without the program name) into a command. No arguments
 * lists the table, as ipvsadm does. Throws VstunadmError with a stable code on bad input.
 */
export function parseVstunadmArgs(argv: readonly string[]): AdminCommand {
  if (argv.length === 0) return { kind: 'list', view: 'services', format: listFormat({ options: new Map(), positionals: [] }) };
  const sub = SUBCOMMANDS[argv[0]];
  const scan = scanArgv(sub === undefined ? argv : argv.slice(1));
  if (sub !== undefined) setCommand(scan, sub, argv[0]);
  return build(scan);
}
