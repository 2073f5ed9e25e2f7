#!/usr/bin/env node
// vstun-director: the VS/TUN director daemon. Opens the TAP, sets up the host (unless
// --no-setup), loads the services from the YAML config, and forwards client packets to the
// real servers in IPIP until SIGINT/SIGTERM, when it undoes every host change. SIGHUP (and
// the control op `reload`, e.g. `vstunadm reload`) re-reads the config and applies only the
// difference. /metrics is served on --metrics; logs are JSON lines (pino) on stdout, written
// without ever waiting for its reader (src/log/log-sink.ts). Under systemd (Type=notify) it
// reports READY=1, RELOADING=1 around each reload and STOPPING=1. --check-config FILE
// validates FILE as a start would, prints the plan and exits 0 (valid) or 2 (invalid).
import os from 'node:os';
import { Command } from 'commander';
import { applyConfig, configDigest, reloadConfig, type ControlState } from '../control/config-reload.js';
import { claimSocketPath, ControlServer } from '../control/control-server.js';
import { ConfigError, loadDirectorConfig, parseDirectorConfig, readConfigText, validateDirectorConfig } from '../control/config-loader.js';
import type { DirectorConfig } from '../control/config-schema.js';
import { registerDirectorOps } from '../control/director-ops.js';
import { isVstunadmError } from '../control/errors.js';
import { offloadFlagNames, TunTapDevice } from '../device/native-tap-device.js';
import { TUN_F_UDP_TUNNEL_GSO } from '../wire/virtio-net-hdr.js';
import type { PacketDevice } from '../device/packet-device.js';
import { TapWriteDevice } from '../device/tap-write-device.js';
import { QueuePool } from '../director/queue-pool.js';
import { singleQueueReason } from '../control/queue-checks.js';
import { probeSteering, QueueSteering, steeringLimitReason } from '../director/queue-steering.js';
import { startQueueThreads, tableShare, type QueueThreads } from '../director/queue-threads.js';
import { Director } from '../director/director.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborMemory } from '../director/neighbor-resolver.js';
import { registerHealthOp, startDirectorHealth, type HealthBinding } from '../health/health-binding.js';
import { canonicalIpText, Ipv6AddressTable } from '../director/address-id.js';
import { HostVipRoutes, kernelLinkDevice, NatReplyRules, setupDirectorHost } from '../director/host-setup.js';
import { registerKernelDrops, TapDropWatcher } from '../director/kernel-drops.js';
import { NftGuard } from '../director/guard.js';
import { TunnelSources } from '../director/tunnel-source.js';
import { registerPmtuOp, startPathMtuDiscovery } from '../director/pmtu-binding.js';
import type { PathMtuDiscovery } from '../director/pmtu-discovery.js';
import { describeChange, HostChanges } from '../host/host-changes.js';
import { defaultControlPath, defaultDirectorStateFile, removeRunDirIfEmpty } from '../host/instance-paths.js';
import { formatPlan, planDirector } from '../control/config-plan.js';
import { versionLine } from '../metrics/build-info.js';
import { createDirectorMetrics } from '../metrics/director-metrics.js';
import type { EventLoopDelaySampler } from '../metrics/event-loop-delay.js';
import { registerQueueLoopDelay, sharedLoopDelayReadout } from '../metrics/event-loop-delay.js';
import { registerRuntimeMetrics } from '../metrics/runtime-metrics.js';
import { clearServerHealth, setServerHealth } from '../metrics/health-gauge.js';
import { parseListenAddress, startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { statusRoutes } from '../status/status-routes.js';
import { createDaemonLogger, registerLogMetrics } from '../log/daemon-logger.js';
import { capList, capLists } from '../log/log-lists.js';
import { registerOffloadMetrics } from '../metrics/offload-metrics.js';
import { registerQueueMetrics } from '../metrics/queue-metrics.js';
import { summarizeQueue } from '../director/counter-merge.js';
import { registerAnnounceMetrics, registerAnnounceOps, startVipAnnouncement, type AnnounceBinding } from '../bgp/announce-binding.js';
import { birdConfigure } from '../bgp/bird-control.js';
import { renderVipInclude, writeFileAtomic } from '../bgp/vip-include.js';
import { loadAddon } from '../native/addon.js';
import { notifyServiceManager } from '../native/sd-notify.js';
import { shortUsageErrors } from './cli-usage.js';
import { parseMac } from '../wire/ethernet.js';
import { ipv4ToString, parseIpv4 } from '../wire/ipv4-address.js';
import { definitionsOf } from '../control/service-definitions.js';

interface Flags {
  config?: string;
  tap?: string;
  dip?: string;
  control?: string;
  stateFile?: string;
  metrics?: string;
  logLevel?: string;
  checkConfig?: string;
  setup: boolean;
  offload?: boolean;
  tunnelGso?: boolean;
  queues?: string;
}

/** How long shutdown waits for the control and metrics listeners to close before undoing anyway (ms). */
const SHUTDOWN_CLOSE_MS = 2000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const program = new Command()
  .name('vstun-director')
  .description('User-space LVS VS/TUN director: client packets in on a TAP, IPIP out to the real servers')
  .option('-c, --config <file>', 'YAML config with director settings and services')
  .option('--tap <name>', 'TAP device to create and read (default vstun0)')
  .option('--dip <addr>', "outer source address of tunnels (default: the host's address toward each real server)")
  .option('--control <path>', 'control socket path (default /run/vstun/director.sock; in another network namespace /run/vstun/netns/NAME/director.sock)')
  .option('--state-file <path>', 'undo records of the host changes, for restore after a crash (default /run/vstun/director-TAP.state.json, per network namespace like --control)')
  .option('--metrics <host:port>', 'metrics listen address (default 127.0.0.1:9469)')
  .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')} (default info, or director.logLevel)`)
  .option('--no-setup', 'do not change the host (TAP address, VIP routes, sysctls); you do it')
  .option('--offload', 'open the TAP with the virtio-net header: TSO super-packets and checksum offload, where the kernel has them (default: director.offload, true)')
  .option('--no-offload', 'open the TAP without the virtio-net header: every segment is read and written alone')
  .option('--tunnel-gso', 'with offloads, write GUE-tunnelled TCP as super-packets the kernel segments (GSO over UDP tunnels, Linux 6.17+, probed) (default: director.tunnelGso, true)')
  .option('--no-tunnel-gso', 'with offloads, write every GUE segment alone (software segmentation only)')
  .option('--queues <n>', 'TAP queues, one worker thread each (default: director.queues, else one per core); 1 runs the data path on the main thread')
  .option('--check-config <file>', 'validate FILE fully, print what a start would set up (host changes, services) and exit: 0 valid, 2 invalid')
  .version(versionLine('vstun-director'), '-V, --version', 'print the version and exit');
shortUsageErrors(program, 'vstun-director');

const notify = notifyServiceManager;

/** --check-config: validates FILE, prints the plan; exits 0 or 2. */
async function checkConfig(file: string, flags: Flags): Promise<never> {
  try {
    const config = loadDirectorConfig(file);
    const d = config.director;
    if (flags.dip !== undefined && parseIpv4(flags.dip) === null) throw new ConfigError('CONFIG_INVALID', `--dip: "${flags.dip}" is not an IPv4 address`);
    const metrics = flags.metrics ?? d.metrics ?? '127.0.0.1:9469';
    parseListenAddress(metrics);
    const settings = { tap: flags.tap ?? d.tap ?? 'vstun0', control: flags.control ?? d.control ?? defaultControlPath(), metrics, setup: flags.setup };
    process.stdout.write(formatPlan(file, settings, await planDirector(config, settings)));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`vstun-director: ${file}: invalid: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

let steeringProbed: string | null | undefined;
/** Whether this kernel loads a TAP steering program (null: yes; else why not), asked once. */
function steeringProbe(): string | null {
  if (steeringProbed === undefined) {
    try {
      steeringProbed = probeSteering(loadAddon());
    } catch (err) {
      steeringProbed = (err as Error).message;
    }
  }
  return steeringProbed;
}

async function main(): Promise<void> {
  program.parse();
  const flags = program.opts<Flags>();
  if (flags.checkConfig !== undefined) await checkConfig(flags.checkConfig, flags);

  let config: DirectorConfig;
  let digest: string | undefined;
  try {
    if (flags.config) {
      const text = readConfigText(flags.config);
      config = parseDirectorConfig(text, flags.config);
      digest = configDigest(text);
    } else config = validateDirectorConfig({});
    if (flags.dip !== undefined && parseIpv4(flags.dip) === null) throw new ConfigError('CONFIG_INVALID', `--dip: "${flags.dip}" is not an IPv4 address`);
    if (flags.metrics !== undefined) parseListenAddress(flags.metrics);
    if (flags.queues !== undefined && !/^([1-9]|[1-5][0-9]|6[0-4])$/.test(flags.queues)) throw new ConfigError('CONFIG_INVALID', `--queues: "${flags.queues}" is not a number of queues 1..64`);
    const askedQueues = flags.queues !== undefined ? Number(flags.queues) : config.director.queues;
    const oneQueue = singleQueueReason(config.services, steeringProbe() === null ? { check: steeringLimitReason } : null);
    if (askedQueues !== undefined && askedQueues > 1 && oneQueue !== null) throw new ConfigError('CONFIG_INVALID', `queues ${askedQueues}: ${oneQueue}; use --queues 1`);
    if (flags.logLevel !== undefined && !LOG_LEVELS.includes(flags.logLevel)) throw new ConfigError('CONFIG_INVALID', `--log-level: "${flags.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  } catch (err) {
    process.stderr.write(`vstun-director: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const d = config.director;
  const { log, sink: logSink } = createDaemonLogger('vstun-director', flags.logLevel ?? d.logLevel);
  const tap = flags.tap ?? d.tap ?? 'vstun0';
  const dip = flags.dip ?? d.dip;
  // Defaults per network namespace (src/host/instance-paths.ts): directors in several namespaces never share them.
  const controlPath = flags.control ?? d.control ?? defaultControlPath();
  const metrics = flags.metrics ?? d.metrics ?? '127.0.0.1:9469';

  const changes = flags.setup ? new HostChanges(flags.stateFile ?? defaultDirectorStateFile(tap)) : null;
  let device: PacketDevice | undefined;
  let pool: QueuePool | undefined;
  let steering: QueueSteering | null = null;
  /** Each queue worker's event-loop delay read-out (empty with one queue). */
  let queueLoopDelay: SharedArrayBuffer[] = [];
  let threads: QueueThreads | undefined;
  let director: Director | undefined;
  let control: ControlServer | undefined;
  let pmtu: PathMtuDiscovery | undefined;
  let health: HealthBinding | undefined;
  let metricsServer: MetricsServer | undefined;
  let loopDelay: EventLoopDelaySampler | undefined;
  let tapDrops: TapDropWatcher | undefined;
  let guard: NftGuard | undefined;
  let announce: AnnounceBinding | undefined;
  let skipDrain: (() => void) | undefined;
  let stopping = false;
  const state: ControlState = { configPath: flags.config, config: validateDirectorConfig({}) };

  const undo = () => {
    if (!changes) return;
    const r = changes.undoAll();
    if (r.failed.length) log.error({ failed: capList(r.failed) }, 'some host changes could not be undone; fix them by hand');
    else log.info({ undone: r.undone }, 'host changes undone');
  };
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) {
      // A second signal during the BGP drain: stop waiting.
      skipDrain?.();
      return;
    }
    stopping = true;
    notify('stopping', log);
    log.info({ signal }, 'stopping');
    if (announce) {
      // Withdraw first and keep forwarding while the router moves the flows to other directors.
      await Promise.race([announce.drainForShutdown(), new Promise<void>((r) => (skipDrain = r))]);
      announce.stop();
    }
    // Closing the listeners must not hold up the undo (e.g. a scraper keeping a connection open).
    const closed = Promise.allSettled([control?.close(), metricsServer?.close()]);
    await Promise.race([closed, new Promise((r) => setTimeout(r, SHUTDOWN_CLOSE_MS).unref())]);
    loopDelay?.stop();
    health?.stop();
    pmtu?.stop();
    tapDrops?.stop();
    guard?.stop();
    await pool?.stop();
    await threads?.terminate();
    steering?.close();
    director?.stop();
    device?.close();
    undo();
    removeRunDirIfEmpty();
    logSink.flush();
    process.exit(code);
  };
  // RELOADING=1 … READY=1 around every reload (SIGHUP or the control op), as Type=notify expects.
  const reloading = async <T>(fn: () => Promise<T>): Promise<T> => {
    notify('reloading', log);
    try {
      return await fn();
    } finally {
      notify('ready', log);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    if (!director || stopping) return;
    reloading(() => reloadConfig(director!, state)).then(
      (r) => {
        log.info({ reload: capLists(r) }, 'config reloaded (SIGHUP)');
        if (r.needsRestart.length) log.warn({ needsRestart: r.needsRestart }, 'some changed settings apply only after a restart');
      },
      (err) => {
        const e = err as Error & { code?: string };
        log.error({ code: isVstunadmError(err) ? e.code : 'ERR_INTERNAL', err: e.message }, 'reload failed; nothing was changed');
      },
    );
  });

  try {
    // A second instance on the same socket or state file refuses here, before touching the host.
    await claimSocketPath(controlPath);
    if (changes) {
      const r = changes.recover();
      if (r.undone || r.failed.length) log.warn({ undone: r.undone, failed: capList(r.failed) }, 'undid host changes left by a crashed run');
    }
    if (config.bgp) {
      // Before the TAP exists: an include left by a killed run would announce its VIPs the
      // moment the TAP reappears, before the services and their health are known.
      try {
        writeFileAtomic(config.bgp.includeFile, renderVipInclude(config.bgp.protocol, tap, []));
        await birdConfigure({ socketPath: config.bgp.birdSocket, timeoutMs: 5000 });
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not clear the VIPs BIRD announces before start; the announcer retries');
      }
    }
    const addon = loadAddon();
    const offload = flags.offload ?? d.offload;
    // Default: one queue per CPU, or one when the table needs it (VS/NAT without queue steering; see singleQueueReason).
    const steerable = steeringProbe() === null ? { check: steeringLimitReason } : null;
    const queues = flags.queues !== undefined ? Number(flags.queues) : (d.queues ?? (singleQueueReason(config.services, steerable) !== null ? 1 : Math.min(64, os.availableParallelism())));
    // One queue: the data path on this thread, as always. More: the fds go to worker threads
    // and this thread keeps a writer on queue 0 for its probes (ARP, path MTU).
    const tunnelGso = offload && (flags.tunnelGso ?? d.tunnelGso);
    const opened = TunTapDevice.openQueues({ name: tap, kind: 'tap', up: true, offload, tunnelGso, queues });
    const tapFacts = { vnetHdrLen: opened.vnetHdrLen, offloadFlags: opened.offloadFlags };
    let single: TunTapDevice | undefined;
    if (queues === 1) device = single = TunTapDevice.fromFd(addon, opened.name, opened.fds[0], 'tap', {}, 0, opened.vnetHdrLen, opened.offloadFlags);
    else device = new TapWriteDevice(addon, opened.name, opened.fds[0], opened.vnetHdrLen);
    log.info({ tap, queues }, queues === 1 ? 'one TAP queue, read on the main thread' : 'multi-queue TAP, one worker thread per queue');
    if (queues > 1) {
      // Steer the queues by client (VS/NAT replies and persistence stay on their client's queue); else the kernel's flow hash.
      const why = steeringProbe();
      if (why === null) {
        try {
          steering = new QueueSteering(addon, opened.fds[0]!, queues);
          steering.sync(config.services);
          log.info({ tap, queues }, 'TAP queues steered by an eBPF program: VS/NAT replies and persistent clients stay on one queue');
        } catch (err) {
          steering?.close();
          steering = null;
          log.warn({ tap, err: (err as Error).message }, 'TAP queue steering failed; the kernel picks queues by flow hash (VS/NAT needs --queues 1, persistence templates are per queue)');
        }
      } else log.warn({ tap, err: why }, 'no eBPF queue steering here; the kernel picks queues by flow hash (VS/NAT needs --queues 1, persistence templates are per queue)');
      const oneQueue = singleQueueReason(config.services, steering);
      if (oneQueue !== null) throw new Error(`queues ${queues}: ${oneQueue}; use --queues 1`);
    }
    if (!offload) log.info({ tap }, 'offloads off (--no-offload or director.offload: false)');
    else if (opened.offloadFlags === 0) log.warn({ tap }, 'the kernel took no TAP offload (TUNSETOFFLOAD); every segment is read and written alone');
    else log.info({ tap, offloads: offloadFlagNames(opened.offloadFlags) }, 'TAP offloads on; super-packets are segmented in software before tunnelling');
    if (opened.tunnelGsoRefused !== undefined) log.warn({ tap, refused: opened.tunnelGsoRefused }, 'the kernel refused GSO over UDP tunnels (TUN_F_UDP_TUNNEL_GSO, Linux 6.17+); GUE segments are written one by one');
    else if ((opened.offloadFlags & TUN_F_UDP_TUNNEL_GSO) !== 0) log.info({ tap, vnetHdrLen: opened.vnetHdrLen }, 'GSO over UDP tunnels on: GUE segments of a TCP flow are written as one super-packet the kernel cuts');
    const vips = [...new Set(config.services.map((s) => canonicalIpText(s.vip) ?? s.vip))];
    let vipRoutes: HostVipRoutes | undefined;
    let natReplies: NatReplyRules | undefined;
    // With a DR bridge the kernel's side of the TAP link is the bridge (host-setup.ts).
    const kernelLink = kernelLinkDevice({ tap, dr: d.dr });
    if (changes) {
      setupDirectorHost(changes, { tap, kernelAddress: d.kernelAddress, linkAddress: d.linkAddress, prefixLength: d.linkPrefixLength, vips, probeSource: d.probeSource, dr: d.dr });
      natReplies = new NatReplyRules(changes, { device: kernelLink, linkAddress: d.linkAddress }, d.natTable);
      if (d.guard.enabled) {
        guard = new NftGuard(tap, d.guard, undefined, (what, err) => log.warn({ err: err.message }, `nftables guard ${what} failed`));
        guard.install(changes, vips);
      }
      log.info({ count: changes.applied.length, changes: capList(changes.applied.map(describeChange)) }, 'host set up');
      // From here on every change of the VIP set (vstunadm, -R, reload, SIGHUP) moves the routes with it.
      vipRoutes = new HostVipRoutes(changes, { tap: kernelLink, linkAddress: d.linkAddress }, vips, (failed) => log.error({ failed: capList(failed) }, 'could not remove the route of a VIP that left; it is undone on exit'));
    }
    // IPv4 servers: --dip, else the route's source; IPv6 servers: the IPv6 route's source (looked up asynchronously per change).
    const addresses = new Ipv6AddressTable();
    const sources = new TunnelSources(dip, addresses);
    // VS/DR: one neighbour table for this thread's requests and every queue's answers (neighbor-resolver.ts).
    const neighborMemory = queues > 1 ? NeighborMemory.create(DEFAULT_NEIGHBOR_OPTIONS.capacity) : undefined;
    director = new Director({
      neighborMemory,
      device,
      mac: parseMac(d.mac)!,
      linkAddress: parseIpv4(d.linkAddress)!,
      kernelAddress: parseIpv4(d.kernelAddress)!,
      kernelMac: addon.linkGetMac(kernelLink),
      readKernelMac: () => addon.linkGetMac(kernelLink),
      addresses,
      dipFor: sources.dipFor,
      prepareSources: (rips) => sources.prepare(rips),
      vipRoutes,
      // With queue workers the entries live in their tables (each its share); this one stays empty.
      connTableCapacity: queues === 1 ? d.connTableSize : 1024,
      sweep: queues === 1,
      mhTableSize: d.mhTableSize,
      icmpEcho: d.icmpEcho,
      sloppyTcp: d.sloppyTcp,
    });
    director.natReplies = natReplies;
    // Through the reconciler (services, their per-service/per-server settings, timeouts), as a reload would.
    await applyConfig(director, state, config, digest);
    director.start();
    if (queues > 1) {
      const kernelMac = Array.from(addon.linkGetMac(kernelLink));
      queueLoopDelay = opened.fds.map(() => sharedLoopDelayReadout());
      threads = startQueueThreads(
        new URL('./director-queue-worker.js', import.meta.url),
        opened.fds.map((fd, queue) => ({
          loopDelay: queueLoopDelay[queue],
          tap: opened.name,
          kernelLink,
          fd,
          queue,
          queues,
          ...tapFacts,
          mac: Array.from(parseMac(d.mac)!),
          linkAddress: parseIpv4(d.linkAddress)!,
          kernelAddress: parseIpv4(d.kernelAddress)!,
          kernelMac,
          connTableCapacity: tableShare(d.connTableSize, queues),
          mhTableSize: d.mhTableSize,
          icmpEcho: d.icmpEcho,
          sloppyTcp: d.sloppyTcp,
          neighbors: neighborMemory!.buffer as SharedArrayBuffer,
        })),
        (queue, reason) => {
          log.error({ queue, reason }, 'a queue worker failed; its queue is no longer read, stopping');
          void shutdown('queue-worker-failure', 1);
        },
      );
      pool = new QueuePool({
        director,
        ports: threads.ports,
        onProblem: (queue, what) => log.warn({ queue }, `queue worker ${what}`),
        onPolicyApplied: (queue, expired, rescheduled) => log.info({ queue, expired, rescheduled }, 'connection policy applied on a queue'),
      });
      pool.steering = steering;
      await pool.start();
      if (steering) {
        const s = steering;
        // After every change: a new program when the client-keyed VIPs or the NAT servers changed.
        director.onServicesChanged(() => {
          try {
            if (s.sync(definitionsOf(director!))) log.info({ tap }, 'TAP queue steering program replaced (client-keyed VIPs or VS/NAT servers changed)');
          } catch (err) {
            log.error({ tap, err: (err as Error).message }, 'could not replace the TAP queue steering program; the previous one stays attached');
          }
        });
      }
      // Without steering, persistence templates are per queue (README "Several queues"): say so once per service.
      const warned = new Set<string>();
      const warnPersistence = () => {
        if (steering?.persistenceSteered === true) return;
        for (const svc of director!.registry.list()) {
          if (svc.persistenceMs === 0 || warned.has(svc.label)) continue;
          warned.add(svc.label);
          log.warn({ service: svc.label, queues }, "persistence with several TAP queues: templates are per queue, so a client's connections on different queues may go to different servers (--queues 1 keeps one table)");
        }
      };
      warnPersistence();
      director.onServicesChanged(warnPersistence);
      // Every queue's first counters, before anything reads them (metrics registration, status).
      await pool.refresh();
    }
    tapDrops = new TapDropWatcher(tap);
    registerKernelDrops(director, tapDrops);
    await tapDrops.start();
    if (guard) {
      registerKernelDrops(director, guard);
      director.onServicesChanged(() => void guard!.syncGuard(definitionsOf(director!).map((s) => s.vip)));
      await guard.start();
    }
    pmtu = startPathMtuDiscovery(director, device, { defaultTunnelMtu: d.tunnelMtu, log });
    // Tunnel probes come from director.probeSource, else from the DIP (already routed back here).
    health = startDirectorHealth(director, config.services, { probeSource: d.probeSource ?? dip, defaultPolicy: d.expireNodestConn, log }, () => definitionsOf(director!));
    control = new ControlServer(controlPath);
    registerDirectorOps(control, director, { tap, startedAt: new Date().toISOString(), metrics, pid: process.pid }, state);
    registerHealthOp(control, health);
    health.onChange((row) => (row.removed ? clearServerHealth(row.service, row.server) : setServerHealth(row.service, row.server, row.up)));
    if (pool) {
      const p = pool;
      health.onChange(() => void p.flushSoon());
    }
    registerPmtuOp(control, pmtu);
    control.register('reload', async () => ({ reload: await reloading(() => reloadConfig(director!, state)) }));
    // Offload state and the segmentation/checksum counters (src/device/offload-rx.ts), of every queue.
    const queuePool = pool;
    const offloadStats = () => (queuePool ? queuePool.offloadStats() : (single?.offloadStats() ?? null));
    control.register('offload', () => ({
      vnetHdrLen: tapFacts.vnetHdrLen,
      offloads: offloadFlagNames(tapFacts.offloadFlags),
      counters: offloadStats(),
      reader: single ? single.nativeStats().reader : queuePool?.deviceStats(),
      queues,
    }));
    // Per queue: frames read, forwarded, entries, and each server's counts (one queue: the main thread's).
    const queueSummaries = () =>
      queuePool ? queuePool.summaries() : [summarizeQueue({ queue: 0, framesIn: director!.datapath.framesIn, verdicts: Array.from(director!.datapath.verdicts), table: director!.table.stats() }, director!, (rs) => ({ conns: rs.stats.conns, inPkts: rs.stats.inPkts }))];
    control.register('queues', () => ({ queues: queueSummaries() }));
    if (queuePool) {
      // Fresh counters from every queue before each op; the change an op made reaches every queue before its answer.
      control.around(async (_req, next) => {
        await queuePool.refresh();
        const answer = await next();
        await queuePool.flush();
        return answer;
      });
    }
    if (config.bgp) {
      const h = health;
      announce = startVipAnnouncement(director, config.bgp, {
        tap,
        log,
        isStandIn: (rs) => h.healthOf(rs)?.state === 'sorry',
        // Not up yet, and either never checked or passing its way up (rise).
        isSettling: (rs) => {
          const hs = h.healthOf(rs);
          return hs !== undefined && hs.state === 'down' && (hs.lastCheck === undefined || hs.lastCheck.ok);
        },
      });
      const a = announce;
      h.onChange(() => a.evaluate());
    }
    registerAnnounceOps(control, announce);
    await control.listen();
    const registry = createDirectorMetrics(director);
    registerLogMetrics(registry, 'vstun', logSink);
    loopDelay = registerRuntimeMetrics(registry, 'vstun-director');
    if (announce) registerAnnounceMetrics(registry, announce);
    registerOffloadMetrics(registry, offloadStats);
    registerQueueMetrics(registry, queueSummaries);
    if (queueLoopDelay.length > 0) registerQueueLoopDelay(registry, queueLoopDelay);
    const bound = health;
    const delay = loopDelay;
    const announcer = announce?.announcer;
    const status = statusRoutes({
      director,
      health: () => bound.snapshot(),
      eventLoop: () => delay.take(),
      // "announced" / "withdrawn: reason" per VIP, when a bgp: section makes BIRD announce them.
      announcements: announcer && (() => new Map(announcer.snapshot().vips.map((v) => [v.vip, v.announced ? 'announced' : `withdrawn: ${v.reason}`]))),
    });
    metricsServer = await startMetricsServer(registry, metrics, status);
    log.info({ tap, control: controlPath, metrics, services: config.services.length, connTable: director.tableStats() }, 'director running');
    notify('ready', log);
  } catch (err) {
    const e = err as Error & { code?: string };
    log.error({ code: e.code, err: e.message }, 'cannot start');
    process.stderr.write(`vstun-director: ${e.message}\n`);
    await shutdown('startup-failure', 1);
  }
}

void main();
