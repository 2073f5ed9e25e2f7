// Model-based test of the control plane (issue 11, "one desired state, applied
// all-or-nothing"): random valid and invalid operator changes, sent as vstunadm sends them
// (the director's control ops: ipvsadm words, -R text, reload of a config file), over IPv4
// and IPv6 services with ipip and gue servers, NAT servers (some port-mapped) and DR servers,
// and with host routes that may be refused.
// After every step: the -S dump equals the model's table, the real data path classifies a
// first packet to every VIP:port as the model says (service / no-service / not-vip), the
// servers' tunnels, forwarding methods and NAT ports are the model's, and the fake host's
// routes are the model's VIP set.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { classify, type Classified } from '../../test/fixtures/director/classify.js';
import { fakeHost, type FakeHost } from '../../test/fixtures/director/fake-host.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { FakeDevice } from '../device/fake-device.js';
import { Ipv6AddressTable } from '../director/address-id.js';
import type { Director } from '../director/director.js';
import { FORWARD_CODE_NAMES } from '../director/forward-method.js';
import { TUNNEL_GUE } from '../director/tunnel-mtu.js';
import type { ServiceRules } from './admin-model.js';
import { validateDirectorConfig } from './config-loader.js';
import { applyConfig, type ControlState } from './config-reload.js';
import { ControlServer } from './control-server.js';
import { registerDirectorOps } from './director-ops.js';
import { formatRules, restoreRules } from './ipvsadm-dump.js';

const VIPS = ['10.77.0.1', '10.77.0.2', 'fd77::1', 'fd77::2'];
const SERVERS: Record<4 | 6, string[]> = { 4: ['10.77.3.1', '10.77.3.2', '10.77.3.3'], 6: ['fd77:3::1', 'fd77:3::2', 'fd77:3::3'] };
const PORTS = [
  { protocol: 'tcp', port: 80 },
  { protocol: 'tcp', port: 443 },
  { protocol: 'udp', port: 53 },
] as const;
const SCHEDULERS = ['rr', 'wrr', 'wlc', 'sh', 'mh'];
const STEPS_WANTED = 10_000;
/** A DR bridge, so that -g servers are allowed (the fake host sets nothing up). */
const DIRECTOR = { dr: { bridge: 'br-model' } };

type Proto = 'tcp' | 'udp';
type Forward = 'tunnel' | 'masq' | 'route';
interface ModelServer {
  weight: number;
  tunnel: 'ipip' | 'gue';
  forward: Forward;
  /** The server's port: the service's except for a port-mapped NAT server. */
  port: number;
}
interface ModelService {
  protocol: Proto;
  vip: string;
  port: number;
  scheduler: string;
  servers: Map<string, ModelServer>;
}
interface Model {
  services: Map<string, ModelService>;
  refuse: Set<string>;
}
interface Real {
  director: Director;
  device: FakeDevice;
  server: ControlServer;
  host: FakeHost;
  configPath: string;
}

const keyOf = (protocol: string, vip: string, port: number) => `${protocol}:${vip}:${port}`;
const family = (vip: string): 4 | 6 => (vip.includes(':') ? 6 : 4);
const hostPort = (vip: string, port: number) => (vip.includes(':') ? `[${vip}]:${port}` : `${vip}:${port}`);
const flag = (p: Proto) => (p === 'tcp' ? '-t' : '-u');
const rsWord = (a: string) => (a.includes(':') ? `[${a}]` : a);

function cloneModel(m: Model): Model {
  const services = new Map<string, ModelService>();
  for (const [k, s] of m.services) services.set(k, { ...s, servers: new Map([...s.servers].map(([a, r]) => [a, { ...r }])) });
  return { services, refuse: new Set(m.refuse) };
}

function vipSet(m: Model): Set<string> {
  return new Set([...m.services.values()].map((s) => s.vip));
}

