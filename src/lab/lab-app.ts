// The application the integration suite and the benchmark run on each real server's VIP:
//
//   node dist/lab/lab-app.js --name rs1 --host VIP [--host VIP6] [--http-port 8080] [--udp-port 7]
//
// HTTP:  GET /bytes/N   → N bytes (a fixed pattern), to download
//        POST|PUT any   → "NAME LENGTH SHA256" of the body it received, to upload
//        GET anything   → "NAME"
// UDP:   every datagram is answered with "NAME " + the datagram (an echo that says who answered).
// TCP echo (--echo-port P, off by default): sends "NAME\n" on connect, then echoes every byte,
//        for long-lived connections whose bytes are checked end to end (the scale-out tests).
// Every reply names the real server, so a test can tell which one the director picked.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    host: { type: 'string', multiple: true },
    'http-port': { type: 'string', default: '8080' },
    'udp-port': { type: 'string', default: '7' },
    'echo-port': { type: 'string' },
  },
});
const name = values.name ?? 'app';
const hosts = values.host ?? ['0.0.0.0'];
const httpPort = Number(values['http-port']);
const udpPort = Number(values['udp-port']);
const echoPort = values['echo-port'] === undefined ? 0 : Number(values['echo-port']);
const MAX_DOWNLOAD = 1 << 30;

const pattern = Buffer.alloc(64 * 1024, 'vstun lab payload ');

function download(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total, 'x-served-by': name });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const chunk = pattern.subarray(0, Math.min(left, pattern.length));
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

const server = (host: string) =>
  http
    .createServer((req, res) => {
      const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
      if (req.method === 'POST' || req.method === 'PUT') {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (d: Buffer) => {
          hash.update(d);
          length += d.length;
        });
        req.on('end', () => res.end(`${name} ${length} ${hash.digest('hex')}\n`));
      } else if (m && Number(m[1]) <= MAX_DOWNLOAD) {
        req.resume();
        download(res, Number(m[1]));
      } else {
        req.resume();
        res.end(`${name}\n`);
      }
    })
    .listen(httpPort, host);

for (const host of hosts) {
  server(host).on('error', (err) => {
    process.stderr.write(`lab-app: http on ${host}:${httpPort}: ${err.message}\n`);
    process.exit(1);
  });
  const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const prefix = Buffer.from(`${name} `);
  udp.on('message', (msg, from) => udp.send(Buffer.concat([prefix, msg]), from.port, from.address));
  udp.on('error', (err) => {
    process.stderr.write(`lab-app: udp on ${host}:${udpPort}: ${err.message}\n`);
    process.exit(1);
  });
  udp.bind(udpPort, host);
  if (echoPort > 0) {
    net
      .createServer((sock) => {
        sock.on('error', () => sock.destroy());
        sock.write(`${name}\n`);
        sock.pipe(sock);
      })
      .on('error', (err) => {
        process.stderr.write(`lab-app: tcp echo on ${host}:${echoPort}: ${err.message}\n`);
        process.exit(1);
      })
      .listen(echoPort, host);
  }
}
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
