#!/usr/bin/env node
// npm run bench:io [-- --seconds 3 --rounds 3 --payload 64]
//
// Packets per second through the native addon (TAP read ring -> TAP write), next to a C
// reference loop doing the same work in the same run. One namespace holds everything:
//
//   gen (C, sendmmsg UDP) -> kernel route -> TAP "bi…" -> FORWARDER -> TAP "bo…" -> kernel (counted)
//
// The forwarder is, in turn: the addon driven from Node (reader batch -> one writeBatch),
// the C reference in batch mode (epoll, drain up to 256 frames with read(2), write(2) each:
// the addon's structure without JS), and the C reference in single mode (blocking
// read/write, one frame at a time). The rate is what the kernel counted arriving on the
// output TAP over a fixed window after a warm-up. The generator is pinned to CPU 0 and the
// forwarder to CPU 1; the three forwarders run interleaved for several rounds and the
// medians are compared, because a shared 2-core machine drifts a lot between runs.
// Every run is bounded in time; the namespace and every child are removed on exit,
// including on SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bench', 'bin');
const DST = '10.90.1.2';
const DST_MAC = '02:00:00:00:5a:02';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

if (arg('role', '') === 'node-forwarder') {
  await nodeForwarder(arg('in', ''), arg('out', ''));
} else {
  await main();
}

/** The Node side: frames read from one TAP are written, batch by batch, to the other. */
async function nodeForwarder(inName, outName) {
  const { TunTapDevice } = await import(path.join(ROOT, 'dist', 'device', 'native-tap-device.js'));
  const [input] = TunTapDevice.open({ name: inName, kind: 'tap', up: false, slots: 256 });
  const [output] = TunTapDevice.open({ name: outName, kind: 'tap', up: false, slots: 1 });
  input.onBatch((b) => output.writeBatch(b.data, b.meta, b.count));
  const finish = () => {
    const i = input.stats();
    const o = output.stats();
    console.log(JSON.stringify({ read: i.rxPackets, written: o.txPackets, writeErrors: o.txErrors, batches: i.rxBatches }));
    input.close();
    output.close();
    process.exit(0);
  };
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  console.log('ready');
}

