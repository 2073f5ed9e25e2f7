// Runs the health checks of every real server and tells the director what to do with each:
// schedule it (and at what weight), quiesce it, or take it out, and when to switch a
// service to its sorry server. The director implements HealthConsumer; everything here is
// driven by an injected Clock so it can be tested without waiting.
//
// Per server: a check every interval (first one at a random point within the first
// interval, so a restart does not fire every check at once), each bounded by its timeout,
// fed through a rise/fall Dampener. Per service: a QuorumGate over the configured weights of
// healthy servers. The weight given to a healthy server is its configured weight, adjusted
// by agent feedback (when on), then by the slow-start ramp (after a recovery).
import type { Checker, CheckResult } from './check-result.js';
import { makeCheckerFactory, makeServerChecker, type CheckerFactory } from './checker-factory.js';
import type { TunnelProber } from './checkers/tunnel.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Dampener, type HealthState, type HealthTransition } from './dampener.js';
import type { AgentFeedback } from './feedback.js';
import { FeedbackPoller, type FeedbackFetcher } from './feedback-poller.js';
import { HEALTH_DEFAULTS, serverHealthCheckSchema, serviceHealthCheckSchema, type OnFailurePolicy, type ServiceHealthCheckConfig } from './health-config.js';
import { HealthError } from './health-error.js';
import { QuorumGate } from './quorum.js';
import { resolveChecks, resolveFeedback, type ResolvedCheck, type ResolvedFeedback } from './resolved-check.js';
import { ProcessScriptRunner, type ScriptOutcome, type ScriptRunner } from './script-runner.js';
import { isRamping, slowStartWeight } from './slow-start.js';
import { z } from 'zod';

/** What the director should do with one real server. */
export interface ServerState {
  /**
   * True: keep the server in the service's scheduling set, with `weight` (0 = quiesced: no
   * new connections, existing ones continue — inhibit_on_failure). False: take it out of
   * scheduling and apply `onFailure` to its existing connections.
   */
  up: boolean;
  /** Weight for new connections, 0..65535 (after feedback and slow start). */
  weight: number;
  /** The dampened check verdict (for listings; `up`/`weight` are what to act on). */
  healthy: boolean;
  /** The operator's weight, for "configured vs effective" listings. */
  configuredWeight: number;
  /** keep | expire | reschedule, as IPVS expire_nodest_conn; the director enforces it. */
  onFailure: OnFailurePolicy;
  /** Human-readable cause, for logs. */
  reason: string;
}

export interface SorryServerState {
  /** True while the service has lost quorum and the sorry server should take new connections. */
  active: boolean;
  address: string;
  port: number;
  weight: number;
}

/** Implemented by the director. Calls come only on change (and once initially per server). */
export interface HealthConsumer {
  setServerState(serviceId: string, rsId: string, state: ServerState): void;
  /** Called for services with a sorry server: initially and on every switch. */
  setSorryServer(serviceId: string, state: SorryServerState): void;
}

export type HealthEvent =
  | { type: 'check'; serviceId: string; rsId: string; result: CheckResult }
  | { type: 'transition'; serviceId: string; transition: HealthTransition }
  | { type: 'quorum'; serviceId: string; up: boolean; upWeight: number; sorryActive: boolean }
  | { type: 'consumer-error'; serviceId: string; rsId?: string; error: unknown }
  | { type: 'script'; serviceId: string; outcome: ScriptOutcome };

export interface HealthManagerOptions {
  consumer: HealthConsumer;
  clock?: Clock;
  /** 0 <= random() < 1, for start jitter (default Math.random). */
  random?: () => number;
  /** The director's tunnel prober (needed for `tunnel` checks). */
  tunnelProber?: TunnelProber;
  /** Overrides checker construction (tests). */
  checkerFactory?: CheckerFactory;
  /** Overrides the /feedback HTTP fetch (tests). */
  feedbackFetcher?: FeedbackFetcher;
  onEvent?: (event: HealthEvent) => void;
  /** Slow-start re-evaluation period, ms (default 1000). */
  slowStartStepMs?: number;
  /** Runs notify/quorum scripts (default: a ProcessScriptRunner reporting through onEvent). */
  scriptRunner?: ScriptRunner;
}

export interface ServiceDefinition {
  vip: string;
  port: number;
  /** The service's `healthCheck` section, raw or already parsed by the director's schema. */
  healthCheck?: unknown;
}

