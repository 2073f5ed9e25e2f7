// SMTP check (keepalived SMTP_CHECK): connect, expect the 220 greeting, send HELO and
// expect 250, send QUIT and expect 221. Replies may be multi-line ("250-…" then "250 …");
// the code of the last line counts. Bytes read are capped, so a server that streams
// garbage fails the check instead of growing memory.
import { Socket } from 'node:net';
import { hostname } from 'node:os';
import { abortDetail, describeError, elapsedSince, type Checker, type CheckResult } from '../check-result.js';

export interface SmtpCheckOptions {
  host: string;
  port: number;
  /** Sent in HELO; default this host's name. */
  heloName?: string;
  bindAddress?: string;
}

/** Largest reply text kept before the check fails (RFC 5321 lines are at most 512 bytes). */
const MAX_REPLY_BYTES = 4096;

/** The completed reply codes in `text` (one per final line "NNN " or "NNN"), and what is left unparsed. */
export function parseSmtpReplies(text: string): { codes: number[]; rest: string } {
  const codes: number[] = [];
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\n');
    if (nl < 0) return { codes, rest };
    const line = rest.slice(0, nl).replace(/\r$/, '');
    rest = rest.slice(nl + 1);
    const m = /^(\d{3})([ -]|$)/.exec(line);
    if (!m) codes.push(0); // not SMTP: judged as a wrong code
    else if (m[2] !== '-') codes.push(Number(m[1]));
  }
}

export class SmtpChecker implements Checker {
  readonly kind = 'smtp' as const;

  constructor(readonly options: SmtpCheckOptions) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    const o = this.options;
    const what = `smtp ${o.host}:${o.port}`;
    const start = performance.now();
    if (signal.aborted) return Promise.resolve({ ok: false, detail: `${what}: ${abortDetail(signal)}`, latencyMs: 0 });
    // Each step: the code we wait for, then what we send on it.
    const steps: Array<{ expect: number; send?: string; name: string }> = [
      { expect: 220, send: `HELO ${o.heloName ?? hostname()}\r\n`, name: 'greeting' },
      { expect: 250, send: 'QUIT\r\n', name: 'HELO' },
      { expect: 221, name: 'QUIT' },
    ];
    return new Promise<CheckResult>((resolve) => {
      const socket = new Socket();
      let done = false;
      let buffered = '';
      let step = 0;
      const finish = (ok: boolean, detail: string): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.destroy();
        resolve({ ok, detail: `${what}: ${detail}`, latencyMs: elapsedSince(start) });
      };
      const onAbort = (): void => finish(false, `${abortDetail(signal)} waiting for the ${steps[step].name} reply`);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        if (buffered.length > MAX_REPLY_BYTES) return finish(false, `reply longer than ${MAX_REPLY_BYTES} bytes`);
        const { codes, rest } = parseSmtpReplies(buffered);
        buffered = rest;
        for (const code of codes) {
          const s = steps[step];
          if (code !== s.expect) return finish(false, `${s.name} reply ${code === 0 ? 'is not SMTP' : code}, expected ${s.expect}`);
          if (s.send === undefined) return finish(true, 'greeting 220, HELO 250, QUIT 221');
          socket.write(s.send);
          step++;
        }
      });
      socket.once('error', (err) => finish(false, describeError(err)));
      socket.once('end', () => finish(false, `closed before the ${steps[step].name} reply`));
      try {
        socket.connect({ host: o.host, port: o.port, localAddress: o.bindAddress });
      } catch (err) {
        finish(false, describeError(err));
      }
    });
  }
}
