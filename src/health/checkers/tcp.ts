// TCP connect check (keepalived TCP_CHECK): up when the three-way handshake completes.
import { Socket } from 'node:net';
import { abortDetail, describeError, elapsedSince, type Checker, type CheckResult } from '../check-result.js';

export interface TcpCheckOptions {
  host: string;
  port: number;
  /** Source address to connect from (keepalived bindto); the kernel picks one when unset. */
  bindAddress?: string;
}

export class TcpChecker implements Checker {
  readonly kind = 'tcp' as const;

  constructor(readonly options: TcpCheckOptions) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    return tcpConnect(this.options.host, this.options.port, signal, { localAddress: this.options.bindAddress });
  }
}

export interface TcpConnectSource {
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

/**
 * Opens a TCP connection to host:port and closes it with a RST (so no TIME_WAIT piles up
 * on the checking side, and the server's application sees a plain reset). Resolves
 * ok=true on connect; never rejects.
 */
export function tcpConnect(host: string, port: number, signal: AbortSignal, source: TcpConnectSource = {}): Promise<CheckResult> {
  const start = performance.now();
  if (signal.aborted) return Promise.resolve({ ok: false, detail: abortDetail(signal), latencyMs: 0 });
  return new Promise<CheckResult>((resolve) => {
    const socket = new Socket();
    let done = false;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => {}); // late errors after the verdict are of no interest
      // resetAndDestroy() on a socket still connecting waits for the connect, which may
      // never come; a plain destroy() abandons the attempt at once.
      if (socket.connecting || socket.pending) socket.destroy();
      else socket.resetAndDestroy();
      resolve({ ok, detail, latencyMs: elapsedSince(start) });
    };
    const onAbort = (): void => finish(false, `connect ${host}:${port}: ${abortDetail(signal)}`);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(true, `connected to ${host}:${port}`));
    socket.once('error', (err) => finish(false, `connect ${host}:${port}: ${describeError(err)}`));
    try {
      socket.connect({ host, port, localAddress: source.localAddress, localPort: source.localPort });
    } catch (err) {
      finish(false, `connect ${host}:${port}: ${describeError(err)}`);
    }
  });
}
