// Writes raw Ethernet frames onto a link from inside a namespace (an AF_PACKET socket bound to
// the link, in a small python3 helper), paced to a rate. On a TAP, a frame sent this way is
// one the kernel queues to the TAP's reader: exactly what the director reads.
import type { Lab } from './vs-lab.js';
import { boundChild, collectLines, exited, lastJson } from './c-tools.js';

/** stdin: frames as [u16 big-endian length][bytes]; stdout at the end: {"sent":S,"errors":E}. */
const INJECTOR = `
import socket, struct, sys, time
dev, rate = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
inp = sys.stdin.buffer
sent = errors = 0
start = time.monotonic()
while True:
    h = inp.read(2)
    if len(h) < 2: break
    n = struct.unpack('!H', h)[0]
    f = inp.read(n)
    if len(f) < n: break
    try:
        s.send(f); sent += 1
    except OSError:
        errors += 1
    if rate > 0 and (sent + errors) % 64 == 0:
        ahead = (sent + errors) / rate - (time.monotonic() - start)
        if ahead > 0: time.sleep(ahead)
print('{"sent":%d,"errors":%d}' % (sent, errors), flush=True)
`;

export interface InjectResult {
  sent: number;
  /** Frames the kernel refused at send (e.g. ENOBUFS): they never reached the link. */
  errors: number;
}

/**
 * How many frames the receiver has taken so far (any monotonic count that includes ours): the
 * injector keeps at most `window` frames ahead of it, so that a slow receiver is never flooded
 * past its queue (a fuzz run tests parsing, not overload).
 */
export interface InjectFlowControl {
  taken: () => Promise<number>;
  window: number;
}

/**
 * Sends `count` frames from `next()` onto `dev` in namespace `ns`, at most `rate` per second
 * (0: as fast as the helper goes), and no further ahead of the receiver than `flow` allows.
 * Bounded by `timeoutMs`.
 */
export async function injectFrames(lab: Lab, ns: string, dev: string, count: number, next: () => Uint8Array, rate: number, timeoutMs: number, flow?: InjectFlowControl): Promise<InjectResult> {
  const start = flow ? await flow.taken() : 0;
  const deadline = Date.now() + timeoutMs;
  const child = lab.topo.spawn(ns, 'python3', ['-c', INJECTOR, dev, String(rate)], { stdio: ['pipe', 'pipe', 'pipe'] });
  boundChild(child, timeoutMs);
  const out = collectLines(child);
  const stdin = child.stdin!;
  stdin.on('error', () => {}); // the helper died: its exit status tells
  const done = exited(child);
  const chunk = Buffer.alloc(1 << 18);
  let used = 0;
  for (let i = 0; i < count && child.exitCode === null; i++) {
    const f = next();
    if (flow && i > 0 && i % 256 === 0) {
      if (used > 0) stdin.write(Buffer.from(chunk.subarray(0, used)));
      used = 0;
      while (child.exitCode === null && Date.now() < deadline && i - ((await flow.taken()) - start) > flow.window) await new Promise((r) => setTimeout(r, 20));
    }
    if (used + 2 + f.length > chunk.length) {
      if (!stdin.write(Buffer.from(chunk.subarray(0, used)))) await Promise.race([new Promise((r) => stdin.once('drain', r)), done]);
      used = 0;
    }
    chunk.writeUInt16BE(f.length, used);
    chunk.set(f, used + 2);
    used += 2 + f.length;
  }
  if (used > 0) stdin.write(Buffer.from(chunk.subarray(0, used)));
  stdin.end();
  await done;
  const r = lastJson(out);
  return { sent: r.sent, errors: r.errors };
}
