// The client side of the control socket: one NDJSON request, one response. Errors come
// back as VstunadmError with the director's code; a socket that cannot be reached says so
// and how to fix it.
import net from 'node:net';
import { DEFAULT_CONTROL_LIMITS } from './control-server.js';
import { VstunadmError, vstunadmErrorFromJSON } from './errors.js';

/** The control socket in the root network namespace; elsewhere see defaultControlPath(). */
export const DEFAULT_CONTROL_PATH = '/run/vstun/director.sock';
export { defaultControlPath } from '../host/instance-paths.js';

/** Why a connect failed, in words a user can act on. */
function unreachable(path: string, err: NodeJS.ErrnoException): VstunadmError {
  const why =
    err.code === 'ENOENT'
      ? 'no such socket'
      : err.code === 'ECONNREFUSED'
        ? 'nobody is listening on it'
        : err.code === 'EACCES'
          ? 'permission denied (the socket is mode 0600, owned by root; run as root)'
          : (err.code ?? err.message);
  return new VstunadmError('ERR_UNREACHABLE', `cannot reach the director's control socket ${path}: ${why}; is vstun-director running? Point vstunadm at its socket with --control PATH (or VSTUN_CONTROL)`);
}

/**
 * Sends `{v:1, op, ...fields}` and resolves with the response fields on ok:true; rejects
 * with VstunadmError otherwise. `timeoutMs` bounds the wait for the answer, and each pause
 * while a long answer arrives.
 */
export function controlRequest(path: string, op: string, fields: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const request = `${JSON.stringify({ v: 1, op, ...fields })}\n`;
  const size = Buffer.byteLength(request);
  if (size > DEFAULT_CONTROL_LIMITS.maxRequestBytes) {
    return Promise.reject(
      new VstunadmError('ERR_USAGE', `this ${op} request is ${size} bytes; the control socket takes at most ${DEFAULT_CONTROL_LIMITS.maxRequestBytes} bytes per request: split the input into smaller parts`),
    );
  }
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new VstunadmError('ERR_UNREACHABLE', `the director at ${path} did not answer within ${timeoutMs} ms; is it stuck? check its log`))), timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(request));
    sock.on('data', (chunk: string) => {
      // Only the new chunk is searched: a listing of 10 000 services is a line of tens of MB,
      // and searching the whole buffer on every chunk was quadratic (minutes for -L).
      const nl = chunk.indexOf('\n');
      if (nl < 0) {
        buf += chunk;
        // The answer is arriving: the time bound is for silence, not for the size of the answer.
        timer.refresh();
        return;
      }
      const line = buf + chunk.slice(0, nl);
      done(() => {
        let res: Record<string, unknown>;
        try {
          res = JSON.parse(line) as Record<string, unknown>;
        } catch {
          reject(new VstunadmError('ERR_PROTOCOL', `${path} answered something that is not JSON; is it a vstun-director socket?`));
          return;
        }
        if (res.v !== 1) reject(new VstunadmError('ERR_PROTOCOL', `${path} speaks protocol version ${JSON.stringify(res.v)}, this vstunadm speaks 1; use matching versions`));
        else if (res.ok === true) resolve(res);
        else reject(vstunadmErrorFromJSON((res.error ?? {}) as { code?: unknown; message?: unknown }));
      });
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const e = unreachable(path, err);
      done(() => reject(e));
    });
    sock.on('close', () => done(() => reject(new VstunadmError('ERR_PROTOCOL', `${path} closed the connection without an answer`))));
  });
}
