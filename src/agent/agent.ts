// The running agent: recovers a crashed run's host changes, picks the mode, sets the host
// up, opens the decap sockets and the injection TUN, serves HTTP, and on stop undoes
// everything in reverse. Control plane only; the per-packet work is in decap.ts.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { HostChanges, describeChange, realHostSystem, type HostSystem, type UndoReport } from '../host/host-changes.js';
import { offloadFlagNames, TunTapDevice } from '../device/native-tap-device.js';
import { RawSocketDevice, UdpSocketDevice } from '../device/raw-socket-device.js';
import type { NativeRingDevice } from '../device/native-ring-device.js';
import { AgentError } from './agent-error.js';
import type { AgentConfig } from './agent-config.js';
import { startAgentHttp, type HealthReport } from './agent-http.js';
import { createAgentMetrics } from './agent-metrics.js';
import { registerLogMetrics } from '../log/daemon-logger.js';
import type { EventLoopDelaySampler } from '../metrics/event-loop-delay.js';
import { registerRuntimeMetrics } from '../metrics/runtime-metrics.js';
import { SourcePrefixSet, VipTable } from './address-match.js';
import { DecapCounters, type DecapSource } from './decap-counters.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from '../wire/ip-protocol.js';
import { Decapsulator } from './decap.js';
import { FeedbackSampler } from './feedback.js';
import { TcpCoalescer } from './gro-coalesce.js';
import { checkHost, resolveUplinks, type CheckConfig } from './host-checks.js';
import { gatherHostFacts, parseIpAddrJson } from './host-facts.js';
import { applyHostSetup, relaxRpFilter } from './host-setup.js';
import { chooseMode, detectKernelIpip, type DecapMode } from './kernel-mode.js';

/** Socket buffer for each decap socket: absorbs bursts while JS runs a batch. */
const DECAP_RCVBUF = 4 << 20;
/** Raw-socket rings when the TUN has offloads: 64 slots that each hold a 64 KiB IP packet and its headroom (4.2 MB a socket). */
const DECAP_SUPER_RING = { slots: 64, slotSize: (64 << 10) + 1024 };

export class Agent {
  private readonly sockets: NativeRingDevice[] = [];
  private tun: TunTapDevice | undefined;
  private server: Server | undefined;
  private decap: Decapsulator | undefined;
  private stopped = false;
  private loopDelay: EventLoopDelaySampler | undefined;
  /** Packets the kernel routed out of the TUN (nothing should be; counted, then discarded). */
  tunOutbound = 0;
  private lastHealthAccepted = -1;
  mode: DecapMode = 'userspace';
  /** DR mode: the process's only handle until a signal stops it. */
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly counters: DecapCounters;
  private readonly vipTable: VipTable;

  private constructor(
    readonly config: AgentConfig,
    private readonly log: Logger,
    /** Recorded host changes (state file), or memory-only ones with --no-setup. */
    private readonly changes: HostChanges,
    private readonly system: HostSystem,
  ) {
    this.vipTable = new VipTable(config.vips);
    this.counters = new DecapCounters(this.vipTable.size);
  }

