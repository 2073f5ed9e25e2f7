// vstunadm's logic, callable in-process (tests) and from the binary: ipvsadm's syntax and
// output against vstun-director's control socket. commander is the outer shell (--control, VSTUN_CONTROL); the ipvsadm words themselves go to the
// ipvsadm parser (src/control/ipvsadm-args.ts), whose grammar commander cannot express
// (bundled -Lnt, optional -p values, --set's positional values).
import { Command, CommanderError } from 'commander';
import { IPVS_VERSION, sameServiceKey, type ConnectionSnapshot, type ServiceRules, type ServiceSnapshot, type TimeoutSettings } from './admin-model.js';
import { controlRequest, DEFAULT_CONTROL_PATH, defaultControlPath } from './control-client.js';
import { isVstunadmError, VstunadmError } from './errors.js';
import { formatAnnouncements } from '../bgp/announce-format.js';
import type { AnnouncerSnapshot } from '../bgp/vip-announcer.js';
import { formatExplanation, type Explanation } from './flow-explainer.js';
import { parseVstunadmArgs, type AdminCommand } from './ipvsadm-args.js';
import { REPORTS } from './vstunadm-reports.js';
import { ConfigError, loadDirectorConfig } from './config-loader.js';
import { versionLine } from '../metrics/build-info.js';
import { runImportKeepalived } from '../keepalived/import-command.js';
import { formatRules, formatRulesJson, serviceOption } from './ipvsadm-dump.js';
import {
  formatConnections,
  formatConnectionsJson,
  formatDaemons,
  formatServiceList,
  formatServiceListJson,
  formatSingleService,
  formatTimeouts,
  formatTimeoutsJson,
} from './ipvsadm-format.js';

/** vstunadm announce|drain|undrain [--json] (BGP announcement, src/bgp), or undefined for other words. */
function announceCommand(words: readonly string[]): AdminCommand | undefined {
  if (!['announce', 'drain', 'undrain'].includes(words[0])) return undefined;
  const rest = words.slice(1);
  if (rest.some((w) => w !== '--json')) throw new VstunadmError('ERR_USAGE', `${words[0]} takes only --json`);
  return { kind: words[0], json: rest.length > 0 } as unknown as AdminCommand;
}

export interface VstunadmIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** All of standard input (for -R). */
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
}

const HELP = `vstunadm — ipvsadm's commands against vstun-director (VS/TUN only: -i)

  vstunadm -A|E -t|u VIP:PORT [-s SCHED] [-b FLAGS] [-p [SECS]] [-M MASK] [-o]
  vstunadm -D -t|u VIP:PORT
  vstunadm -a|e -t|u VIP:PORT -r RIP[:PORT] [-i] [-w WEIGHT] [-x UPPER] [-y LOWER] [--tun-type ipip|gue [--tun-port PORT] [--tun-nocsum|--tun-csum]]
  vstunadm -d -t|u VIP:PORT -r RIP[:PORT]
  vstunadm -L|l [-t|u VIP:PORT] [-n] [--stats|--rate|--exact|--persistent-conn|--tun-info] [-c] [--timeout] [--sort|--nosort] [--json]
  vstunadm -C | -Z [-t|u VIP:PORT] | -S [-n] [--json] | -R < rules
  vstunadm --set TCP TCPFIN UDP
  vstunadm explain -t|u VIP:PORT --client IP:PORT [--json]
  vstunadm counters [--json]
  vstunadm reload            re-read the director's config file (same as SIGHUP); fails, changing
                             nothing, when the file is invalid
  vstunadm status|health|pmtu [--json]
                             the director's state, its health checks, its tunnel MTUs
  vstunadm --queues [--json] per TAP queue: frames read, forwarded, connections, each server's share
  vstunadm -L -c [-t|u VIP:PORT]  connections, optionally of one service only
  vstunadm announce [--json] the VIPs this director has BIRD announce (bgp: section), and why
  vstunadm drain | undrain   withdraw every VIP from BGP (forwarding goes on) | announce again by health
  vstunadm import-keepalived FILE [-o director.yaml]   keepalived.conf's LVS part as director.yaml

  --config FILE    take the control socket from the director's config (director.control)
  --control PATH   the director's control socket (default $VSTUN_CONTROL, else ${DEFAULT_CONTROL_PATH},
                   or /run/vstun/netns/NAME/director.sock inside network namespace NAME)
  Schedulers: rr wrr lc wlc sed nq sh dh lblc lblcr fo ovf mh twos
  Addresses: 10.0.0.1:80, [2001:db8::1]:80. -M: a dotted mask (IPv4); for IPv6 only 128 (the data
  path keeps IPv6 persistence per client address). GUE needs --tun-port; its UDP checksum is
  what the data path sends: none to IPv4 servers (--tun-nocsum), always to IPv6 ones (--tun-csum).
`;

