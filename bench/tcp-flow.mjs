#!/usr/bin/env node
// One established TCP flow for `npm run bench`'s SYN-flood line: does it keep working while
// the director is flooded? Run inside the client namespace:
//
//   node bench/tcp-flow.mjs --host VIP --port 9000 --seconds 6 [--interval-ms 20]
//
// Connects to the lab app's TCP echo (src/lab/lab-app.ts: greets "NAME\n", then echoes),
// prints "established" once greeted, then sends a 32-byte numbered message every INTERVAL ms
// and checks that each comes back, in order. After SECONDS it waits up to 3 s for what is
// still in flight and prints one JSON line:
//   {"established":bool,"sent":S,"echoed":E,"maxGapMs":G,"error":null|"..."}
// maxGapMs is the longest time without an echo while messages were outstanding (TCP
// retransmissions show up there). Bounded in time; exits 0 whatever happened to the flow.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, seconds: { type: 'string' }, 'interval-ms': { type: 'string', default: '20' } } });
const host = values.host ?? '';
const port = Number(values.port);
const seconds = Number(values.seconds);
const intervalMs = Number(values['interval-ms']);
if (!host || !(port > 0 && port < 65536) || !(seconds > 0 && seconds <= 120) || !(intervalMs >= 1 && intervalMs <= 1000)) {
  process.stderr.write('usage: tcp-flow --host ADDR --port N --seconds S [--interval-ms MS]\n');
  process.exit(2);
}
const MSG = 32;
const r = { established: false, sent: 0, echoed: 0, maxGapMs: 0, error: null };
let greeted = false;
let pending = Buffer.alloc(0);
let lastEcho = 0;
let timer;
const s = net.connect({ host, port });
s.setNoDelay(true);
const message = (k) => {
  const b = Buffer.alloc(MSG, 0x5a);
  b.writeUInt32BE(k >>> 0, 0);
  return b;
};
const finish = () => {
  clearInterval(timer);
  s.destroy();
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
};
const fail = (why) => {
  if (r.error === null) r.error = why;
  finish();
};
s.on('data', (d) => {
  pending = Buffer.concat([pending, d]);
  if (!greeted) {
    const nl = pending.indexOf(10);
    if (nl < 0) return;
    pending = pending.subarray(nl + 1);
    greeted = r.established = true;
    lastEcho = performance.now();
    process.stdout.write('established\n');
    timer = setInterval(() => {
      const now = performance.now();
      if (r.sent > r.echoed) r.maxGapMs = Math.max(r.maxGapMs, Math.round(now - lastEcho));
      else lastEcho = now;
      s.write(message(r.sent++));
    }, intervalMs);
    setTimeout(() => {
      clearInterval(timer);
      const wait = setInterval(() => {
        if (r.echoed >= r.sent) (clearInterval(wait), finish());
      }, 10);
      setTimeout(() => fail(`${r.sent - r.echoed} messages not echoed 3 s after the end`), 3000);
    }, seconds * 1000);
  }
  while (pending.length >= MSG) {
    if (!pending.subarray(0, MSG).equals(message(r.echoed))) return fail(`echo ${r.echoed} differs from what was sent`);
    pending = pending.subarray(MSG);
    r.echoed++;
    const now = performance.now();
    r.maxGapMs = Math.max(r.maxGapMs, Math.round(now - lastEcho));
    lastEcho = now;
  }
});
s.on('error', (err) => fail(err.code ?? err.message));
s.on('close', () => fail('closed by the peer'));
setTimeout(() => greeted || fail('not established within 5 s'), 5000);
setTimeout(() => fail('timed out'), (seconds + 10) * 1000).unref();
