// The scale-out lab: the namespace lab of vs-lab.ts (client, router, real servers on their
// sites) with N director hosts instead of one, each running BIRD and vstun-director, and
// BIRD on the router spreading the VIP over them by ECMP:
//
//   client ── router (BIRD: eBGP AS 65000, kernel export with `merge paths`,
//               │     fib_multipath_hash_policy=3 over addresses and ports: see ECMP_HASH_FIELDS)
//               ├── dir1 10.70.1.2  (BIRD AS 65001 + vstun-director, TAP) ──┐
//               ├── dir2 10.70.22.2 (same)                                    ├─IPIP─► rs1..rs3
//               └── dir3 10.70.23.2 (same)                                  ──┘      (agents)
//
// The router has no static route to the VIP: only what the directors' BIRDs announce, which
// is what each vstun-director writes into its include (src/bgp). Everything is torn down by
// lab.cleanup() (BIRDs included: they are spawned through the lab's Topology).
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { birdExchange } from '../bgp/bird-control.js';
import { renderVipInclude } from '../bgp/vip-include.js';
import { LAB_APP_ECHO_PORT, LAB_APP_HTTP_PORT, labTapName, REPO_ROOT, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle, type SpawnDaemonOptions } from './lab-daemons.js';
import { waitFor } from './netns.js';
import { addr, buildLab, forwardingDefaults, LAB_PROBE_SOURCE, type Lab } from './vs-lab.js';

/** BGP timers in seconds; null: BIRD's defaults (hold 240, keepalive 80). */
export type BgpTimers = { hold: number; keepalive: number } | null;

/** The fastest timers we recommend without BFD: a dead director host is noticed within 3 s. */
export const FAST_BGP_TIMERS = { hold: 3, keepalive: 1 } as const;

export const ROUTER_AS = 65000;
export const DIRECTOR_AS = 65001;

export interface ScaleoutLabOptions {
  prefix: string;
  /** Director hosts, 1..8. */
  directors: number;
  /** Real servers, one per site (default 3). */
  realServers?: number;
  /** Default FAST_BGP_TIMERS. */
  timers?: BgpTimers;
}

export interface DirectorHost {
  /** 1-based. */
  index: number;
  ns: string;
  /** The host's address toward the router: its DIP and BGP source. */
  dip: string;
  /** The router's address on this host's link (the BGP neighbor). */
  routerAddress: string;
  birdDir: string;
  birdSocket: string;
  includeFile: string;
  bird?: ChildProcess;
  director?: DirectorHandle;
}

export interface ScaleoutLab extends Lab {
  hosts: DirectorHost[];
  routerBirdSocket: string;
  timers: BgpTimers;
  agents: Daemon[];
  apps: Map<number, Daemon>;
}

/**
 * The router's ECMP hash fields (net.ipv4.fib_multipath_hash_fields): source and destination
 * address, protocol, source and destination port.
 */
export const ECMP_HASH_FIELDS = 0x0037;

/**
 * Makes a Linux router hash ECMP on the packet's addresses and ports, as a router in front of
 * directors does. Not policy 1: for a forwarded packet that already carries an L4 hash, policy
 * 1 uses that hash instead of the headers, and over veth that is the client socket's random
 * hash, which Linux draws anew on every SYN retransmission (net.core.txrehash). A connection
 * whose SYN went to a dead director then tried another one a second later and succeeded, so
 * the lab counted no failed request while a silent director was still routed to. Policy 3
 * (custom fields) always dissects the headers: a connection keeps its next hop, as behind a
 * real router.
 */
export function hashEcmpOnHeaders(topo: Lab['topo'], ns: string): void {
  topo.sysctl(ns, 'net.ipv4.fib_multipath_hash_fields', ECMP_HASH_FIELDS);
  topo.sysctl(ns, 'net.ipv4.fib_multipath_hash_policy', 3);
  topo.sysctl(ns, 'net.ipv6.fib_multipath_hash_fields', ECMP_HASH_FIELDS);
  topo.sysctl(ns, 'net.ipv6.fib_multipath_hash_policy', 3);
}

