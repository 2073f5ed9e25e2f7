#!/usr/bin/env node
// npm run bench:queues [-- --seconds 3 --rounds 3 --flows 16 --json --no-build --cpu-prof-dir DIR]
//
// Scale-up: vstun-director with a two-queue TAP (--queues 2, one worker thread per queue)
// against the same director with one queue, and against the C TAP forwarder
// (bench/c/tap_fwd.c) with two queues and a thread each, in the same run on the bench's
// topology (client, router, director host, a real server that counts what arrives).
// The generator (bench/c/gen.c) sends 64-byte UDP from `--flows` source ports, so the
// kernel spreads the flows over the queues. Nothing is pinned: the queues need both CPUs,
// and the generator shares them, so on a 2-CPU machine the ceiling is the machine's (the
// C 2-queue / C 1-queue ratio shows it). The four forwarders run interleaved for several
// rounds and the medians are compared. --json prints the result object as the last line
// (bench/run.mjs folds it into results.json). --cpu-prof-dir DIR runs the directors under
// node --cpu-prof (one .cpuprofile per thread: the main thread and each queue worker).
// Bounded in time; the lab is removed on exit.
import os from 'node:os';
import path from 'node:path';
import { BIN, buildDistAndC, option as opt, ROOT, routeVipIntoTap } from './lib/bench-setup.mjs';

const SECONDS = Number(opt('seconds', '3'));
const ROUNDS = Number(opt('rounds', '3'));
const FLOWS = Number(opt('flows', '16'));
const PROFILE_DIR = opt('cpu-prof-dir', '');
const PAYLOAD = 64;
const WARMUP_MS = 1000;
const TAP_MAC = '02:56:53:54:00:02';
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio3 = (a, b) => (b > 0 ? Number((a / b).toPrecision(3)) : null);
const kpps = (x) => `${Math.round(x).toLocaleString('en')} pps`;

if (!(SECONDS > 0 && SECONDS <= 30) || !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 10) || !(Number.isInteger(FLOWS) && FLOWS >= 2 && FLOWS <= 256)) {
  console.error('--seconds must be in (0, 30], --rounds in 1..10, --flows in 2..256');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench:queues needs root (network namespaces, multi-queue TAP)');
  process.exit(2);
}

if (!process.argv.includes('--no-build')) buildDistAndC(['gen', 'tap_fwd']); // npm run bench has just built everything

const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
const { startDirector, serviceYaml, labTapName } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
const lab = buildLab({ prefix: 'bqu', realServers: 1 });
const spawned = [];
const cleanup = () => {
  for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL');
  lab.cleanup();
};
process.on('SIGINT', () => (cleanup(), process.exit(130)));
process.on('SIGTERM', () => (cleanup(), process.exit(143)));

/** Packets counted by the kernel on `dev` in `ns` (received, sent, dropped on send). */
function counters(ns, dev) {
  const s = JSON.parse(lab.topo.exec(ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', dev]))[0].stats64;
  return { rx: s.rx.packets, tx: s.tx.packets, txDropped: s.tx.dropped };
}

/** Starts `cmd` in `ns` and resolves once it printed `ready` (bounded). */
async function startReady(ns, cmd, args) {
  const child = lab.topo.spawn(ns, cmd, args);
  spawned.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const end = Date.now() + 10_000;
  while (!out.split('\n').includes('ready')) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`${path.basename(cmd)} did not start: ${out.trim()}`);
    await pause(20);
  }
  return child;
}