  /** Starts the agent; on failure, everything applied so far is undone before rethrowing. */
  static async start(config: AgentConfig, log: Logger, system: HostSystem = realHostSystem): Promise<Agent> {
    const changes = new HostChanges(config.setup ? config.stateFile : null, system);
    if (config.setup) {
      const rec = changes.recover();
      if (rec.undone > 0 || rec.failed.length > 0) log.warn({ undone: rec.undone, failed: rec.failed, stateFile: config.stateFile }, 'restored the host changes a previous run left behind (it did not exit cleanly)');
    }
    const support = detectKernelIpip();
    const choice = chooseMode(config.mode, support);
    const agent = new Agent(config, log, changes, system);
    agent.mode = choice.mode;
    log.info({ mode: choice.mode, why: choice.why }, 'decapsulation mode');
    try {
      agent.setUpHost();
      if (choice.mode === 'userspace') agent.openDataPath();
      // DR holds no socket: without an HTTP endpoint nothing else would keep the process up.
      else if (choice.mode === 'dr') agent.keepAlive = setInterval(() => {}, 1 << 30);
      else if (choice.mode === 'kernel') log.warn('kernel mode: tunl0 decapsulates IPIP from ANY source; filter IPIP (protocol 4) to the director addresses with a firewall');
      if (config.listen) agent.server = await agent.serveHttp();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  /** Uplinks: the explicit ones, or every non-loopback link that is up now. */
  private uplinks(): string[] {
    const links = parseIpAddrJson(this.system.ip(['-j', '-d', 'addr', 'show']));
    return resolveUplinks(links, this.config.uplinks, this.config.tun);
  }

  private setUpHost(): void {
    const read = (k: string) => this.system.readSysctl(k);
    const decapDev = this.mode === 'kernel' ? 'tunl0' : this.config.tun;
    try {
      if (this.config.setup) {
        const uplinks = this.uplinks();
        applyHostSetup(this.changes, { vips: this.config.vips, uplinks }, read);
        this.log.info({ uplinks }, 'VIPs on lo, ARP and rp_filter sysctls set');
      }
      if (this.mode === 'dr') {
        // Direct routing: the VIP on lo and the ARP sysctls are the whole setup.
        for (const c of this.changes.applied) this.log.info({ change: describeChange(c) }, 'host change applied');
        return;
      }
      if (this.mode === 'userspace') {
        // Not persistent: the kernel deletes the TUN when our fd closes, even after kill -9.
        this.tun = TunTapDevice.open({ name: this.config.tun, kind: 'tun', up: false, offload: this.config.offload })[0];
        if (!this.config.offload) this.log.info('offloads off (--no-offload): decapsulated segments are written one by one');
        else if (this.tun.offloadFlags === 0) this.log.warn('the kernel took no TUN offload (TUNSETOFFLOAD); writing coalesced super-packets anyway');
        else this.log.info({ offloads: offloadFlagNames(this.tun.offloadFlags) }, 'TUN offloads on; TCP segments are coalesced (GRO) before injection');
        this.changes.adoptLink(this.tun.name);
      }
      if (this.config.setup) relaxRpFilter(this.changes, [decapDev], read);
      this.changes.setLinkUp(decapDev);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e instanceof AgentError) throw e;
      throw new AgentError('AGENT_SETUP_FAILED', `host setup failed, and what was applied has been undone: ${e.message}`);
    }
    for (const c of this.changes.applied) this.log.info({ change: describeChange(c) }, 'host change applied');
  }

  private openDataPath(): void {
    const tun = this.tun!;
    this.decap = new Decapsulator({
      directors: new SourcePrefixSet(this.config.directors),
      vips: this.vipTable,
      counters: this.counters,
      tun,
      gro: tun.vnetHdrLen > 0 ? new TcpCoalescer(tun.vnetHdrLen) : undefined,
    });
    tun.onBatch((b) => {
      this.tunOutbound += b.count;
    });
    const open = (source: DecapSource, make: () => NativeRingDevice, optional: boolean) => {
      try {
        const dev = make();
        this.sockets.push(dev);
        this.decap!.attach(dev, source);
      } catch (err) {
        const e = err as Error & { code?: string };
        if (e.code === 'EPERM' || e.code === 'EACCES') {
          throw new AgentError('AGENT_NO_RAW_SOCKET', `cannot open the ${source} decap socket (${e.code}): run vstun-agent as root or with CAP_NET_RAW and CAP_NET_ADMIN`);
        }
        if (!optional) throw new AgentError('AGENT_SETUP_FAILED', `cannot open the ${source} decap socket: ${e.message}`);
        this.log.warn({ source, err: e.message }, 'decap socket not opened; this encapsulation is not received');
      }
    };
    // With offloads the raw sockets take whole super-packets: GRO on this host's uplink merges
    // IPIP-encapsulated TCP (the kernel's ipip_gro_receive) before the socket reads it, and a
    // 2 KiB slot would cut them (rx-truncated). The coalescer passes them on with NEEDS_CSUM.
    const ring = tun.vnetHdrLen > 0 ? DECAP_SUPER_RING : {};
    open('ipv4-ipip', () => RawSocketDevice.open({ family: 4, protocol: IPPROTO_IPIP, rcvbuf: DECAP_RCVBUF, ...ring }), false);
    open('ipv4-6in4', () => RawSocketDevice.open({ family: 4, protocol: IPPROTO_IPV6, rcvbuf: DECAP_RCVBUF, ...ring }), true);
    open('ipv6-ipip', () => RawSocketDevice.open({ family: 6, protocol: IPPROTO_IPIP, rcvbuf: DECAP_RCVBUF, ...ring }), true);
    open('ipv6-ip6ip6', () => RawSocketDevice.open({ family: 6, protocol: IPPROTO_IPV6, rcvbuf: DECAP_RCVBUF, ...ring }), true);
    if (this.config.guePort > 0) {
      // One dual-stack socket takes both families (IPv4 peers arrive as ::ffff:a.b.c.d);
      // an IPv4 socket is the fallback where IPv6 is disabled.
      const before = this.sockets.length;
      // A director with GSO over UDP tunnels sends GUE super-packets; where the path carries them
      // whole (a veth), the socket receives one datagram of up to 64 KiB whose inner TCP checksum
      // is still partial: the super ring keeps it whole, the coalescer writes it with NEEDS_CSUM.
      open('gue', () => UdpSocketDevice.open({ family: 6, address: '::', port: this.config.guePort, rcvbuf: DECAP_RCVBUF, ...ring }), true);
      if (this.sockets.length === before) open('gue', () => UdpSocketDevice.open({ family: 4, address: '0.0.0.0', port: this.config.guePort, rcvbuf: DECAP_RCVBUF, ...ring }), false);
    }
    this.log.info({ sockets: this.sockets.map((s) => s.name), tun: tun.name, directors: this.config.directors.map((d) => `${d.text}/${d.prefixLength}`), vips: this.vipTable.vips.map((v) => v.text) }, 'decapsulating in user space');
  }

  private async serveHttp(): Promise<Server> {
    const vips = this.vipTable.vips.map((v) => v.text);
    const feedback = new FeedbackSampler(vips);
    await feedback.prime();
    const metrics = createAgentMetrics({ counters: this.counters, vips, mode: this.mode, beforeScrape: () => this.decap?.syncDeviceCounters(), gro: () => this.decap?.gro?.stats });
    if (this.config.logSink) registerLogMetrics(metrics, 'vstun_agent', this.config.logSink);
    this.loopDelay = registerRuntimeMetrics(metrics, 'vstun-agent');
    const server = await startAgentHttp(this.config.listen!, { health: () => this.health(), feedback: () => feedback.read(), metrics });
    this.log.info({ listen: this.config.listen }, 'serving /healthz /feedback /metrics');
    return server;
  }

  /** The self-check: host findings plus decap status. Healthy when there is no problem. */
  async health(): Promise<HealthReport> {
    const cfg: CheckConfig = {
      vips: this.vipTable.vips.map((v) => v.text),
      tun: this.mode === 'kernel' ? 'tunl0' : this.config.tun,
      mode: this.mode,
      uplinks: this.config.uplinks,
    };
    const findings = checkHost(cfg, await gatherHostFacts());
    this.decap?.syncDeviceCounters();
    const c = this.counters;
    const moving = this.lastHealthAccepted >= 0 && c.accepted > this.lastHealthAccepted;
    this.lastHealthAccepted = c.accepted;
    const socketsOpen = this.mode !== 'userspace' || this.sockets.length > 0;
    return {
      healthy: socketsOpen && !findings.some((f) => f.severity === 'problem'),
      mode: this.mode,
      problems: findings.filter((f) => f.severity === 'problem'),
      warnings: findings.filter((f) => f.severity === 'warning'),
      decap: {
        sockets: this.sockets.map((s) => s.name),
        accepted: c.accepted,
        dropped: c.totalDrops(),
        drops: c.dropsByReason(),
        // Informational: an idle real server legitimately receives nothing.
        movingSinceLastCheck: moving,
        lastAcceptSecondsAgo: c.lastAcceptMs ? Math.round((Date.now() - c.lastAcceptMs) / 100) / 10 : null,
        tunOutbound: this.tunOutbound,
      },
    };
  }

  /** Stops I/O and undoes every host change. Idempotent; never throws. */
  async stop(): Promise<UndoReport> {
    if (this.stopped) return { undone: 0, failed: [] };
    this.stopped = true;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.loopDelay?.stop();
    if (this.server) {
      const closed = new Promise<void>((r) => this.server!.close(() => r()));
      this.server.closeAllConnections();
      await closed;
    }
    for (const s of this.sockets) s.close();
    this.sockets.length = 0;
    const report = this.changes.undoAll();
    this.tun?.close();
    if (report.failed.length > 0) this.log.error({ failed: report.failed }, 'some host changes could not be undone');
    else this.log.info({ undone: report.undone }, 'host restored');
    return report;
  }

  /** For tests and benchmarks: the decapsulator (undefined in kernel mode). */
  get decapsulator(): Decapsulator | undefined {
    return this.decap;
  }
}