/** A change is refused by the host when it needs a route for a refused VIP not routed yet. */
function hostRefuses(before: Model, after: Model): boolean {
  const routed = vipSet(before);
  return [...vipSet(after)].some((v) => !routed.has(v) && before.refuse.has(v));
}

/** One ipvsadm rule command on the model; false when IPVS would refuse it (the model is then unspecified). */
type Rule =
  | { kind: 'add-service'; protocol: Proto; vip: string; port: number; scheduler: string }
  | { kind: 'edit-service'; protocol: Proto; vip: string; port: number; scheduler: string }
  | { kind: 'delete-service'; protocol: Proto; vip: string; port: number }
  | { kind: 'add-server'; protocol: Proto; vip: string; port: number; rs: string; weight: number; forward: Forward; rsPort?: number }
  | { kind: 'edit-server'; protocol: Proto; vip: string; port: number; rs: string; weight: number; forward: Forward; rsPort?: number }
  | { kind: 'delete-server'; protocol: Proto; vip: string; port: number; rs: string }
  | { kind: 'clear' };

function applyRule(m: Model, r: Rule): boolean {
  if (r.kind === 'clear') {
    m.services.clear();
    return true;
  }
  const k = keyOf(r.protocol, r.vip, r.port);
  const svc = m.services.get(k);
  switch (r.kind) {
    case 'add-service':
      if (svc) return false;
      m.services.set(k, { protocol: r.protocol, vip: r.vip, port: r.port, scheduler: r.scheduler, servers: new Map() });
      return true;
    case 'edit-service':
      if (!svc) return false;
      svc.scheduler = r.scheduler;
      return true;
    case 'delete-service':
      return m.services.delete(k);
    case 'add-server':
      // IPVS names a server by address and port; vstun holds one port per address in a
      // service, so the same address on another port is refused too (as the file does).
      if (!svc || svc.servers.has(r.rs)) return false;
      svc.servers.set(r.rs, serverOf(r));
      return true;
    case 'edit-server':
      if (!svc || svc.servers.get(r.rs)?.port !== serverOf(r).port) return false;
      // ipvsadm -e gives the whole server: options not given take their defaults (-i's ipip).
      svc.servers.set(r.rs, serverOf(r));
      return true;
    case 'delete-server':
      // -d -r RIP names RIP:vport: a port-mapped NAT server is not it.
      return svc !== undefined && svc.servers.get(r.rs)?.port === r.port && svc.servers.delete(r.rs);
  }
}

/** As ipvsadm: -r's port counts only for -m; -g and -i take the service's port. */
function serverOf(r: { weight: number; forward: Forward; rsPort?: number; port: number }): ModelServer {
  return { weight: r.weight, tunnel: 'ipip', forward: r.forward, port: r.forward === 'masq' ? (r.rsPort ?? r.port) : r.port };
}

const SWITCH: Record<Forward, string> = { tunnel: '-i', masq: '-m', route: '-g' };
const rsWithPort = (a: string, port: number | undefined) => (port === undefined ? rsWord(a) : hostPort(a, port));

/** The ipvsadm words of a rule (what vstunadm sends as "args"). */
function ruleWords(r: Rule): string[] {
  if (r.kind === 'clear') return ['-C'];
  const svc = [flag(r.protocol), hostPort(r.vip, r.port)];
  switch (r.kind) {
    case 'add-service':
      return ['-A', ...svc, '-s', r.scheduler];
    case 'edit-service':
      return ['-E', ...svc, '-s', r.scheduler];
    case 'delete-service':
      return ['-D', ...svc];
    case 'add-server':
      return ['-a', ...svc, '-r', rsWithPort(r.rs, r.rsPort), SWITCH[r.forward], '-w', String(r.weight)];
    case 'edit-server':
      return ['-e', ...svc, '-r', rsWithPort(r.rs, r.rsPort), SWITCH[r.forward], '-w', String(r.weight)];
    case 'delete-server':
      return ['-d', ...svc, '-r', rsWord(r.rs)];
  }
}

