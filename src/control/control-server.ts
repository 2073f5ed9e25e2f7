// The director's control socket: a Unix socket (mode 0600) speaking newline-delimited JSON.
// Request: {"v":1,"op":"status"} (+ op-specific fields). Response: {"v":1,"ok":true,...}
// or {"v":1,"ok":false,"error":{"code","message"}}. Ops live in a dispatch table so the
// control-plane issue can register more (add/edit/delete services, zero, …). Whatever a
// local client does, it holds bounded memory here (see ControlLimits).
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { VstunError, type ControlErrorCode } from '../errors.js';

export interface ControlRequest {
  v: number;
  op: string;
  [field: string]: unknown;
}

/** Returns the response fields (merged into {v:1, ok:true}); throw an Error with `code` to fail. */
export type ControlHandler = (req: ControlRequest) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Wraps every op: `next()` runs the op's handler. */
export type ControlWrapper = (req: ControlRequest, next: () => Promise<Record<string, unknown>>) => Promise<Record<string, unknown>>;

/** What one local client may hold in the director's memory, and how many may connect. */
export interface ControlLimits {
  /** Concurrent clients; one more is answered TOO_MANY_CLIENTS and closed. */
  maxClients: number;
  /** Longest request line in bytes (a whole -R file travels as one line); longer: REQUEST_TOO_LARGE, closed. */
  maxRequestBytes: number;
  /** Unsent reply bytes past which the client's requests are no longer read. */
  maxPendingReplyBytes: number;
  /** A client that reads none of its replies for this long (ms) is disconnected. */
  stallTimeoutMs: number;
  /** A client with nothing in progress that sends nothing for this long (ms) is disconnected, freeing its slot. */
  idleTimeoutMs: number;
}

export const DEFAULT_CONTROL_LIMITS: ControlLimits = {
  maxClients: 16,
  maxRequestBytes: 8 * 1024 * 1024,
  maxPendingReplyBytes: 1024 * 1024,
  stallTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
};

export class ControlServer {
  private readonly handlers = new Map<string, ControlHandler>();
  private wrapper: ControlWrapper | null = null;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  readonly limits: ControlLimits;

