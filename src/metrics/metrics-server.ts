// The /metrics HTTP endpoint (Prometheus text exposition), and the read-only status page's
// routes next to it (src/status/). GET and HEAD only; anything else is 404/405. Listening on 127.0.0.1 by default: metrics are for the local scraper.
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Routes } from '../status/status-routes.js';

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

/**
 * Serves `registry` on `listen` (HOST:PORT), and `routes` next to /metrics (the status page).
 * Rejects if the port is taken.
 */
export async function startMetricsServer(registry: Registry, listen: string, routes: Routes = new Map()): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listen);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const route = routes.get(url);
    if (route !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
        return;
      }
      try {
        const r = route();
        res.writeHead(200, { 'content-type': r.type, ...r.headers }).end(req.method === 'HEAD' ? undefined : r.body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`failed: ${(err as Error).message}\n`);
      }
      return;
    }
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
