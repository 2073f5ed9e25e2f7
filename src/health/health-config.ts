// The `healthCheck` section of the director config, per virtual service and per real server.
// The director's config schema imports these schemas; everything here is in the units
// people write (seconds, weights) and is converted to ms by resolveHealthCheck().
//
// Defaults (stated once, here): kind tcp, interval 5 s, timeout 3 s, rise 2, fall 3, start
// DOWN (alpha), inhibitOnFailure false, onFailure keep, slowStart 0 s (off), quorum 1,
// hysteresis 0, expectStatus [200], feedback off (when on: port 9470, path /feedback,
// interval 5 s, timeout 2 s, minWeight 1, maxWeight = the RS's weight, alpha 0.3, stale
// after 3 intervals).
import { z } from 'zod';
import { decodePayload } from './checkers/payload.js';
import { splitCommandLine } from './command-line.js';
import { parseStatusSpec } from './checkers/status-ranges.js';

export const CHECK_KINDS = ['tcp', 'http', 'https', 'udp', 'exec', 'tunnel', 'dns', 'ping', 'smtp'] as const;
/** DNS query types a dns check may ask (keepalived DNS_CHECK's list). */
export const DNS_QUERY_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'] as const;
export const ON_FAILURE_POLICIES = ['keep', 'expire', 'reschedule'] as const;
/** What the director does to existing connections of a server taken out of scheduling. */
export type OnFailurePolicy = (typeof ON_FAILURE_POLICIES)[number];

const seconds = (what: string) => z.number({ error: `${what} must be a number of seconds` }).positive(`${what} must be > 0 seconds`).max(86400);
const count = (what: string) => z.number().int(`${what} must be an integer`).min(1, `${what} must be >= 1`).max(100);
const weight = z.number().int('weights are integers').min(0).max(65535);
const port = z.number().int().min(1, 'ports are 1..65535').max(65535, 'ports are 1..65535');

const regexText = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'not a valid JavaScript regular expression' },
);
const statusSpec = z.union([z.number(), z.string()]).refine((s) => parseStatusSpec(s) !== null, {
  error: 'expected a status code (200), a range ("200-299") or a class ("2xx")',
});
const payloadText = z.string().refine((s) => decodePayload(s) !== null, {
  error: 'payload: text, or "hex:" followed by an even number of hex digits',
});

/** The checker fields; every one optional so a real server can override a few. */
const checkFields = {
  kind: z.enum(CHECK_KINDS),
  /** Seconds between checks. */
  interval: seconds('interval'),
  /** Seconds a single check may take before it counts as failed. */
  timeout: seconds('timeout'),
  /** Seconds to the next check after a failure while up (keepalived delay_before_retry); default interval. */
  retryInterval: seconds('retryInterval'),
  rise: count('rise'),
  fall: count('fall'),
  /** Start UP instead of DOWN (keepalived: no `alpha`). */
  startUp: z.boolean(),
  /** Port to check: the RS port for tcp/http/udp, the VIP port for tunnel; default the service port. */
  port,
  /** Source address for tcp/http/udp checks. */
  bindAddress: z.string().min(1),
  /** http(s): request path. */
  path: z.string().startsWith('/', 'path must start with "/"'),
  /** http(s): Host header and SNI (keepalived virtualhost). */
  virtualHost: z.string().min(1),
  expectStatus: z.array(statusSpec).min(1),
  /** http(s): the body must match this regular expression. */
  bodyRegex: regexText,
  verifyTls: z.boolean(),
  /** udp, tunnel over udp: datagram to send. */
  payload: payloadText,
  /** udp: the reply (latin1 text) must match this. */
  expectRegex: regexText,
  /** exec: program to run (a command line when shell is true). */
  script: z.string().min(1),
  args: z.array(z.string()),
  shell: z.boolean(),
  env: z.record(z.string(), z.string()),
  /** tunnel: probe with a TCP connect or a UDP payload. */
  proto: z.enum(['tcp', 'udp']),
  /** Address to check instead of the real server's own (keepalived connect_ip); tcp, http(s), udp, dns, ping, smtp. */
  host: z.string().min(1),
  /** dns: the name to ask for (default "."). */
  dnsName: z.string().min(1).max(253),
  /** dns: the query type (default SOA); any answer with RCODE NOERROR passes. */
  dnsType: z.enum(DNS_QUERY_TYPES, { error: (iss) => `${JSON.stringify(iss.input)} is not a DNS query type (${DNS_QUERY_TYPES.join(', ')})` }),
  /** smtp: the name sent in HELO (default: this host's name). */
  heloName: z.string().min(1).max(255),
};