export interface ServerDefinition {
  address: string;
  /** Defaults to the service port (VS/TUN does not rewrite ports). */
  port?: number;
  weight: number;
  /** The server's `healthCheck` overrides, raw or parsed. */
  healthCheck?: unknown;
}

export interface ServerHealthSnapshot {
  rsId: string;
  address: string;
  kind: ResolvedCheck['kind'];
  /** Every check's kind when the server has several (all must pass). */
  kinds: ResolvedCheck['kind'][];
  state: HealthState;
  /** Clock ms of the last transition. */
  since: number;
  /** Results in a row against the current state. */
  pendingStreak: number;
  configuredWeight: number;
  effective: ServerState | undefined;
  lastCheck?: CheckResult & { at: number };
  slowStartUntil?: number;
  feedback?: { url: string; stale: boolean; smoothedScore?: number; lastSample?: AgentFeedback; lastError?: string };
}

export interface ServiceHealthSnapshot {
  serviceId: string;
  quorumUp: boolean;
  upWeight: number;
  sorryActive: boolean;
  servers: ServerHealthSnapshot[];
}

interface ServerEntry {
  id: string;
  address: string;
  port: number;
  weight: number;
  spec: ResolvedCheck;
  kinds: ResolvedCheck['kind'][];
  checker: Checker;
  /** This server's inhibitOnFailure, when it overrides the service's. */
  inhibit: boolean | undefined;
  notifyUp: string | undefined;
  notifyDown: string | undefined;
  dampener: Dampener;
  feedback: { spec: ResolvedFeedback; poller: FeedbackPoller } | undefined;
  timer?: TimerHandle;
  rampTimer?: TimerHandle;
  inFlight?: AbortController;
  recoveredAt?: number;
  lastCheck?: CheckResult & { at: number };
  pushed?: ServerState;
  removed: boolean;
  /** Bumped by every stop, so a check still in flight from before cannot start a second loop. */
  generation: number;
}

interface ServiceEntry {
  id: string;
  vip: string;
  port: number;
  config: ServiceHealthCheckConfig;
  quorum: QuorumGate;
  sorryActive: boolean | undefined;
  servers: Map<string, ServerEntry>;
}

export class HealthManager {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly makeChecker: CheckerFactory;
  private readonly services = new Map<string, ServiceEntry>();
  private readonly scripts: ScriptRunner;
  private running = false;

  constructor(private readonly options: HealthManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.makeChecker = options.checkerFactory ?? makeCheckerFactory(options.tunnelProber);
    this.scripts = options.scriptRunner ?? new ProcessScriptRunner({ timeoutMs: HEALTH_DEFAULTS.scriptTimeoutMs });
  }

  /** Adds a service; its servers are added with addServer. Throws HealthError on bad config. */
  addService(serviceId: string, def: ServiceDefinition): void {
    if (this.services.has(serviceId)) throw new HealthError('HEALTH_DUPLICATE', `service ${serviceId} is already health-checked`);
    const config = parseSection(serviceHealthCheckSchema, def.healthCheck ?? {}, `service ${serviceId}`);
    const svc: ServiceEntry = {
      id: serviceId,
      vip: def.vip,
      port: def.port,
      config,
      quorum: new QuorumGate({ quorum: config.quorum, hysteresis: config.hysteresis }),
      sorryActive: undefined,
      servers: new Map(),
    };
    this.services.set(serviceId, svc);
    this.evaluate(svc);
  }

  /** Stops checking a service's servers and forgets it. */
  removeService(serviceId: string): void {
    const svc = this.service(serviceId);
    for (const s of svc.servers.values()) this.stopServer(s);
    this.services.delete(serviceId);
  }

