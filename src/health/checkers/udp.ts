// UDP check: send a payload, expect a datagram back (optionally matching a pattern) before
// the timeout. The socket is connected, so an ICMP port unreachable fails the check at once
// (ECONNREFUSED) instead of waiting out the timeout.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { abortDetail, describeError, elapsedSince, type Checker, type CheckResult } from '../check-result.js';

export interface UdpCheckOptions {
  host: string;
  port: number;
  payload: Uint8Array;
  /** Tested against the reply decoded as latin1 (one char per byte, so binary is matchable). */
  expectPattern?: RegExp;
  bindAddress?: string;
  /** Source port (0 = any); the tunnel prober pins flows by it. */
  bindPort?: number;
  /** Judges a reply instead of expectPattern (the dns check parses its answer); null ignores it and keeps waiting. */
  judgeReply?: (reply: Buffer) => { ok: boolean; detail: string } | null;
}

export class UdpChecker implements Checker {
  readonly kind = 'udp' as const;

  constructor(readonly options: UdpCheckOptions) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    return udpExchange(this.options, signal);
  }
}

/**
 * Binds (to bindAddress:bindPort when given), calls `beforeSend(localPort)` once the source
 * port is known, sends the payload and waits for a reply. Never rejects.
 */
export function udpExchange(
  o: UdpCheckOptions,
  signal: AbortSignal,
  beforeSend?: (localPort: number) => (() => void) | void,
): Promise<CheckResult> {
  const start = performance.now();
  const what = `udp ${o.host}:${o.port}`;
  if (signal.aborted) return Promise.resolve({ ok: false, detail: `${what}: ${abortDetail(signal)}`, latencyMs: 0 });
  return new Promise<CheckResult>((resolve) => {
    const socket: Socket = createSocket(isIPv6(o.host) ? 'udp6' : 'udp4');
    let done = false;
    let release: (() => void) | void;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => {});
      try {
        socket.close();
      } catch {
        // already closed
      }
      if (release) release();
      resolve({ ok, detail: `${what}: ${detail}`, latencyMs: elapsedSince(start) });
    };
    const onAbort = (): void => finish(false, `no reply (${abortDetail(signal)})`);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(false, describeError(err)));
    socket.on('message', (msg) => {
      if (o.judgeReply !== undefined) {
        const verdict = o.judgeReply(msg);
        if (verdict !== null) finish(verdict.ok, verdict.detail);
        return;
      }
      if (o.expectPattern === undefined) {
        finish(true, `reply of ${msg.length} bytes`);
        return;
      }
      o.expectPattern.lastIndex = 0;
      if (o.expectPattern.test(msg.toString('latin1'))) finish(true, `reply matches ${o.expectPattern}`);
      else finish(false, `reply of ${msg.length} bytes does not match ${o.expectPattern}`);
    });
    socket.bind({ address: o.bindAddress, port: o.bindPort ?? 0 }, () => {
      if (done) return;
      try {
        release = beforeSend?.(socket.address().port);
      } catch (err) {
        finish(false, `before send: ${describeError(err)}`);
        return;
      }
      socket.connect(o.port, o.host, () => {
        if (done) return;
        socket.send(o.payload, (err) => {
          if (err) finish(false, `send: ${describeError(err)}`);
        });
      });
    });
  });
}
