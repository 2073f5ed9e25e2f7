// Every change vstun makes to the host (sysctls, addresses, routes, links) goes through
// HostChanges. Each change records how to undo itself, and the record is written to a
// state file before the change is made, so that the next start can undo what a crashed
// (kill -9) run left behind. Undo runs in reverse order and never throws. A state file has
// one owner at a time: a lock file next to it (created with O_EXCL, holding the owner's pid
// and start time) makes a second instance that would share it refuse to start, and a lock
// whose owner is dead (kill -9) is taken over.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type HostChange =
  | { kind: 'sysctl'; path: string; previous: string; value: string }
  | { kind: 'address'; dev: string; cidr: string }
  | { kind: 'route'; spec: string[]; family: 4 | 6 }
  | { kind: 'link'; name: string }
  | { kind: 'link-up'; name: string }
  /** An nftables table vstun owns whole (the director's guard); undone by deleting the table. */
  | { kind: 'nft-table'; family: 'inet' | 'ip' | 'ip6'; name: string }
  | { kind: 'txqueuelen'; name: string; previous: number; value: number }
  /** A policy-routing rule (`ip rule add SPEC`); undone by `ip rule del SPEC`. */
  | { kind: 'rule'; spec: string[]; family: 4 | 6 }
  /** A link made a port of a bridge; undone by `ip link set NAME nomaster`. */
  | { kind: 'master'; name: string; master: string };

/** The side-effecting primitives, injectable so that unit tests can record instead of act. */
export interface HostSystem {
  /** Runs `ip ARGS...`; throws an Error carrying ip's stderr on failure. */
  ip(args: string[]): string;
  readSysctl(path: string): string;
  writeSysctl(path: string, value: string): void;
  /**
   * Runs `ip -force -batch -` over `commands` (each one ip command without "ip") without
   * blocking the event loop; resolves per command: null when it succeeded, else its error.
   * Optional: without it, HostChanges runs each command through ip() (test fakes).
   */
  ipBatch?(commands: string[][]): Promise<Array<string | null>>;
  /**
   * The same, blocking: for start-up and undo, where thousands of routes would otherwise cost
   * one `ip` process each. Optional: without it, HostChanges runs each command through ip().
   */
  ipBatchSync?(commands: string[][]): Array<string | null>;
  /** Runs `nft ARGS...` with `input` on stdin; throws an Error carrying nft's stderr on failure. Start-up and undo only. */
  nft?(args: string[], input?: string): string;
}