  /**
   * Adds a real server; the consumer immediately gets its initial state (DOWN unless
   * startUp). Throws HealthError on bad config or a duplicate id.
   */
  addServer(serviceId: string, rsId: string, def: ServerDefinition): void {
    const svc = this.service(serviceId);
    if (svc.servers.has(rsId)) throw new HealthError('HEALTH_DUPLICATE', `server ${rsId} is already in service ${serviceId}`);
    const label = `service ${serviceId}, server ${rsId}`;
    const override = def.healthCheck === undefined ? undefined : parseSection(serverHealthCheckSchema, def.healthCheck, label);
    const port = def.port || svc.port;
    const ctx = { label, rsAddress: def.address, servicePort: port };
    const specs = resolveChecks(svc.config, override, ctx);
    // Several checks run as one round: the first one's interval, rise and fall, the longest timeout.
    const spec = { ...specs[0], timeoutMs: Math.max(...specs.map((x) => x.timeoutMs)) };
    const feedbackSpec = resolveFeedback(svc.config, override, ctx);
    const checker = makeServerChecker(this.makeChecker, specs, { serviceId, rsId, rsAddress: def.address, vip: svc.vip, vipPort: svc.port });
    const entry: ServerEntry = {
      id: rsId,
      address: def.address,
      port,
      weight: def.weight,
      spec,
      kinds: specs.map((x) => x.kind),
      checker,
      inhibit: override?.inhibitOnFailure,
      notifyUp: override?.notifyUp ?? svc.config.notifyUp,
      notifyDown: override?.notifyDown ?? svc.config.notifyDown,
      dampener: new Dampener(rsId, { rise: spec.rise, fall: spec.fall, startUp: spec.startUp }, () => this.clock.now()),
      feedback: undefined,
      removed: false,
      generation: 0,
    };
    if (feedbackSpec) {
      const poller = new FeedbackPoller(
        { ...feedbackSpec, initialDelayMs: Math.floor(this.random() * feedbackSpec.intervalMs) },
        this.clock,
        this.options.feedbackFetcher,
        () => this.evaluate(svc),
      );
      entry.feedback = { spec: feedbackSpec, poller };
    }
    svc.servers.set(rsId, entry);
    if (this.running) this.startServer(entry, svc);
    this.evaluate(svc);
  }

  removeServer(serviceId: string, rsId: string): void {
    const svc = this.service(serviceId);
    const s = this.server(svc, rsId);
    this.stopServer(s);
    svc.servers.delete(rsId);
    this.evaluate(svc);
  }

  /** The operator changed a server's weight (vstunadm -e); effective weights follow. */
  setConfiguredWeight(serviceId: string, rsId: string, weight: number): void {
    const svc = this.service(serviceId);
    this.server(svc, rsId).weight = weight;
    this.evaluate(svc);
  }

  /** Starts every check loop and feedback poller. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const svc of this.services.values()) for (const s of svc.servers.values()) this.startServer(s, svc);
  }

  /** Stops all timers and aborts checks in flight; state is kept for a later start(). */
  stop(): void {
    this.running = false;
    for (const svc of this.services.values()) for (const s of svc.servers.values()) this.stopServer(s, false);
  }

  snapshot(): ServiceHealthSnapshot[] {
    const now = this.clock.now();
    return [...this.services.values()].map((svc) => ({
      serviceId: svc.id,
      quorumUp: svc.quorum.up,
      upWeight: upWeightOf(svc),
      sorryActive: svc.sorryActive === true,
      servers: [...svc.servers.values()].map((s) => this.serverSnapshotOf(svc, s, now)),
    }));
  }

  /** One server's part of snapshot(), without building the others' (thousands of services: per-server callers stay linear). */
  serverSnapshot(serviceId: string, rsId: string): ServerHealthSnapshot | undefined {
    const svc = this.services.get(serviceId);
    const s = svc?.servers.get(rsId);
    return svc && s ? this.serverSnapshotOf(svc, s, this.clock.now()) : undefined;
  }

  private serverSnapshotOf(svc: ServiceEntry, s: ServerEntry, now: number): ServerHealthSnapshot {
    return {
      rsId: s.id,
      address: s.address,
      kind: s.spec.kind,
      kinds: s.kinds,
      state: s.dampener.state,
      since: s.dampener.since,
      pendingStreak: s.dampener.pendingStreak,
      configuredWeight: s.weight,
      effective: s.pushed,
      ...(s.lastCheck ? { lastCheck: s.lastCheck } : {}),
      ...(s.recoveredAt !== undefined && this.rampingAt(svc, s, now) ? { slowStartUntil: s.recoveredAt + svc.config.slowStart * 1000 } : {}),
      ...(s.feedback
        ? {
            feedback: {
              url: s.feedback.spec.url,
              stale: s.feedback.poller.tracker.isStale(now),
              smoothedScore: s.feedback.poller.tracker.smoothedScore,
              lastSample: s.feedback.poller.tracker.lastSample,
              lastError: s.feedback.poller.lastError,
            },
          }
        : {}),
    };
  }

  private service(serviceId: string): ServiceEntry {
    const svc = this.services.get(serviceId);
    if (!svc) throw new HealthError('HEALTH_UNKNOWN_SERVICE', `service ${serviceId} is not health-checked; add it first`);
    return svc;
  }

