// vstun-agent: sets up a VS/TUN real server, decapsulates in user space, serves
// /healthz /feedback /metrics, and restores the host on exit. `vstun-agent check` only
// reads the host and reports what would break VS/TUN; `vstun-agent --check ARGS` validates
// the arguments as a start would and prints what it would set up (exit 0 valid, 2 invalid).
import { Command, Option } from 'commander';
import { Agent } from '../agent/agent.js';
import { buildAgentConfig, checkInterfaceName, DEFAULT_GUE_PORT, DEFAULT_LISTEN, DEFAULT_TUN, type RawAgentOptions } from '../agent/agent-config.js';
import { parseAddressOrCidr } from '../agent/address-match.js';
import { checkHost, formatFindings } from '../agent/host-checks.js';
import { gatherHostFacts } from '../agent/host-facts.js';
import { detectKernelIpip } from '../agent/kernel-mode.js';
import { removeRunDirIfEmpty } from '../host/instance-paths.js';
import { createDaemonLogger } from '../log/daemon-logger.js';
import { versionLine } from '../metrics/build-info.js';
import { formatAgentPlan, planAgent } from '../agent/agent-plan.js';
import { shortUsageErrors } from './cli-usage.js';
import { notifyServiceManager, type NotifyState } from '../native/sd-notify.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function fail(err: unknown): never {
  const e = err as Error & { code?: string };
  process.stderr.write(`vstun-agent: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(2);
}

/** --check: validates like a start, prints the plan, changes nothing. */
function runPlan(raw: RawAgentOptions): never {
  try {
    const config = buildAgentConfig(raw);
    process.stdout.write(formatAgentPlan(config, planAgent(config)));
    process.exit(0);
  } catch (err) {
    fail(err);
  }
}

async function runAgent(raw: RawAgentOptions & { check?: boolean }): Promise<void> {
  if (raw.check) runPlan(raw);
  let config;
  try {
    config = buildAgentConfig(raw);
  } catch (err) {
    fail(err);
  }
  // JSON lines on stdout, never waiting for its reader (src/log/log-sink.ts); drops in /metrics.
  const { log, sink } = createDaemonLogger('vstun-agent', 'info');
  config.logSink = sink;
  let agent: Agent;
  try {
    agent = await Agent.start(config, log);
  } catch (err) {
    log.error({ code: (err as { code?: string }).code, err: (err as Error).message }, 'agent failed to start; host left as it was');
    fail(err);
  }
  // Type=notify: READY=1 once serving, STOPPING=1 when the restore begins.
  const notify = (state: NotifyState) => notifyServiceManager(state, log);
  notify('ready');
  const exit = (code: number) => {
    removeRunDirIfEmpty();
    sink.flush();
    process.exit(code);
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    notify('stopping');
    log.info({ signal }, 'stopping');
    agent
      .stop()
      .then((r) => exit(r.failed.length > 0 ? 1 : 0))
      .catch(() => exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.message, stack: err.stack }, 'uncaught exception; restoring the host');
    void agent.stop().finally(() => exit(1));
  });
}

async function runCheck(opts: { vip?: string[]; tun?: string; mode?: string; uplink?: string[]; json?: boolean }): Promise<void> {
  let vips: string[];
  let mode: 'kernel' | 'userspace' | 'dr';
  let uplinks: string[];
  let tun: string;
  try {
    vips = (opts.vip ?? []).map((v) => parseAddressOrCidr(v, '--vip', false).text);
    uplinks = (opts.uplink ?? []).map((u) => checkInterfaceName(u, '--uplink'));
    tun = checkInterfaceName(opts.tun ?? DEFAULT_TUN, '--tun');
    const m = opts.mode ?? 'auto';
    if (m !== 'auto' && m !== 'kernel' && m !== 'userspace' && m !== 'dr') throw new Error(`--mode ${JSON.stringify(m)}: expected auto, kernel, userspace or dr`);
    mode = m === 'auto' ? (detectKernelIpip().available ? 'kernel' : 'userspace') : m;
  } catch (err) {
    fail(err);
  }
  const findings = checkHost({ vips, tun: mode === 'kernel' ? 'tunl0' : tun, mode, uplinks }, await gatherHostFacts());
  if (opts.json) process.stdout.write(`${JSON.stringify({ mode, findings }, null, 1)}\n`);
  else {
    if (vips.length === 0) process.stdout.write('note: no --vip given, so VIP placement was not checked.\n');
    process.stdout.write(formatFindings(findings));
  }
  process.exit(findings.some((f) => f.severity === 'problem') ? 1 : 0);
}

const program = new Command('vstun-agent')
  // `check` has its own --vip/--tun/--mode: options after it belong to it.
  .enablePositionalOptions()
  .description('VS/TUN (and, with --mode dr, VS/DR) real-server agent: VIPs on lo, ARP/rp_filter sysctls, user-space IPIP/GUE decapsulation into a TUN, health and feedback over HTTP')
  .option('--vip <addr>', 'virtual IP served here (repeatable); put on lo as /32 or /128', collect)
  .option('--director <addr|cidr>', 'director source address or CIDR allowed to send encapsulated packets (repeatable)', collect)
  .addOption(new Option('--mode <mode>', 'who decapsulates: kernel (tunl0), userspace, or auto; dr for a VS/DR real server (VIP on lo and ARP sysctls only, nothing decapsulated)').choices(['auto', 'kernel', 'userspace', 'dr']).default('auto'))
  .option('--listen <host:port>', `HTTP endpoint for /healthz /feedback /metrics, or none`, DEFAULT_LISTEN)
  .option('--tun <name>', 'injection TUN name', DEFAULT_TUN)
  .option('--gue-port <port>', 'UDP port for GUE-encapsulated packets (0: off)', String(DEFAULT_GUE_PORT))
  .option('--uplink <if>', 'uplink interface for the ARP sysctls (repeatable; default: every non-loopback link that is up)', collect)
  .option('--state-file <path>', 'where pending undo records are kept, for restore after a crash (default /run/vstun/agent.state.json; in another network namespace /run/vstun/netns/NAME/agent.state.json)')
  .option('--no-setup', 'do not add VIPs or change sysctls (only open the TUN and the sockets)')
  .option('--offload', 'open the TUN with the virtio-net header and write coalesced TCP super-packets (user-space GRO; the default)')
  .option('--no-offload', 'open the TUN without the virtio-net header: every decapsulated segment is written alone')
  .option('--check', 'validate the arguments as a start would, print what it would set up on this host, and exit: 0 valid, 2 invalid')
  .version(versionLine('vstun-agent'), '-V, --version', 'print the version and exit')
  .action((opts: RawAgentOptions) => runAgent(opts));
shortUsageErrors(program, 'vstun-agent');

program
  .command('check')
  .description('report, in plain words, everything on this host that would break VS/TUN, and how to fix it; exits 1 if any problem is found')
  .option('--vip <addr>', 'VIP to check (repeatable)', collect)
  .option('--tun <name>', 'injection TUN name', DEFAULT_TUN)
  .addOption(new Option('--mode <mode>', 'decapsulation mode to check for (dr: a VS/DR real server)').choices(['auto', 'kernel', 'userspace', 'dr']).default('auto'))
  .option('--uplink <if>', 'uplink interface (repeatable; default: every non-loopback link that is up)', collect)
  .option('--json', 'print the findings as JSON')
  .action((opts) => runCheck(opts));

program.parseAsync(process.argv).catch(fail);
