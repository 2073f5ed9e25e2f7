// Script check (keepalived MISC_CHECK): run a program, judge it by its exit code, 0 = up.
// The program runs in its own process group so a timeout kills what it started too
// (a shell script's `sleep`, a curl it spawned).
import { spawn } from 'node:child_process';
import { abortDetail, describeError, elapsedSince, type Checker, type CheckResult } from '../check-result.js';

export interface ExecCheckOptions {
  /** Program path (or, with shell=true, a shell command line). */
  command: string;
  args?: readonly string[];
  /** Run through /bin/sh -c; off by default so arguments are never re-parsed. */
  shell?: boolean;
  /** Extra environment; VSTUN_RS_ADDRESS/VSTUN_RS_PORT (and VSTUN_VIP/VSTUN_VIP_PORT when known) are added. */
  env?: Readonly<Record<string, string>>;
  rsAddress: string;
  rsPort: number;
  vip?: string;
  vipPort?: number;
  /** Bytes of stdout+stderr kept for the detail text (default 512). */
  maxOutputBytes?: number;
}

export class ExecChecker implements Checker {
  readonly kind = 'exec' as const;

  constructor(readonly options: ExecCheckOptions) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    const o = this.options;
    const start = performance.now();
    const what = `exec ${o.command}`;
    if (signal.aborted) return Promise.resolve({ ok: false, detail: `${what}: ${abortDetail(signal)}`, latencyMs: 0 });
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...o.env };
    env.VSTUN_RS_ADDRESS = o.rsAddress;
    env.VSTUN_RS_PORT = String(o.rsPort);
    if (o.vip !== undefined) env.VSTUN_VIP = o.vip;
    if (o.vipPort !== undefined) env.VSTUN_VIP_PORT = String(o.vipPort);
    const limit = o.maxOutputBytes ?? 512;
    return new Promise<CheckResult>((resolve) => {
      let done = false;
      let output = '';
      const finish = (ok: boolean, detail: string): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        const tail = output.trim();
        resolve({ ok, detail: `${what}: ${detail}${tail ? ` (${tail})` : ''}`, latencyMs: elapsedSince(start) });
      };
      const child = spawn(o.command, o.args ?? [], {
        shell: o.shell === true,
        env,
        detached: true, // own process group, killed as a whole on timeout
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk: Buffer): void => {
        if (output.length < limit) output += chunk.toString('utf8').slice(0, limit - output.length);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      };
      const onAbort = (): void => {
        killGroup();
        finish(false, `killed after ${abortDetail(signal)}`);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => finish(false, describeError(err)));
      child.on('exit', (code, sig) => {
        // The script may have left children behind in its group; they are not ours to keep.
        killGroup();
        const verdict = (): void => {
          if (code === 0) finish(true, 'exit 0');
          else if (code !== null) finish(false, `exit ${code}`);
          else finish(false, `killed by ${sig}`);
        };
        // Wait for the pipes to drain so the detail carries the output, but not for long:
        // a grandchild that left the group could hold them open forever.
        child.once('close', verdict);
        setTimeout(verdict, 200).unref();
      });
    });
  }
}