/** One entry of `checks`: a full checker of its own (kind and its fields); unset fields come from the section around it. */
const checkEntrySchema = z.strictObject(checkFields).partial();

/** A program run on an event, as a command line split like a shell's words (no shell runs it). */
const scriptLine = z
  .string()
  .trim()
  .min(1, 'a script must name a program')
  .refine((s) => (splitCommandLine(s)?.length ?? 0) > 0, { error: 'not a command line: an unterminated quote or a trailing backslash' });

const feedbackFields = {
  enabled: z.boolean(),
  /** Full URL; default http://<RS address>:<port><path>. */
  url: z.url({ protocol: /^http$/, error: 'feedback url must be an http:// URL' }),
  port,
  path: z.string().startsWith('/'),
  interval: seconds('feedback interval'),
  timeout: seconds('feedback timeout'),
  minWeight: weight,
  maxWeight: weight,
  /** EWMA weight of a new sample. */
  alpha: z.number().gt(0).max(1),
  /** Feedback older than this many intervals falls back to the configured weight. */
  staleAfter: count('staleAfter'),
};

export const feedbackOverrideSchema = z.strictObject(feedbackFields).partial();

export const sorryServerSchema = z.strictObject({
  address: z.string().min(1),
  /** Default: the service port. */
  port: port.optional(),
  weight: weight.min(1).default(1),
});

/** `healthCheck` of a virtual service: checker defaults for its servers, plus service policies. */
// hysteresis >= quorum is allowed: the service then loses quorum only when no server is up.
export const serviceHealthCheckSchema = z.strictObject({
  ...z.strictObject(checkFields).partial().shape,
  inhibitOnFailure: z.boolean().default(false),
  onFailure: z.enum(ON_FAILURE_POLICIES).default('keep'),
  /** Seconds over which a recovered server ramps to its weight; 0 = off. */
  slowStart: z.number().min(0).max(86400).default(0),
  sorryServer: sorryServerSchema.optional(),
  /** Minimum summed weight of up servers for the service to use them rather than the sorry server. */
  quorum: z.number().int().min(1).default(1),
  hysteresis: z.number().int().min(0).default(0),
  feedback: feedbackOverrideSchema.optional(),
  /** Several checkers per server, all of which must pass (keepalived: several checkers in one real_server). */
  checks: z.array(checkEntrySchema).min(1).max(16).optional(),
  /** Run when the service gains quorum / loses it (keepalived quorum_up / quorum_down). */
  quorumUp: scriptLine.optional(),
  quorumDown: scriptLine.optional(),
  /** Defaults for the servers' notifyUp / notifyDown. */
  notifyUp: scriptLine.optional(),
  notifyDown: scriptLine.optional(),
});

/** `healthCheck` of a real server: overrides of the service's checker and feedback settings. */
export const serverHealthCheckSchema = z.strictObject({
  ...z.strictObject(checkFields).partial().shape,
  feedback: feedbackOverrideSchema.optional(),
  /** Replaces the service's `checks` for this server. */
  checks: z.array(checkEntrySchema).min(1).max(16).optional(),
  /** Overrides the service's inhibitOnFailure for this server (keepalived: per real_server). */
  inhibitOnFailure: z.boolean().optional(),
  /** Run when this server comes up / goes down (keepalived notify_up / notify_down). */
  notifyUp: scriptLine.optional(),
  notifyDown: scriptLine.optional(),
});

export type ServiceHealthCheckConfig = z.infer<typeof serviceHealthCheckSchema>;
export type ServiceHealthCheckInput = z.input<typeof serviceHealthCheckSchema>;
export type ServerHealthCheckConfig = z.infer<typeof serverHealthCheckSchema>;
export type CheckEntryConfig = z.infer<typeof checkEntrySchema>;

export const HEALTH_DEFAULTS = {
  kind: 'tcp',
  intervalMs: 5000,
  timeoutMs: 3000,
  rise: 2,
  fall: 3,
  startUp: false,
  expectStatus: [200] as const,
  path: '/',
  feedbackPort: 9470,
  feedbackPath: '/feedback',
  feedbackIntervalMs: 5000,
  feedbackTimeoutMs: 2000,
  feedbackMinWeight: 1,
  feedbackAlpha: 0.3,
  feedbackStaleAfter: 3,
  dnsName: '.',
  dnsType: 'SOA',
  /** Seconds a notify/quorum script may run before its process group is killed. */
  scriptTimeoutMs: 10_000,
} as const;
