// The /metrics HTTP endpoint (Prometheus text exposition). GET /metrics only; anything
// else is 404/405. Listening on 127.0.0.1 by default: metrics are for the local scraper.
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** The bound address, e.g. 127.0.0.1:9469 (port resolved if 0 was asked). */
  address: string;
  close(): Promise<void>;
}

/** Parses "HOST:PORT" ("[v6]:PORT" too); throws Error with a fix on bad input. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new Error(`--metrics: "${text}" is not HOST:PORT (e.g. 127.0.0.1:9469)`);
  return { host: m[1], port: Number(m[2]) };
}

/** Serves `registry` on `listen` (HOST:PORT). Rejects if the port is taken. */
export async function startMetricsServer(registry: Registry, listen: string): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listen);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `--metrics ${listen}: the port is in use; pick another with --metrics HOST:PORT` : `--metrics ${listen}: ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as { address: string; port: number };
  return {
    address: `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
