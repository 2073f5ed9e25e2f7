// The director's YAML configuration, validated with zod. Every field is checked here so a
// bad file is rejected as a whole before anything changes; messages name the path and the
// offending value, e.g. `services[1].realServers[0].address: "10.0.0.300" is not an IPv4 address`.
import { z } from 'zod';
import { isPrime } from '../director/schedulers/maglev.js';
import { SCHEDULER_NAMES } from '../director/schedulers/scheduler.js';
import { parseMac } from '../wire/ethernet.js';
import { parseIpv4 } from '../wire/ipv4-address.js';

const ipv4 = z.string().superRefine((v, ctx) => {
  if (parseIpv4(v) === null) ctx.addIssue({ code: 'custom', message: `"${v}" is not an IPv4 address` });
});

const netmask = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const text = String(v);
  const ok = /^\d{1,2}$/.test(text) ? Number(text) <= 32 : (() => {
    const m = parseIpv4(text);
    if (m === null) return false;
    const inv = ~m >>> 0;
    return (inv & (inv + 1)) === 0;
  })();
  if (!ok) ctx.addIssue({ code: 'custom', message: `"${text}" is not a netmask (dotted like 255.255.255.0, or a prefix length 0..32)` });
  return text;
});

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

export const RealServerConfig = z.strictObject({
  address: ipv4,
  weight: intIn(0, 65535, 'a weight').default(1),
});

export const ServiceConfig = z
  .strictObject({
    protocol: z.enum(['tcp', 'udp'], { error: (iss) => `${JSON.stringify(iss.input)} is not a protocol (tcp or udp)` }),
    vip: ipv4,
    port: intIn(0, 65535, 'a port'),
    scheduler: z.enum(SCHEDULER_NAMES, { error: (iss) => `${JSON.stringify(iss.input)} is not a scheduler (${SCHEDULER_NAMES.join(', ')})` }).default('wlc'),
    flags: z.array(z.enum(['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'], { error: (iss) => `${JSON.stringify(iss.input)} is not a scheduler flag (sh-fallback, sh-port, mh-fallback, mh-port)` })).default([]),
    persistence: intIn(0, 31_536_000, 'a persistence timeout in seconds').default(0),
    netmask: netmask.default('255.255.255.255'),
    onePacket: z.boolean().default(false),
    realServers: z.array(RealServerConfig).default([]),
  })
  .superRefine((s, ctx) => {
    if (s.onePacket && s.protocol !== 'udp') ctx.addIssue({ code: 'custom', path: ['onePacket'], message: 'true is only allowed for udp services (one-packet scheduling)' });
    const seen = new Set<string>();
    s.realServers.forEach((rs, i) => {
      if (seen.has(rs.address)) ctx.addIssue({ code: 'custom', path: ['realServers', i, 'address'], message: `"${rs.address}" is listed twice in this service` });
      seen.add(rs.address);
    });
  });

export const DirectorSection = z.strictObject({
  tap: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not an interface name (1..15 of A-Z a-z 0-9 _ . -)` }).optional(),
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
  timeouts: z
    .strictObject({
      tcp: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
      tcpfin: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
      udp: intIn(0, 31_536_000, 'a timeout in seconds').optional(),
    })
    .default({}),
});

export const DirectorConfig = z
  .strictObject({
    director: DirectorSection.default(() => DirectorSection.parse({})),
    services: z.array(ServiceConfig).default([]),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.services.forEach((s, i) => {
      const key = `${s.protocol}:${s.vip}:${s.port}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['services', i], message: `service ${key} is defined twice` });
      seen.add(key);
    });
  });

export type DirectorConfig = z.output<typeof DirectorConfig>;
export type ServiceConfig = z.output<typeof ServiceConfig>;

/** `services[1].realServers[0].address` from a zod issue path. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}
