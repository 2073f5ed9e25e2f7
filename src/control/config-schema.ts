// The director's YAML configuration, validated with zod. Every field is checked here so a
// bad file is rejected as a whole before anything changes; messages name the path and the
// offending value, e.g. `services[1].realServers[0].address: "10.0.0.300" is not an IPv4 address`.
import { z } from 'zod';
import { feedbackOverrideSchema, ON_FAILURE_POLICIES, serverHealthCheckSchema, serviceHealthCheckSchema, sorryServerSchema } from '../health/health-config.js';
import { isPrime } from '../director/schedulers/maglev.js';
import { SCHEDULER_NAMES } from '../director/schedulers/scheduler.js';
import { parseMac } from '../wire/ethernet.js';
import { canonicalAddressText, formatIpv4Netmask, parseAddressText, parseIpv4Text, parseNetmaskText } from '../wire/address-text.js';
import { directorProblems, serviceProblems } from './config-checks.js';
import { BIRD_PROTOCOL_NAME } from '../bgp/vip-include.js';

const ipv4 = z.string().superRefine((v, ctx) => {
  if (parseIpv4Text(v) === null) ctx.addIssue({ code: 'custom', message: `"${v}" is not an IPv4 address` });
});

/** VIPs and real servers: IPv4 or IPv6 text (whether the data path serves IPv6 is checked when applied). */
const ipAddress = z.unknown().superRefine((v, ctx) => {
  if (v === undefined) ctx.addIssue({ code: 'custom', message: 'is missing; give an IPv4 or IPv6 address, e.g. 10.0.0.1 or "2001:db8::1"' });
  else if (typeof v !== 'string' || canonicalAddressText(v) === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not an IPv4 or IPv6 address` });
}) as unknown as z.ZodType<string>;

/** What happens to a removed (or failed) server's connections; the same three values as the health checks' onFailure. */
const nodestPolicy = z.enum(ON_FAILURE_POLICIES, {
  error: (iss) => `${JSON.stringify(iss.input)} is not an expire_nodest_conn policy (keep: existing connections drain to the server; expire: drop their entries; reschedule: move them to another server)`,
});

const tunnelMtu = () => intIn(576, 65535, 'a tunnel MTU in bytes');

/** Dotted or a prefix length; checked against the VIP's family in config-checks.ts. */
const netmask = z.union([z.string(), z.number()]).transform((v) => String(v));

/**
 * One text per mask, so definitions compare equal however a mask was written: dotted for
 * an IPv4 VIP; for an IPv6 VIP (only /128 is served) the full-mask default, which the
 * registry reads as "the whole client address" for both families.
 */
function canonicalNetmask(text: string, vip: string): string {
  const a = parseAddressText(vip);
  if (a === null) return text;
  const bits = parseNetmaskText(text, a.family);
  if (a.family === 6) return bits === 128 ? '255.255.255.255' : text;
  return bits === null ? text : formatIpv4Netmask(bits);
}

function intIn(min: number, max: number, what: string) {
  return z.unknown().superRefine((v, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not ${what} (an integer ${min}..${max})` });
  }) as unknown as z.ZodType<number>;
}

const hostPort = z.string().superRefine((v, ctx) => {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) ctx.addIssue({ code: 'custom', message: `"${v}" is not HOST:PORT` });
});

const mac = z.string().superRefine((v, ctx) => {
  if (parseMac(v) === null) ctx.addIssue({ code: 'custom', message: `"${v}" is not a MAC address like 02:00:00:77:00:02` });
});

export const TUNNEL_TYPES = ['ipip', 'gue'] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];

/** ipvsadm's forwarding methods (-i, -m, -g), as admin-model.ts names them. */
export const FORWARD_METHODS = ['tunnel', 'masq', 'route'] as const;

