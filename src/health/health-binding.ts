// Health checks wired into the director: the HealthConsumer the health manager drives,
// acting on the service registry and the connection table.
//
//   up, weight w      -> the server's scheduling weight becomes w (agent feedback and slow
//                        start are already folded in; 0 = quiesced, inhibit_on_failure)
//   down (up false)   -> weight 0, so no new connections, and the service's failure policy
//                        is applied to its existing connections:
//                          keep        they continue to the server (IPVS expire_nodest_conn=0)
//                          expire      their entries are removed; later packets are handled
//                                      as new flows (a SYN is scheduled, other TCP dropped
//                                      unless mh or sloppy place it)
//                          reschedule  each entry is moved to the server the scheduler picks
//                                      now (with mh: the same server the hash gives any
//                                      director); TCP peers then get a fast RST instead of a
//                                      silent hang, UDP flows simply continue elsewhere
//   sorry active      -> the sorry server is added to the service (like keepalived, it is a
//                        real server while the service lacks quorum) and deleted, draining,
//                        when quorum returns
//
// In the registry `RealServer.weight` is what the schedulers use, i.e. the EFFECTIVE weight;
// the operator's configured weight is kept here (and in the manager). An operator's weight
// edit is noticed as "the registry weight is not what we last applied" (see reconcile()).
//
// The tunnel check's pinned flows live in a ProbePinTable handed to the data path.
import {
  HealthManager,
  PinnedFlowProber,
  systemClock,
  type CheckerFactory,
  type Clock,
  type FeedbackFetcher,
  type HealthConsumer,
  type HealthEvent,
  type OnFailurePolicy,
  type ProbeFlow,
  type ServerState,
  type ServiceHealthSnapshot,
  type SorryServerState,
  type TunnelProber,
  type Unpin,
} from './index.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import type { Director } from '../director/director.js';
import { DirectorError } from '../director/errors.js';
import { formatIpv4 } from '../director/ipv4-text.js';
import { ProbePinTable } from '../director/probe-pins.js';
import type { RealServer } from '../director/real-server.js';
import type { VirtualService } from '../director/virtual-service.js';

/** The parts of a pino logger the binding uses. */
export interface HealthLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** One service's health settings, as in the director YAML (services[i]). */
export interface HealthServiceConfig {
  /** The service's `healthCheck` section (raw or parsed); without it and without any server override the service is not checked. */
  healthCheck?: unknown;
  /** The service's expire_nodest_conn policy (config-schema `expireNodestConn`). */
  expireNodestConn?: OnFailurePolicy;
  /** `weight` is the configured weight (default: the registry's at bind time). */
  realServers?: ReadonlyArray<{ address: string; weight?: number; healthCheck?: unknown; feedback?: unknown }>;
}

/** A service definition as the config and the control plane keep it (config-schema ServiceConfig). */
export interface HealthServiceDefinition extends HealthServiceConfig {
  protocol: 'tcp' | 'udp';
  vip: string;
  port: number;
}

export interface HealthBindingOptions {
  director: Director;
  /** The director host's probe source address P for tunnel checks (a /32 routed back to this host). */
  probeSource?: string;
  /** Policy when a service sets neither healthCheck.onFailure nor expireNodestConn (director.expireNodestConn). */
  defaultPolicy?: OnFailurePolicy;
  log?: HealthLog;
  clock?: Clock;
  random?: () => number;
  /** Tests: replaces the checkers, the feedback fetch or the tunnel prober. */
  checkerFactory?: CheckerFactory;
  feedbackFetcher?: FeedbackFetcher;
  tunnelProber?: TunnelProber;
  slowStartStepMs?: number;
  /** Real ms between reconcile() safety-net runs (default 250; 0 = none). */
  reconcileEveryMs?: number;
}

/** Health as the `list` op and the metrics show it, per real server. */
export interface RealServerHealth {
  /** up | down (the dampened check verdict), or sorry for an active sorry server. */
  state: 'up' | 'down' | 'sorry';
  configuredWeight: number;
  /** The weight the scheduler uses now. */
  effectiveWeight: number;
  /** True while in scheduling (false: out, its connections handled by the policy). */
  inService: boolean;
  reason: string;
  check: string;
  /** The dampened state's age in ms, and checks in a row against it. */
  sinceMs: number;
  pendingStreak: number;
  lastCheck?: { ok: boolean; detail: string; latencyMs: number; agoMs: number };
  slowStartRemainingMs?: number;
  feedback?: { stale: boolean; smoothedScore?: number; lastError?: string };
}