function build() {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'device', 'native-tap-device.js'))) throw err;
    console.warn('warning: tsc reported errors; using the existing dist/ build');
  }
  fs.mkdirSync(BIN, { recursive: true });
  for (const name of ['io_ref', 'gen']) {
    execFileSync('gcc', ['-O2', '-Wall', '-o', path.join(BIN, name), path.join(ROOT, 'bench', 'c', `${name}.c`)], { stdio: 'inherit' });
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Collects a child's output; `line()` waits for a matching line, `exit()` for the exit. */
function watch(child) {
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    async line(pred, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = out.split('\n').find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no expected output from child: ${out.trim()}`);
        await sleep(20);
      }
    },
    exit(ms) {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, ms);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

async function main() {
  const seconds = Number(arg('seconds', '3'));
  const rounds = Number(arg('rounds', '3'));
  const payload = Number(arg('payload', '64'));
  if (!(seconds > 0 && seconds <= 30) || !(payload >= 18 && payload <= 1400) || !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)) {
    console.error('--seconds must be in (0, 30], --rounds in 1..10 and --payload in [18, 1400]');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('bench:io needs root (it creates a network namespace and TAP devices)');
    process.exit(2);
  }
  build();
  const { Topology } = await import(path.join(ROOT, 'dist', 'lab', 'netns.js'));
  const topo = new Topology('bio');
  const bail = () => {
    topo.cleanup();
    process.exit(130);
  };
  process.on('SIGINT', bail);
  process.on('SIGTERM', bail);
  try {
    const ns = topo.ns('io');
    topo.sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', 1); // no IPv6 chatter on the TAPs
    topo.sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', 1);
    const tapIn = `bi${topo.tag}`.slice(0, 15);
    const tapOut = `bo${topo.tag}`.slice(0, 15);

    const linkStats = () => {
      const links = JSON.parse(topo.exec(ns, 'ip', ['-s', '-j', 'link', 'show']));
      const get = (n) => links.find((l) => l.ifname === n)?.stats64 ?? { rx: { packets: 0 }, tx: { packets: 0, dropped: 0 } };
      const i = get(tapIn);
      const o = get(tapOut);
      return { offered: i.tx.packets + i.tx.dropped, tapDropped: i.tx.dropped, delivered: o.rx.packets, time: performance.now() };
    };

    const measure = async (label, cmd, args) => {
      const fwd = topo.spawn(ns, 'taskset', ['-c', '1', cmd, ...args]);
      const fw = watch(fwd);
      await fw.line((l) => l === 'ready', 15_000);
      topo.exec(ns, 'ip', ['link', 'set', tapIn, 'up']);
      topo.exec(ns, 'ip', ['link', 'set', tapOut, 'up']);
      topo.exec(ns, 'ip', ['addr', 'add', '10.90.1.1/24', 'dev', tapIn]);
      topo.exec(ns, 'ip', ['neigh', 'replace', DST, 'lladdr', DST_MAC, 'dev', tapIn, 'nud', 'permanent']);
      const gen = topo.spawn(ns, 'taskset', ['-c', '0', path.join(BIN, 'gen'), DST, '9', String(seconds + 2), String(payload)]);
      const gw = watch(gen);
      await sleep(1000); // warm-up (JIT, caches)
      const a = linkStats();
      await sleep(seconds * 1000);
      const b = linkStats();
      await gw.exit((seconds + 5) * 1000);
      fwd.kill('SIGTERM');
      const report = JSON.parse(await fw.line((l) => l.startsWith('{'), 10_000));
      await fw.exit(5000);
      const dt = (b.time - a.time) / 1000;
      const row = {
        label,
        pps: Math.round((b.delivered - a.delivered) / dt),
        offered: Math.round((b.offered - a.offered) / dt),
        tapDropped: Math.round((b.tapDropped - a.tapDropped) / dt),
        writeErrors: report.writeErrors,
        batch: report.batches ? (report.read / report.batches).toFixed(1) : '',
      };
      console.log(`  ${label.padEnd(28)} ${String(row.pps).padStart(9)} pps   offered ${String(row.offered).padStart(9)}/s   dropped at input TAP ${String(row.tapDropped).padStart(9)}/s${row.batch ? `   avg batch ${row.batch}` : ''}`);
      return row;
    };

    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`vstun bench:io  TAP -> TAP forwarding, ${payload}-byte UDP payloads (${payload + 42}-byte frames), ${seconds} s per run after 1 s warm-up, ${rounds} rounds, load average ${load}`);
    const forwarders = [
      ['node + addon (batched)', process.execPath, [path.join(ROOT, 'bench', 'io.mjs'), '--role', 'node-forwarder', '--in', tapIn, '--out', tapOut]],
      ['C reference (same batching)', path.join(BIN, 'io_ref'), [tapIn, tapOut, 'batch']],
      ['C reference (one at a time)', path.join(BIN, 'io_ref'), [tapIn, tapOut, 'single']],
    ];
    const results = forwarders.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < forwarders.length; k++) {
        const f = (k + r) % forwarders.length; // rotate the order so drift hits everyone alike
        const [label, cmd, args] = forwarders[f];
        results[f].push((await measure(label, cmd, args)).pps);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [node, cBatch, cSingle] = results.map(median);
    console.log('medians:');
    forwarders.forEach(([label], f) => console.log(`  ${label.padEnd(28)} ${String(median(results[f])).padStart(9)} pps`));
    console.log(`ratio node/C(same batching) = ${(node / cBatch).toFixed(2)}   (target >= 0.9)`);
    console.log(`ratio node/C(one at a time) = ${(node / cSingle).toFixed(2)}`);
  } finally {
    topo.cleanup();
  }
}
