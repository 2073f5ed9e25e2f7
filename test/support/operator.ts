// The operator's view for the e2e suites test/e2e/operator-*.test.ts: vstun-director started
// from the built binary with no config (or with one, for reloads), changed only by running
// the built vstunadm with ipvsadm's words inside the director host's namespace, and looked
// at with the host's own tools (`ip route` on the TAP, curl from the client).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, labTapName, spawnDaemon, startAgent, type Daemon } from '../../src/lab/lab-daemons.js';
import { run, waitFor, type RunResult } from '../../src/lab/netns.js';
import type { Lab, LabRealServer } from '../../src/lab/vs-lab.js';

export const VSTUNADM = path.join(REPO_ROOT, 'dist/cli/vstunadm.js');
const DIRECTOR = path.join(REPO_ROOT, 'dist/cli/vstun-director.js');

/** The run-time directory an instance with default paths uses in namespace `ns` (src/host/instance-paths.ts). */
export const runDirOf = (ns: string): string => `/run/vstun/netns/${ns}`;

export interface OperatorDirector extends Daemon {
  ns: string;
  tap: string;
  /** The control socket; '' when the director runs with its default (per-namespace) path. */
  control: string;
  configPath?: string;
  /** The state file of its host changes (under /run/vstun/netns/NS with default paths). */
  stateFile: string;
  /** Runs the built vstunadm in the director's namespace with these ipvsadm words; never throws. */
  adm(args: string[], input?: string): RunResult;
}

export interface OperatorDirectorOptions {
  /** Namespace of the director host (default the lab's). */
  ns?: string;
  /** YAML for --config; omitted: the director starts with no config at all. */
  config?: string;
  /**
   * Default flags only (no --tap/--control/--state-file): TAP vstun0 and the files under
   * /run/vstun/netns/NS. Otherwise a TAP name unique to the lab and the files in lab.workDir,
   * with vstunadm finding the socket through VSTUN_CONTROL (its documented fallback).
   */
  defaultPaths?: boolean;
  /** More vstun-director flags (e.g. --no-setup). */
  extraArgs?: string[];
}

/** Runs the built vstunadm in `ns`; `control` '' leaves the socket to vstunadm's default. */
export function vstunadmIn(ns: string, control: string, args: string[], input?: string): RunResult {
  const env = control ? ['env', `VSTUN_CONTROL=${control}`] : [];
  return run('ip', ['netns', 'exec', ns, ...env, process.execPath, VSTUNADM, ...args], { allowFail: true, timeoutMs: 15_000, input });
}

/** Starts vstun-director from dist/ (no config unless given); resolves once `vstunadm -L -n` answers. */
export async function startOperatorDirector(lab: Lab, opts: OperatorDirectorOptions = {}): Promise<OperatorDirector> {
  const ns = opts.ns ?? lab.director;
  const args = [DIRECTOR];
  let tap = 'vstun0';
  let control = '';
  let stateFile = `${runDirOf(ns)}/director-vstun0.state.json`;
  if (!opts.defaultPaths) {
    tap = labTapName(lab);
    control = path.join(lab.workDir, `director-${ns}.sock`);
    stateFile = path.join(lab.workDir, `director-${ns}.state.json`);
    args.push('--tap', tap, '--control', control, '--state-file', stateFile);
  }
  let configPath: string | undefined;
  if (opts.config !== undefined) {
    configPath = path.join(lab.workDir, `director-${ns}.yaml`);
    writeFileSync(configPath, opts.config);
    args.push('--config', configPath);
  }
  const daemon = spawnDaemon(lab, ns, [...args, ...(opts.extraArgs ?? [])]);
  const adm = (words: string[], input?: string) => vstunadmIn(ns, control, words, input);
  await waitFor(
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`vstun-director exited (${daemon.child.exitCode}): ${daemon.output().trim()}`);
      return adm(['-L', '-n']).status === 0;
    },
    30_000,
    `vstun-director in ${ns} to answer vstunadm -L -n`,
    200,
  );
  return { ...daemon, ns, tap, control, configPath, stateFile, adm };
}