const stopped = (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

try {
  const [rs] = lab.realServers;
  const tap = labTapName(lab);
  // rs has no agent: its kernel drops the IPIP it receives, after counting it on eth0.
  const config = (queues) =>
    ['director:', `  queues: ${queues}`, '  guard: { enabled: false }', 'services:', serviceYaml({ protocol: 'udp', vip: lab.vip, port: 9, scheduler: 'rr', realServers: [{ address: rs.rip }] }), ''].join('\n');

  const measure = async () => {
    const gen = lab.topo.spawn(lab.client, path.join(BIN, 'gen'), [lab.vip, '9', String(SECONDS + WARMUP_MS / 1000 + 1), String(PAYLOAD), String(FLOWS)]);
    spawned.push(gen);
    await pause(WARMUP_MS);
    const a = { rs: counters(rs.ns, 'eth0'), tap: counters(lab.director, tap), t: performance.now() };
    await pause(SECONDS * 1000);
    const b = { rs: counters(rs.ns, 'eth0'), tap: counters(lab.director, tap), t: performance.now() };
    gen.kill('SIGTERM');
    await stopped(gen);
    const dt = (b.t - a.t) / 1000;
    return { pps: (b.rs.rx - a.rs.rx) / dt, offered: (b.tap.tx + b.tap.txDropped - a.tap.tx - a.tap.txDropped) / dt };
  };
  const director = (queues) => async () => {
    const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIR, `q${queues}`)}`] : [];
    const d = await startDirector(lab, { config: config(queues), name: `director-q${queues}`, nodeArgs });
    lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
    const m = await measure();
    const q = await d.control('queues');
    await d.stop(5000);
    return { ...m, perQueueFrames: q.queues.map((s) => s.framesIn) };
  };
  const cForwarder = (queues) => async () => {
    const fwd = await startReady(lab.director, path.join(BIN, 'tap_fwd'), [tap, TAP_MAC, lab.dip, rs.rip, String(queues)]);
    routeVipIntoTap(lab.topo, lab.director, tap, lab.vip, TAP_MAC);
    const m = await measure();
    fwd.kill('SIGTERM');
    await stopped(fwd);
    return m;
  };
  const variants = [
    ['vstun-director --queues 1', director(1)],
    ['vstun-director --queues 2', director(2)],
    ['C tap_fwd, 1 queue', cForwarder(1)],
    ['C tap_fwd, 2 queues', cForwarder(2)],
  ];
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`vstun bench:queues  ${PAYLOAD}-byte UDP from ${FLOWS} flows, ${ROUNDS} rounds of ${SECONDS} s after ${WARMUP_MS} ms warm-up, ${os.cpus().length} CPUs, load ${load}`);
  const runs = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = (i + r) % variants.length; // rotate the order so drift hits everyone alike
      const m = await variants[v][1]();
      runs[v].push(m);
      console.log(`  round ${r + 1} ${variants[v][0].padEnd(26)} ${kpps(m.pps).padStart(13)} at the RS   offered ${kpps(m.offered)}${m.perQueueFrames ? `   frames per queue ${m.perQueueFrames.join(' / ')}` : ''}`);
    }
  }
  const [d1, d2, c1, c2] = runs.map((xs) => mid(xs.map((m) => m.pps)));
  const result = {
    flows: FLOWS,
    seconds: SECONDS,
    rounds: ROUNDS,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    directorQueues1Pps: Math.round(d1),
    directorQueues2Pps: Math.round(d2),
    cTapForwarder1QueuePps: Math.round(c1),
    cTapForwarder2QueuesPps: Math.round(c2),
    ratioDirector2To1: ratio3(d2, d1),
    ratioDirector2ToC2: ratio3(d2, c2),
    ratioC2ToC1: ratio3(c2, c1),
    runs: Object.fromEntries(variants.map(([label], i) => [label, runs[i]])),
  };
  console.log('medians:');
  variants.forEach(([label], i) => console.log(`  ${label.padEnd(26)} ${kpps(mid(runs[i].map((m) => m.pps))).padStart(13)}`));
  const r3 = (x) => (x === null ? 'n/a' : x.toPrecision(3));
  console.log(`ratio director 2 queues / 1 queue        = ${r3(result.ratioDirector2To1)}`);
  console.log(`ratio director 2 queues / C 2 queues     = ${r3(result.ratioDirector2ToC2)}   (target >= 1.0)`);
  console.log(`ratio C 2 queues / C 1 queue (ceiling)   = ${r3(result.ratioC2ToC1)}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
} finally {
  cleanup();
}
