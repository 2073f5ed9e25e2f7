// The scale-out tests' client, run inside the client namespace:
//
//   node dist/lab/scaleout-client.js --host VIP --status FILE [--flows 100] [--echo-port 9000]
//        [--chunk 200] [--interval-ms 250] [--http-port 8080] [--request-gap-ms 100]
//        [--request-loops 1] [--max-seconds 600]
//
// Long-lived flows: FLOWS TCP connections to the lab app's echo port, each sending CHUNK
// bytes of its own pseudo-random stream every INTERVAL ms and checking that every byte comes
// back, in order (client to server crosses a director, server to client does not: DSR). A
// flow that errors, closes, returns a wrong byte or stalls for 15 s is broken, with the real
// server it was on (the app greets with its name) and when.
// Requests: REQUEST_LOOPS curl loops side by side (a new connection each, so each is a new
// flow for the directors), each one request at a time with REQUEST_GAP ms between; each answer
// must name a real server. More loops sample a short window better: a request stuck on a dead
// director holds up only its own loop.
// The status is rewritten to FILE every 250 ms (JSON); SIGTERM closes the flows cleanly,
// writes the final status and exits 0. Bounded by --max-seconds.
import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    status: { type: 'string' },
    flows: { type: 'string', default: '100' },
    'echo-port': { type: 'string', default: '9000' },
    chunk: { type: 'string', default: '200' },
    'interval-ms': { type: 'string', default: '250' },
    'http-port': { type: 'string', default: '8080' },
    'request-gap-ms': { type: 'string', default: '100' },
    'request-loops': { type: 'string', default: '1' },
    'curl-max-time': { type: 'string', default: '5' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const host = values.host ?? '';
const statusFile = values.status ?? '';
const flowCount = Number(values.flows);
const chunk = Number(values.chunk);
const intervalMs = Number(values['interval-ms']);
const requestLoops = Number(values['request-loops']);
if (!host || !statusFile || !(flowCount >= 0 && flowCount <= 2000) || !(Number.isInteger(requestLoops) && requestLoops >= 1 && requestLoops <= 16) || !(chunk >= 1 && chunk <= 65536) || !(intervalMs >= 10)) {
  process.stderr.write('usage: scaleout-client --host VIP --status FILE [--flows N] [--chunk BYTES] [--interval-ms MS] ...\n');
  process.exit(2);
}
const STALL_MS = 15_000;
const started = Date.now();

interface FlowRecord {
  id: number;
  server: string;
  localPort: number;
  state: 'connecting' | 'established' | 'broken' | 'closed';
  sent: number;
  verified: number;
  reason?: string;
  brokenAtMs?: number;
  /** When the last echoed byte arrived (ms since start), or when the flow was established. */
  progressAtMs: number;
}

const flows: FlowRecord[] = [];
const sockets: net.Socket[] = [];
let stopping = false;

/** Byte k of flow `id`'s stream: deterministic, so the client needs no copy of what it sent. */
function streamByte(id: number, k: number): number {
  let h = Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(k, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) & 0xff;
}

function openFlow(id: number): void {
  const f: FlowRecord = { id, server: '', localPort: 0, state: 'connecting', sent: 0, verified: 0, progressAtMs: 0 };
  flows.push(f);
  const s = net.connect({ host, port: Number(values['echo-port']) });
  sockets.push(s);
  s.setNoDelay(true);
  let greeting = '';
  let lastProgress = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const broken = (reason: string) => {
    if (f.state === 'broken' || f.state === 'closed') return;
    if (stopping) {
      f.state = 'closed';
      return;
    }
    f.state = 'broken';
    f.reason = reason;
    f.brokenAtMs = Date.now() - started;
    clearInterval(timer);
    s.destroy();
  };
  s.on('connect', () => {
    f.localPort = s.localPort ?? 0;
    timer = setInterval(() => {
      if (f.state !== 'established') return;
      if (f.verified < f.sent && Date.now() - lastProgress > STALL_MS) return broken(`stalled: ${f.sent - f.verified} bytes unanswered for ${STALL_MS} ms`);
      if (f.sent - f.verified > chunk * 8) return; // do not pile up while the path heals
      const buf = Buffer.allocUnsafe(chunk);
      for (let k = 0; k < chunk; k++) buf[k] = streamByte(id, f.sent + k);
      f.sent += chunk;
      s.write(buf);
    }, intervalMs);
  });
  s.on('data', (d: Buffer) => {
    let off = 0;
    if (f.state === 'connecting') {
      const nl = d.indexOf(10);
      if (nl < 0) {
        greeting += d.toString('latin1');
        return;
      }
      greeting += d.subarray(0, nl).toString('latin1');
      f.server = greeting.trim();
      f.state = 'established';
      off = nl + 1;
    }
    for (let k = off; k < d.length; k++) {
      if (f.verified >= f.sent || d[k] !== streamByte(id, f.verified)) return broken(`byte ${f.verified} differs from what was sent`);
      f.verified++;
    }
    lastProgress = Date.now();
    f.progressAtMs = lastProgress - started;
  });
  s.on('error', (err: NodeJS.ErrnoException) => broken(err.code ?? err.message));
  s.on('close', () => {
    clearInterval(timer);
    broken('closed by the peer');
  });
}

/** An answered request that took this long went through at least one SYN retransmission (the first comes after 1 s). */
const DELAYED_MS = 900;

interface RequestStats {
  ok: number;
  failed: number;
  /** Answered, but only after DELAYED_MS or more: its first SYN was lost (e.g. sent to a dead director). */
  delayed: number;
  byServer: Record<string, number>;
  failures: { atMs: number; error: string }[];
}
const requests: RequestStats = { ok: 0, failed: 0, delayed: 0, byServer: {}, failures: [] };

function curlOnce(): Promise<void> {
  return new Promise((resolve) => {
    const t = Date.now() - started;
    execFile('curl', ['-s', '-S', '--max-time', String(values['curl-max-time']), '-H', 'Connection: close', `http://${host}:${values['http-port']}/`], { timeout: 30_000 }, (err, stdout, stderr) => {
      const name = String(stdout).trim();
      if (!err && /^rs\d+$/.test(name)) {
        requests.ok++;
        if (Date.now() - started - t >= DELAYED_MS) requests.delayed++;
        requests.byServer[name] = (requests.byServer[name] ?? 0) + 1;
      } else {
        requests.failed++;
        if (requests.failures.length < 1000) requests.failures.push({ atMs: t, error: String(stderr).trim() || `answer ${JSON.stringify(name.slice(0, 80))}` });
      }
      resolve();
    });
  });
}

async function requestLoop(): Promise<void> {
  const gap = Number(values['request-gap-ms']);
  while (!stopping) {
    await curlOnce();
    await new Promise((r) => setTimeout(r, gap));
  }
}

function status() {
  const count = (st: FlowRecord['state']) => flows.filter((f) => f.state === st).length;
  const byServer: Record<string, number> = {};
  for (const f of flows) if (f.server) byServer[f.server] = (byServer[f.server] ?? 0) + 1;
  return {
    elapsedMs: Date.now() - started,
    stopping,
    flows: {
      opened: flows.length,
      established: count('established'),
      connecting: count('connecting'),
      // Established flows with bytes unanswered for over 2 s: a path still healing.
      behind: flows.filter((f) => f.state === 'established' && f.verified < f.sent && Date.now() - started - f.progressAtMs > 2000).length,
      broken: count('broken'),
      bytesSent: flows.reduce((a, f) => a + f.sent, 0),
      bytesVerified: flows.reduce((a, f) => a + f.verified, 0),
      byServer,
      brokenDetails: flows.filter((f) => f.state === 'broken').map((f) => ({ id: f.id, server: f.server, localPort: f.localPort, reason: f.reason, atMs: f.brokenAtMs })),
    },
    requests,
  };
}

function writeStatus(): void {
  const tmp = `${statusFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status())}\n`);
  renameSync(tmp, statusFile);
}

async function stop(code: number): Promise<never> {
  stopping = true;
  for (const s of sockets) s.end();
  await new Promise((r) => setTimeout(r, 300));
  for (const s of sockets) s.destroy();
  writeStatus();
  process.exit(code);
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
setInterval(writeStatus, 250).unref();
setTimeout(() => void stop(0), Number(values['max-seconds']) * 1000).unref();

// Open the flows 20 at a time, so the SYNs do not all land in one batch.
for (let i = 0; i < flowCount; i++) {
  openFlow(i);
  if (i % 20 === 19) await new Promise((r) => setTimeout(r, 50));
}
writeStatus();
for (let i = 0; i < requestLoops; i++) void requestLoop();
// Keep the process alive until stopped.
setInterval(() => undefined, 1 << 30);