/** One row per health-checked server, for a Prometheus gauge. */
export interface HealthGaugeRow {
  service: string;
  server: string;
  up: boolean;
  configuredWeight: number;
  effectiveWeight: number;
  /** True once the server is no longer health-checked (drop its series). */
  removed: boolean;
}

interface BoundServer {
  rs: RealServer;
  configured: number;
  /** The weight we last wrote to rs.weight (undefined before the first state). */
  applied: number | undefined;
  state: ServerState | undefined;
  /** The server's own healthCheck/feedback overrides as JSON, to notice a reload that changed them. */
  signature: string;
}

interface BoundService {
  id: string;
  svc: VirtualService;
  policy: OnFailurePolicy;
  config: HealthServiceConfig;
  servers: Map<string, BoundServer>;
  sorry: RealServer | undefined;
  /** The last sorry-server state pushed (to put it back if a reload deleted it). */
  sorryState: SorryServerState | undefined;
  sorryWarned: boolean;
  /** The service-level health config as JSON, to notice a reload that changed it. */
  signature: string;
}

const silentLog: HealthLog = { info() {}, warn() {}, error() {} };

export class HealthBinding implements HealthConsumer {
  readonly manager: HealthManager;
  /** The tunnel check's pinned flows (null without a probe source). */
  readonly pins: ProbePinTable | null;
  readonly director: Director;
  private readonly log: HealthLog;
  private readonly clock: Clock;
  private readonly defaultPolicy: OnFailurePolicy;
  private readonly bound = new Map<string, BoundService>();
  private readonly listeners: Array<(row: HealthGaugeRow) => void> = [];
  private reconcileTimer: NodeJS.Timeout | undefined;

  /** Throws DirectorError (BAD_ARGUMENT) for a probe source that is not an IPv4 address. */
  constructor(private readonly options: HealthBindingOptions) {
    this.director = options.director;
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? systemClock;
    this.defaultPolicy = options.defaultPolicy ?? 'keep';
    let prober = options.tunnelProber;
    if (options.probeSource !== undefined) {
      const p = parseIpv4(options.probeSource);
      if (p === null || p === 0) throw new DirectorError('BAD_ARGUMENT', `probeSource "${options.probeSource}" is not an IPv4 address; give the /32 routed back to this director`);
      this.pins = new ProbePinTable(p, (id) => this.director.registry.servers[id]);
      this.director.datapath.probePins = this.pins;
      prober ??= new PinnedFlowProber({ probeSource: options.probeSource, pinFlow: (flow, rsId) => this.pinFlow(flow, rsId) });
    } else {
      this.pins = null;
    }
    this.manager = new HealthManager({
      consumer: this,
      clock: this.clock,
      random: options.random,
      tunnelProber: prober,
      checkerFactory: options.checkerFactory,
      feedbackFetcher: options.feedbackFetcher,
      slowStartStepMs: options.slowStartStepMs,
      onEvent: (e) => this.onEvent(e),
    });
  }

  /**
   * Puts a registry service under health checks with its configured servers. A service with
   * no healthCheck (and no per-server healthCheck/feedback) is left alone: its servers stay
   * at their configured weights. Throws HealthError/DirectorError on bad health config.
   */
  bindService(svc: VirtualService, config: HealthServiceConfig, configured: ReadonlyMap<string, number> = new Map()): void {
    if (!hasHealthConfig(config)) return;
    const id = svc.label;
    if (this.bound.has(id)) throw new DirectorError('SERVICE_EXISTS', `service ${id} is already health-checked`);
    const hc = (config.healthCheck ?? {}) as Record<string, unknown>;
    const sorry = hc.sorryServer as { address?: string } | undefined;
    if (sorry?.address !== undefined && svc.servers.some((rs) => !rs.removed && rs.addressText === sorry.address)) {
      throw new DirectorError('BAD_ARGUMENT', `service ${id}: sorryServer ${sorry.address} is also one of its real servers; use another address`);
    }
    const explicit = hc.onFailure as OnFailurePolicy | undefined;
    // healthCheck.onFailure (when not the default keep) wins over expireNodestConn: both name the same policy.
    const policy = explicit !== undefined && explicit !== 'keep' ? explicit : (config.expireNodestConn ?? explicit ?? this.defaultPolicy);
    const b: BoundService = { id, svc, policy, config, servers: new Map(), sorry: undefined, sorryState: undefined, sorryWarned: false, signature: signatureOf(config) };
    this.bound.set(id, b);
    // Taken first: adding the service may already add its sorry server to svc.servers.
    const servers = svc.servers.filter((rs) => !rs.removed);
    try {
      this.manager.addService(id, { vip: svc.vipText, port: svc.port, healthCheck: config.healthCheck });
      for (const rs of servers) this.addServer(b, rs, configured.get(rs.addressText));
    } catch (err) {
      this.unbind(b);
      throw err;
    }
  }