/** Builds the namespaces and links (no daemon yet). On failure everything is removed. */
export function buildScaleoutLab(opts: ScaleoutLabOptions): ScaleoutLab {
  if (!Number.isInteger(opts.directors) || opts.directors < 1 || opts.directors > 8) throw new RangeError(`directors must be an integer 1..8, got ${opts.directors}`);
  const base = buildLab({ prefix: opts.prefix, realServers: opts.realServers ?? 3 });
  try {
    const { topo, router } = base;
    // Only BGP routes the VIP from now on; the probe source is not used (each director probes from its DIP).
    topo.exec(router, 'ip', ['route', 'del', `${base.vip}/32`]);
    topo.exec(router, 'ip', ['route', 'del', `${LAB_PROBE_SOURCE}/32`]);
    hashEcmpOnHeaders(topo, router);
    const hosts: DirectorHost[] = [];
    for (let i = 1; i <= opts.directors; i++) {
      let ns = base.director;
      let dip = base.dip;
      let routerAddress = '10.70.1.1';
      if (i > 1) {
        ns = topo.ns(`dir${i}`);
        forwardingDefaults(topo, ns);
        topo.veth(ns, 'eth0', router, `dir${i}`);
        dip = `10.70.${20 + i}.2`;
        routerAddress = `10.70.${20 + i}.1`;
        addr(topo, ns, 'eth0', `${dip}/24`);
        addr(topo, router, `dir${i}`, `${routerAddress}/24`);
        topo.exec(ns, 'ip', ['route', 'add', 'default', 'via', routerAddress]);
      }
      const birdDir = path.join(base.workDir, `bird-dir${i}`);
      mkdirSync(birdDir, { recursive: true });
      hosts.push({ index: i, ns, dip, routerAddress, birdDir, birdSocket: path.join(birdDir, 'bird.ctl'), includeFile: path.join(birdDir, 'vstun-vips.conf') });
    }
    const lab: ScaleoutLab = { ...base, hosts, routerBirdSocket: path.join(base.workDir, 'bird-router', 'bird.ctl'), timers: opts.timers === undefined ? FAST_BGP_TIMERS : opts.timers, agents: [], apps: new Map() };
    mkdirSync(path.dirname(lab.routerBirdSocket), { recursive: true });
    return lab;
  } catch (err) {
    base.cleanup();
    throw err;
  }
}

function timerLines(t: BgpTimers): string[] {
  return t === null ? [] : [`  hold time ${t.hold};`, `  keepalive time ${t.keepalive};`];
}

/** bird.conf of the router: eBGP to every director, ECMP into the kernel. */
export function routerBirdConf(lab: ScaleoutLab): string {
  return [
    `router id 10.70.1.1;`,
    `log "${path.join(path.dirname(lab.routerBirdSocket), 'bird.log')}" all;`,
    'protocol device { scan time 10; }',
    '# One kernel route with a next hop per director; the kernel hashes flows over them.',
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    'template bgp director {',
    `  local as ${ROUTER_AS};`,
    ...timerLines(lab.timers),
    '  connect retry time 1;',
    '  error wait time 1, 5;',
    '  ipv4 { import all; export none; };',
    '}',
    ...lab.hosts.map((h) => `protocol bgp dir${h.index} from director { neighbor ${h.dip} as ${DIRECTOR_AS}; }`),
    '',
  ].join('\n');
}

/** bird.conf of a director host: announce what vstun-director puts in the include, nothing into the kernel. */
export function directorBirdConf(lab: ScaleoutLab, host: DirectorHost): string {
  return [
    `router id ${host.dip};`,
    `log "${path.join(host.birdDir, 'bird.log')}" all;`,
    'protocol device { scan time 10; }',
    `include "${host.includeFile}";`,
    'protocol bgp uplink {',
    `  local ${host.dip} as ${DIRECTOR_AS};`,
    `  neighbor ${host.routerAddress} as ${ROUTER_AS};`,
    ...timerLines(lab.timers),
    '  connect retry time 1;',
    '  error wait time 1, 5;',
    '  ipv4 { import none; export where proto = "vstun_vips"; };',
    '}',
    '',
  ].join('\n');
}

