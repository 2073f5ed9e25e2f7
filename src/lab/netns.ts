// Network-namespace toolkit shared by the demo, the benchmark and the end-to-end tests.
// Every namespace name is unique per run (prefix + pid + random), every spawned process is
// tracked, and cleanup() removes it all: call it from finally/afterAll and on signals.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** True when this process may create namespaces, TUN devices and raw sockets. */
export function canRunNetnsTests(): boolean {
  if (!isRoot()) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { timeout: 60_000, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Runs a command synchronously; throws with stderr on non-zero exit unless allowFail. */
export function run(cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): RunResult {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 30_000,
      input: opts.input,
    });
    return { stdout, stderr: '', status: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; status?: number | null; message: string };
    const res = { stdout: e.stdout ?? '', stderr: e.stderr ?? e.message, status: e.status ?? -1 };
    if (opts.allowFail) return res;
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr.trim()}`);
  }
}

export class Topology {
  /** Short unique tag for this run, usable inside interface names (<= 15 chars total). */
  readonly tag: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly rootLinks: string[] = [];
  private cleaned = false;

  constructor(readonly prefix: string) {
    this.tag = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
    const onExit = () => this.cleanup();
    process.once('exit', onExit);
  }

  /** Creates a namespace named `vt-<prefix>-<role>-<tag>` with lo up; returns its name. */
  ns(role: string): string {
    const name = `vt-${this.prefix}-${role}-${this.tag}`;
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    this.exec(name, 'ip', ['link', 'set', 'lo', 'up']);
    return name;
  }

  /** Creates a veth pair between two namespaces (either may be null for the root namespace). */
  veth(nsA: string | null, ifA: string, nsB: string | null, ifB: string): void {
    const args = ['link', 'add', ifA];
    if (nsA) args.push('netns', nsA);
    args.push('type', 'veth', 'peer', 'name', ifB);
    if (nsB) args.push('netns', nsB);
    run('ip', args);
    if (!nsA) this.rootLinks.push(ifA);
    if (!nsB) this.rootLinks.push(ifB);
    this.exec(nsA, 'ip', ['link', 'set', ifA, 'up']);
    this.exec(nsB, 'ip', ['link', 'set', ifB, 'up']);
  }

  /** Runs a command inside a namespace (null = root) and returns its stdout. */
  exec(ns: string | null, cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): string {
    const full = ns ? ['netns', 'exec', ns, cmd, ...args] : [cmd, ...args];
    const res = ns ? run('ip', full, opts) : run(cmd, args, opts);
    return res.stdout;
  }

  /** Like exec but returns the whole result and never throws. */
  tryExec(ns: string | null, cmd: string, args: string[], timeoutMs = 30_000): RunResult {
    return ns ? run('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail: true, timeoutMs }) : run(cmd, args, { allowFail: true, timeoutMs });
  }

  /** Sets a sysctl inside a namespace. */
  sysctl(ns: string | null, key: string, value: string | number): void {
    this.exec(ns, 'sysctl', ['-qw', `${key}=${value}`]);
  }

  /** Starts a long-running process in a namespace; it is killed by cleanup(). */
  spawn(ns: string | null, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const full = ns ? ['netns', 'exec', ns, cmd, ...args] : [cmd, ...args];
    const child = spawn(ns ? 'ip' : cmd, ns ? full : args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.push(child);
    return child;
  }

  /** Namespaces created so far, in creation order. */
  get namespaceNames(): readonly string[] {
    return this.namespaces;
  }

  /** Hands everything over to the caller: cleanup() (and the exit hook) then do nothing. For the demo's --keep. */
  release(): void {
    this.cleaned = true;
  }

  /** Kills every spawned process and deletes every namespace and root-namespace link. Idempotent. */
  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (const ns of this.namespaces) {
      // Kill anything still running inside (e.g. a daemon started by a child).
      const pids = run('ip', ['netns', 'pids', ns], { allowFail: true }).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      run('ip', ['netns', 'del', ns], { allowFail: true });
    }
    for (const link of this.rootLinks) run('ip', ['link', 'del', link], { allowFail: true });
  }
}

/** Waits until `probe` returns true, polling every `intervalMs`, or throws after `timeoutMs`. */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
