// Turns the service's and the server's healthCheck sections into one resolved check spec:
// server fields override service fields, defaults fill the rest, seconds become ms, regexes
// are compiled. Kind-specific requirements are checked here, with messages naming the RS.
import { decodePayload } from './checkers/payload.js';
import { parseStatusSpec, type StatusRange } from './checkers/status-ranges.js';
import { HEALTH_DEFAULTS, type CHECK_KINDS, type CheckEntryConfig, type DNS_QUERY_TYPES, type ServerHealthCheckConfig, type ServiceHealthCheckConfig } from './health-config.js';
import { HealthError } from './health-error.js';

export interface ResolvedCheck {
  kind: (typeof CHECK_KINDS)[number];
  intervalMs: number;
  timeoutMs: number;
  retryIntervalMs: number;
  rise: number;
  fall: number;
  startUp: boolean;
  port: number;
  bindAddress?: string;
  path: string;
  virtualHost?: string;
  expectStatus: StatusRange[];
  bodyPattern?: RegExp;
  verifyTls: boolean;
  payload: Uint8Array;
  expectPattern?: RegExp;
  script?: string;
  args: string[];
  shell: boolean;
  env: Record<string, string>;
  proto: 'tcp' | 'udp';
  /** Address checked instead of the real server's (keepalived connect_ip). */
  host?: string;
  dnsName: string;
  dnsType: (typeof DNS_QUERY_TYPES)[number];
  heloName?: string;
}

export interface ResolvedFeedback {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  minWeight: number;
  maxWeight?: number;
  alpha: number;
  staleAfterIntervals: number;
}

export interface CheckContext {
  /** For messages, e.g. "tcp 10.0.0.1:80 / 10.1.0.2". */
  label: string;
  rsAddress: string;
  servicePort: number;
}

/** Merges and resolves; throws HealthError (HEALTH_MISSING_FIELD) for an incomplete spec. */
export function resolveCheck(service: ServiceHealthCheckConfig, server: ServerHealthCheckConfig | undefined, ctx: CheckContext, entry?: CheckEntryConfig): ResolvedCheck {
  const m = { ...stripUndefined(service), ...stripUndefined(server ?? {}), ...stripUndefined(entry ?? {}) } as ServiceHealthCheckConfig;
  const kind = m.kind ?? HEALTH_DEFAULTS.kind;
  if (kind === 'exec' && m.script === undefined) {
    throw new HealthError('HEALTH_MISSING_FIELD', `${ctx.label}: an exec health check needs "script" (the program to run)`);
  }
  const port = m.port ?? ctx.servicePort;
  if (port === 0 && kind !== 'exec') {
    throw new HealthError('HEALTH_MISSING_FIELD', `${ctx.label}: the service has port 0, so the ${kind} health check needs an explicit "port"`);
  }
  const intervalMs = (m.interval ?? HEALTH_DEFAULTS.intervalMs / 1000) * 1000;
  const timeoutMs = (m.timeout ?? HEALTH_DEFAULTS.timeoutMs / 1000) * 1000;
  const payload = decodePayload(m.payload ?? '');
  return {
    kind,
    intervalMs,
    timeoutMs,
    retryIntervalMs: m.retryInterval === undefined ? intervalMs : m.retryInterval * 1000,
    rise: m.rise ?? HEALTH_DEFAULTS.rise,
    fall: m.fall ?? HEALTH_DEFAULTS.fall,
    startUp: m.startUp ?? HEALTH_DEFAULTS.startUp,
    port,
    bindAddress: m.bindAddress,
    path: m.path ?? HEALTH_DEFAULTS.path,
    virtualHost: m.virtualHost,
    expectStatus: (m.expectStatus ?? HEALTH_DEFAULTS.expectStatus).map((s) => parseStatusSpec(s) as StatusRange),
    bodyPattern: m.bodyRegex === undefined ? undefined : new RegExp(m.bodyRegex),
    verifyTls: m.verifyTls ?? false,
    payload: payload ?? new Uint8Array(0),
    expectPattern: m.expectRegex === undefined ? undefined : new RegExp(m.expectRegex),
    script: m.script,
    args: m.args ?? [],
    shell: m.shell ?? false,
    env: m.env ?? {},
    proto: m.proto ?? 'tcp',
    host: m.host,
    dnsName: m.dnsName ?? HEALTH_DEFAULTS.dnsName,
    dnsType: m.dnsType ?? HEALTH_DEFAULTS.dnsType,
    heloName: m.heloName,
  };
}

/**
 * Every check of one server: one per `checks` entry (the server's list replaces the
 * service's; each entry's fields override the section around it), else the single check.
 * Throws HealthError like resolveCheck.
 */
export function resolveChecks(service: ServiceHealthCheckConfig, server: ServerHealthCheckConfig | undefined, ctx: CheckContext): ResolvedCheck[] {
  const entries = server?.checks ?? service.checks;
  if (entries === undefined) return [resolveCheck(service, server, ctx)];
  return entries.map((e, i) => resolveCheck(service, server, { ...ctx, label: `${ctx.label}, check ${i + 1}` }, e));
}

/** Feedback settings for one server, or null when feedback is off for it. */
export function resolveFeedback(service: ServiceHealthCheckConfig, server: ServerHealthCheckConfig | undefined, ctx: CheckContext): ResolvedFeedback | null {
  const f = { ...stripUndefined(service.feedback ?? {}), ...stripUndefined(server?.feedback ?? {}) };
  const configured = service.feedback !== undefined || server?.feedback !== undefined;
  if (!configured || f.enabled === false) return null;
  const host = ctx.rsAddress.includes(':') ? `[${ctx.rsAddress}]` : ctx.rsAddress;
  return {
    url: f.url ?? `http://${host}:${f.port ?? HEALTH_DEFAULTS.feedbackPort}${f.path ?? HEALTH_DEFAULTS.feedbackPath}`,
    intervalMs: (f.interval ?? HEALTH_DEFAULTS.feedbackIntervalMs / 1000) * 1000,
    timeoutMs: (f.timeout ?? HEALTH_DEFAULTS.feedbackTimeoutMs / 1000) * 1000,
    minWeight: f.minWeight ?? HEALTH_DEFAULTS.feedbackMinWeight,
    maxWeight: f.maxWeight,
    alpha: f.alpha ?? HEALTH_DEFAULTS.feedbackAlpha,
    staleAfterIntervals: f.staleAfter ?? HEALTH_DEFAULTS.feedbackStaleAfter,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