  /** Stops checking a service; its servers go back to their configured weights. */
  unbindService(svc: VirtualService): void {
    const b = this.bound.get(svc.label);
    if (b) this.unbind(b);
  }

  /** Starts the checks (and the reconcile safety net). */
  start(): void {
    this.manager.start();
    const every = this.options.reconcileEveryMs ?? 250;
    if (every > 0 && this.reconcileTimer === undefined) {
      this.reconcileTimer = setInterval(() => this.reconcile(), every);
      this.reconcileTimer.unref();
    }
  }

  /** Stops every check and poller; pins are dropped. */
  stop(): void {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = undefined;
    this.manager.stop();
    this.pins?.clear();
  }

  /**
   * Brings the health checks in line with the registry after control-plane changes: servers
   * added (they start down, as configured), deleted or re-weighted by the operator, services
   * deleted. Call it after every mutating control op; a timer also runs it.
   */
  reconcile(definitions?: readonly HealthServiceDefinition[]): void {
    if (definitions !== undefined) this.bindDefinitions(definitions);
    for (const b of [...this.bound.values()]) {
      if (this.director.registry.services[b.svc.id] !== b.svc) {
        this.unbind(b);
        continue;
      }
      const live = new Set<string>();
      for (const rs of b.svc.servers) {
        if (rs.removed || rs === b.sorry) continue;
        const rsId = rs.addressText;
        live.add(rsId);
        const s = b.servers.get(rsId);
        if (s === undefined || s.rs !== rs) {
          if (s) this.removeServer(b, rsId);
          try {
            this.addServer(b, rs);
          } catch (err) {
            this.log.error({ service: b.id, server: rsId, err: (err as Error).message }, 'cannot health-check the new real server');
          }
        } else if (s.signature !== serverSignatureOf(b.config, rsId)) {
          this.removeServer(b, rsId);
          this.addServer(b, rs, s.configured);
        } else if (s.applied !== undefined && rs.weight !== s.applied) {
          this.operatorWeight(b, s, rsId);
        }
      }
      for (const rsId of [...b.servers.keys()]) if (!live.has(rsId)) this.removeServer(b, rsId);
      // A control-plane reconcile deletes servers it does not know, the sorry server too.
      if (b.sorryState?.active && b.sorry?.removed) {
        b.sorry = undefined;
        this.setSorryServer(b.id, b.sorryState);
      }
    }
  }

  /** Binds services whose definitions carry health config, rebinding those whose health config changed. */
  private bindDefinitions(definitions: readonly HealthServiceDefinition[]): void {
    const registry = this.director.registry;
    for (const def of definitions) {
      let svc: VirtualService;
      try {
        svc = registry.findService(def.protocol, def.vip, def.port);
      } catch {
        continue;
      }
      if (!hasHealthConfig(def)) {
        const old = this.bound.get(svc.label);
        if (old !== undefined) this.unbind(old);
        continue;
      }
      const b = this.bound.get(svc.label);
      if (b !== undefined && b.svc === svc && b.signature === signatureOf(def)) {
        b.config = def; // servers and their overrides are compared one by one below
        continue;
      }
      // A rebind must not take a down server's weight 0 for its configured weight.
      const carried = new Map<string, number>();
      if (b !== undefined) {
        for (const [rsId, s] of b.servers) carried.set(rsId, s.configured);
        this.unbind(b);
      }
      try {
        this.bindService(svc, def, carried);
      } catch (err) {
        this.log.error({ service: svc.label, err: (err as Error).message }, 'cannot health-check the service');
      }
    }
  }

  // ---- HealthConsumer ----