export const RealServerConfig = z
  .strictObject({
    address: ipAddress,
    weight: intIn(0, 65535, 'a weight').default(1),
    /** How packets reach this server: tunnel (-i, default), masq (-m, VS/NAT) or route (-g, VS/DR). */
    forward: z.enum(FORWARD_METHODS, { error: (iss) => `${JSON.stringify(iss.input)} is not a forwarding method (tunnel, masq or route)` }).default('tunnel'),
    /** The server's port (forward: masq only, as ipvsadm allows port mapping only for NAT); the service's port when absent. */
    port: intIn(1, 65535, 'a port').optional(),
    /** Encapsulation toward this server: IP-in-IP (default) or GUE over UDP. */
    tunnel: z.enum(TUNNEL_TYPES, { error: (iss) => `${JSON.stringify(iss.input)} is not a tunnel type (ipip or gue)` }).default('ipip'),
    /** GUE destination UDP port (only with tunnel: gue); the data path's default when absent. */
    guePort: intIn(1, 65535, 'a UDP port').optional(),
    /** MTU of the path to this server, overriding the service's; the outer header is taken off it. */
    tunnelMtu: tunnelMtu().optional(),
    /** Overrides of the service's health check for this server. */
    healthCheck: serverHealthCheckSchema.optional(),
    /** Agent feedback (vstun-agent /feedback) for this server; same fields as healthCheck.feedback. */
    feedback: feedbackOverrideSchema.optional(),
    /** Connection thresholds (ipvsadm -x / -y, keepalived uthreshold / lthreshold): no new connections at upper until below lower (default 3/4 of upper); 0 = none. */
    upperThreshold: intIn(0, 2 ** 31 - 1, 'a connection count').optional(),
    lowerThreshold: intIn(0, 2 ** 31 - 1, 'a connection count').optional(),
  })
  .superRefine((rs, ctx) => {
    if (rs.guePort !== undefined && rs.tunnel !== 'gue') ctx.addIssue({ code: 'custom', path: ['guePort'], message: `${rs.guePort} is only allowed with tunnel: gue` });
    if (rs.port !== undefined && rs.forward !== 'masq') {
      ctx.addIssue({ code: 'custom', path: ['port'], message: `${rs.port} is only allowed with forward: masq (tunnelled and direct-routed packets keep the service's port)` });
    }
    if (rs.forward !== 'tunnel' && (rs.tunnel !== 'ipip' || rs.tunnelMtu !== undefined)) {
      const field = rs.tunnel !== 'ipip' ? 'tunnel' : 'tunnelMtu';
      ctx.addIssue({ code: 'custom', path: [field], message: `is a tunnel setting; forward: ${rs.forward} does not tunnel (drop it or use forward: tunnel)` });
    }
    // As IPVS: the lower threshold may not exceed the upper one (0 = no upper threshold).
    if ((rs.lowerThreshold ?? 0) > (rs.upperThreshold ?? 0)) {
      ctx.addIssue({ code: 'custom', path: ['lowerThreshold'], message: `${rs.lowerThreshold} is higher than upperThreshold ${rs.upperThreshold ?? 0}` });
    }
    if (rs.feedback !== undefined && rs.healthCheck?.feedback !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['feedback'], message: 'is also given as healthCheck.feedback; keep one' });
    }
  })
  .transform((rs) => (rs.feedback !== undefined && rs.healthCheck !== undefined ? { ...rs, healthCheck: { ...rs.healthCheck, feedback: rs.feedback } } : rs));

