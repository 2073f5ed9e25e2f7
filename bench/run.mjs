#!/usr/bin/env node
// npm run bench [-- --seconds 3 --rounds 3 --no-agent --profile --only forwarding]
//
// vstun's figures, measured in one run on the demo's kind of topology (client, router,
// director host, real servers on their own sites, all in network namespaces), each reported
// next to a reference measured in the same run:
//
//   1. director forwarding: vstun-director vs a minimal C TAP forwarder (bench/c/tap_fwd.c:
//      read, add IPIP, write), same offered load from a C sendmmsg generator (bench/c/gen.c),
//      rate counted arriving at the real server; rounds interleaved, medians compared;
//   2. agent decapsulation: vstun-agent vs a C raw-socket -> TUN loop (bench/agent.mjs);
//   3. added latency: p50/p99 UDP echo RTT through director + agent, minus the same path with
//      the kernel routing directly (policy routing on the router), under background load at
//      about 50% of the director's maximum rate (bench/c/udp_rtt.c);
//   4. connection-table bytes per flow at 1 M and 10 M flows; Maglev build time (M = 65537,
//      1000 real servers);
//   5. SYN flood (bench/c/syn_flood.c): new-flow rate, table fill, evictions and drops.
//
// Writes bench/results.json and prints a table with the date and the machine; with
// --only forwarding, runs line 1 alone and prints its result as JSON (for an A/B of two
// trees: copy this file into the other tree's bench/ and run both in turn), writing nothing. Targets are
// reported, never asserted. Generator pinned to CPU 0, forwarder to CPU 1 when there are
// two CPUs. Bounded in time; namespaces and children are removed on exit and on SIGINT.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bench', 'bin');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const flag = (name) => process.argv.includes(`--${name}`);
const SECONDS = Number(arg('seconds', '3'));
const ROUNDS = Number(arg('rounds', '3'));
const ONLY = arg('only', '');
const PAYLOAD = 64;
const WARMUP_MS = 1000;
const TWO_CPUS = os.cpus().length >= 2;
const TAP_MAC = '02:56:53:54:00:02';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const k = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : 'n/a');
const round2 = (x) => Math.round(x * 100) / 100;

function build() {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'vstun-director.js'))) throw err;
    console.warn('warning: tsc reported errors; using the existing dist/ build');
  }
  fs.mkdirSync(BIN, { recursive: true });
  for (const name of ['gen', 'tap_fwd', 'udp_rtt', 'syn_flood']) {
    execFileSync('gcc', ['-O2', '-Wall', '-o', path.join(BIN, name), path.join(ROOT, 'bench', 'c', `${name}.c`)], { stdio: 'inherit' });
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    date: new Date().toISOString(),
    kernel: os.release(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    nproc: os.cpus().length,
    node: process.version,
    loadavg: os.loadavg().map((x) => round2(x)),
  };
}

/** [cmd, args] pinned to `cpu` when the machine has two CPUs. */
const pinned = (cpu, cmd, args) => (TWO_CPUS ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);
const pinPid = (pid, cpu) => TWO_CPUS && execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });

function linkStats(topo, ns, dev) {
  const r = topo.tryExec(ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', dev]);
  if (r.status !== 0) return { rx: 0, tx: 0, txDropped: 0 };
  const s = JSON.parse(r.stdout)[0].stats64;
  return { rx: s.rx.packets, tx: s.tx.packets, txDropped: s.tx.dropped };
}

function lines(child) {
  const out = [];
  child.stdout?.on('data', (d) => out.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (d) => out.push(...d.toString().split('\n').filter(Boolean)));
  return out;
}
const exited = (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
async function waitLine(out, pred, ms, what) {
  const end = Date.now() + ms;
  while (!out.some(pred)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${out.join(' | ')}`);
    await sleep(20);
  }
  return out.find(pred);
}
const lastJson = (out) => JSON.parse([...out].reverse().find((l) => l.startsWith('{')) ?? '{}');

// ---------------------------------------------------------------------------------------
// 4. In-process figures: connection table and Maglev.

async function tableAndMaglev() {
  const { ConnTable, KIND_UDP } = await import(path.join(ROOT, 'dist', 'director', 'conn-table.js'));
  const { UDP_STATE } = await import(path.join(ROOT, 'dist', 'director', 'tcp-state.js'));
  const { MaglevScheduler } = await import(path.join(ROOT, 'dist', 'director', 'schedulers', 'maglev.js'));
  const { RealServer } = await import(path.join(ROOT, 'dist', 'director', 'real-server.js'));
  const table = [];
  for (const flows of [1_000_000, 10_000_000]) {
    globalThis.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    const t = new ConnTable(flows, undefined, 12345);
    const t0 = performance.now();
    const vip = 0x0a466400;
    for (let i = 0; i < flows; i++) {
      // Distinct clients (address, port) to one VIP:port: what a busy director holds.
      t.insert(KIND_UDP, (0x0b000000 + (i >>> 6)) >>> 0, 1024 + (i & 63) * 997, vip, 53, 0, i & 7, UDP_STATE, 1e12, 0);
    }
    const insertNs = ((performance.now() - t0) * 1e6) / flows;
    const s = t.stats();
    const measured = process.memoryUsage().arrayBuffers - before;
    table.push({ flows, entries: s.entries, bytes: s.bytes, bytesPerFlow: round2(s.bytes / s.entries), arrayBufferBytesPerFlow: round2(measured / s.entries), insertNsPerFlow: Math.round(insertNs) });
  }
  const servers = Array.from({ length: 1000 }, (_, i) => new RealServer(i, 0, (0x0a000000 + i) >>> 0, 80, 1 + (i % 3), 0));
  const times = [];
  for (let r = 0; r < 7; r++) {
    const m = new MaglevScheduler(new Set(), 65537);
    const t0 = performance.now();
    m.update(servers);
    times.push(performance.now() - t0);
  }
  return { connTable: table, maglev: { tableSize: 65537, realServers: 1000, buildMsMedian: round2(median(times)), buildMsMin: round2(Math.min(...times)), runs: times.length } };
}

// ---------------------------------------------------------------------------------------
// The lab.

async function main() {
  if (!(SECONDS > 0 && SECONDS <= 20) || !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 7)) {
    console.error('--seconds must be in (0, 20] and --rounds in 1..7');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('npm run bench needs root (network namespaces, TAP/TUN, raw sockets)');
    process.exit(2);
  }
  const started = Date.now();
  build();
  const results = { machine: machine(), settings: { seconds: SECONDS, rounds: ROUNDS, payloadBytes: PAYLOAD, pinned: TWO_CPUS } };
  console.log(`vstun bench — ${results.machine.date}, Linux ${results.machine.kernel}, ${results.machine.cpu}, ${results.machine.nproc} CPUs, load ${results.machine.loadavg.join(' ')}`);

  if (ONLY !== '' && ONLY !== 'forwarding') throw new Error(`--only ${ONLY}: only "forwarding" can run alone`);
  if (!ONLY) {
    console.log('\n[1/5] connection table and Maglev (in process)');
    Object.assign(results, await tableAndMaglev());
    for (const t of results.connTable) console.log(`  ${k(t.flows)} flows: ${t.bytesPerFlow} B/flow (typed arrays ${k(t.bytes)} B), insert ${t.insertNsPerFlow} ns/flow`);
    console.log(`  Maglev M=65537, 1000 RS: ${results.maglev.buildMsMedian} ms (median of ${results.maglev.runs})`);
  }

  const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
  const { startAgent, startDirector, serviceYaml, labTapName } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
  const lab = buildLab({ prefix: 'bch', realServers: 2 });
  const children = [];
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    lab.cleanup();
  };
  process.on('SIGINT', () => (console.log('\ninterrupted: cleaning up'), cleanup(), process.exit(130)));
  process.on('SIGTERM', () => (cleanup(), process.exit(143)));
  const spawnIn = (ns, cmd, args) => {
    const c = lab.topo.spawn(ns, cmd, args);
    children.push(c);
    return c;
  };

  try {
    const [rs1, rs2] = lab.realServers;
    const tap = labTapName(lab);
    for (const ns of [lab.director, lab.router, rs1.ns, rs2.ns]) lab.topo.sysctl(ns, 'net.ipv4.icmp_ratelimit', 1000);
    // rs1: the agent and a C UDP echo on the VIP (latency). rs2: no agent, a sink for load
    // and floods (its kernel drops the IPIP it cannot decapsulate).
    const agent = await startAgent(lab, rs1);
    const echo = spawnIn(rs1.ns, path.join(BIN, 'udp_rtt'), ['echo', lab.vip, '7', '600']);
    await waitLine(lines(echo), (l) => l === 'ready', 5000, 'udp echo');

    const directorConfig = (connTableSize) =>
      [
        'director:',
        `  connTableSize: ${connTableSize}`,
        // The bench measures the director itself; the nftables guard would cap new flows.
        '  guard: { enabled: false }',
        'services:',
        serviceYaml({ protocol: 'udp', vip: lab.vip, port: 9, scheduler: 'rr', realServers: [{ address: rs2.rip }] }),
        serviceYaml({ protocol: 'udp', vip: lab.vip, port: 7, scheduler: 'rr', realServers: [{ address: rs1.rip }] }),
        serviceYaml({ protocol: 'tcp', vip: lab.vip, port: 80, scheduler: 'mh', realServers: [{ address: rs2.rip }] }),
        '',
      ].join('\n');
    const runDirector = async (connTableSize = 1 << 20, nodeArgs = []) => {
      const d = await startDirector(lab, { config: directorConfig(connTableSize), name: `director-${connTableSize}`, nodeArgs });
      pinPid(d.child.pid, 1);
      return d;
    };

    // ------------------------------------------------------------------- 1. forwarding
    console.log(`\n[2/5] director forwarding vs C TAP forwarder: ${PAYLOAD}-byte UDP, ${ROUNDS} rounds of ${SECONDS} s after ${WARMUP_MS} ms warm-up`);
    const measureForward = async () => {
      const [gcmd, gargs] = pinned(0, path.join(BIN, 'gen'), [lab.vip, '9', String(SECONDS + WARMUP_MS / 1000 + 1), String(PAYLOAD)]);
      const gen = spawnIn(lab.client, gcmd, gargs);
      await sleep(WARMUP_MS);
      const a = { rs: linkStats(lab.topo, rs2.ns, 'eth0'), tap: linkStats(lab.topo, lab.director, tap), t: performance.now() };
      await sleep(SECONDS * 1000);
      const b = { rs: linkStats(lab.topo, rs2.ns, 'eth0'), tap: linkStats(lab.topo, lab.director, tap), t: performance.now() };
      gen.kill('SIGTERM');
      await exited(gen);
      const dt = (b.t - a.t) / 1000;
      return { pps: (b.rs.rx - a.rs.rx) / dt, offered: (b.tap.tx + b.tap.txDropped - a.tap.tx - a.tap.txDropped) / dt, tapDropped: (b.tap.txDropped - a.tap.txDropped) / dt };
    };
    const directorRound = async () => {
      const d = await runDirector();
      // The first frames teach the director the kernel's MAC; a ping does it before measuring.
      lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
      const m = await measureForward();
      const status = await d.control('status');
      await d.stop(5000);
      return { ...m, drops: Object.entries(status.verdicts).filter(([n, v]) => n.startsWith('drop') && v > 0) };
    };
    const cRound = async () => {
      const [cmd, args] = pinned(1, path.join(BIN, 'tap_fwd'), [tap, TAP_MAC, lab.dip, rs2.rip]);
      const fwd = spawnIn(lab.director, cmd, args);
      await waitLine(lines(fwd), (l) => l === 'ready', 5000, 'tap_fwd');
      const x = (a) => lab.topo.exec(lab.director, 'ip', a);
      x(['addr', 'add', '169.254.77.1/30', 'dev', tap]);
      x(['link', 'set', tap, 'up']);
      x(['route', 'replace', `${lab.vip}/32`, 'via', '169.254.77.2', 'dev', tap]);
      x(['neigh', 'replace', '169.254.77.2', 'lladdr', TAP_MAC, 'dev', tap, 'nud', 'permanent']);
      for (const [key, v] of [['net.ipv4.ip_forward', 1], [`net.ipv4.conf.${tap}.accept_local`, 1], [`net.ipv4.conf.${tap}.rp_filter`, 0]]) lab.topo.sysctl(lab.director, key, v);
      const m = await measureForward();
      fwd.kill('SIGTERM');
      await exited(fwd);
      return m;
    };
    const fwd = { director: [], c: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['director', 'c'] : ['c', 'director'];
      for (const who of order) {
        const m = who === 'director' ? await directorRound() : await cRound();
        fwd[who].push(m);
        console.log(`  round ${r + 1} ${who === 'director' ? 'vstun-director' : 'C tap_fwd     '}: ${k(m.pps).padStart(9)} pps at the RS   offered ${k(m.offered)}/s   dropped at the TAP ${k(m.tapDropped)}/s${m.drops?.length ? `   director drops ${JSON.stringify(m.drops)}` : ''}`);
      }
    }
    const dirPps = median(fwd.director.map((m) => m.pps));
    const cPps = median(fwd.c.map((m) => m.pps));
    results.forwarding = { directorPps: Math.round(dirPps), cTapForwarderPps: Math.round(cPps), ratio: round2(dirPps / cPps), offeredPps: Math.round(median(fwd.director.map((m) => m.offered))), rounds: fwd };
    console.log(`  median: vstun-director ${k(dirPps)} pps, C ${k(cPps)} pps → ratio ${results.forwarding.ratio} (target ≥ 1.0)`);

    if (flag('profile') || (results.forwarding.ratio < 1.0 && !ONLY)) {
      // Where the director's time goes: one more loaded round under --cpu-prof.
      const dir = fs.mkdtempSync(path.join(lab.workDir, 'prof-'));
      const d = await runDirector(1 << 20, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
      await measureForward();
      await d.stop(10_000);
      results.forwarding.profile = summarizeProfile(dir);
      console.log(`  profile (self time, top functions): ${results.forwarding.profile.map((p) => `${p.fn} ${p.pct}%`).join(', ')}`);
    }

    if (ONLY === 'forwarding') return;

    // ---------------------------------------------------------------- 3. latency
    const probeRate = 1000;
    const loadRate = Math.max(1000, Math.round(dirPps * 0.5) - probeRate);
    console.log(`\n[3/5] added latency: UDP echo RTT (${probeRate}/s probes) under ${k(loadRate)} pps background load (~50% of the director's max), then idle, ${SECONDS + 2} s each`);
    const measureRtt = async (withLoad = true) => {
      const [lcmd, largs] = pinned(0, path.join(BIN, 'udp_rtt'), ['load', lab.vip, '9', String(loadRate), String(SECONDS + 2.5)]);
      const load = withLoad ? spawnIn(lab.client, lcmd, largs) : null;
      await sleep(500);
      const probe = spawnIn(lab.client, path.join(BIN, 'udp_rtt'), ['probe', lab.vip, '7', String(probeRate), String(SECONDS + 2)]);
      const out = lines(probe);
      await exited(probe);
      if (load) await exited(load);
      return lastJson(out);
    };
    const d = await runDirector();
    lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
    const through = await measureRtt();
    const throughIdle = await measureRtt(false); // the same without background load: what the hops cost by themselves
    await d.stop(5000);
    // Direct: the director host's kernel forwards the VIP back to the router, whose policy
    // routing sends it straight to rs1 (port 9 load to rs2, as through the director).
    lab.topo.sysctl(lab.director, 'net.ipv4.ip_forward', 1);
    lab.topo.sysctl(lab.director, 'net.ipv4.conf.all.send_redirects', 0);
    lab.topo.sysctl(lab.director, 'net.ipv4.conf.eth0.send_redirects', 0);
    lab.topo.exec(lab.director, 'ip', ['route', 'replace', `${lab.vip}/32`, 'via', '10.70.1.1']);
    lab.topo.exec(lab.router, 'ip', ['route', 'add', `${lab.vip}/32`, 'via', rs1.rip, 'table', '100']);
    lab.topo.exec(lab.router, 'ip', ['route', 'add', `${lab.vip}/32`, 'via', rs2.rip, 'table', '101']);
    const byPort = lab.topo.tryExec(lab.router, 'ip', ['rule', 'add', 'iif', 'dir0', 'to', `${lab.vip}/32`, 'ipproto', 'udp', 'dport', '9', 'lookup', '101', 'pref', '100']).status === 0;
    lab.topo.exec(lab.router, 'ip', ['rule', 'add', 'iif', 'dir0', 'to', `${lab.vip}/32`, 'lookup', '100', 'pref', '101']);
    const direct = await measureRtt();
    const directIdle = await measureRtt(false);
    lab.topo.exec(lab.director, 'ip', ['route', 'del', `${lab.vip}/32`]);
    results.latency = {
      probeRate,
      loadPps: loadRate,
      loadToSeparateSink: byPort,
      throughDirector: through,
      kernelDirect: direct,
      addedP50us: round2(through.p50us - direct.p50us),
      addedP99us: round2(through.p99us - direct.p99us),
      idle: { throughDirector: throughIdle, kernelDirect: directIdle, addedP50us: round2(throughIdle.p50us - directIdle.p50us), addedP99us: round2(throughIdle.p99us - directIdle.p99us) },
    };
    console.log(`  through director + agent: p50 ${through.p50us} µs, p99 ${through.p99us} µs (${through.received}/${through.sent} echoed)`);
    console.log(`  kernel routing directly : p50 ${direct.p50us} µs, p99 ${direct.p99us} µs (${direct.received}/${direct.sent} echoed)`);
    console.log(`  without the background load: through ${throughIdle.p50us} / ${throughIdle.p99us} µs, direct ${directIdle.p50us} / ${directIdle.p99us} µs (p50 / p99)`);
    console.log(`  added: p50 ${results.latency.addedP50us} µs, p99 ${results.latency.addedP99us} µs (target p99 ≤ 100 µs; includes the agent's user-space decap)`);

    // ------------------------------------------------------------------ 5. SYN flood
    const floodTable = 65536;
    console.log(`\n[4/5] SYN flood: random sources, ${SECONDS} s at full speed into a ${k(floodTable)}-entry table`);
    const fd = await runDirector(floodTable);
    lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
    const s0 = await fd.control('status');
    const tap0 = linkStats(lab.topo, lab.director, tap);
    const [fcmd, fargs] = pinned(0, path.join(BIN, 'syn_flood'), ['10.80.0.0', lab.vip, '80', '0', String(SECONDS)]);
    const t0 = performance.now();
    const flood = spawnIn(lab.client, fcmd, fargs);
    const floodOut = lines(flood);
    // A legitimate UDP flow during the flood: does it still get through?
    const probe = spawnIn(lab.client, path.join(BIN, 'udp_rtt'), ['probe', lab.vip, '7', '200', String(SECONDS)]);
    const probeOut = lines(probe);
    let fullAtMs = null;
    while (flood.exitCode === null && performance.now() - t0 < (SECONDS + 5) * 1000) {
      await sleep(100);
      const s = await fd.control('status').catch(() => null);
      if (fullAtMs === null && s && s.connTable.entries >= floodTable) fullAtMs = Math.round(performance.now() - t0);
    }
    await exited(flood);
    const dt = (performance.now() - t0) / 1000;
    await exited(probe);
    await sleep(300);
    const s1 = await fd.control('status');
    const tap1 = linkStats(lab.topo, lab.director, tap);
    await fd.stop(5000);
    const dv = (n) => (s1.verdicts[n] ?? 0) - (s0.verdicts[n] ?? 0);
    const drops = Object.fromEntries(Object.keys(s1.verdicts).filter((n) => n.startsWith('drop') && dv(n) > 0).map((n) => [n, dv(n)]));
    const probeResult = lastJson(probeOut);
    results.synFlood = {
      seconds: round2(dt),
      sent: lastJson(floodOut).sent,
      offeredToDirector: tap1.tx + tap1.txDropped - tap0.tx - tap0.txDropped,
      droppedAtTapQueue: tap1.txDropped - tap0.txDropped,
      newFlowsPerSecond: Math.round(dv('forward') / dt),
      tableCapacity: floodTable,
      tableFullAfterMs: fullAtMs,
      evictedNonEstablished: s1.connTable.evictedOther - s0.connTable.evictedOther,
      evictedEstablished: s1.connTable.evictedEstablished - s0.connTable.evictedEstablished,
      directorDrops: drops,
      legitimateUdpEchoed: `${probeResult.received}/${probeResult.sent}`,
    };
    // The guard's default (director.guard.synPerSecond, per VIP) must stay below this capacity.
    const { DirectorSection } = await import(path.join(ROOT, 'dist', 'control', 'config-schema.js'));
    results.synFlood.guardDefaultSynPerSecond = DirectorSection.parse({}).guard.synPerSecond;
    results.synFlood.guardShareOfCapacity = round2(results.synFlood.guardDefaultSynPerSecond / Math.max(1, results.synFlood.newFlowsPerSecond));
    const f = results.synFlood;
    console.log(`  offered ${k(f.offeredToDirector / dt)}/s to the director, ${k(f.newFlowsPerSecond)} new flows/s forwarded; table full after ${f.tableFullAfterMs ?? 'never'} ms, then ${k(f.evictedNonEstablished)} non-established entries evicted, ${k(f.evictedEstablished)} established`);
    console.log(`  drops before protection: director ${JSON.stringify(drops)}, TAP queue ${k(f.droppedAtTapQueue)}; a legitimate UDP flow during the flood: ${f.legitimateUdpEchoed} echoed`);
    await agent.stop(3000);

    // ------------------------------------------------------------------ 2. agent
    if (!flag('no-agent')) {
      console.log(`\n[5/5] agent decapsulation vs C raw-socket → TUN loop (bench/agent.mjs, its own namespaces)`);
      const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'agent.mjs'), '--seconds', String(SECONDS), '--rounds', String(Math.min(ROUNDS, 3))], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      const out = lines(child);
      child.stdout.on('data', (d) => process.stdout.write(d.toString().split('\n').filter((l) => l.startsWith('round')).map((l) => `  ${l}\n`).join('')));
      await exited(child);
      results.agent = lastJson(out);
    }
  } finally {
    cleanup();
    if (ONLY) {
      const f = results.forwarding;
      console.log(JSON.stringify({ machine: results.machine, forwarding: f && { directorPps: f.directorPps, cTapForwarderPps: f.cTapForwarderPps, ratio: f.ratio, offeredPps: f.offeredPps } }));
    }
  }
  if (ONLY) return;

  results.targets = targets(results);
  results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${formatTable(results)}`);
  console.log(`written to bench/results.json (${results.elapsedSeconds} s)`);
}

function targets(r) {
  const row = (name, value, target, ok) => ({ name, value, target, met: ok });
  const perFlow = r.connTable.map((t) => t.bytesPerFlow);
  return [
    row('director / C TAP forwarder (pps)', r.forwarding?.ratio, '≥ 1.0', r.forwarding?.ratio >= 1.0),
    row('agent / C decap loop (pps per core)', r.agent?.ratio, '≥ 0.9', r.agent?.ratio >= 0.9),
    row('added latency p99 (µs)', r.latency?.addedP99us, '≤ 100', r.latency?.addedP99us <= 100),
    row('connection table (B per flow, 1 M / 10 M)', perFlow.join(' / '), '≤ 64', perFlow.every((b) => b <= 64)),
    row('Maglev build, M = 65537, 1000 RS (ms)', r.maglev.buildMsMedian, '≤ 20', r.maglev.buildMsMedian <= 20),
  ];
}

/** The table the README quotes. */
function formatTable(r) {
  const m = r.machine;
  const rows = [
    ['director forwarding (pps)', `${k(r.forwarding?.directorPps)} vs C ${k(r.forwarding?.cTapForwarderPps)}`, `ratio ${r.forwarding?.ratio}`, '≥ 1.0'],
    ['agent decap (pps per core)', `${k(r.agent?.agentPpsPerCore)} vs C ${k(r.agent?.cReferencePpsPerCore)}`, `ratio ${r.agent?.ratio}`, '≥ 0.9'],
    ['added latency p50 / p99 (µs)', `${r.latency?.addedP50us} / ${r.latency?.addedP99us}`, `at ${k(r.latency?.loadPps)} pps`, 'p99 ≤ 100'],
    ['conn table (B per flow)', r.connTable.map((t) => `${t.bytesPerFlow} @ ${t.flows / 1e6} M`).join(', '), '', '≤ 64'],
    ['Maglev build M=65537, 1000 RS', `${r.maglev.buildMsMedian} ms`, '', '≤ 20 ms'],
    ['SYN flood new flows/s', k(r.synFlood?.newFlowsPerSecond), `full after ${r.synFlood?.tableFullAfterMs ?? '-'} ms, drops ${JSON.stringify(r.synFlood?.directorDrops ?? {})}`, 'reported'],
    ['guard default SYN/s per VIP', k(r.synFlood?.guardDefaultSynPerSecond), `${r.synFlood?.guardShareOfCapacity ?? '-'} of the new flows/s above`, '< 1.0'],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => String(row[i]).length), ['figure', 'measured', 'note', 'target'][i].length));
  const fmt = (row) => `| ${row.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [
    `vstun bench ${m.date.slice(0, 10)} — Linux ${m.kernel}, ${m.cpu}, nproc ${m.nproc}, Node ${m.node}, load ${m.loadavg.join(' ')}`,
    fmt(['figure', 'measured', 'note', 'target']),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(fmt),
  ].join('\n');
}

/** Top self-time functions of the .cpuprofile files in `dir`. */
function summarizeProfile(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) return [];
  const prof = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  const self = new Map();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let total = 0;
  for (const [id, c] of counts) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)') continue;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url || '')}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + c);
    total += c;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([fn, c]) => ({ fn, pct: Math.round((c / total) * 1000) / 10 }));
}

await main();