  setServerState(serviceId: string, rsId: string, state: ServerState): void {
    const b = this.bound.get(serviceId);
    const s = b?.servers.get(rsId);
    if (b === undefined || s === undefined) return;
    if (s.applied !== undefined && s.rs.weight !== s.applied) {
      // The operator changed the weight since we last applied one: take it as the new
      // configured weight first (the manager then pushes the state derived from it).
      this.operatorWeight(b, s, rsId);
      return;
    }
    this.apply(b, s, rsId, state);
  }

  private apply(b: BoundService, s: BoundServer, rsId: string, state: ServerState): void {
    const serviceId = b.id;
    const previous = s.state;
    s.state = state;
    s.configured = state.configuredWeight;
    const weight = state.up ? state.weight : 0;
    s.applied = weight;
    if (s.rs.weight !== weight) {
      s.rs.weight = weight;
      b.svc.refresh();
    }
    const failedOut = !state.up && !state.healthy;
    const wasFailedOut = previous !== undefined && !previous.up && !previous.healthy;
    if (previous !== undefined && failedOut && !wasFailedOut) this.applyPolicy(b, s.rs);
    if (previous === undefined || previous.up !== state.up || previous.healthy !== state.healthy) {
      this.log.info({ service: serviceId, server: rsId, up: state.up, healthy: state.healthy, weight, reason: state.reason }, 'real server health');
    }
    this.notify(b, rsId, s);
  }

  setSorryServer(serviceId: string, state: SorryServerState): void {
    const b = this.bound.get(serviceId);
    if (b === undefined) return;
    const registry = this.director.registry;
    b.sorryState = state;
    if (state.active) {
      if (b.sorry !== undefined && !b.sorry.removed) return;
      if (b.svc.port !== 0 && state.port !== b.svc.port && !b.sorryWarned) {
        b.sorryWarned = true;
        this.log.warn({ service: serviceId, sorryPort: state.port }, 'VS/TUN does not rewrite ports: the sorry server gets the service port');
      }
      b.sorry = registry.addRealServer(b.svc, { address: state.address, weight: state.weight });
      this.log.warn({ service: serviceId, sorryServer: state.address }, 'quorum lost: the sorry server takes new connections');
    } else if (b.sorry !== undefined) {
      if (!b.sorry.removed) registry.deleteRealServer(b.svc, b.sorry.addressText);
      b.sorry = undefined;
      this.log.info({ service: serviceId, sorryServer: state.address }, 'quorum regained: the sorry server drains');
    }
  }

  // ---- listings ----

  /** Health of one registry server, or undefined when it is not health-checked. */
  healthOf(rs: RealServer): RealServerHealth | undefined {
    const svc = this.director.registry.services[rs.serviceId];
    const b = svc === undefined ? undefined : this.bound.get(svc.label);
    if (b === undefined) return undefined;
    if (rs === b.sorry) {
      return { state: 'sorry', configuredWeight: rs.weight, effectiveWeight: rs.weight, inService: true, reason: 'sorry server: the service lacks quorum', check: 'none', sinceMs: 0, pendingStreak: 0 };
    }
    const s = b.servers.get(rs.addressText);
    if (s === undefined || s.rs !== rs) return undefined;
    const snap = this.manager.serverSnapshot(b.id, rs.addressText);
    const now = this.clock.now();
    return {
      state: snap?.state ?? 'down',
      configuredWeight: s.configured,
      effectiveWeight: rs.weight,
      inService: s.state?.up ?? false,
      reason: s.state?.reason ?? 'not checked yet',
      check: snap?.kind ?? 'tcp',
      sinceMs: snap ? Math.max(0, Math.round(now - snap.since)) : 0,
      pendingStreak: snap?.pendingStreak ?? 0,
      ...(snap?.lastCheck
        ? { lastCheck: { ok: snap.lastCheck.ok, detail: snap.lastCheck.detail, latencyMs: snap.lastCheck.latencyMs, agoMs: Math.max(0, Math.round(now - snap.lastCheck.at)) } }
        : {}),
      ...(snap?.slowStartUntil !== undefined ? { slowStartRemainingMs: Math.max(0, Math.round(snap.slowStartUntil - now)) } : {}),
      ...(snap?.feedback ? { feedback: { stale: snap.feedback.stale, smoothedScore: snap.feedback.smoothedScore, lastError: snap.feedback.lastError } } : {}),
    };
  }

  /** The manager's full view (the `health` control op). */
  snapshot(): ServiceHealthSnapshot[] {
    return this.manager.snapshot();
  }