  private server(svc: ServiceEntry, rsId: string): ServerEntry {
    const s = svc.servers.get(rsId);
    if (!s) throw new HealthError('HEALTH_UNKNOWN_SERVER', `server ${rsId} is not in service ${svc.id}`);
    return s;
  }

  private startServer(s: ServerEntry, svc: ServiceEntry): void {
    s.removed = false;
    this.scheduleCheck(s, svc, Math.floor(this.random() * s.spec.intervalMs));
    s.feedback?.poller.start();
    if (s.recoveredAt !== undefined) this.scheduleRamp(s, svc);
  }

  private stopServer(s: ServerEntry, forever = true): void {
    if (forever) s.removed = true;
    s.generation++;
    if (s.timer) this.clock.clearTimeout(s.timer);
    if (s.rampTimer) this.clock.clearTimeout(s.rampTimer);
    s.timer = s.rampTimer = undefined;
    s.inFlight?.abort('stopped');
    s.feedback?.poller.stop();
  }

  private scheduleCheck(s: ServerEntry, svc: ServiceEntry, delayMs: number): void {
    s.timer = this.clock.setTimeout(() => void this.runCheck(s, svc), delayMs);
  }

  private async runCheck(s: ServerEntry, svc: ServiceEntry): Promise<void> {
    s.timer = undefined;
    const generation = s.generation;
    const controller = new AbortController();
    s.inFlight = controller;
    const timeout = this.clock.setTimeout(() => controller.abort('timeout'), s.spec.timeoutMs);
    let result: CheckResult;
    try {
      result = await s.checker.check(controller.signal);
    } catch (err) {
      // Checkers must not throw; a custom one that does counts as a failed check.
      result = { ok: false, detail: `checker threw: ${err instanceof Error ? err.message : String(err)}`, latencyMs: 0 };
    } finally {
      this.clock.clearTimeout(timeout);
      if (s.inFlight === controller) s.inFlight = undefined;
    }
    if (s.removed || !this.running || generation !== s.generation) return;
    if (controller.signal.aborted && result.ok) result = { ...result, ok: false, detail: `timeout after ${s.spec.timeoutMs} ms` };
    s.lastCheck = { ...result, at: this.clock.now() };
    this.emit({ type: 'check', serviceId: svc.id, rsId: s.id, result });
    const transition = s.dampener.record(result.ok, result.detail);
    if (transition) this.onTransition(s, svc, transition);
    this.evaluate(svc);
    // After a failure while still up, look again sooner (keepalived delay_before_retry).
    const retrying = !result.ok && s.dampener.up;
    this.scheduleCheck(s, svc, retrying ? s.spec.retryIntervalMs : s.spec.intervalMs);
  }

  private onTransition(s: ServerEntry, svc: ServiceEntry, t: HealthTransition): void {
    this.emit({ type: 'transition', serviceId: svc.id, transition: t });
    const script = t.to === 'up' ? s.notifyUp : s.notifyDown;
    if (script !== undefined) {
      const env = { ...this.scriptEnv(svc), VSTUN_RS_ADDRESS: s.address, VSTUN_RS_PORT: String(s.port), VSTUN_STATE: t.to === 'up' ? 'UP' : 'DOWN' };
      this.scripts.run(script, env, `${t.to === 'up' ? 'notifyUp' : 'notifyDown'} of ${s.id}`, (outcome) => this.emit({ type: 'script', serviceId: svc.id, outcome }));
    }
    if (s.rampTimer) this.clock.clearTimeout(s.rampTimer);
    s.rampTimer = undefined;
    s.recoveredAt = undefined;
    if (t.to === 'up' && svc.config.slowStart > 0) {
      s.recoveredAt = t.at;
      this.scheduleRamp(s, svc);
    }
  }

  private scheduleRamp(s: ServerEntry, svc: ServiceEntry): void {
    const step = Math.min(this.options.slowStartStepMs ?? 1000, svc.config.slowStart * 1000);
    s.rampTimer = this.clock.setTimeout(() => {
      s.rampTimer = undefined;
      if (s.removed || s.recoveredAt === undefined) return;
      if (!this.rampingAt(svc, s, this.clock.now())) s.recoveredAt = undefined;
      else this.scheduleRamp(s, svc);
      this.evaluate(svc);
    }, step);
  }

