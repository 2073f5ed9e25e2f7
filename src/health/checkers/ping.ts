// ICMP echo check (keepalived PING_CHECK), through the system's `ping` (iputils), run
// asynchronously as an exec check: one echo, up on exit 0. ping owns the ICMP socket, so
// the director needs none of its own for this, and a timeout kills ping's process group.
import type { Checker, CheckResult } from '../check-result.js';
import { ExecChecker } from './exec.js';

export interface PingCheckOptions {
  host: string;
  /** Source address (ping -I). */
  bindAddress?: string;
  /** Program to run (tests); default "ping" from PATH. */
  command?: string;
}

/** ping's arguments: numeric, quiet, one echo, wait at most `waitSeconds` (rounded up, >= 1) for the reply. */
export function pingArguments(o: PingCheckOptions, waitSeconds: number): string[] {
  const args = ['-n', '-q', '-c', '1', '-W', String(Math.max(1, Math.ceil(waitSeconds)))];
  if (o.bindAddress !== undefined) args.push('-I', o.bindAddress);
  args.push(o.host);
  return args;
}

export class PingChecker implements Checker {
  readonly kind = 'ping' as const;
  private readonly exec: ExecChecker;

  /** `waitSeconds`: how long ping itself waits for the reply; the caller's signal bounds it too. */
  constructor(
    readonly options: PingCheckOptions,
    waitSeconds = 5,
  ) {
    this.exec = new ExecChecker({ command: options.command ?? 'ping', args: pingArguments(options, waitSeconds), rsAddress: options.host, rsPort: 0 });
  }

  async check(signal: AbortSignal): Promise<CheckResult> {
    const r = await this.exec.check(signal);
    const detail = r.detail.replace(/^exec \S+: /, '').replace(/^exit 0.*$/s, 'echo reply').replace(/^exit 1\b/, 'no echo reply');
    return { ...r, detail: `ping ${this.options.host}: ${detail}` };
  }
}
