#!/usr/bin/env node
// node bench/datapath-ab.mjs --trees OLD,NEW [--seconds 2 --rounds 4 --mix v4|v6]
//
// The director's data path alone (Datapath.processBatch, no device, no kernel) in two
// source trees, each built (dist/), run in turn in fresh processes: A B A B ... for
// `rounds` rounds, and the median packets per second of each, with their ratio NEW/OLD.
// For a change to the data path's code, this isolates what the forwarding bench
// (npm run bench, line 1) mixes with TAP and kernel costs. Frames: 64-byte UDP payloads
// from 4096 clients to one VIP service with two real servers (IPIP), in batches of 256;
// the first pass creates the connection entries, the measured ones look them up. The rate
// is per second of the child's CPU time (the machine may be shared).
// Bounded in time: each child runs `seconds` and exits.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const SECONDS = Number(arg('seconds', '2'));
const MIX = arg('mix', 'v4');

if (arg('role', '') === 'run') await run(arg('tree', ''));
else main();

function main() {
  const trees = arg('trees', '').split(',').filter(Boolean);
  if (trees.length !== 2) throw new Error('--trees OLD,NEW: two source trees with a built dist/');
  const rounds = Number(arg('rounds', '4'));
  const self = fileURLToPath(import.meta.url);
  const pps = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const out = execFileSync(process.execPath, [self, '--role', 'run', '--tree', trees[t], '--seconds', String(SECONDS), '--mix', MIX], { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
      const v = Number(out.trim());
      pps[t].push(v);
      console.log(`round ${r + 1} ${t === 0 ? 'A' : 'B'} ${path.basename(trees[t])}: ${Math.round(v).toLocaleString('en')} pps`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const a = median(pps[0]);
  const b = median(pps[1]);
  console.log(`median A ${Math.round(a).toLocaleString('en')} pps, B ${Math.round(b).toLocaleString('en')} pps, B/A ${(b / a).toFixed(3)} (mix ${MIX}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}

async function run(tree) {
  const dist = (p) => pathToFileURL(path.join(path.resolve(tree), 'dist', p)).href;
  const { Director } = await import(dist('director/director.js'));
  const { META_STRIDE, META_OFFSET, META_LENGTH } = await import(dist('device/packet-device.js'));
  const { parseAddressId, IPV6_ID_BASE } = await import(dist('director/address-id.js'));
  const mac = Uint8Array.of(2, 0, 0, 0x77, 0, 2);
  const kernelMac = Uint8Array.of(2, 0, 0, 0x77, 0, 1);
  const v4 = (s) => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  // The first frame written is kept, to check its outer source before measuring.
  let firstOut = null;
  const writeBatch = (data, meta, n) => {
    if (firstOut === null && n > 0) firstOut = data.slice(meta[META_OFFSET], meta[META_OFFSET] + meta[META_LENGTH]);
    return n;
  };
  const device = { name: 'null', headroom: 128, onBatch() {}, writeBatch, stats: () => ({}) };
  // Each server's outer source is of its own family, as TunnelSources gives it: an IPv6
  // server gets an IPv6 DIP (an id of the director's table; the older tree's table is a
  // module singleton and its parseAddressId takes one argument).
  const dipFor = (rip) => (rip >= IPV6_ID_BASE ? parseAddressId('2001:db8:2::1', d.registry.addresses) : v4('10.77.2.1'));
  const d = new Director({ device, mac, linkAddress: v4('169.254.77.2'), kernelAddress: v4('169.254.77.1'), kernelMac, dipFor, connTableCapacity: 1 << 16, timers: false, clock: () => 1000 });
  const six = MIX === 'v6';
  const vip = six ? '2001:db8::100' : '10.77.0.100';
  const svc = d.registry.addService({ protocol: 'udp', vip, port: 53, scheduler: 'rr' });
  for (const address of six ? ['2001:db8:3::2', '2001:db8:4::2'] : ['10.77.3.2', '10.77.4.2']) d.registry.addRealServer(svc, { address });

  const BATCH = 256;
  const SLOT = 2048;
  const HEADROOM = 128;
  const CLIENTS = 4096;
  const PAYLOAD = 64;
  const batches = [];
  for (let b = 0; b < CLIENTS / BATCH; b++) {
    const data = new Uint8Array(BATCH * SLOT);
    const meta = new Int32Array(BATCH * META_STRIDE);
    for (let i = 0; i < BATCH; i++) {
      const off = i * SLOT + HEADROOM;
      const len = frame(data, off, b * BATCH + i);
      meta[i * META_STRIDE + META_OFFSET] = off;
      meta[i * META_STRIDE + META_LENGTH] = len;
    }
    batches.push({ data, meta, addr: new Uint8Array(0), count: BATCH, headroom: HEADROOM, slotSize: SLOT });
  }
  function frame(buf, off, client) {
    buf.set(kernelMac, off + 6);
    buf.set(mac, off);
    const ip = off + 14;
    let l4;
    if (six) {
      buf[off + 12] = 0x86;
      buf[off + 13] = 0xdd;
      buf[ip] = 0x60;
      buf[ip + 4] = 0;
      buf[ip + 5] = 8 + PAYLOAD;
      buf[ip + 6] = 17;
      buf[ip + 7] = 64;
      buf.set([0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, client >> 8, client & 0xff], ip + 8);
      buf.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], ip + 24);
      l4 = ip + 40;
    } else {
      buf[off + 12] = 0x08;
      buf[off + 13] = 0x00;
      const total = 20 + 8 + PAYLOAD;
      buf.set([0x45, 0, total >> 8, total & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 77, 1 + (client >> 8), client & 0xff, 10, 77, 0, 100], ip);
      l4 = ip + 20;
    }
    buf.set([0x30, 0x39, 0, 53, 0, 8 + PAYLOAD, 0, 0], l4);
    return l4 + 8 + PAYLOAD - off;
  }
  const dp = d.datapath;
  // Encapsulation writes the outer headers over each frame's own Ethernet header (the
  // frame's bytes in front of its IP header): put those 14 bytes back before each pass,
  // as a fresh read would (the same small cost in both trees).
  const ethernet = new Uint8Array(14);
  ethernet.set(mac, 0);
  ethernet.set(kernelMac, 6);
  ethernet[12] = six ? 0x86 : 0x08;
  ethernet[13] = six ? 0xdd : 0x00;
  const pass = (b, now) => {
    for (let i = 0; i < BATCH; i++) b.data.set(ethernet, b.meta[i * META_STRIDE + META_OFFSET]);
    dp.processBatch(b, device, now);
  };
  // The first pass creates the entries.
  for (const b of batches) pass(b, 1000);
  // IPIP 10.77.2.1 → server, or IPv6 (6in6) from 2001:db8:2::1: a wrong DIP fails here, not silently.
  const src = six ? Array.from(firstOut.subarray(14 + 8, 14 + 24)).join('.') : Array.from(firstOut.subarray(14 + 12, 14 + 16)).join('.');
  const want = six ? '32.1.13.184.0.2.0.0.0.0.0.0.0.0.0.1' : '10.77.2.1';
  if (src !== want) throw new Error(`outer source ${src}, expected ${want}`);
  let packets = 0;
  let now = 1000;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let t = start;
  while (t < end) {
    for (const b of batches) pass(b, now);
    packets += CLIENTS;
    now += Number(process.env.NOW_STEP ?? 0.001);
    t = performance.now();
  }
  const fwd = dp.verdicts[0];
  if (fwd < packets + CLIENTS) throw new Error(`only ${fwd} of ${packets + CLIENTS} frames forwarded`);
  // Per second of this process's CPU time, not of wall time: on a shared machine the wall
  // clock also counts the time other processes held the CPU.
  const cpu = process.cpuUsage(cpu0);
  console.log(String(packets / ((cpu.user + cpu.system) / 1e6)));
}