  /** Every health-checked server, for a gauge collected on scrape. */
  gaugeRows(): HealthGaugeRow[] {
    const rows: HealthGaugeRow[] = [];
    for (const b of this.bound.values()) for (const [rsId, s] of b.servers) rows.push(this.row(b, rsId, s));
    return rows;
  }

  /** Calls `fn` with every current row, then on every state change and removal (the metrics health gauge). */
  onChange(fn: (row: HealthGaugeRow) => void): void {
    this.listeners.push(fn);
    for (const row of this.gaugeRows()) fn(row); // the states pushed before it listened
  }

  // ---- internals ----

  private addServer(b: BoundService, rs: RealServer, configured?: number): void {
    const rsId = rs.addressText;
    const cfg = b.config.realServers?.find((r) => r.address === rsId);
    const weight = configured ?? cfg?.weight ?? rs.weight;
    const override = cfg?.healthCheck !== undefined || cfg?.feedback !== undefined ? { ...((cfg.healthCheck as object | undefined) ?? {}), ...(cfg.feedback !== undefined ? { feedback: cfg.feedback } : {}) } : undefined;
    const s: BoundServer = { rs, configured: weight, applied: undefined, state: undefined, signature: serverSignatureOf(b.config, rsId) };
    b.servers.set(rsId, s);
    try {
      this.manager.addServer(b.id, rsId, { address: rsId, weight, healthCheck: override });
    } catch (err) {
      b.servers.delete(rsId);
      throw err;
    }
  }

  private removeServer(b: BoundService, rsId: string): void {
    const s = b.servers.get(rsId);
    b.servers.delete(rsId);
    this.manager.removeServer(b.id, rsId);
    if (s) this.notify(b, rsId, s, true);
  }

  private operatorWeight(b: BoundService, s: BoundServer, rsId: string): void {
    const weight = s.rs.weight;
    s.applied = undefined;
    this.log.info({ service: b.id, server: rsId, weight }, 'configured weight changed by the operator');
    this.manager.setConfiguredWeight(b.id, rsId, weight);
    // No push means the derived state did not change: restore its weight over the edit.
    if (s.applied === undefined && s.state !== undefined) this.apply(b, s, rsId, s.state);
  }

  /** Forgets a service: its servers go back to their configured weights, its sorry server drains. */
  private unbind(b: BoundService): void {
    this.bound.delete(b.id);
    try {
      this.manager.removeService(b.id);
    } catch {
      /* never added */
    }
    for (const [rsId, s] of b.servers) {
      if (!s.rs.removed) s.rs.weight = s.configured;
      this.notify(b, rsId, s, true);
    }
    if (b.sorry !== undefined && !b.sorry.removed && this.director.registry.services[b.svc.id] === b.svc) this.director.registry.deleteRealServer(b.svc, b.sorry.addressText);
    b.svc.refresh();
  }

  /** Applies the service's policy (IPVS expire_nodest_conn) to the connections of a server that just failed. */
  private applyPolicy(b: BoundService, rs: RealServer): void {
    if (b.policy === 'keep') return;
    const { expired, rescheduled } = this.director.applyNodestPolicy(rs, b.policy);
    this.log.info({ service: b.id, server: rs.addressText, policy: b.policy, expired, rescheduled }, 'connections of a failed real server');
  }

  /** The PinFlowHook of the tunnel prober (see checkers/tunnel.ts); throws DirectorError. */
  pinFlow(flow: ProbeFlow, rsId: string): Unpin {
    const pins = this.pins;
    if (pins === null) throw new DirectorError('BAD_ARGUMENT', 'no probe source is configured');
    const src = parseIpv4(flow.src);
    const vip = parseIpv4(flow.vip);
    if (src !== pins.source) throw new DirectorError('BAD_ARGUMENT', `${flow.src} is not the configured probe source`);
    if (vip === null) throw new DirectorError('BAD_ARGUMENT', `tunnel probe VIP ${flow.vip} is not an IPv4 address`);
    const rs = this.serverFor(rsId, vip);
    if (rs === undefined) throw new DirectorError('REAL_SERVER_NOT_FOUND', `no real server ${rsId} behind ${flow.vip} to pin the probe to`);
    return pins.pin({ protocol: flow.proto === 'tcp' ? 6 : 17, srcPort: flow.srcPort, vip, vipPort: flow.vipPort }, rs);
  }

