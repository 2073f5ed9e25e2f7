// HTTP/HTTPS GET check (keepalived HTTP_GET / SSL_GET): up when the status is one of the
// expected ones and, if a body pattern is set, the body matches it.
import * as http from 'node:http';
import * as https from 'node:https';
import { abortDetail, describeError, elapsedSince, type Checker, type CheckResult } from '../check-result.js';
import { formatStatusRanges, statusMatches, type StatusRange } from './status-ranges.js';

export interface HttpCheckOptions {
  tls: boolean;
  /** Address to connect to (the RS), not the Host header. */
  host: string;
  port: number;
  /** Request path, starting with "/". */
  path: string;
  /** Host header (and TLS SNI); defaults to host:port. */
  virtualHost?: string;
  expectStatus: readonly StatusRange[];
  /** Tested against the first maxBodyBytes of the body, decoded as UTF-8. */
  bodyPattern?: RegExp;
  /** Check the server certificate; off by default, as keepalived's SSL_GET. */
  verifyTls?: boolean;
  bindAddress?: string;
  /** Bytes of body kept for the pattern (default 65536); the rest is discarded. */
  maxBodyBytes?: number;
}

export class HttpChecker implements Checker {
  readonly kind: 'http' | 'https';

  constructor(readonly options: HttpCheckOptions) {
    this.kind = options.tls ? 'https' : 'http';
  }

  check(signal: AbortSignal): Promise<CheckResult> {
    const o = this.options;
    const start = performance.now();
    const what = `GET ${o.tls ? 'https' : 'http'}://${o.host}:${o.port}${o.path}`;
    if (signal.aborted) return Promise.resolve({ ok: false, detail: `${what}: ${abortDetail(signal)}`, latencyMs: 0 });
    const limit = o.maxBodyBytes ?? 65536;
    return new Promise<CheckResult>((resolve) => {
      let done = false;
      const finish = (ok: boolean, detail: string): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        resolve({ ok, detail: `${what}: ${detail}`, latencyMs: elapsedSince(start) });
      };
      const onAbort = (): void => finish(false, abortDetail(signal));
      const headers = { host: o.virtualHost ?? `${o.host}:${o.port}`, 'user-agent': 'vstun-health', connection: 'close' };
      const common = { host: o.host, port: o.port, path: o.path, method: 'GET', headers, localAddress: o.bindAddress, agent: false as const };
      const req = o.tls
        ? https.request({ ...common, rejectUnauthorized: o.verifyTls === true, servername: serverName(o.virtualHost ?? o.host) })
        : http.request(common);
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(false, describeError(err)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (!statusMatches(status, o.expectStatus)) {
          finish(false, `status ${status} not in ${formatStatusRanges(o.expectStatus)}`);
          return;
        }
        if (o.bodyPattern === undefined) {
          finish(true, `status ${status}`);
          return;
        }
        const pattern = o.bodyPattern;
        const chunks: Buffer[] = [];
        let kept = 0;
        const judge = (): void => {
          const body = Buffer.concat(chunks).toString('utf8');
          pattern.lastIndex = 0; // a /g or /y pattern would otherwise carry state between checks
          if (pattern.test(body)) finish(true, `status ${status}, body matches ${pattern}`);
          else finish(false, `status ${status}, body does not match ${pattern}`);
        };
        res.on('data', (chunk: Buffer) => {
          if (kept >= limit) return;
          const part = chunk.subarray(0, limit - kept);
          chunks.push(part);
          kept += part.length;
          if (kept >= limit) judge(); // enough to decide; do not wait for the rest
        });
        res.on('end', judge);
        res.on('error', (err) => finish(false, `reading body: ${describeError(err)}`));
      });
      req.end();
    });
  }
}

/** SNI must be a DNS name without port; an IP literal gets no SNI (RFC 6066). */
function serverName(hostHeader: string): string | undefined {
  const name = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return /^[\d.]+$/.test(name) || name.includes(':') ? undefined : name;
}
