// The agent's read-only HTTP endpoint: /healthz (self-check, 200 or 503), /feedback (load
// for dynamic weights) and /metrics (Prometheus). GET and HEAD only; nothing here changes
// anything.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { AgentError } from './agent-error.js';

export interface HealthReport {
  healthy: boolean;
  [key: string]: unknown;
}

export interface AgentEndpoints {
  health(): Promise<HealthReport>;
  feedback(): Promise<unknown>;
  metrics: Registry;
}

export interface ListenAddress {
  host: string;
  port: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 1)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function route(req: IncomingMessage, res: ServerResponse, ep: AgentEndpoints): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' });
    res.end();
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/healthz': {
      const report = await ep.health();
      sendJson(res, report.healthy ? 200 : 503, report);
      return;
    }
    case '/feedback':
      sendJson(res, 200, await ep.feedback());
      return;
    case '/metrics': {
      const text = await ep.metrics.metrics();
      res.writeHead(200, { 'content-type': ep.metrics.contentType });
      res.end(text);
      return;
    }
    default:
      sendJson(res, 404, { error: 'not found', endpoints: ['/healthz', '/feedback', '/metrics'] });
  }
}

/** Starts listening; rejects with AGENT_LISTEN_FAILED (e.g. port in use) and a fix. */
export function startAgentHttp(listen: ListenAddress, ep: AgentEndpoints): Promise<Server> {
  const server = createServer((req, res) => {
    route(req, res, ep).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new AgentError('AGENT_LISTEN_FAILED', `cannot listen on ${listen.host}:${listen.port} (${err.code ?? err.message}); choose another address with --listen HOST:PORT`));
    });
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}