  /** A bound server with this address on this VIP (any service: the tunnel is the same). */
  private serverFor(rsId: string, vip: number): RealServer | undefined {
    for (const b of this.bound.values()) {
      if (b.svc.vip !== vip) continue;
      const s = b.servers.get(rsId);
      if (s !== undefined && !s.rs.removed) return s.rs;
    }
    return undefined;
  }

  private row(b: BoundService, rsId: string, s: BoundServer, removed = false): HealthGaugeRow {
    return { service: b.id, server: rsId, up: s.state?.healthy === true, configuredWeight: s.configured, effectiveWeight: s.rs.weight, removed };
  }

  private notify(b: BoundService, rsId: string, s: BoundServer, removed = false): void {
    if (this.listeners.length === 0) return;
    const row = this.row(b, rsId, s, removed);
    for (const fn of this.listeners) {
      try {
        fn(row);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'health listener failed');
      }
    }
  }

  private onEvent(e: HealthEvent): void {
    if (e.type === 'transition') this.log.info({ service: e.serviceId, server: e.transition.rs, from: e.transition.from, to: e.transition.to, reason: e.transition.reason }, 'health transition');
    else if (e.type === 'quorum') this.log.warn({ service: e.serviceId, quorum: e.up, upWeight: e.upWeight, sorryActive: e.sorryActive }, 'service quorum changed');
    else if (e.type === 'script') this.log[e.outcome.result === 'exit' && e.outcome.code === 0 ? 'info' : 'warn']({ service: e.serviceId, script: e.outcome.line, ran: e.outcome.label, result: e.outcome.result, code: e.outcome.code, detail: e.outcome.detail }, 'health script finished');
    else if (e.type === 'consumer-error') this.log.error({ service: e.serviceId, server: e.rsId, err: e.error instanceof Error ? e.error.message : String(e.error) }, 'applying a health state failed');
  }
}

function hasHealthConfig(c: HealthServiceConfig): boolean {
  return c.healthCheck !== undefined || (c.realServers ?? []).some((r) => r.healthCheck !== undefined || r.feedback !== undefined);
}

/** Service-level health config only: adding or removing a plain server must not restart every check. */
function signatureOf(c: HealthServiceConfig): string {
  return JSON.stringify([c.healthCheck ?? null, c.expireNodestConn ?? null]);
}

function serverSignatureOf(c: HealthServiceConfig, rsId: string): string {
  const r = c.realServers?.find((x) => x.address === rsId);
  return JSON.stringify([r?.healthCheck ?? null, r?.feedback ?? null]);
}

/**
 * Director startup: binds every configured service that has health config, follows later
 * control-plane changes (`onServicesChanged`, with the definitions `definitions` returns:
 * the control plane keeps them) and starts the checks. The caller stops it on exit.
 */
export function startDirectorHealth(
  director: Director,
  services: readonly HealthServiceDefinition[],
  options: Omit<HealthBindingOptions, 'director'>,
  definitions?: () => readonly HealthServiceDefinition[],
): HealthBinding {
  const binding = new HealthBinding({ director, ...options });
  // At startup a bad health config stops the director (later reloads only log it).
  for (const def of services) binding.bindService(director.registry.findService(def.protocol, def.vip, def.port), def);
  const withEvents = director as Director & { onServicesChanged?: (fn: () => void) => void };
  withEvents.onServicesChanged?.(() => binding.reconcile(definitions?.()));
  binding.start();
  return binding;
}

/** The `health` control op: every health-checked service with its servers' dampened state and weights. */
export function registerHealthOp(server: { register(op: string, handler: () => Record<string, unknown>): unknown }, binding: HealthBinding): void {
  server.register('health', () => {
    // The registry's services by label and their live servers by address, once per request (not a search per server).
    const byLabel = new Map(binding.director.registry.list().map((v) => [v.label, v]));
    return {
      services: binding.snapshot().map((svc) => {
        const live = new Map((byLabel.get(svc.serviceId)?.servers ?? []).filter((r) => !r.removed).map((r) => [r.addressText, r]));
        return { ...svc, servers: svc.servers.map((s) => ({ ...s, effectiveWeight: live.get(s.rsId)?.weight ?? 0 })) };
      }),
      probePins: binding.pins?.size ?? 0,
      probePacketsForwarded: binding.pins?.forwarded ?? 0,
    };
  });
}
