// Client-side traffic for the integration suite, run inside the client namespace:
//
//   node dist/lab/lab-client.js concurrent --host VIP --port 8080 --count 2000 [--timeout-ms 30000]
//       opens COUNT TCP connections and holds them all open at once; once every one is
//       established, sends one HTTP GET on each and reads the answer.
//   node dist/lab/lab-client.js udp --host VIP --port 7 --count 200 [--timeout-ms 2000]
//       sends COUNT datagrams, each from its own socket (so its own flow), and waits for
//       each echo.
//
// Prints one JSON line: {"attempted","connected","answered","byServer":{"rs1":n,…},"errors":{…}}.
// Bounded: every operation has a timeout, and the whole run ends by then.
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    count: { type: 'string', default: '100' },
    'timeout-ms': { type: 'string' },
  },
});
const mode = positionals[0];
const host = values.host ?? '';
const port = Number(values.port);
const count = Number(values.count);
if (!host || !(port > 0 && port < 65536) || !(count >= 1 && count <= 20000) || (mode !== 'concurrent' && mode !== 'udp')) {
  process.stderr.write('usage: lab-client concurrent|udp --host ADDR --port PORT --count N [--timeout-ms MS]\n');
  process.exit(2);
}

interface Report {
  attempted: number;
  connected: number;
  answered: number;
  byServer: Record<string, number>;
  errors: Record<string, number>;
}
const report: Report = { attempted: count, connected: 0, answered: 0, byServer: {}, errors: {} };
const bump = (rec: Record<string, number>, key: string) => (rec[key] = (rec[key] ?? 0) + 1);

async function concurrent(timeoutMs: number): Promise<void> {
  const sockets: net.Socket[] = [];
  let allConnected!: () => void;
  const connectedAll = new Promise<void>((r) => (allConnected = r));
  const done: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host, port });
    sockets.push(s);
    done.push(
      new Promise<void>((resolve) => {
        let body = '';
        s.setEncoding('utf8');
        s.on('connect', () => {
          if (++report.connected === count) allConnected();
        });
        s.on('data', (d: string) => (body += d));
        s.on('error', (err: NodeJS.ErrnoException) => bump(report.errors, err.code ?? err.message));
        s.on('close', () => {
          const name = body.trim().split('\n').pop() ?? '';
          if (body.startsWith('HTTP/1.1 200') && name) {
            report.answered++;
            bump(report.byServer, name);
          }
          resolve();
        });
      }),
    );
  }
  const deadline = setTimeout(() => {
    for (const s of sockets) s.destroy();
  }, timeoutMs);
  await Promise.race([connectedAll, Promise.all(done)]);
  // Every connection is open at this point: only now does any of them send its request.
  for (const s of sockets) if (!s.destroyed) s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await Promise.all(done);
  clearTimeout(deadline);
}

async function udp(timeoutMs: number): Promise<void> {
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const finish = (error?: string) => {
        clearTimeout(timer);
        if (error) bump(report.errors, error);
        s.close();
        resolve();
      };
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      s.on('message', (msg) => {
        const [name, ...rest] = msg.toString().split(' ');
        if (rest.join(' ') === `request ${i}`) {
          report.answered++;
          bump(report.byServer, name);
          finish();
        } else finish('wrong-echo');
      });
      s.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
      s.send(`request ${i}`, port, host, (err) => {
        if (!err) report.connected++;
      });
    });
  // Fifty flows in flight at a time.
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => one(i + k)));
}

const timeoutMs = Number(values['timeout-ms'] ?? (mode === 'udp' ? 2000 : 30_000));
await (mode === 'concurrent' ? concurrent(timeoutMs) : udp(timeoutMs));
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