function listServices(cmd: Extract<AdminCommand, { kind: 'list' }>, res: Record<string, unknown>): string {
  const all = res.services as ServiceSnapshot[];
  const connTableSize = res.connTableSize as number;
  const version = (res.version as string | undefined) ?? IPVS_VERSION;
  if (cmd.service !== undefined) {
    const one = all.find((s) => sameServiceKey(s.key, cmd.service!));
    if (one === undefined) throw new VstunadmError('ERR_NO_SUCH_SERVICE', `no such service ${serviceOption(cmd.service)}`);
    return cmd.format.json ? formatServiceListJson({ connTableSize, services: [one], version }, cmd.format) : formatSingleService(one, cmd.format);
  }
  return cmd.format.json ? formatServiceListJson({ connTableSize, services: all, version }, cmd.format) : formatServiceList({ connTableSize, services: all, version }, cmd.format);
}

function formatCounters(res: Record<string, unknown>): string {
  const verdicts = res.verdicts as Record<string, number>;
  const table = res.connTable as Record<string, number>;
  const batches = res.batches as { count: number; packets: number; sizes: Record<string, number> };
  const names = Object.keys(verdicts);
  const width = Math.max(...names.map((n) => n.length), 20);
  let out = `frames in: ${res.framesIn}\n\nVerdict${' '.repeat(width - 7)}  Count\n`;
  for (const n of names) out += `${n.padEnd(width)}  ${verdicts[n]}\n`;
  out += `\nconnection table: ${table.entries}/${table.capacity} entries, ${table.expired} expired, ${table.evictedEstablished + table.evictedOther} evicted\n`;
  const avg = batches.count > 0 ? (batches.packets / batches.count).toFixed(1) : '0';
  out += `batches: ${batches.count}, ${batches.packets} packets, ${avg} per batch\n`;
  const kernel = (res.kernelDrops ?? {}) as Record<string, number>;
  if (Object.keys(kernel).length > 0) {
    out += `\nDropped by the kernel before the director read them (not in frames in):\n`;
    for (const [n, v] of Object.entries(kernel)) out += `${n.padEnd(width)}  ${v}\n`;
  }
  return out;
}