export const realHostSystem: HostSystem = {
  ip(args) {
    try {
      return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new HostChangeError('HOST_COMMAND_FAILED', `ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
    }
  },
  readSysctl(p) {
    return readFileSync(path.join('/proc/sys', p), 'utf8').trim();
  },
  ipBatch(commands) {
    return new Promise((resolve) => {
      const child = execFile('ip', ['-force', '-batch', '-'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (err, _stdout, stderr) => {
        const results: Array<string | null> = commands.map(() => null);
        if (err && !/Command failed/.test(stderr)) {
          // ip itself failed (not found, killed by the timeout): every command counts as failed.
          const why = (stderr || err.message).trim();
          resolve(results.map(() => why));
          return;
        }
        resolve(batchFailures(stderr, results));
      });
      child.stdin?.end(commands.map((c) => c.join(' ')).join('\n') + '\n');
    });
  },
  ipBatchSync(commands) {
    const results: Array<string | null> = commands.map(() => null);
    if (commands.length === 0) return results;
    try {
      execFileSync('ip', ['-force', '-batch', '-'], { encoding: 'utf8', input: commands.map((c) => c.join(' ')).join('\n') + '\n', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 << 20 });
      return results;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const stderr = e.stderr ?? '';
      // ip itself failed (not found, killed by the timeout): every command counts as failed.
      if (!/Command failed/.test(stderr)) return results.map(() => (stderr || e.message).trim());
      return batchFailures(stderr, results);
    }
  },
  nft(args, input) {
    try {
      return execFileSync('nft', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      const hint = e.code === 'ENOENT' ? ' (nft is not installed: apt-get install nftables, or set director.guard.enabled: false)' : '';
      throw new HostChangeError('HOST_COMMAND_FAILED', `nft ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}${hint}`);
    }
  },
  writeSysctl(p, value) {
    writeFileSync(path.join('/proc/sys', p), value);
  },
};

export class HostChangeError extends Error {
  constructor(
    readonly code: 'HOST_COMMAND_FAILED' | 'HOST_SYSCTL_FAILED' | 'HOST_STATE_CORRUPT' | 'HOST_STATE_LOCKED',
    message: string,
  ) {
    super(message);
    this.name = 'HostChangeError';
  }
}

/**
 * ip -force -batch's stderr: each failed line's messages, then "Command failed -:N". Fills
 * `results[N-1]` with the messages; the others stay null (succeeded).
 */
export function batchFailures(stderr: string, results: Array<string | null>): Array<string | null> {
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(line.trim());
    if (!m) {
      if (line.trim() !== '') pending.push(line.trim());
      continue;
    }
    const i = Number(m[1]) - 1;
    if (i >= 0 && i < results.length) results[i] = pending.join('; ') || 'failed';
    pending = [];
  }
  return results;
}

/** `net.ipv4.conf.eth0.rp_filter` or `net/ipv4/conf/eth0/rp_filter` → the /proc/sys path. */
export function sysctlPath(key: string): string {
  return key.includes('/') ? key : key.replace(/\./g, '/');
}

/** For device-specific sysctls, safe with dotted device names like `eth0.100`. */
export function confSysctl(family: 4 | 6, dev: string, name: string): string {
  return `net/ipv${family}/conf/${dev}/${name}`;
}

export interface UndoReport {
  undone: number;
  failed: string[];
}

export class HostChanges {
  private readonly changes: HostChange[] = [];
  private locked = false;

  /**
   * @param stateFile where pending undo records live (null: keep them in memory only).
   * @param system    the host primitives (the real host by default).
   */
  constructor(
    private readonly stateFile: string | null,
    private readonly system: HostSystem = realHostSystem,
  ) {}

  /** Changes applied so far, oldest first. */
  get applied(): readonly HostChange[] {
    return this.changes;
  }

  /**
   * Undoes what a previous run recorded in the state file and did not undo (it crashed).
   * Returns what was done; a missing file means a clean previous exit.
   */
  recover(): UndoReport {
    if (!this.stateFile) return { undone: 0, failed: [] };
    this.lock();
    if (!existsSync(this.stateFile)) return { undone: 0, failed: [] };
    let stale: HostChange[];
    try {
      stale = JSON.parse(readFileSync(this.stateFile, 'utf8')) as HostChange[];
      if (!Array.isArray(stale)) throw new Error('not an array');
    } catch (err) {
      throw new HostChangeError(
        'HOST_STATE_CORRUPT',
        `state file ${this.stateFile} is unreadable (${(err as Error).message}); inspect it, undo its changes by hand and delete it`,
      );
    }
    const report = this.undoList(stale);
    unlinkSync(this.stateFile);
    return report;
  }

  /** Sets a sysctl if it differs, remembering the previous value. */
  setSysctl(key: string, value: string | number): void {
    const p = sysctlPath(key);
    const want = String(value);
    let previous: string;
    try {
      previous = this.system.readSysctl(p);
    } catch (err) {
      throw new HostChangeError('HOST_SYSCTL_FAILED', `cannot read sysctl ${p.replace(/\//g, '.')}: ${(err as Error).message}`);
    }
    if (previous === want) return;
    this.record({ kind: 'sysctl', path: p, previous, value: want });
    try {
      this.system.writeSysctl(p, want);
    } catch (err) {
      this.changes.pop();
      this.persist();
      throw new HostChangeError('HOST_SYSCTL_FAILED', `cannot set sysctl ${p.replace(/\//g, '.')}=${want}: ${(err as Error).message}`);
    }
  }

  /** Adds `cidr` (e.g. 10.0.0.1/32, 2001:db8::1/128) to `dev` unless it is already there. */
  addAddress(dev: string, cidr: string): void {
    if (this.hasAddress(dev, cidr)) return;
    this.apply({ kind: 'address', dev, cidr }, ['addr', 'add', cidr, 'dev', dev]);
  }

  /** True when `dev` carries exactly `cidr`. */
  hasAddress(dev: string, cidr: string): boolean {
    const family = cidr.includes(':') ? '-6' : '-4';
    let out: string;
    try {
      out = this.system.ip([family, '-o', 'addr', 'show', 'dev', dev]);
    } catch {
      return false;
    }
    const [addr, len] = cidr.split('/');
    return out.split('\n').some((line) => {
      const m = /\binet6?\s+(\S+)/.exec(line);
      if (!m) return false;
      const [a, l] = m[1].split('/');
      return a === addr && (len === undefined || l === len);
    });
  }

  /** Adds a route, e.g. `['10.0.0.1/32', 'via', '169.254.1.1', 'dev', 'vstun0']`. */
  addRoute(spec: string[]): void {
    const family: 4 | 6 = spec[0].includes(':') ? 6 : 4;
    this.apply({ kind: 'route', spec, family }, [`-${family}`, 'route', 'add', ...spec]);
  }

  /**
   * Adds routes at start, all or none, in one `ip -batch` (thousands of VIPs would otherwise
   * cost a process and a state-file write each). The undo records are written first, in one
   * write; when any route is refused, the ones added are deleted again, no record is kept,
   * and HOST_COMMAND_FAILED names the first refusal.
   */
  addRoutes(specs: readonly string[][]): void {
    if (specs.length === 0) return;
    const records: HostChange[] = specs.map((spec) => ({ kind: 'route', spec: [...spec], family: spec[0].includes(':') ? 6 : 4 }));
    this.changes.push(...records);
    this.persist();
    const results = this.runBatchSync(specs.map((spec) => ['route', 'add', ...spec]));
    const failed = results.findIndex((r) => r !== null);
    if (failed < 0) return;
    const added = specs.filter((_, i) => results[i] === null);
    if (added.length) this.runBatchSync(added.map((spec) => ['route', 'del', ...spec]));
    this.forget(records);
    throw new HostChangeError('HOST_COMMAND_FAILED', `ip route add ${specs[failed].join(' ')}: ${results[failed]}`);
  }

  /**
   * Adds routes after start, all or none, without blocking the event loop (one `ip -batch`).
   * The undo records are written first; when any route is refused, the ones added are
   * deleted again, no record is kept, and HOST_COMMAND_FAILED names the first refusal.
   */
  async addRoutesAsync(specs: readonly string[][]): Promise<void> {
    if (specs.length === 0) return;
    const records: HostChange[] = specs.map((spec) => ({ kind: 'route', spec: [...spec], family: spec[0].includes(':') ? 6 : 4 }));
    this.changes.push(...records);
    this.persist();
    let results: Array<string | null>;
    try {
      results = await this.runBatch(specs.map((spec) => ['route', 'add', ...spec]));
    } catch (err) {
      results = specs.map(() => (err as Error).message);
    }
    const failed = results.findIndex((r) => r !== null);
    if (failed < 0) return;
    const added = specs.filter((_, i) => results[i] === null);
    if (added.length) await this.runBatch(added.map((spec) => ['route', 'del', ...spec])).catch(() => []);
    this.forget(records);
    throw new HostChangeError('HOST_COMMAND_FAILED', `ip route add ${specs[failed].join(' ')}: ${results[failed]}`);
  }

  /**
   * Deletes routes this object added (by their spec) and drops their undo records, without
   * blocking the event loop. A route already gone counts as deleted. Returns the failures
   * (their records are kept, so the exit undo tries again).
   */
  async removeRoutesAsync(specs: readonly string[][]): Promise<string[]> {
    if (specs.length === 0) return [];
    let results: Array<string | null>;
    try {
      results = await this.runBatch(specs.map((spec) => ['route', 'del', ...spec]));
    } catch (err) {
      results = specs.map(() => (err as Error).message);
    }
    const failures: string[] = [];
    const gone = new Set<string>();
    specs.forEach((spec, i) => {
      const r = results[i];
      if (r === null || MISSING.test(r)) gone.add(spec.join(' '));
      else failures.push(`ip route del ${spec.join(' ')}: ${r}`);
    });
    this.forget(this.changes.filter((c) => c.kind === 'route' && gone.has(c.spec.join(' '))));
    return failures;
  }

  /** Drops undo records (their change was undone or never made) and rewrites the state file. */
  private forget(records: readonly HostChange[]): void {
    const drop = new Set(records);
    const keep = this.changes.filter((c) => !drop.has(c));
    this.changes.length = 0;
    this.changes.push(...keep);
    this.persist();
  }

  private runBatchSync(commands: string[][]): Array<string | null> {
    return this.system.ipBatchSync ? this.system.ipBatchSync(commands) : this.runEach(commands);
  }

  private async runBatch(commands: string[][]): Promise<Array<string | null>> {
    return this.system.ipBatch ? this.system.ipBatch(commands) : this.runEach(commands);
  }

  /** A batch without `ip -batch` (test fakes, planning): each command through ip(). */
  private runEach(commands: string[][]): Array<string | null> {
    return commands.map((c) => {
      try {
        this.system.ip(c);
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    });
  }

  /** Creates a link (`ip link add NAME ...rest`); undone by deleting it. */
  addLink(name: string, rest: string[]): void {
    this.apply({ kind: 'link', name }, ['link', 'add', name, ...rest]);
  }

  /** Records that a link we own (e.g. a TAP opened through the addon) is deleted on undo. */
  adoptLink(name: string): void {
    this.record({ kind: 'link', name });
  }

  /**
   * Creates (or replaces) the nftables table `family name` from `script`, an `nft -f` text
   * that defines the whole table; undone by deleting the table.
   */
  addNftTable(family: 'inet' | 'ip' | 'ip6', name: string, script: string): void {
    const nft = this.nftRunner();
    this.record({ kind: 'nft-table', family, name });
    try {
      // Declaring then deleting makes the replace work whether or not the table exists, in one transaction.
      nft(['-f', '-'], `table ${family} ${name} {}\ndelete table ${family} ${name}\n${script}`);
    } catch (err) {
      this.changes.pop();
      this.persist();
      throw err;
    }
  }

  private nftRunner(): (args: string[], input?: string) => string {
    const sys = this.system;
    if (!sys.nft) throw new HostChangeError('HOST_COMMAND_FAILED', 'this host system cannot run nft');
    return (args, input) => sys.nft!(args, input);
  }

  /** Sets a link's transmit queue length (for a TAP: the frames the kernel holds for its reader); undone to the previous length. */
  setTxQueueLength(name: string, value: number): void {
    const info = JSON.parse(this.system.ip(['-j', 'link', 'show', 'dev', name]) || '[]') as Array<{ txqlen?: number }>;
    const previous = info[0]?.txqlen;
    if (previous === undefined || previous === value) return;
    this.apply({ kind: 'txqueuelen', name, previous, value }, ['link', 'set', name, 'txqueuelen', String(value)]);
  }

  /** Adds a policy-routing rule, e.g. `['from', '10.0.0.7', 'lookup', '7377', 'priority', '7377']`. */
  addRule(family: 4 | 6, spec: string[]): void {
    this.apply({ kind: 'rule', spec, family }, [`-${family}`, 'rule', 'add', ...spec]);
  }

  /**
   * Deletes a rule this object added and drops its undo record. A rule already gone counts
   * as deleted. Throws HostChangeError when ip refuses (the record stays for the exit undo).
   */
  removeRule(family: 4 | 6, spec: string[]): void {
    const text = spec.join(' ');
    try {
      this.ignoreMissing(() => this.system.ip([`-${family}`, 'rule', 'del', ...spec]));
    } catch (err) {
      throw new HostChangeError('HOST_COMMAND_FAILED', `ip rule del ${text}: ${(err as Error).message}`);
    }
    this.forget(this.changes.filter((c) => c.kind === 'rule' && c.family === family && c.spec.join(' ') === text));
  }

  /** True when a link named `name` exists. */
  hasLink(name: string): boolean {
    try {
      this.system.ip(['-o', 'link', 'show', 'dev', name]);
      return true;
    } catch {
      return false;
    }
  }

  /** Makes `name` a port of bridge `master`; undone by releasing it (nomaster). */
  setMaster(name: string, master: string): void {
    this.apply({ kind: 'master', name, master }, ['link', 'set', name, 'master', master]);
  }

  /** Brings a link up; undone by setting it down again (only if it was down). */
  setLinkUp(name: string): void {
    const out = this.system.ip(['-o', 'link', 'show', 'dev', name]);
    if (/[<,]UP[,>]/.test(out)) return;
    this.apply({ kind: 'link-up', name }, ['link', 'set', name, 'up']);
  }

  /** Undoes every change in reverse order. Never throws; failures are reported. Idempotent. */
  undoAll(): UndoReport {
    const report = this.undoList(this.changes.splice(0, this.changes.length));
    // Only the lock's holder may remove the file: a refused second instance must not delete the first one's records.
    if (this.stateFile && this.locked && existsSync(this.stateFile)) unlinkSync(this.stateFile);
    this.unlock();
    return report;
  }

  /**
   * Takes the state file's lock (recover() and the first change do it). Throws
   * HOST_STATE_LOCKED, naming --state-file, when another live process holds it; takes over a
   * lock whose owner is gone. Re-entrant within one process.
   */
  lock(): void {
    if (!this.stateFile || this.locked) return;
    const lockFile = `${this.stateFile}.lock`;
    mkdirSync(path.dirname(lockFile), { recursive: true });
    const me = processIdentity(process.pid);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lockFile, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = readLockOwner(lockFile);
      if (owner && owner.pid !== process.pid && isAlive(owner)) {
        throw new HostChangeError(
          'HOST_STATE_LOCKED',
          `state file ${this.stateFile} belongs to another running instance (pid ${owner.pid}, lock ${lockFile}); ` +
            'stop it, or give this instance its own state file with --state-file PATH (in another network namespace the default differs by itself)',
        );
      }
      // Ours from an earlier object in this process, or its owner is gone: take it over.
      try {
        unlinkSync(lockFile);
      } catch {
        /* removed meanwhile by its owner */
      }
    }
    throw new HostChangeError('HOST_STATE_LOCKED', `cannot take the lock ${lockFile}; another instance is starting with the same --state-file`);
  }

  private unlock(): void {
    if (!this.stateFile || !this.locked) return;
    this.locked = false;
    try {
      unlinkSync(`${this.stateFile}.lock`);
    } catch {
      /* already gone */
    }
  }

  private apply(change: HostChange, ipArgs: string[]): void {
    // Record first: a crash between recording and acting leaves an undo that fails
    // harmlessly; the other order would leave a change nobody undoes.
    this.record(change);
    try {
      this.system.ip(ipArgs);
    } catch (err) {
      this.changes.pop();
      this.persist();
      throw err;
    }
  }

  private record(change: HostChange): void {
    this.changes.push(change);
    this.persist();
  }

  private persist(): void {
    if (!this.stateFile) return;
    this.lock();
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    // A name of its own: a shared ".tmp" let two writers rename each other's file away.
    const tmp = `${this.stateFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.changes, null, 1), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  private undoList(list: HostChange[]): UndoReport {
    const report: UndoReport = { undone: 0, failed: [] };
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      if (c.kind === 'route' && this.system.ipBatchSync) {
        // A run of routes (one per VIP: thousands) in one `ip -batch`, still in reverse order.
        let j = i;
        while (j > 0 && list[j - 1].kind === 'route') j--;
        this.undoRoutes(list.slice(j, i + 1).reverse() as Array<Extract<HostChange, { kind: 'route' }>>, report);
        i = j;
        continue;
      }
      try {
        this.undoOne(c);
        report.undone++;
      } catch (err) {
        report.failed.push(`${describeChange(c)}: ${(err as Error).message}`);
      }
    }
    return report;
  }

  private undoRoutes(routes: Array<Extract<HostChange, { kind: 'route' }>>, report: UndoReport): void {
    // No -4/-6 in a batch line (ip takes no options there); the destination tells the family.
    const results = this.runBatchSync(routes.map((c) => ['route', 'del', ...c.spec]));
    routes.forEach((c, k) => {
      const r = results[k];
      if (r === null || MISSING.test(r)) report.undone++;
      else report.failed.push(`${describeChange(c)}: ${r}`);
    });
  }

  private undoOne(c: HostChange): void {
    switch (c.kind) {
      case 'sysctl':
        // A per-device sysctl vanishes with its device (e.g. the TAP closed first).
        this.ignoreMissing(() => this.system.writeSysctl(c.path, c.previous));
        return;
      case 'address':
        if (this.hasAddress(c.dev, c.cidr)) this.system.ip(['addr', 'del', c.cidr, 'dev', c.dev]);
        return;
      case 'route':
        this.ignoreMissing(() => this.system.ip([`-${c.family}`, 'route', 'del', ...c.spec]));
        return;
      case 'link':
        this.ignoreMissing(() => this.system.ip(['link', 'del', c.name]));
        return;
      case 'link-up':
        this.ignoreMissing(() => this.system.ip(['link', 'set', c.name, 'down']));
        return;
      case 'txqueuelen':
        this.ignoreMissing(() => this.system.ip(['link', 'set', c.name, 'txqueuelen', String(c.previous)]));
        return;
      case 'rule':
        this.ignoreMissing(() => this.system.ip([`-${c.family}`, 'rule', 'del', ...c.spec]));
        return;
      case 'master':
        this.ignoreMissing(() => this.system.ip(['link', 'set', c.name, 'nomaster']));
        return;
      case 'nft-table': {
        const nft = this.nftRunner();
        this.ignoreMissing(() => nft(['delete', 'table', c.family, c.name]));
        return;
      }
    }
  }

  /** A link, route or device sysctl that is already gone (its owner closed the device) needs no undo. */
  private ignoreMissing(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!MISSING.test((err as Error).message)) throw err;
    }
  }
}

/** ip's ways of saying that what it was to delete is already gone. */
const MISSING = /Cannot find device|does not exist|No such process|No such device|No such file or directory|ENOENT/i;

interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  start: string;
}

function processIdentity(pid: number): ProcessIdentity {
  let start = '';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    /* no such process */
  }
  return { pid, start };
}

function readLockOwner(lockFile: string): ProcessIdentity | null {
  try {
    const o = JSON.parse(readFileSync(lockFile, 'utf8')) as Partial<ProcessIdentity>;
    return typeof o.pid === 'number' && typeof o.start === 'string' ? { pid: o.pid, start: o.start } : null;
  } catch {
    return null;
  }
}

/** True when the lock's owner still runs (same pid and the same start time). */
function isAlive(owner: ProcessIdentity): boolean {
  const now = processIdentity(owner.pid);
  return now.start !== '' && now.start === owner.start;
}

/** One line describing a change, for logs and reports. */
export function describeChange(c: HostChange): string {
  switch (c.kind) {
    case 'sysctl':
      return `sysctl ${c.path.replace(/\//g, '.')}=${c.value} (was ${c.previous})`;
    case 'address':
      return `address ${c.cidr} on ${c.dev}`;
    case 'route':
      return `route ${c.spec.join(' ')}`;
    case 'link':
      return `link ${c.name}`;
    case 'link-up':
      return `link ${c.name} up`;
    case 'nft-table':
      return `nftables table ${c.family} ${c.name}`;
    case 'txqueuelen':
      return `link ${c.name} txqueuelen ${c.value} (was ${c.previous})`;
    case 'rule':
      return `rule ${c.spec.join(' ')}`;
    case 'master':
      return `link ${c.name} in bridge ${c.master}`;
  }
}