export const ServiceConfig = z
  .strictObject({
    protocol: z.enum(['tcp', 'udp'], { error: (iss) => `${JSON.stringify(iss.input)} is not a protocol (tcp or udp)` }),
    vip: ipAddress,
    port: intIn(0, 65535, 'a port'),
    scheduler: z.enum(SCHEDULER_NAMES, { error: (iss) => `${JSON.stringify(iss.input)} is not a scheduler (${SCHEDULER_NAMES.join(', ')})` }).default('wlc'),
    flags: z.array(z.enum(['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'], { error: (iss) => `${JSON.stringify(iss.input)} is not a scheduler flag (sh-fallback, sh-port, mh-fallback, mh-port)` })).default([]),
    persistence: intIn(0, 31_536_000, 'a persistence timeout in seconds').default(0),
    netmask: netmask.default('255.255.255.255'),
    onePacket: z.boolean().default(false),
    /** Clamp the TCP MSS of SYNs so client segments fit the tunnel without fragmenting. */
    mssClamp: z.boolean().default(true),
    /** MTU of the tunnel path to this service's servers (default: the director's). */
    tunnelMtu: tunnelMtu().optional(),
    /** Take mid-flow TCP packets without an entry (IPVS sloppy_tcp), for this service. */
    sloppy: z.boolean().default(false),
    /** What a removed server's connections do (IPVS expire_nodest_conn); default: director.expireNodestConn. */
    expireNodestConn: nodestPolicy.optional(),
    /** Health checks for this service's servers (see src/health). */
    healthCheck: serviceHealthCheckSchema.optional(),
    /** Shorthands for healthCheck.sorryServer / quorum / hysteresis (give each in one place only). */
    sorryServer: sorryServerSchema.optional(),
    quorum: z.number().int().min(1).optional(),
    hysteresis: z.number().int().min(0).optional(),
    realServers: z.array(RealServerConfig).default([]),
  })
  .superRefine((s, ctx) => {
    const hc = s.healthCheck as Record<string, unknown> | undefined;
    for (const k of ['sorryServer', 'quorum', 'hysteresis'] as const) {
      // healthCheck fills defaults for quorum/hysteresis, so only a non-default value there conflicts.
      const inner = hc?.[k];
      const innerSet = k === 'sorryServer' ? inner !== undefined : k === 'quorum' ? inner !== undefined && inner !== 1 : inner !== undefined && inner !== 0;
      if (s[k] !== undefined && innerSet) ctx.addIssue({ code: 'custom', path: [k], message: `is also given as healthCheck.${k}; keep one` });
    }
    for (const p of serviceProblems(s)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    if (s.onePacket && s.protocol !== 'udp') ctx.addIssue({ code: 'custom', path: ['onePacket'], message: 'true is only allowed for udp services (one-packet scheduling)' });
    const seen = new Set<string>();
    s.realServers.forEach((rs, i) => {
      if (seen.has(rs.address)) ctx.addIssue({ code: 'custom', path: ['realServers', i, 'address'], message: `"${rs.address}" is listed twice in this service` });
      seen.add(rs.address);
    });
  })
  .transform((s) => ({ ...s, netmask: canonicalNetmask(s.netmask, s.vip) }))
  .transform((s) => {
    if (s.healthCheck === undefined) return s;
    const hc = { ...s.healthCheck };
    if (s.sorryServer !== undefined) hc.sorryServer = s.sorryServer;
    if (s.quorum !== undefined) hc.quorum = s.quorum;
    if (s.hysteresis !== undefined) hc.hysteresis = s.hysteresis;
    return { ...s, healthCheck: hc, sorryServer: hc.sorryServer, quorum: hc.quorum, hysteresis: hc.hysteresis };
  });

const ifName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not an interface name (1..15 of A-Z a-z 0-9 _ . -)` });

export const DirectorSection = z.strictObject({
  tap: ifName.optional(),
  dip: ipv4.optional(),
  /** The director's own address on the TAP link. */
  linkAddress: ipv4.default('169.254.77.2'),
  /** The kernel's address on the TAP link (given to the TAP). */
  kernelAddress: ipv4.default('169.254.77.1'),
  linkPrefixLength: intIn(8, 30, 'a link prefix length').default(30),
  mac: mac.default('02:56:53:54:00:02'),
  control: z.string().min(1).optional(),
  metrics: hostPort.optional(),
  connTableSize: intIn(1, 64 * 1024 * 1024, 'a connection table size').default(1 << 20),
  mhTableSize: intIn(2, 1_000_003, 'a Maglev table size')
    .superRefine((v, ctx) => {
      if (!isPrime(v)) ctx.addIssue({ code: 'custom', message: `${v} is not a prime (Maglev needs a prime table size, e.g. 65537)` });
    })
    .default(65537),
  icmpEcho: z.boolean().default(true),
  sloppyTcp: z.boolean().default(false),
  /** Default expire_nodest_conn policy for services that do not set one. */
  expireNodestConn: nodestPolicy.default('keep'),
  /** Source address of tunnel health probes: a /32 put on the TAP, routed back to this host, never a VIP. */
  probeSource: ipv4.optional(),
  /** Default tunnel MTU toward real servers (the uplink's MTU). */
  tunnelMtu: tunnelMtu().default(1500),
  /**
   * VS/DR (forward: route servers): the bridge on the real servers' LAN that the TAP joins.
   * An existing bridge is joined as it is; a missing one is created with `ports` (LAN
   * interfaces without addresses of their own) and removed on exit.
   */
  dr: z
    .strictObject({
      bridge: ifName,
      ports: z.array(ifName).default([]),
    })
    .optional(),
  /** VS/NAT (forward: masq servers): the policy-routing table (and rule priority) that steers their replies into the TAP. */
  natTable: intIn(1, 0x7ffffffe, 'a routing table number').default(7377),
  /** Open the TAP with a virtio-net header and TSO/checksum offloads where the kernel has them (--offload / --no-offload). */
  offload: z.boolean().default(true),
  /** With offload: write GUE-tunnelled TCP as UDP-tunnel super-packets where the kernel takes them (--tunnel-gso / --no-tunnel-gso). */
  tunnelGso: z.boolean().default(true),
  /** TAP queues, one worker thread each (--queues); absent: one per core. 1: the data path on the main thread. */
  queues: intIn(1, 64, 'a number of TAP queues (1..64)').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: (iss) => `${JSON.stringify(iss.input)} is not a log level (fatal, error, warn, info, debug, trace, silent)` }).default('info'),
  timeouts: z
    .strictObject({
      tcp: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
      tcpfin: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
      udp: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
    })
    .default({}),
  /**
   * nftables guard in front of the TAP (src/director/guard.ts): new TCP SYNs and new UDP flows
   * to each VIP above these rates are dropped by the kernel before they reach the TAP queue.
   * The defaults sit well below the director's measured new-flow capacity (npm run bench).
   */
  guard: z
    .strictObject({
      enabled: z.boolean().default(true),
      synPerSecond: intIn(1, 10_000_000, 'a rate in packets per second').default(20_000),
      udpNewPerSecond: intIn(1, 10_000_000, 'a rate in flows per second').default(20_000),
      /** Frames the kernel queues on the TAP for the director: absorbs the director's short stalls (GC, a busy CPU). */
      tapQueueLength: intIn(16, 65_536, 'a TAP queue length in frames').default(8192),
    })
    .default({ enabled: true, synPerSecond: 20_000, udpNewPerSecond: 20_000, tapQueueLength: 8192 }),
});

/** Announcement of the VIPs through BIRD on this host (README: Scale-out). */
export const BgpSection = z.strictObject({
  /** BIRD's control socket (bird -s). */
  birdSocket: z.string().min(1).default('/run/bird/bird.ctl'),
  /** The file vstun-director writes and BIRD's bird.conf includes (absolute path). */
  includeFile: z.string().refine((v) => v.startsWith('/'), { error: (iss) => `${JSON.stringify(iss.input)} is not an absolute path (BIRD's bird.conf includes this file)` }),
  /** Name of the generated static protocol (IPv6 VIPs: the name + "6"); the bgp protocol exports `where proto = "NAME"`. */
  protocol: z.string().regex(BIRD_PROTOCOL_NAME, { error: (iss) => `${JSON.stringify(iss.input)} is not a BIRD protocol name (a letter or _, then letters, digits, _; at most 31)` }).default('vstun_vips'),
  /** On SIGTERM: seconds to keep forwarding after the withdrawal, while the router moves flows away. */
  drainSeconds: z.number().min(0).max(3600).default(5),
});

export const DirectorConfig = z
  .strictObject({
    director: DirectorSection.default(() => DirectorSection.parse({})),
    services: z.array(ServiceConfig).default([]),
    bgp: BgpSection.optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.services.forEach((s, i) => {
      const key = `${s.protocol}:${canonicalAddressText(s.vip) ?? s.vip}:${s.port}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['services', i], message: `service ${key} is defined twice` });
      seen.add(key);
    });
    for (const p of directorProblems(c.director, c.services)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type DirectorConfig = z.output<typeof DirectorConfig>;
export type ServiceConfig = z.output<typeof ServiceConfig>;
export type RealServerConfig = z.output<typeof RealServerConfig>;
export type ExpireNodestConnPolicy = z.output<typeof nodestPolicy>;

/** `services[1].realServers[0].address` from a zod issue path. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}
