// Starting vstun's own daemons inside a lab: vstun-agent on the real servers and
// vstun-director on the director host, from the compiled dist/ binaries, the way an operator
// would run them. Shared by the demo, the integration suite and the benchmark.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from './lab-control.js';
import { waitFor } from './netns.js';
import type { Lab, LabRealServer } from './vs-lab.js';

/** The repository root (dist/lab/.. /..  or src/lab/../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Daemon {
  child: ChildProcess;
  /** Everything the daemon printed so far (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnDaemonOptions {
  /** Write output to this file instead of keeping it in memory (and detach: for --keep). */
  logFile?: string;
  /** Options for node itself, before the script (e.g. --cpu-prof for the benchmark). */
  nodeArgs?: string[];
}

/** Spawns node with `args` in namespace `ns`, keeping its output; the lab's cleanup kills it. */
export function spawnDaemon(lab: Lab, ns: string, args: string[], opts: SpawnDaemonOptions = {}): Daemon {
  let out = '';
  const spawnOpts: SpawnOptions = { cwd: REPO_ROOT };
  if (opts.logFile) {
    const fd = openSync(opts.logFile, 'a');
    spawnOpts.stdio = ['ignore', fd, fd];
    spawnOpts.detached = true;
  }
  const child = lab.topo.spawn(ns, process.execPath, [...(opts.nodeArgs ?? []), ...args], spawnOpts);
  if (opts.logFile) child.unref();
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => out,
    stop: (graceMs = 5000) =>
      new Promise((resolve) => {
        if (exited()) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface AgentOptions extends SpawnDaemonOptions {
  /** HTTP endpoint inside the RS namespace (default 127.0.0.1:9470). */
  listen?: string;
  extraArgs?: string[];
}

/** Starts vstun-agent on a real server for the lab's VIP(s) and DIP(s); resolves once /healthz answers. */
export async function startAgent(lab: Lab, rs: LabRealServer, opts: AgentOptions = {}): Promise<Daemon> {
  const listen = opts.listen ?? '127.0.0.1:9470';
  const args = [path.join(REPO_ROOT, 'dist/cli/vstun-agent.js'), '--vip', lab.vip, '--director', lab.dip];
  if (lab.vip6 && lab.dip6) args.push('--vip', lab.vip6, '--director', lab.dip6);
  args.push('--state-file', path.join(lab.workDir, `agent-rs${rs.index}.state.json`), '--listen', listen, ...(opts.extraArgs ?? []));
  const agent = spawnDaemon(lab, rs.ns, args, opts);
  await waitFor(
    () => {
      if (agent.child.exitCode !== null) throw new Error(`vstun-agent on rs${rs.index} exited (${agent.child.exitCode}): ${agent.output().trim()}`);
      return lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', `http://${listen}/healthz`], 3000).status === 0;
    },
    20_000,
    `vstun-agent /healthz on rs${rs.index}`,
    100,
  );
  return agent;
}

export interface DirectorHandle extends Daemon {
  tap: string;
  controlPath: string;
  configPath: string;
  /** One control-socket request (NDJSON v1); rejects on transport errors, not on ok:false. */
  control(op: string, fields?: Record<string, unknown>): Promise<Record<string, any>>;
}

export interface DirectorOptions extends SpawnDaemonOptions {
  /** The YAML text of the config file (the `director.tap` given here is overridden by --tap). */
  config: string;
  /** Name for the config/socket files, so that several directors can share a lab (default "director"). */
  name?: string;
  extraArgs?: string[];
  /** Namespace to run it in (default the lab's director host; the scale-out lab has several). */
  ns?: string;
  /** --dip (default the lab's DIP). */
  dip?: string;
}

/** TAP name unique to this lab (interface names are global per namespace, but keep them tidy). */
export function labTapName(lab: Lab): string {
  return `vt${lab.topo.tag}`.slice(0, 15);
}

/** Starts vstun-director on the director host; resolves once its control socket answers `status`. */
export async function startDirector(lab: Lab, opts: DirectorOptions): Promise<DirectorHandle> {
  const name = opts.name ?? 'director';
  const tap = labTapName(lab);
  const configPath = path.join(lab.workDir, `${name}.yaml`);
  const controlPath = path.join(lab.workDir, `${name}.sock`);
  writeFileSync(configPath, opts.config);
  const args = [path.join(REPO_ROOT, 'dist/cli/vstun-director.js'), '--config', configPath, '--tap', tap, '--dip', opts.dip ?? lab.dip, '--control', controlPath];
  args.push('--metrics', '127.0.0.1:9469', ...(opts.extraArgs ?? []));
  const daemon = spawnDaemon(lab, opts.ns ?? lab.director, args, opts);
  const control = (op: string, fields: Record<string, unknown> = {}) => controlRequest(controlPath, { v: 1, op, ...fields });
  await waitFor(
    async () => {
      if (daemon.child.exitCode !== null) throw new Error(`vstun-director exited (${daemon.child.exitCode}): ${daemon.output().trim()}`);
      if (!existsSync(controlPath)) return false;
      const status = await control('status').catch(() => ({ ok: false }));
      return status.ok === true;
    },
    20_000,
    'the vstun-director control socket',
    100,
  );
  return { ...daemon, tap, controlPath, configPath, control };
}

/** YAML for one service line: `- { protocol: tcp, vip: …, port: 80, scheduler: wrr, realServers: [...] }`. */
export function serviceYaml(svc: { protocol: 'tcp' | 'udp'; vip: string; port: number; scheduler: string; realServers: { address: string; weight?: number }[]; extra?: string }): string {
  const servers = svc.realServers.map((r) => `{ address: "${r.address}"${r.weight !== undefined ? `, weight: ${r.weight}` : ''} }`).join(', ');
  return `  - { protocol: ${svc.protocol}, vip: "${svc.vip}", port: ${svc.port}, scheduler: ${svc.scheduler}${svc.extra ? `, ${svc.extra}` : ''}, realServers: [${servers}] }`;
}

/** HTTP port of the lab app (src/lab/lab-app.ts) on the VIP; its UDP echo port is LAB_APP_UDP_PORT. */
export const LAB_APP_HTTP_PORT = 8080;
export const LAB_APP_UDP_PORT = 7;

/** TCP echo port of the lab app when started with `echo: true` (scale-out tests' long-lived flows). */
export const LAB_APP_ECHO_PORT = 9000;

/** Starts the lab app on a real server's VIP(s) (the agent must have put them on lo); resolves once it answers. */
export async function startLabApp(lab: Lab, rs: LabRealServer, opts: SpawnDaemonOptions & { echo?: boolean } = {}): Promise<Daemon> {
  const args = [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, '--host', lab.vip, ...(lab.vip6 ? ['--host', lab.vip6] : [])];
  args.push('--http-port', String(LAB_APP_HTTP_PORT), '--udp-port', String(LAB_APP_UDP_PORT));
  if (opts.echo) args.push('--echo-port', String(LAB_APP_ECHO_PORT));
  const app = spawnDaemon(lab, rs.ns, args, opts);
  await waitFor(
    () => {
      if (app.child.exitCode !== null) throw new Error(`lab app on rs${rs.index} exited (${app.child.exitCode}): ${app.output().trim()}`);
      return lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`], 3000).status === 0;
    },
    10_000,
    `the lab app on rs${rs.index}`,
    100,
  );
  return app;
}