/** Runs vstunadm and throws with its stderr unless it exits 0; returns stdout. */
export function admOk(d: OperatorDirector, args: string[], input?: string): string {
  const r = d.adm(args, input);
  if (r.status !== 0) throw new Error(`vstunadm ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** The routes on the director host that go into its TAP (IPv4 and IPv6), as `ip route` prints them. */
export function tapRoutes(lab: Lab, d: OperatorDirector): string {
  const v4 = lab.topo.exec(d.ns, 'ip', ['-4', 'route', 'show', 'dev', d.tap], { allowFail: true });
  const v6 = lab.topo.exec(d.ns, 'ip', ['-6', 'route', 'show', 'dev', d.tap], { allowFail: true });
  return v4 + v6;
}

/** True when `ip route` in the director's namespace sends `vip` (its /32 or /128) into the TAP. */
export function vipRoutedToTap(lab: Lab, d: OperatorDirector, vip: string): boolean {
  const family = vip.includes(':') ? '-6' : '-4';
  const out = lab.topo.exec(d.ns, 'ip', [family, 'route', 'show', 'exact', vip.includes(':') ? `${vip}/128` : `${vip}/32`], { allowFail: true });
  return out.includes(`dev ${d.tap}`);
}

/** The HTTP URL of `vip` port 80 (brackets for IPv6). */
export const vipUrl = (vip: string, port = 80): string => `http://${vip.includes(':') ? `[${vip}]` : vip}:${port}/`;

/** One curl from the lab's client (bounded: `maxTimeS`); the body trimmed, or null when it failed. */
export function curlOnce(lab: Lab, url: string, maxTimeS = 2): string | null {
  const r = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', String(maxTimeS), '-H', 'Connection: close', url], (maxTimeS + 5) * 1000);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Waits (bounded) until a curl to `url` from the client answers; returns the first body. */
export async function firstAnswer(lab: Lab, url: string, timeoutMs = 15_000): Promise<string> {
  let body: string | null = null;
  await waitFor(() => (body = curlOnce(lab, url)) !== null, timeoutMs, `an answer from ${url}`, 200);
  return body!;
}

/** How many answers each real server gave: { rs1: n, … }. */
export function countByServer(answers: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  return counts;
}

/**
 * Starts the lab app (src/lab/lab-app.ts: answers "rsN") on port 80 of each of `vips` on a
 * real server; the agent must already hold them on lo. Resolves once it answers locally.
 */
export async function startVipApp(lab: Lab, rs: LabRealServer, vips: string[]): Promise<Daemon> {
  const args = [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, ...vips.flatMap((v) => ['--host', v]), '--http-port', '80', '--udp-port', '7'];
  const app = spawnDaemon(lab, rs.ns, args);
  await waitFor(
    () => {
      if (app.child.exitCode !== null) throw new Error(`lab app on rs${rs.index} exited (${app.child.exitCode}): ${app.output().trim()}`);
      return vips.every((v) => lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', vipUrl(v)], 3000).status === 0);
    },
    15_000,
    `the lab app on rs${rs.index}`,
    100,
  );
  return app;
}

/** Routes `vip` from the lab's router to the director host, as the operator's router (or BGP) would. */
export function routeVipToDirectorHost(lab: Lab, vip: string, via = lab.dip): void {
  lab.topo.exec(lab.router, 'ip', [vip.includes(':') ? '-6' : '-4', 'route', 'replace', vip.includes(':') ? `${vip}/128` : `${vip}/32`, 'via', via]);
}

/** Removes what instances with default paths may leave under /run/vstun/netns when a test kills them. */
export function removeRunDirs(namespaces: readonly string[]): void {
  for (const ns of namespaces) rmSync(runDirOf(ns), { recursive: true, force: true });
}

/**
 * On every real server: vstun-agent for the lab's VIP(s) plus `extraVips` (and any flags
 * `agentArgs` gives for that server), then the lab app on all those VIPs. Returns the daemons.
 */
export async function startRealServers(lab: Lab, extraVips: string[], agentArgs: (rs: LabRealServer) => string[] = () => []): Promise<Daemon[]> {
  const daemons: Daemon[] = [];
  const vips = [lab.vip, ...(lab.vip6 ? [lab.vip6] : []), ...extraVips];
  for (const rs of lab.realServers) {
    daemons.push(await startAgent(lab, rs, { extraArgs: [...extraVips.flatMap((v) => ['--vip', v]), ...agentArgs(rs)] }));
    daemons.push(await startVipApp(lab, rs, vips));
  }
  return daemons;
}

/** afterAll: SIGTERM each daemon in order (directors first, so they undo their routes), then remove the lab. Never throws. */
export async function tearDown(lab: Lab | undefined, daemons: readonly (Daemon | undefined)[]): Promise<void> {
  for (const d of daemons) await d?.stop(3000).catch(() => null);
  lab?.cleanup();
}