  private rampingAt(svc: ServiceEntry, s: ServerEntry, now: number): boolean {
    return s.recoveredAt !== undefined && isRamping(now, s.recoveredAt, { durationMs: svc.config.slowStart * 1000 });
  }

  /** Re-derives quorum, the sorry server and every server's state; pushes what changed. */
  private evaluate(svc: ServiceEntry): void {
    const upWeight = upWeightOf(svc);
    const quorumChanged = svc.quorum.update(upWeight);
    const sorry = svc.config.sorryServer;
    const sorryActive = sorry !== undefined && !svc.quorum.up;
    if (quorumChanged) {
      this.emit({ type: 'quorum', serviceId: svc.id, up: svc.quorum.up, upWeight, sorryActive });
      const script = svc.quorum.up ? svc.config.quorumUp : svc.config.quorumDown;
      if (script !== undefined) this.scripts.run(script, { ...this.scriptEnv(svc), VSTUN_STATE: svc.quorum.up ? 'QUORUM_UP' : 'QUORUM_DOWN', VSTUN_UP_WEIGHT: String(upWeight) }, `${svc.quorum.up ? 'quorumUp' : 'quorumDown'}`, (outcome) =>
        this.emit({ type: 'script', serviceId: svc.id, outcome }),
      );
    }
    if (sorry && sorryActive !== svc.sorryActive) {
      svc.sorryActive = sorryActive;
      this.call(svc.id, undefined, () =>
        this.options.consumer.setSorryServer(svc.id, { active: sorryActive, address: sorry.address, port: sorry.port ?? svc.port, weight: sorry.weight }),
      );
    }
    const now = this.clock.now();
    for (const s of svc.servers.values()) {
      const state = this.stateOf(svc, s, sorryActive, now);
      if (s.pushed && sameState(s.pushed, state)) continue;
      s.pushed = state;
      this.call(svc.id, s.id, () => this.options.consumer.setServerState(svc.id, s.id, state));
    }
  }

  /** What every script gets in its environment about the service. */
  private scriptEnv(svc: ServiceEntry): Record<string, string> {
    return { VSTUN_SERVICE: svc.id, VSTUN_VIP: svc.vip, VSTUN_VIP_PORT: String(svc.port) };
  }

  private stateOf(svc: ServiceEntry, s: ServerEntry, sorryActive: boolean, now: number): ServerState {
    const base = { configuredWeight: s.weight, onFailure: svc.config.onFailure };
    if (!s.dampener.up) {
      return (s.inhibit ?? svc.config.inhibitOnFailure)
        ? { ...base, up: true, weight: 0, healthy: false, reason: 'failed: inhibited (weight 0, connections kept)' }
        : { ...base, up: false, weight: 0, healthy: false, reason: 'failed: out of scheduling' };
    }
    if (sorryActive) return { ...base, up: false, weight: 0, healthy: true, reason: 'quorum lost: the sorry server takes new connections' };
    let weight = s.weight;
    let reason = 'healthy';
    if (s.feedback && !s.feedback.poller.tracker.isStale(now)) {
      weight = s.feedback.poller.tracker.effectiveWeight(s.weight, now);
      reason += ', weight from agent feedback';
    }
    if (s.recoveredAt !== undefined && this.rampingAt(svc, s, now)) {
      weight = slowStartWeight(now - s.recoveredAt, weight, { durationMs: svc.config.slowStart * 1000 });
      reason += ', slow start';
    }
    return { ...base, up: true, weight, healthy: true, reason };
  }

  private call(serviceId: string, rsId: string | undefined, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.emit({ type: 'consumer-error', serviceId, ...(rsId === undefined ? {} : { rsId }), error });
    }
  }

  private emit(event: HealthEvent): void {
    this.options.onEvent?.(event);
  }
}

/** Summed configured weight of healthy servers: what quorum is measured in. */
function upWeightOf(svc: ServiceEntry): number {
  let sum = 0;
  for (const s of svc.servers.values()) if (s.dampener.up) sum += s.weight;
  return sum;
}

function sameState(a: ServerState, b: ServerState): boolean {
  return a.up === b.up && a.weight === b.weight && a.healthy === b.healthy && a.configuredWeight === b.configuredWeight && a.onFailure === b.onFailure && a.reason === b.reason;
}

function parseSection<T extends z.ZodType>(schema: T, raw: unknown, label: string): z.infer<T> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new HealthError('HEALTH_BAD_CONFIG', `${label}: healthCheck: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`);
  return r.data;
}
