// Runs notify and quorum scripts (keepalived notify_up/notify_down, quorum_up/quorum_down)
// without ever blocking the event loop or piling up processes: each script is spawned
// asynchronously in its own process group, killed as a group after a timeout, at most
// `maxRunning` run at once and at most `maxQueued` wait; beyond that a script is dropped
// and reported, never queued without bound.
import { spawn } from 'node:child_process';
import { splitCommandLine } from './command-line.js';

export interface ScriptOutcome {
  /** What ran it, e.g. "notifyUp service tcp:192.0.2.1:80, server 10.0.0.1". */
  label: string;
  line: string;
  /** ran: exited (code), killed on timeout, failed to start, or dropped because the queue was full. */
  result: 'exit' | 'timeout' | 'error' | 'dropped';
  code?: number | null;
  detail?: string;
}

/** The seam the health manager calls; tests substitute a recorder. */
export interface ScriptRunner {
  /** Starts (or queues) `line` with `env` added to the environment; returns at once. `onDone` hears how it ended. */
  run(line: string, env: Readonly<Record<string, string>>, label: string, onDone?: (o: ScriptOutcome) => void): void;
}

export interface ProcessScriptRunnerOptions {
  /** Milliseconds before a script's process group gets SIGKILL (default 10000). */
  timeoutMs?: number;
  maxRunning?: number;
  maxQueued?: number;
  onOutcome?: (o: ScriptOutcome) => void;
}

interface Job {
  line: string;
  env: Readonly<Record<string, string>>;
  label: string;
  onDone: ((o: ScriptOutcome) => void) | undefined;
}

export class ProcessScriptRunner implements ScriptRunner {
  private running = 0;
  private readonly queue: Job[] = [];
  /** Scripts dropped because maxQueued were already waiting. */
  dropped = 0;

  constructor(private readonly options: ProcessScriptRunnerOptions = {}) {}

  get active(): number {
    return this.running;
  }

  run(line: string, env: Readonly<Record<string, string>>, label: string, onDone?: (o: ScriptOutcome) => void): void {
    const job: Job = { line, env, label, onDone };
    if (this.running >= (this.options.maxRunning ?? 4)) {
      if (this.queue.length >= (this.options.maxQueued ?? 64)) {
        this.dropped++;
        this.report(job, { result: 'dropped', detail: 'too many scripts waiting' });
        return;
      }
      this.queue.push(job);
      return;
    }
    this.start(job);
  }

  private start(job: Job): void {
    const argv = splitCommandLine(job.line);
    if (argv === null || argv.length === 0) {
      this.report(job, { result: 'error', detail: 'not a command line' });
      return;
    }
    this.running++;
    let finished = false;
    const done = (o: Omit<ScriptOutcome, 'label' | 'line'>): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.running--;
      this.report(job, o);
      const next = this.queue.shift();
      if (next) this.start(next);
    };
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...job.env },
      detached: true, // its own process group, killed whole on timeout
      stdio: 'ignore',
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      done({ result: 'timeout', detail: `killed after ${this.options.timeoutMs ?? 10_000} ms` });
    }, this.options.timeoutMs ?? 10_000);
    timer.unref();
    child.on('error', (err) => done({ result: 'error', detail: err.message }));
    child.on('exit', (code) => done({ result: 'exit', code }));
    child.unref();
  }

  private report(job: Job, how: Omit<ScriptOutcome, 'label' | 'line'>): void {
    const o: ScriptOutcome = { label: job.label, line: job.line, ...how };
    for (const fn of [job.onDone, this.options.onOutcome]) {
      try {
        fn?.(o);
      } catch {
        // a logging hook must not break the runner
      }
    }
  }
}