  constructor(
    readonly socketPath: string,
    limits: Partial<ControlLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CONTROL_LIMITS, ...limits };
  }

  /** Registers (or replaces) the handler for `op`. */
  register(op: string, handler: ControlHandler): this {
    this.handlers.set(op, handler);
    return this;
  }

  /** Runs every op through `wrapper` (e.g. fresh counters before it, the change sent on after it). One wrapper. */
  around(wrapper: ControlWrapper): this {
    this.wrapper = wrapper;
    return this;
  }

  get ops(): string[] {
    return [...this.handlers.keys()];
  }

  /** Handles one request object (also usable without a socket, e.g. in tests). */
  async dispatch(req: unknown): Promise<Record<string, unknown>> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return fail('ERR_BAD_REQUEST', 'a request is a JSON object like {"v":1,"op":"status"}');
    const r = req as ControlRequest;
    if (r.v !== 1) return fail('ERR_BAD_VERSION', `protocol version ${JSON.stringify(r.v)} is not supported; send "v":1`);
    const h = typeof r.op === 'string' ? this.handlers.get(r.op) : undefined;
    if (!h) return fail('ERR_UNKNOWN_OP', `unknown op ${JSON.stringify(r.op)}; known ops: ${this.ops.join(', ')}`);
    try {
      const wrap = this.wrapper;
      return { v: 1, ok: true, ...(await (wrap === null ? h(r) : wrap(r, async () => h(r)))) };
    } catch (err) {
      // Every answer carries a catalogued code: a vstun error its control code, anything else ERR_INTERNAL.
      if (err instanceof VstunError) return fail(err.controlCode, err.message);
      return fail('ERR_INTERNAL', (err as Error)?.message ?? String(err));
    }
  }

  /** Listens on the socket path (replacing a stale socket file) with mode 0600. */
  async listen(): Promise<void> {
    await claimSocketPath(this.socketPath);
    // Half-open: a client may send its requests and shut down its side; it still gets every answer.
    const server = net.createServer({ allowHalfOpen: true }, (sock) => this.serve(sock));
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
    // Never listened (e.g. the path belongs to a running director): the file is not ours to remove.
    if (!server) return;
    await new Promise<void>((r) => server.close(() => r()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }

  private serve(sock: net.Socket): void {
    if (this.sockets.size >= this.limits.maxClients) {
      // Answer, then close: the client learns why instead of seeing a reset.
      sock.on('error', () => sock.destroy());
      sock.end(
        JSON.stringify(fail('ERR_TOO_MANY_CLIENTS', `the control socket already serves ${this.limits.maxClients} clients (the limit); close one and retry`)) + '\n',
      );
      setTimeout(() => sock.destroy(), 1000).unref();
      return;
    }
    this.sockets.add(sock);
    new ControlConnection(sock, this.limits, (req) => this.dispatch(req));
    sock.on('close', () => this.sockets.delete(sock));
  }
}

/**
 * One client: reads NDJSON lines and answers them one at a time, in order. Memory is bounded
 * whatever the client does: an incomplete line may hold at most maxRequestBytes, complete
 * lines waiting for their turn at most QUEUED_LINES_BYTES, and unsent replies about
 * maxPendingReplyBytes. Past the last two, reading stops (the kernel socket buffer then
 * pushes back on the client) until the client reads its replies; a client that reads none
 * for stallTimeoutMs is disconnected.
 */
class ControlConnection {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly lines: Buffer[] = [];
  private linesBytes = 0;
  private busy = false;
  private refused = false;
  /** The client has shut down its sending side: close ours once every request is answered. */
  private clientEnded = false;
  private waitingForDrain = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sock: net.Socket,
    private readonly limits: ControlLimits,
    private readonly dispatch: (req: unknown) => Promise<Record<string, unknown>>,
  ) {
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('drain', () => this.onDrain());
    sock.on('end', () => {
      this.clientEnded = true;
      this.pump();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => clearTimeout(this.stallTimer));
    sock.setTimeout(limits.idleTimeoutMs, () => {
      if (!this.busy && this.lines.length === 0 && !this.waitingForDrain) sock.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.refused) return;
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      const line = this.partialBytes === 0 ? piece : Buffer.concat([...this.partial, piece]);
      this.partial = [];
      this.partialBytes = 0;
      from = nl + 1;
      if (line.length > this.limits.maxRequestBytes) return this.refuseTooLong();
      this.lines.push(line);
      this.linesBytes += line.length;
    }
    if (from < chunk.length) {
      this.partial.push(chunk.subarray(from));
      this.partialBytes += chunk.length - from;
      if (this.partialBytes > this.limits.maxRequestBytes) return this.refuseTooLong();
    }
    this.flowControl();
    this.pump();
  }

  private refuseTooLong(): void {
    this.refused = true;
    this.partial = [];
    this.lines.length = 0;
    const { sock } = this;
    sock.pause();
    sock.end(JSON.stringify(fail('ERR_REQUEST_TOO_LARGE', `request line longer than ${this.limits.maxRequestBytes} bytes; send smaller requests (e.g. split a -R file)`)) + '\n');
    setTimeout(() => sock.destroy(), 1000).unref();
  }

  /** Answers queued lines in order, a few per turn of the event loop so packets keep flowing. */
  private pump(): void {
    if (this.busy || this.refused || this.sock.destroyed) return;
    this.busy = true;
    void this.answer().finally(() => {
      this.busy = false;
      this.flowControl();
      if (this.lines.length && !this.waitingForDrain && !this.sock.destroyed) setImmediate(() => this.pump());
      else if (this.lines.length === 0 && this.clientEnded) this.sock.end();
    });
  }

  private async answer(): Promise<void> {
    for (let n = 0; n < LINES_PER_TURN && this.lines.length && !this.waitingForDrain && !this.sock.destroyed; n++) {
      const line = this.lines.shift()!;
      this.linesBytes -= line.length;
      const text = line.toString('utf8').trim();
      if (!text) continue;
      let res: Record<string, unknown>;
      try {
        res = await this.dispatch(JSON.parse(text));
      } catch {
        res = fail('ERR_BAD_REQUEST', 'the line is not valid JSON');
      }
      if (this.sock.destroyed) return;
      this.sock.write(JSON.stringify(res) + '\n');
      this.flowControl();
    }
  }

  /** Stops reading while replies or queued lines are over their bounds; resumes below them. */
  private flowControl(): void {
    const { sock } = this;
    if (sock.destroyed) return;
    if (sock.writableLength > this.limits.maxPendingReplyBytes) {
      if (!this.waitingForDrain) {
        this.waitingForDrain = true;
        this.stallTimer = setTimeout(() => sock.destroy(), this.limits.stallTimeoutMs);
        this.stallTimer.unref();
      }
    }
    if (this.waitingForDrain || this.linesBytes > QUEUED_LINES_BYTES) sock.pause();
    else sock.resume();
  }

  private onDrain(): void {
    if (!this.waitingForDrain) return;
    this.waitingForDrain = false;
    clearTimeout(this.stallTimer);
    this.flowControl();
    this.pump();
  }
}

/** Complete request lines held before reading pauses. */
const QUEUED_LINES_BYTES = 256 * 1024;
/** Requests answered per turn of the event loop. */
const LINES_PER_TURN = 32;

function fail(code: ControlErrorCode, message: string): Record<string, unknown> {
  return { v: 1, ok: false, error: { code, message } };
}

/**
 * Makes `p` ready to listen on: creates its directory and removes a socket file nobody
 * listens on; throws CONTROL_SOCKET_IN_USE (naming --control) if a live director owns it.
 * The director calls it before changing the host, so that a second instance refuses early.
 */
export async function claimSocketPath(p: string): Promise<void> {
  mkdirSync(path.dirname(p), { recursive: true });
  if (!existsSync(p)) return;
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
