// The director's control socket: a Unix socket (mode 0600) speaking newline-delimited JSON.
// Request: {"v":1,"op":"status"} (+ op-specific fields). Response: {"v":1,"ok":true,...}
// or {"v":1,"ok":false,"error":{"code","message"}}. Ops live in a dispatch table so the
// control-plane issue can register more (add/edit/delete services, zero, …).
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface ControlRequest {
  v: number;
  op: string;
  [field: string]: unknown;
}

/** Returns the response fields (merged into {v:1, ok:true}); throw an Error with `code` to fail. */
export type ControlHandler = (req: ControlRequest) => Record<string, unknown> | Promise<Record<string, unknown>>;

const MAX_LINE = 1 << 20;

export class ControlServer {
  private readonly handlers = new Map<string, ControlHandler>();
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly socketPath: string) {}

  /** Registers (or replaces) the handler for `op`. */
  register(op: string, handler: ControlHandler): this {
    this.handlers.set(op, handler);
    return this;
  }

  get ops(): string[] {
    return [...this.handlers.keys()];
  }

  /** Handles one request object (also usable without a socket, e.g. in tests). */
  async dispatch(req: unknown): Promise<Record<string, unknown>> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return fail('BAD_REQUEST', 'a request is a JSON object like {"v":1,"op":"status"}');
    const r = req as ControlRequest;
    if (r.v !== 1) return fail('BAD_VERSION', `protocol version ${JSON.stringify(r.v)} is not supported; send "v":1`);
    const h = typeof r.op === 'string' ? this.handlers.get(r.op) : undefined;
    if (!h) return fail('UNKNOWN_OP', `unknown op ${JSON.stringify(r.op)}; known ops: ${this.ops.join(', ')}`);
    try {
      return { v: 1, ok: true, ...(await h(r)) };
    } catch (err) {
      const e = err as { code?: unknown; message?: string };
      return fail(typeof e.code === 'string' ? e.code : 'INTERNAL', e.message ?? String(err));
    }
  }

  /** Listens on the socket path (replacing a stale socket file) with mode 0600. */
  async listen(): Promise<void> {
    mkdirSync(path.dirname(this.socketPath), { recursive: true });
    if (existsSync(this.socketPath)) await removeIfStale(this.socketPath);
    const server = net.createServer((sock) => this.serve(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }

  private serve(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    let chain = Promise.resolve();
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        sock.end(JSON.stringify(fail('BAD_REQUEST', `request line longer than ${MAX_LINE} bytes`)) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        // Answer in order even if a handler is async.
        chain = chain.then(async () => {
          let res: Record<string, unknown>;
          try {
            res = await this.dispatch(JSON.parse(line));
          } catch {
            res = fail('BAD_REQUEST', 'the line is not valid JSON');
          }
          if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n');
        });
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
  }
}

function fail(code: string, message: string): Record<string, unknown> {
  return { v: 1, ok: false, error: { code, message } };
}

/** Removes a socket file nobody listens on; throws if a live daemon owns it. */
async function removeIfStale(p: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) {
    const e = new Error(`control socket ${p} is in use by a running director; stop it or pass another --control path`) as Error & { code: string };
    e.code = 'CONTROL_SOCKET_IN_USE';
    throw e;
  }
  unlinkSync(p);
}