const OP_OF: Record<Rule['kind'], string> = {
  'add-service': 'add-service',
  'edit-service': 'edit-service',
  'delete-service': 'delete-service',
  'add-server': 'add-server',
  'edit-server': 'edit-server',
  'delete-server': 'delete-server',
  clear: 'clear',
};

async function request(real: Real, op: string, fields: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  return (await real.server.dispatch({ v: 1, op, ...fields })) as { ok: boolean; error?: { code: string; message: string } };
}

/** Every check after a step. */
async function verify(m: Model, real: Real): Promise<void> {
  const saved = (await real.server.dispatch({ v: 1, op: 'save' })) as { services: ServiceRules[] };
  // Through the -S text and back: what an operator would save and restore.
  const dumped = restoreRules(formatRules(saved.services));
  const got = dumped
    .map((s) => `${keyOf(s.key.protocol, s.key.vip, s.key.port)} ${s.scheduler} ${s.servers.map((r) => `${r.address}:${r.port}/${r.weight}/${r.forward}`).sort().join(',')}`)
    .sort();
  const want = [...m.services.values()]
    .map((s) => `${keyOf(s.protocol, s.vip, s.port)} ${s.scheduler} ${[...s.servers].map(([a, r]) => `${a}:${r.port}/${r.weight}/${r.forward}`).sort().join(',')}`)
    .sort();
  expect(got).toEqual(want);
  for (const vip of VIPS) {
    const onVip = [...m.services.values()].some((s) => s.vip === vip);
    for (const p of PORTS) {
      const expected: Classified = m.services.has(keyOf(p.protocol, vip, p.port)) ? 'service' : onVip ? 'no-service' : 'not-vip';
      expect(classify(real.director, real.device, p.protocol, vip, p.port), `${p.protocol} ${vip}:${p.port}`).toBe(expected);
    }
  }
  for (const s of m.services.values()) {
    const svc = real.director.registry.findService(s.protocol, s.vip, s.port);
    for (const rs of svc.servers) {
      const want = s.servers.get(rs.addressText);
      expect(rs.tunnel === TUNNEL_GUE ? 'gue' : 'ipip', `${s.vip} ${rs.addressText}`).toBe(want?.tunnel);
      expect(FORWARD_CODE_NAMES[rs.forward], `${s.vip} ${rs.addressText} method`).toBe(want?.forward);
      expect(rs.natPort, `${s.vip} ${rs.addressText} NAT port`).toBe(want?.forward === 'masq' ? want.port : 0);
    }
  }
  const routes = [...vipSet(m)].map((v) => (v.includes(':') ? `${v}/128` : `${v}/32`)).sort();
  expect([...real.host.table].sort()).toEqual(routes);
}

let steps = 0;

/** Runs one change on both sides: the model decides whether it must succeed. */
async function step(m: Model, real: Real, after: Model | null, send: () => Promise<{ ok: boolean; error?: { code: string; message: string } }>): Promise<void> {
  steps++;
  const mustSucceed = after !== null && !hostRefuses(m, after);
  const res = await send();
  expect(res.ok, res.ok ? 'succeeded but the model refuses it' : `failed: ${res.error?.code} ${res.error?.message}`).toBe(mustSucceed);
  if (mustSucceed) {
    m.services = after.services;
  }
  await verify(m, real);
}

class RuleCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly rule: Rule) {}
  check = () => true;
  async run(m: Model, real: Real): Promise<void> {
    const after = cloneModel(m);
    const ok = applyRule(after, this.rule);
    await step(m, real, ok ? after : null, () => request(real, OP_OF[this.rule.kind], { args: ruleWords(this.rule) }));
  }
  toString = () => ruleWords(this.rule).join(' ');
}

class RestoreCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly rules: Rule[]) {}
  check = () => true;
  async run(m: Model, real: Real): Promise<void> {
    const after = cloneModel(m);
    const ok = this.rules.every((r) => applyRule(after, r));
    const text = this.rules.map((r) => ruleWords(r).join(' ')).join('\n') + '\n';
    await step(m, real, ok ? after : null, () => request(real, 'restore', { text }));
  }
  toString = () => `-R <<${this.rules.map((r) => ruleWords(r).join(' ')).join('; ')}>>`;
}

interface ConfigService {
  protocol: Proto;
  vip: string;
  port: number;
  scheduler: string;
  servers: Array<{ address: string; weight: number; gue: boolean; forward: Forward; rsPort?: number }>;
}

class ReloadCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly services: ConfigService[]) {}
  check = () => true;
  async run(m: Model, real: Real): Promise<void> {
    const after: Model = { services: new Map(), refuse: new Set(m.refuse) };
    let ok = true;
    const config = {
      director: DIRECTOR,
      services: this.services.map((s) => {
        const k = keyOf(s.protocol, s.vip, s.port);
        if (after.services.has(k)) ok = false; // the same service twice: the file is invalid
        const servers = new Map<string, ModelServer>();
        for (const r of s.servers) {
          // The file refuses a tunnel type on a NAT/DR server and a port on a non-NAT one.
          if (r.forward !== 'tunnel' && r.gue) ok = false;
          if (r.forward !== 'masq' && r.rsPort !== undefined) ok = false;
          servers.set(r.address, { ...serverOf({ ...r, port: s.port }), tunnel: r.gue ? 'gue' : 'ipip' });
        }
        if (servers.size !== s.servers.length) ok = false; // the same server twice
        after.services.set(k, { protocol: s.protocol, vip: s.vip, port: s.port, scheduler: s.scheduler, servers });
        return {
          protocol: s.protocol,
          vip: s.vip,
          port: s.port,
          scheduler: s.scheduler,
          realServers: s.servers.map((r) => ({
            address: r.address,
            weight: r.weight,
            ...(r.forward !== 'tunnel' ? { forward: r.forward } : {}),
            ...(r.rsPort !== undefined ? { port: r.rsPort } : {}),
            ...(r.gue ? { tunnel: 'gue', guePort: 6080 } : {}),
          })),
        };
      }),
    };
    writeFileSync(real.configPath, JSON.stringify(config));
    await step(m, real, ok ? after : null, () => request(real, 'reload', {}));
  }
  toString = () => `reload ${JSON.stringify(this.services)}`;
}

class RefuseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly vip: string,
    readonly refuse: boolean,
  ) {}
  check = () => true;
  async run(m: Model, real: Real): Promise<void> {
    if (this.refuse) {
      m.refuse.add(this.vip);
      real.host.refuse.add(this.vip);
    } else {
      m.refuse.delete(this.vip);
      real.host.refuse.delete(this.vip);
    }
  }
  toString = () => `${this.refuse ? 'refuse' : 'allow'} route ${this.vip}`;
}