/** Runs one vstunadm invocation; returns the exit code (0 ok, 1 refused or failed, 2 bad usage). */
export async function runVstunadm(argv: readonly string[], io: VstunadmIo): Promise<number> {
  // A local tool, not a control-socket command: no director needed.
  if (argv[0] === 'import-keepalived') return runImportKeepalived(argv.slice(1), io);
  const program = new Command()
    .name('vstunadm')
    .option('--control <path>', 'control socket of vstun-director')
    .option('--config <file>', "the director's config: its director.control names the socket")
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .exitOverride();
  let words: string[];
  let control: string;
  try {
    const parsed = program.parseOptions([...argv]);
    words = [...parsed.operands, ...parsed.unknown];
    const o = program.opts<{ control?: string; config?: string }>();
    // --config: the socket the YAML names (systemd's ExecReload uses it, so editing director.control just works).
    control = o.control ?? (o.config !== undefined ? (loadDirectorConfig(o.config).director.control ?? defaultControlPath()) : undefined) ?? io.env.VSTUN_CONTROL ?? defaultControlPath();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`vstunadm: ${err.message}\nnothing was sent to the director\n`);
      return 1;
    }
    io.stderr(`vstunadm: ${err instanceof CommanderError ? err.message.replace(/^error: /, '') : String(err)}\n`);
    return 2;
  }
  // vstun's reports (status, health, pmtu, queues): one control op each, [--json]. `--queues`
  // is spelled as ipvsadm spells its commands.
  if (words[0] === '--queues') words[0] = 'queues';
  const report = REPORTS[words[0]];
  if (report !== undefined && Object.hasOwn(REPORTS, words[0])) {
    const rest = words.slice(1);
    if (rest.some((w) => w !== '--json')) {
      io.stderr(`vstunadm: ${words[0]} takes only --json, not '${rest.find((w) => w !== '--json')}' (see vstunadm -h)\n`);
      return 2;
    }
    try {
      const { v: _v, ok: _ok, ...body } = await controlRequest(control, words[0], {});
      io.stdout(rest.length ? `${JSON.stringify({ schema: `vstun.${words[0]}/1`, ...body }, null, 2)}\n` : report(body));
      return 0;
    } catch (err) {
      io.stderr(`vstunadm: ${(err as Error).message}\n`);
      return isVstunadmError(err) && err.code === 'ERR_USAGE' ? 2 : 1;
    }
  }
  let cmd: AdminCommand;
  try {
    cmd =
      words[0] === 'reload' && words.length === 1
        ? ({ kind: 'reload' } as unknown as AdminCommand)
        : announceCommand(words) ?? parseVstunadmArgs(words);
  } catch (err) {
    io.stderr(`vstunadm: ${(err as Error).message}\n`);
    return 2;
  }
  const ask = (op: string, fields: Record<string, unknown> = {}) => controlRequest(control, op, fields);
  try {
    switch ((cmd as { kind: string }).kind) {
      case 'help':
        io.stdout(HELP);
        return 0;
      case 'version':
        io.stdout(`${versionLine('vstunadm')}; ipvsadm syntax, IPVS ${IPVS_VERSION} formats\n`);
        return 0;
      case 'announce':
      case 'drain':
      case 'undrain': {
        const res = await ask((cmd as { kind: string }).kind);
        io.stdout((cmd as { json?: boolean }).json ? `${JSON.stringify({ schema: 'vstun.announce/1', bgp: res.bgp }, null, 2)}\n` : formatAnnouncements(res.bgp as AnnouncerSnapshot | null));
        return 0;
      }
      case 'reload': {
        const res = await ask('reload');
        const r = res.reload as Record<string, string[]>;
        const parts = ['servicesAdded', 'servicesRemoved', 'servicesChanged', 'serversAdded', 'serversRemoved', 'serversChanged'].map((k) => `${k} ${r[k].length}`);
        io.stdout(`reloaded: ${parts.join(', ')}\n`);
        if (r.needsRestart.length) io.stdout(`restart needed for: ${r.needsRestart.join(', ')}\n`);
        return 0;
      }
    }
    switch (cmd.kind) {
      case 'list': {
        if (cmd.view === 'services') io.stdout(listServices(cmd, await ask('ipvs-list')));
        else if (cmd.view === 'connections') {
          const c = (await ask('ipvs-connections')).connections as ConnectionSnapshot[];
          const only = cmd.service === undefined ? c : c.filter((x) => x.virtual.address === cmd.service!.vip && x.virtual.port === cmd.service!.port && x.protocol === cmd.service!.protocol);
          io.stdout(cmd.format.json ? formatConnectionsJson(only) : formatConnections(only, cmd.format));
        } else if (cmd.view === 'timeout') {
          const t = (await ask('timeouts')).timeouts as TimeoutSettings;
          io.stdout(cmd.format.json ? formatTimeoutsJson(t) : formatTimeouts(t));
        } else io.stdout(formatDaemons());
        return 0;
      }
      case 'save': {
        const rules = (await ask('save')).services as ServiceRules[];
        io.stdout(cmd.json ? formatRulesJson(rules) : formatRules(rules));
        return 0;
      }
      case 'restore':
        await ask('restore', { text: await io.readStdin() });
        return 0;
      case 'explain': {
        const e = (await ask('explain', { args: words })).explanation as Explanation;
        io.stdout(cmd.json ? `${JSON.stringify({ schema: 'vstun.explain/1', ...e }, null, 2)}\n` : formatExplanation(e));
        return 0;
      }
      case 'counters': {
        const res = await ask('counters');
        const { v: _v, ok: _ok, ...body } = res;
        io.stdout(cmd.json ? `${JSON.stringify({ schema: 'vstun.counters/1', ...body }, null, 2)}\n` : formatCounters(res));
        return 0;
      }
      default:
        // Rule changes: the director parses the same words and applies them atomically.
        await ask(cmd.kind, { args: words });
        return 0;
    }
  } catch (err) {
    if (isVstunadmError(err)) {
      io.stderr(`vstunadm: ${err.message}\n`);
      return err.code === 'ERR_USAGE' ? 2 : 1;
    }
    io.stderr(`vstunadm: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