async function spawnBird(lab: ScaleoutLab, ns: string, conf: string, socket: string, what: string): Promise<ChildProcess> {
  const dir = path.dirname(socket);
  const confFile = path.join(dir, 'bird.conf');
  writeFileSync(confFile, conf);
  // -f: stay in the foreground, so the lab's Topology owns (and kills) it; logs go to a file, never a pipe nobody reads.
  const child = lab.topo.spawn(ns, 'bird', ['-f', '-c', confFile, '-s', socket, '-P', path.join(dir, 'bird.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`bird (${what}) exited (${child.exitCode}): ${err.trim()}`);
      if (!existsSync(socket)) return false;
      return birdExchange({ socketPath: socket, timeoutMs: 1000 }, 'show status').then(
        (r) => r.code < 8000,
        () => false,
      );
    },
    15_000,
    `bird (${what}) on ${socket}`,
    100,
  );
  return child;
}

/** Starts the router's BIRD. */
export async function startRouterBird(lab: ScaleoutLab): Promise<ChildProcess> {
  return spawnBird(lab, lab.router, routerBirdConf(lab), lab.routerBirdSocket, 'router');
}

/** Starts BIRD on a director host, with an include that announces nothing until vstun-director writes it. */
export async function startDirectorBird(lab: ScaleoutLab, host: DirectorHost): Promise<ChildProcess> {
  if (!existsSync(host.includeFile)) writeFileSync(host.includeFile, renderVipInclude('vstun_vips', labTapName(lab), []));
  host.bird = await spawnBird(lab, host.ns, directorBirdConf(lab, host), host.birdSocket, `dir${host.index}`);
  return host.bird;
}

export interface ScaleoutServiceOptions {
  /** bgp.drainSeconds (default 2). */
  drainSeconds?: number;
  /** Real servers (addresses) to configure; default all of the lab's. */
  realServers?: string[];
}

/** director.yaml for one host: mh with mh-port on the lab app's HTTP and echo ports, tunnel health checks, bgp. */
export function scaleoutDirectorConfig(lab: ScaleoutLab, host: DirectorHost, opts: ScaleoutServiceOptions = {}): string {
  const servers = (opts.realServers ?? lab.realServers.map((r) => r.rip)).map((a) => `{ address: "${a}" }`).join(', ');
  const svc = (port: number) =>
    [
      `  - protocol: tcp`,
      `    vip: "${lab.vip}"`,
      `    port: ${port}`,
      '    scheduler: mh',
      '    flags: [mh-port]',
      // Tunnel checks from this host's DIP: the real server's answer is routed back to this host.
      '    healthCheck: { kind: tunnel, interval: 1, timeout: 1, rise: 1, fall: 2 }',
      `    realServers: [${servers}]`,
    ].join('\n');
  return [
    'director:',
    `  dip: "${host.dip}"`,
    '  connTableSize: 65536',
    '  logLevel: info',
    'bgp:',
    `  birdSocket: "${host.birdSocket}"`,
    `  includeFile: "${host.includeFile}"`,
    '  protocol: vstun_vips',
    `  drainSeconds: ${opts.drainSeconds ?? 2}`,
    'services:',
    svc(LAB_APP_HTTP_PORT),
    svc(LAB_APP_ECHO_PORT),
    '',
  ].join('\n');
}

/** Starts vstun-director on a host (its BIRD must run); resolves once its control socket answers. */
export async function startScaleoutDirector(lab: ScaleoutLab, host: DirectorHost, opts: ScaleoutServiceOptions & SpawnDaemonOptions = {}): Promise<DirectorHandle> {
  host.director = await startDirector(lab, { name: `director${host.index}`, ns: host.ns, dip: host.dip, config: scaleoutDirectorConfig(lab, host, opts), logFile: opts.logFile ?? path.join(lab.workDir, `director${host.index}.log`) });
  return host.director;
}

/** The router's next hops for the VIP now (from the kernel's FIB, what packets follow). */
export function routerNextHops(lab: ScaleoutLab): string[] {
  const out = lab.topo.tryExec(lab.router, 'ip', ['-4', 'route', 'show', `${lab.vip}/32`], 5000).stdout;
  return [...out.matchAll(/via (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]).sort();
}

/** Waits until the router's next hops for the VIP are exactly the DIPs of `hosts`; returns ms waited. */
export async function waitForNextHops(lab: ScaleoutLab, hosts: readonly DirectorHost[], timeoutMs = 30_000): Promise<number> {
  const want = hosts.map((h) => h.dip).sort().join(',');
  const t0 = Date.now();
  await waitFor(() => routerNextHops(lab).join(',') === want, timeoutMs, `the router's next hops for ${lab.vip} to be [${want}] (now [${routerNextHops(lab).join(',')}])`, 25);
  return Date.now() - t0;
}

/** Agents on every real server (accepting all director DIPs) and the lab app with its echo port. */
export async function startScaleoutRealServers(lab: ScaleoutLab): Promise<void> {
  const others = lab.hosts.slice(1).flatMap((h) => ['--director', h.dip]);
  for (const rs of lab.realServers) {
    lab.agents.push(await startAgent(lab, rs, { extraArgs: others, logFile: path.join(lab.workDir, `agent-rs${rs.index}.log`) }));
    lab.apps.set(rs.index, await startLabApp(lab, rs, { echo: true }));
  }
}

/** Starts everything: router BIRD, real servers, every director host's BIRD and director; waits for ECMP over all of them. */
export async function startScaleoutStack(lab: ScaleoutLab, opts: ScaleoutServiceOptions = {}): Promise<void> {
  await startRouterBird(lab);
  await startScaleoutRealServers(lab);
  for (const host of lab.hosts) {
    await startDirectorBird(lab, host);
    await startScaleoutDirector(lab, host, opts);
  }
  await waitForNextHops(lab, lab.hosts, 60_000);
}

/**
 * The host dies: with `silent`, its network goes quiet first (nftables drops everything in,
 * through and out, as a powered-off machine behind a switch), so the router learns only from the
 * BGP hold time; without, the processes die and the kernel closes their sockets. Then
 * vstun-director and BIRD get SIGKILL.
 */
export function killDirectorHost(lab: ScaleoutLab, host: DirectorHost, silent: boolean): void {
  if (silent) {
    lab.topo.exec(host.ns, 'nft', ['-f', '-'], {
      // Forwarding too: a live kernel would route the VIP's packets (its TAP route gone) back
      // to the router, which may hash them to another director: a dead host does not.
      input:
        'table inet vstun_lab_dead {\n chain in { type filter hook input priority -400; policy drop; }\n chain through { type filter hook forward priority -400; policy drop; }\n chain out { type filter hook output priority -400; policy drop; }\n}\n',
    });
  }
  for (const child of [host.director?.child, host.bird]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Brings a killed host back: network on, BIRD, vstun-director. */
export async function reviveDirectorHost(lab: ScaleoutLab, host: DirectorHost, opts: ScaleoutServiceOptions = {}): Promise<void> {
  lab.topo.tryExec(host.ns, 'nft', ['delete', 'table', 'inet', 'vstun_lab_dead'], 5000);
  // Only vstun-director died (kill -9 of the process): BIRD still runs.
  if (!host.bird || host.bird.exitCode !== null || host.bird.signalCode !== null) await startDirectorBird(lab, host);
  await startScaleoutDirector(lab, host, opts);
}

/** Stops every daemon (directors gracefully, so they undo their host changes) and removes the lab. */
export async function stopScaleoutLab(lab: ScaleoutLab): Promise<void> {
  try {
    await Promise.all(lab.hosts.map((h) => (h.director && h.director.child.exitCode === null ? h.director.stop(4000) : null)));
    await Promise.all([...lab.agents, ...lab.apps.values()].map((d) => d.stop(3000)));
  } finally {
    lab.cleanup();
  }
}

export interface ClientStatus {
  elapsedMs: number;
  flows: {
    opened: number;
    established: number;
    connecting: number;
    behind: number;
    broken: number;
    bytesSent: number;
    bytesVerified: number;
    byServer: Record<string, number>;
    brokenDetails: { id: number; server: string; localPort: number; reason?: string; atMs?: number }[];
  };
  requests: { ok: number; failed: number; delayed: number; byServer: Record<string, number>; failures: { atMs: number; error: string }[] };
}

/** What the request loop did between two statuses of the same client run. */
export interface RequestWindow {
  attempted: number;
  failed: number;
  /** Answered after a SYN retransmission (900 ms or more). */
  delayed: number;
  /** Failed requests by curl's message (from the failures recorded in the window). */
  reasons: Record<string, number>;
}

/**
 * The requests that ended between `before` and `after` (two statuses of one client run, in
 * that order): attempted and failed from the counters, the reasons from the failures recorded
 * since `before` (the client appends each when it ends; it keeps the first 1000).
 */
export function requestWindow(before: ClientStatus, after: ClientStatus): RequestWindow {
  if (after.elapsedMs < before.elapsedMs) throw new RangeError(`statuses out of order: ${after.elapsedMs} ms before ${before.elapsedMs} ms`);
  const failed = after.requests.failed - before.requests.failed;
  const attempted = after.requests.ok - before.requests.ok + failed;
  if (failed < 0 || attempted < failed) throw new RangeError('statuses of different client runs: a counter went down');
  const reasons: Record<string, number> = {};
  for (const f of after.requests.failures.slice(before.requests.failures.length)) {
    const key = f.error.replace(/\d+ (ms|milliseconds)/g, 'N $1').slice(0, 100);
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  return { attempted, failed, delayed: after.requests.delayed - before.requests.delayed, reasons };
}

export interface ScaleoutClient {
  /** The latest status the client wrote (null before the first). */
  status(): ClientStatus | null;
  /** SIGTERM: flows closed cleanly; resolves with the final status. */
  stop(): Promise<ClientStatus>;
}

export interface ScaleoutClientOptions {
  flows: number;
  chunk?: number;
  intervalMs?: number;
  requestGapMs?: number;
  /** Curl loops side by side (default 1). */
  requestLoops?: number;
  maxSeconds?: number;
}

/** Starts src/lab/scaleout-client.ts in the client namespace; resolves once every flow is established. */
export async function startScaleoutClient(lab: ScaleoutLab, opts: ScaleoutClientOptions): Promise<ScaleoutClient> {
  const statusFile = path.join(lab.workDir, `client-${Date.now()}.json`);
  const args = [path.join(REPO_ROOT, 'dist/lab/scaleout-client.js'), '--host', lab.vip, '--status', statusFile, '--flows', String(opts.flows)];
  args.push('--echo-port', String(LAB_APP_ECHO_PORT), '--http-port', String(LAB_APP_HTTP_PORT));
  args.push('--chunk', String(opts.chunk ?? 200), '--interval-ms', String(opts.intervalMs ?? 250), '--request-gap-ms', String(opts.requestGapMs ?? 100));
  args.push('--request-loops', String(opts.requestLoops ?? 1), '--max-seconds', String(opts.maxSeconds ?? 600));
  const child = lab.topo.spawn(lab.client, process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const read = (): ClientStatus | null => {
    try {
      return JSON.parse(readFileSync(statusFile, 'utf8')) as ClientStatus;
    } catch {
      return null;
    }
  };
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`scaleout-client exited (${child.exitCode}): ${err.trim()}`);
      const s = read();
      if (s && s.flows.broken > 0) throw new Error(`scaleout-client: ${s.flows.broken} flows broke while opening: ${JSON.stringify(s.flows.brokenDetails.slice(0, 3))}`);
      return s !== null && s.flows.established === opts.flows && s.requests.ok > 0;
    },
    60_000,
    `${opts.flows} long-lived flows established through the VIP`,
    200,
  );
  return {
    status: read,
    stop: () =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          const s = read();
          return s ? resolve(s) : reject(new Error(`scaleout-client left no status: ${err.trim()}`));
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          const s = read();
          if (s) resolve(s);
          else reject(new Error(`scaleout-client left no status: ${err.trim()}`));
        });
        child.kill('SIGTERM');
      }),
  };
}