const vipArb = fc.constantFrom(...VIPS);
const portArb = fc.constantFrom(...PORTS);
const serviceArb = fc.record({ vip: vipArb, p: portArb }).map(({ vip, p }) => ({ vip, protocol: p.protocol as Proto, port: p.port }));
const forwardArb = fc.constantFrom<Forward>('tunnel', 'tunnel', 'masq', 'route');
// -r's port: none, the usual one, or a mapped one (it counts only with -m).
const rsPortArb = fc.constantFrom<number | undefined>(undefined, undefined, 8080);
const ruleArb: fc.Arbitrary<Rule> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ s: serviceArb, scheduler: fc.constantFrom(...SCHEDULERS) }).map(({ s, scheduler }) => ({ kind: 'add-service' as const, ...s, scheduler })) },
  { weight: 1, arbitrary: fc.record({ s: serviceArb, scheduler: fc.constantFrom(...SCHEDULERS) }).map(({ s, scheduler }) => ({ kind: 'edit-service' as const, ...s, scheduler })) },
  { weight: 1, arbitrary: serviceArb.map((s) => ({ kind: 'delete-service' as const, ...s })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ s: serviceArb, i: fc.nat(2), weight: fc.nat(3), forward: forwardArb, rsPort: rsPortArb })
      .map(({ s, i, weight, forward, rsPort }) => ({ kind: 'add-server' as const, ...s, rs: SERVERS[family(s.vip)][i], weight, forward, rsPort })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ s: serviceArb, i: fc.nat(2), weight: fc.nat(3), forward: forwardArb, rsPort: rsPortArb })
      .map(({ s, i, weight, forward, rsPort }) => ({ kind: 'edit-server' as const, ...s, rs: SERVERS[family(s.vip)][i], weight, forward, rsPort })),
  },
  { weight: 1, arbitrary: fc.record({ s: serviceArb, i: fc.nat(2) }).map(({ s, i }) => ({ kind: 'delete-server' as const, ...s, rs: SERVERS[family(s.vip)][i] })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);
const configServiceArb: fc.Arbitrary<ConfigService> = fc
  .record({
    s: serviceArb,
    scheduler: fc.constantFrom(...SCHEDULERS),
    servers: fc.array(fc.record({ i: fc.nat(2), weight: fc.nat(3), gue: fc.boolean(), forward: forwardArb, rsPort: rsPortArb }), { maxLength: 3 }),
  })
  .map(({ s, scheduler, servers }) => ({
    ...s,
    scheduler,
    servers: servers.map((r) => ({ address: SERVERS[family(s.vip)][r.i], weight: r.weight, gue: r.gue, forward: r.forward, rsPort: r.rsPort })),
  }));

const commandsArb = fc.commands(
  [
    ruleArb.map((r) => new RuleCommand(r)),
    fc.array(ruleArb, { minLength: 1, maxLength: 5 }).map((rs) => new RestoreCommand(rs)),
    fc.array(configServiceArb, { maxLength: 4 }).map((ss) => new ReloadCommand(ss)),
    fc.record({ vip: vipArb, refuse: fc.boolean() }).map(({ vip, refuse }) => new RefuseCommand(vip, refuse)),
  ],
  { maxCommands: 120, size: 'max' },
);

const dir = mkdtempSync(path.join(tmpdir(), 'vstun-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(): Promise<Real> {
  const device = new FakeDevice({ headroom: 128 });
  const director = fixtureDirector(device, { connTableCapacity: 1 << 14, addresses: new Ipv6AddressTable(4096), hashSeed: 1 });
  const host = fakeHost();
  director.vipRoutes = host.routes;
  const configPath = path.join(dir, 'director.json');
  const state: ControlState = { configPath, config: validateDirectorConfig({}) };
  await applyConfig(director, state, validateDirectorConfig({ director: DIRECTOR }));
  director.start();
  const server = new ControlServer(path.join(dir, 'unused.sock'));
  registerDirectorOps(server, director, { tap: 'fake0', startedAt: new Date(0).toISOString(), pid: process.pid }, state);
  return { director, device, server, host, configPath };
}

describe('control plane against a model', () => {
  test(`random vstunadm ops, -R and reloads: -S, the data path and the host routes always match the model (>= ${STEPS_WANTED} steps)`, async () => {
    await fc.assert(
      fc.asyncProperty(commandsArb, async (cmds) => {
        const real = await setup();
        try {
          await fc.asyncModelRun(() => ({ model: { services: new Map(), refuse: new Set() } as Model, real }), cmds);
        } finally {
          real.director.stop();
        }
      }),
      { numRuns: 230, seed: Number(process.env.VSTUN_MODEL_SEED ?? 20261202), endOnFailure: true },
    );
    expect(steps).toBeGreaterThanOrEqual(STEPS_WANTED);
  }, 300_000);
});
