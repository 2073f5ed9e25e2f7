#!/usr/bin/env node
// npm run bench [-- --seconds 3 --rounds 3 --quick --only forwarding,latency --profile --max-minutes 15]
//
// vstun's figures, each measured in one run next to a reference measured in the same run, on
// the demo's kind of topology (client, router, director host, real servers on their own
// sites, all in network namespaces). Sections (--only takes a comma-separated list):
//
//   memory      connection-table memory: RSS growth of a fresh node process holding the real
//               ConnTable with 1 M and 10 M live flows (bench/conntable-rss.mjs); Maglev build.
//   forwarding  64-byte UDP pps at the real server: vstun-director vs two C baselines on the
//               same TAP, same offered load (bench/c/gen.c): the batched reference with the
//               addon's own structure (bench/c/io_ref.c ... ipip) and the one-frame loop
//               (bench/c/tap_fwd.c). Rounds interleaved, medians compared.
//   queues      the same pps with several queues: --queues 2 vs --queues 1 vs the C forwarder
//               with 2 queues, 16 flows (bench/queues.mjs).
//   latency     UDP echo RTT (bench/c/udp_rtt.c, 1000 probes/s) idle and under background
//               load at about 50% of the director's rate, through three paths: director +
//               agent; the floor, C forwarder (tap_fwd.c) + C decapsulator (decap_ref.c) on
//               the same hops; the kernel routing the same hops; and the two mixed paths
//               (director + C decap, C forwarder + agent). "Added" = path - kernel.
//               Lost probes and the load achieved (packets at the sink) are reported.
//   synflood    random-source SYNs at full speed into a 65 536-entry table: new flows/s, the
//               TAP's kernel drops (tx_dropped, and the director's kernel-drops counter), and
//               whether an established TCP flow and a UDP flow kept working (bench/tcp-flow.mjs).
//   throughput  one iperf3 TCP upload and one download through the VIP (director + agent)
//               against the kernel path over the same hops (bench/bulk.mjs).
//   agent       vstun-agent decap per CPU-second vs the C raw-socket -> TUN loop (bench/agent.mjs).
//   control     event-loop stall while adding 100 real servers, large-config start and reload
//               (bench/control-stall.mjs).
//
// Writes bench/results.json (format in bench/README.md: the commit, date, load average before
// and after, the settings, one "line" per figure and each section's raw figures) and prints
// the table that `npm run bench:readme` puts into README.md. Targets are reported, never
// asserted. Generator pinned to CPU 0 and forwarder to CPU 1 when there are two CPUs.
// Bounded: --max-minutes (default 15) stops the run, cleans up and writes what it has.
// Namespaces and children are removed on exit, on failure and on SIGINT/SIGTERM.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exited, lastJson, lines } from './child-output.mjs';
import { BIN, buildDistAndC, ROOT, routeVipByKernel, routeVipIntoTap } from './lib/bench-setup.mjs';
import { formatTable, line, SECTIONS, sig3 } from './lines.mjs';
import { profileText, summarizeProfile } from './profile.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results.json');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const flag = (name) => process.argv.includes(`--${name}`);
const QUICK = flag('quick');
const SECONDS = Number(arg('seconds', QUICK ? '2' : '3'));
const ROUNDS = Number(arg('rounds', QUICK ? '1' : '3'));
const MAX_MINUTES = Number(arg('max-minutes', '15'));
const ONLY = arg('only', '') ? arg('only', '').split(',') : flag('no-agent') ? SECTIONS.filter((s) => s !== 'agent') : SECTIONS;
const PAYLOAD = 64;
const WARMUP_MS = 1000;
const TWO_CPUS = os.cpus().length >= 2;
const TAP_MAC = '02:56:53:54:00:02';
const PROBE_RATE = 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const k = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : 'n/a');
const round2 = (x) => Math.round(x * 100) / 100;
const loadavg = () => os.loadavg().map(round2);
/** Milliseconds of a fixed 1e8-iteration JS loop: how much of a core this run gets right now (~100 on an idle core). */
function referenceLoopMs() {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x = (x + i) | 0;
  return Math.round(performance.now() - t0 + (x & 0));
}

function build() {
  buildDistAndC(['gen', 'tap_fwd', 'io_ref', 'udp_rtt', 'syn_flood', 'decap_ref']);
}

/** The commit measured, and the files that differ from it (results.json and README.md aside). */
function commitInfo() {
  const git = (args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  try {
    const dirty = git(['status', '--porcelain', '--untracked-files=no'])
      .split('\n')
      .map((l) => l.slice(3))
      .filter((f) => f && f !== 'bench/results.json' && f !== 'README.md');
    return { commit: git(['rev-parse', 'HEAD']), dirty };
  } catch {
    return { commit: null, dirty: [] };
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return { kernel: os.release(), cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown', nproc: os.cpus().length, node: process.version };
}

/** [cmd, args] pinned to `cpu` when the machine has two CPUs. */
const pinned = (cpu, cmd, args) => (TWO_CPUS ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);
const pinPid = (pid, cpu) => TWO_CPUS && execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });

async function waitLine(out, pred, ms, what) {
  const end = Date.now() + ms;
  while (!out.some(pred)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${out.join(' | ')}`);
    await sleep(20);
  }
  return out.find(pred);
}

// Children outside any lab (the sub-benchmarks with their own namespaces): on a stop they get
// SIGINT, so that they remove their namespaces themselves.
const scripts = new Set();
/** Runs `node bench/<file> args`, echoing lines that match `show`; resolves with its last JSON line. */
async function runScript(file, args, show = () => true) {
  const child = spawn(process.execPath, [...(file === 'conntable-rss.mjs' ? ['--expose-gc'] : []), path.join(ROOT, 'bench', file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  scripts.add(child);
  const out = lines(child);
  let shown = 0;
  const echo = setInterval(() => {
    for (; shown < out.length; shown++) if (show(out[shown])) console.log(`  ${out[shown]}`);
  }, 200);
  await exited(child);
  clearInterval(echo);
  for (; shown < out.length; shown++) if (show(out[shown])) console.log(`  ${out[shown]}`);
  scripts.delete(child);
  if (child.exitCode !== 0) throw new Error(`bench/${file} exited ${child.exitCode ?? child.signalCode}: ${out.slice(-5).join(' | ')}`);
  return lastJson(out);
}

// ---------------------------------------------------------------------------------------
// memory: connection table (RSS of a process holding it) and Maglev (in process).

async function memorySection(r) {
  console.log('\n[memory] connection table: RSS growth of a fresh node process holding the real ConnTable with N live flows');
  r.connTable = [];
  for (const flows of [1_000_000, 10_000_000]) {
    const t = await runScript('conntable-rss.mjs', ['--flows', String(flows)], () => false);
    r.connTable.push(t);
    console.log(`  ${k(flows)} flows: RSS +${k(t.rssGrowthBytes / 1e6)} MB = ${t.rssBytesPerFlow} B/flow (typed arrays ${k(t.typedArrayBytes / 1e6)} MB; empty table ${k(t.rssGrowthEmptyBytes / 1024)} KB), insert ${t.insertNsPerFlow} ns/flow`);
    r.lines.push(
      line({
        id: `memory.conn-table.${flows / 1e6}M`,
        what: `connection table, ${flows / 1e6} M live flows (RSS growth)`,
        value: t.rssBytesPerFlow,
        unit: 'B/flow',
        target: { on: 'value', op: '<=', bound: 64, text: '≤ 64 B/flow' },
        note: `RSS +${k(t.rssGrowthBytes / 1e6)} MB; a node process with the real ConnTable`,
      }),
    );
  }
  const { MaglevScheduler } = await import(path.join(ROOT, 'dist', 'director', 'schedulers', 'maglev.js'));
  const { RealServer } = await import(path.join(ROOT, 'dist', 'director', 'real-server.js'));
  const servers = Array.from({ length: 1000 }, (_, i) => new RealServer(i, 0, (0x0a000000 + i) >>> 0, 80, 1 + (i % 3), 0));
  const times = [];
  for (let i = 0; i < 7; i++) {
    const m = new MaglevScheduler(new Set(), 65537);
    const t0 = performance.now();
    m.update(servers);
    times.push(performance.now() - t0);
  }
  r.maglev = { tableSize: 65537, realServers: 1000, buildMsMedian: round2(median(times)), buildMsMin: round2(Math.min(...times)), runs: times.length };
  console.log(`  Maglev M=65537, 1000 RS: ${r.maglev.buildMsMedian} ms (median of ${r.maglev.runs})`);
  r.lines.push(line({ id: 'maglev.build', what: 'Maglev build, M = 65537, 1000 RS', value: r.maglev.buildMsMedian, unit: 'ms', target: { on: 'value', op: '<=', bound: 20, text: '≤ 20 ms' }, note: `median of ${times.length}` }));
}

// ---------------------------------------------------------------------------------------
// The lab sections.

async function labSections(r, want, stopper) {
  const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
  const { startAgent, startDirector, serviceYaml, labTapName, spawnDaemon } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
  const lab = buildLab({ prefix: 'bch', realServers: 2 });
  const children = [];
  const daemons = new Set();
  stopper.lab = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
    lab.cleanup();
  };
  const spawnIn = (ns, cmd, args) => {
    const c = lab.topo.spawn(ns, cmd, args);
    children.push(c);
    return c;
  };
  const stopChild = async (c) => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.race([exited(c), sleep(3000)]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  const [rs1, rs2] = lab.realServers;
  const tap = labTapName(lab);
  const linkStats = (ns, dev) => {
    const x = lab.topo.tryExec(ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', dev]);
    if (x.status !== 0) return { rx: 0, tx: 0, txDropped: 0 };
    const s = JSON.parse(x.stdout)[0].stats64;
    return { rx: s.rx.packets, tx: s.tx.packets, txDropped: s.tx.dropped };
  };
  for (const ns of [lab.director, lab.router, rs1.ns, rs2.ns]) lab.topo.sysctl(ns, 'net.ipv4.icmp_ratelimit', 1000);

  // rs1 answers probes (UDP echo on VIP:7, TCP echo on VIP:9000); rs2 is a sink for load and
  // floods (UDP 9 and TCP 80: its kernel drops the IPIP it cannot decapsulate).
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
      serviceYaml({ protocol: 'tcp', vip: lab.vip, port: 9000, scheduler: 'rr', realServers: [{ address: rs1.rip }] }),
      '',
    ].join('\n');
  // The single-queue figures are one queue's, whatever the director's default queue count.
  const help = execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'vstun-director.js'), '--help'], { encoding: 'utf8' });
  const oneQueue = /--queues\b/.test(help) ? ['--queues', '1'] : [];
  /** The queues of a director as deployed (latency, SYN flood): one per CPU where it has --queues. */
  const deployedQueues = oneQueue.length ? os.availableParallelism() : 1;
  r.settings.directorQueues = { forwarding: 1, latencyAndSynFlood: deployedQueues };
  /** A director as deployed (its default queue count), or with one queue for the single-queue pps lines. */
  const runDirector = async (connTableSize = 1 << 20, nodeArgs = [], single = false) => {
    const d = await startDirector(lab, { config: directorConfig(connTableSize), name: `director-${connTableSize}`, nodeArgs, extraArgs: single ? oneQueue : [] });
    daemons.add(d);
    // One queue: pinned like the C forwarders. Several: their workers need both CPUs.
    if (single || !oneQueue.length) pinPid(d.child.pid, 1);
    // The first frames teach the director the kernel's MAC; a ping does it before measuring.
    lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);
    return d;
  };
  const agentOn = async () => {
    const a = await startAgent(lab, rs1);
    daemons.add(a);
    return a;
  };
  /** A C forwarder on the director host's TAP, with the routes the director would set up. */
  const cForwarder = async (cmd, args) => {
    const [pcmd, pargs] = pinned(1, cmd, args);
    const fwd = spawnIn(lab.director, pcmd, pargs);
    await waitLine(lines(fwd), (l) => l === 'ready', 5000, path.basename(cmd));
    routeVipIntoTap(lab.topo, lab.director, tap, lab.vip, TAP_MAC);
    return fwd;
  };
  // Same per-frame work in both C baselines; UDP to port 7 goes to rs1 as the director's service does.
  const cArgs = [TAP_MAC, lab.dip, rs2.rip, '7', rs1.rip];
  const oneFrameC = () => cForwarder(path.join(BIN, 'tap_fwd'), [tap, ...cArgs]);
  const batchedC = () => cForwarder(path.join(BIN, 'io_ref'), [tap, ...cArgs.slice(0, 3), 'ipip', ...cArgs.slice(3)]);

  /** Offered load at full speed for SECONDS; pps counted arriving at rs2 (the sink). */
  const measureForward = async () => {
    const [gcmd, gargs] = pinned(0, path.join(BIN, 'gen'), [lab.vip, '9', String(SECONDS + WARMUP_MS / 1000 + 1), String(PAYLOAD)]);
    const gen = spawnIn(lab.client, gcmd, gargs);
    await sleep(WARMUP_MS);
    const a = { rs: linkStats(rs2.ns, 'eth0'), tap: linkStats(lab.director, tap), t: performance.now() };
    await sleep(SECONDS * 1000);
    const b = { rs: linkStats(rs2.ns, 'eth0'), tap: linkStats(lab.director, tap), t: performance.now() };
    await stopChild(gen);
    const dt = (b.t - a.t) / 1000;
    return { pps: (b.rs.rx - a.rs.rx) / dt, offered: (b.tap.tx + b.tap.txDropped - a.tap.tx - a.tap.txDropped) / dt, tapDropped: (b.tap.txDropped - a.tap.txDropped) / dt };
  };

  try {
    // -------------------------------------------------------------------- forwarding
    if (want.has('forwarding')) {
      console.log(`\n[forwarding] ${PAYLOAD}-byte UDP at the RS: vstun-director vs batched C (io_ref.c) vs one-frame C (tap_fwd.c), ${ROUNDS} rounds of ${SECONDS} s after ${WARMUP_MS} ms warm-up`);
      const who = {
        director: async () => {
          const d = await runDirector(1 << 20, [], true);
          const m = await measureForward();
          const status = await d.control('status');
          await d.stop(5000);
          return { ...m, drops: Object.entries(status.verdicts).filter(([n, v]) => n.startsWith('drop') && v > 0) };
        },
        batchedC: async () => {
          const f = await batchedC();
          const m = await measureForward();
          await stopChild(f);
          return m;
        },
        oneFrameC: async () => {
          const f = await oneFrameC();
          const m = await measureForward();
          await stopChild(f);
          return m;
        },
      };
      const names = Object.keys(who);
      const rounds = Object.fromEntries(names.map((n) => [n, []]));
      for (let i = 0; i < ROUNDS; i++) {
        for (let j = 0; j < names.length; j++) {
          const n = names[(i + j) % names.length]; // rotate the order so drift hits everyone alike
          const m = await who[n]();
          rounds[n].push(m);
          console.log(`  round ${i + 1} ${n.padEnd(9)}: ${k(m.pps).padStart(9)} pps at the RS   offered ${k(m.offered)}/s   dropped at the TAP ${k(m.tapDropped)}/s${m.drops?.length ? `   director drops ${JSON.stringify(m.drops)}` : ''}`);
        }
      }
      const med = Object.fromEntries(names.map((n) => [n, median(rounds[n].map((m) => m.pps))]));
      r.forwarding = { payloadBytes: PAYLOAD, directorPps: Math.round(med.director), cBatchedPps: Math.round(med.batchedC), cOneFramePps: Math.round(med.oneFrameC), offeredPps: Math.round(median(rounds.director.map((m) => m.offered))), rounds };
      const spread = (n) => `${k(Math.min(...rounds[n].map((m) => m.pps)))}–${k(Math.max(...rounds[n].map((m) => m.pps)))}`;
      const note = `median of ${ROUNDS} interleaved rounds of ${SECONDS} s; vstun rounds ${spread('director')}, offered ${k(r.forwarding.offeredPps)}/s`;
      console.log(`  median: vstun-director ${k(med.director)} pps, batched C ${k(med.batchedC)}, one-frame C ${k(med.oneFrameC)}`);
      if (flag('profile') || (!QUICK && med.director < med.batchedC)) {
        // Where the director's time goes: one more loaded round under --cpu-prof.
        const dir = fs.mkdtempSync(path.join(lab.workDir, 'prof-'));
        const t0 = performance.now();
        const d = await runDirector(1 << 20, ['--cpu-prof', `--cpu-prof-dir=${dir}`], true);
        const startupMs = performance.now() - t0;
        await measureForward();
        const endMs = performance.now() - t0 - 500; // the profile starts after the spawn: a margin keeps shutdown out
        await d.stop(10_000);
        r.forwarding.profile = summarizeProfile(dir, 8, startupMs, endMs);
        console.log(`  profile (self time, top functions): ${profileText(r.forwarding.profile, 8)}`);
      }
      const profile = r.forwarding.profile?.length ? `; director --cpu-prof self time: ${profileText(r.forwarding.profile)}` : '';
      r.lines.push(
        line({ id: 'pps.vs-batched-c', what: `${PAYLOAD}-byte UDP forwarding, director, 1 queue`, value: med.director, unit: 'pps', reference: { what: 'batched C (io_ref.c)', value: med.batchedC }, target: { on: 'ratio', op: '>=', bound: 1.0, text: '≥ 1.0' }, note: `${note}; C rounds ${spread('batchedC')}${profile}` }),
        line({ id: 'pps.vs-one-frame-c', what: `${PAYLOAD}-byte UDP forwarding, director, 1 queue`, value: med.director, unit: 'pps', reference: { what: 'one-frame C (tap_fwd.c)', value: med.oneFrameC }, note: `C rounds ${spread('oneFrameC')}` }),
      );
    }

    // ----------------------------------------------------------------------- latency
    if (want.has('latency')) {
      let maxPps = r.forwarding?.directorPps;
      if (!maxPps) {
        const d = await runDirector(1 << 20, [], true);
        maxPps = (await measureForward()).pps;
        await d.stop(5000);
      }
      const loadAsked = Math.max(1000, Math.round(maxPps * 0.5) - PROBE_RATE);
      const probeSeconds = SECONDS + 1;
      console.log(`\n[latency] UDP echo RTT, ${PROBE_RATE} probes/s for ${probeSeconds} s, idle and under ${k(loadAsked)} pps asked (~50% of the director's ${k(maxPps)} pps)`);
      const echoOn = async () => {
        const e = spawnIn(rs1.ns, path.join(BIN, 'udp_rtt'), ['echo', lab.vip, '7', '600']);
        await waitLine(lines(e), (l) => l === 'ready', 5000, 'udp echo');
        return e;
      };
      /** One probe run; with load, the achieved load is what arrived at rs2 during the probes. */
      const rtt = async (withLoad) => {
        const [lcmd, largs] = pinned(0, path.join(BIN, 'udp_rtt'), ['load', lab.vip, '9', String(loadAsked), String(probeSeconds + 1)]);
        const load = withLoad ? spawnIn(lab.client, lcmd, largs) : null;
        const loadOut = load ? lines(load) : [];
        await sleep(withLoad ? 500 : 0);
        const a = { rs: linkStats(rs2.ns, 'eth0'), t: performance.now() };
        const probe = spawnIn(lab.client, path.join(BIN, 'udp_rtt'), ['probe', lab.vip, '7', String(PROBE_RATE), String(probeSeconds)]);
        const out = lines(probe);
        await exited(probe);
        const b = { rs: linkStats(rs2.ns, 'eth0'), t: performance.now() };
        if (load) await exited(load);
        const p = lastJson(out);
        const l = withLoad ? lastJson(loadOut) : {};
        const perSecond = (n) => Math.round((n ?? 0) / (probeSeconds + 1));
        return { ...p, lost: p.sent - p.received, loadAskedPps: withLoad ? loadAsked : 0, loadSentPps: perSecond(l.sent), loadRefusedLocallyPps: perSecond(l.droppedLocally), loadAtSinkPps: Math.round((b.rs.rx - a.rs.rx) / ((b.t - a.t) / 1000)) };
      };
      const both = async () => ({ idle: await rtt(false), loaded: await rtt(true) });
      const vipOnRs1 = (op) => lab.topo.exec(rs1.ns, 'ip', ['addr', op, `${lab.vip}/32`, 'dev', 'lo']);
      // Each half's set-up returns its tear-down; a path is a real-server half (first: it puts
      // the VIP on rs1) and a director half. The two mixed paths split the tail between the hops.
      const rsAgent = async () => {
        const agent = await agentOn();
        const echo = await echoOn();
        return async () => (await stopChild(echo), await agent.stop(5000));
      };
      // The C decapsulator, rs1 set up by hand as the agent does.
      const rsCdecap = async () => {
        vipOnRs1('add');
        for (const key of ['all', 'default']) lab.topo.sysctl(rs1.ns, `net.ipv4.conf.${key}.rp_filter`, 0);
        const decap = spawnIn(rs1.ns, path.join(BIN, 'decap_ref'), ['decap', 'vtfloor0', lab.dip, lab.vip, String(2 * probeSeconds + 30)]);
        await waitLine(lines(decap), (l) => l === 'ready', 5000, 'decap_ref');
        const echo = await echoOn();
        return async () => (await stopChild(echo), await stopChild(decap), vipOnRs1('del'));
      };
      const fwdDirector = async () => {
        const d = await runDirector();
        return () => d.stop(5000);
      };
      const fwdC = async () => {
        const fwd = await oneFrameC();
        return () => stopChild(fwd);
      };
      const pathOf = (rsHalf, fwdHalf) => async () => {
        const downRs = await rsHalf();
        const downFwd = await fwdHalf().catch(async (err) => (await downRs(), Promise.reject(err)));
        return async () => (await downFwd(), await downRs());
      };
      const setups = {
        vstun: pathOf(rsAgent, fwdDirector),
        // the floor: C forwarder + C decapsulator on the same hops
        floor: pathOf(rsCdecap, fwdC),
        directorHop: pathOf(rsCdecap, fwdDirector),
        agentHop: pathOf(rsAgent, fwdC),
        kernel: async () => {
          vipOnRs1('add');
          routeVipByKernel(lab, rs1, rs2);
          const echo = await echoOn();
          return async () => {
            await stopChild(echo);
            lab.topo.exec(lab.director, 'ip', ['route', 'del', `${lab.vip}/32`]);
            for (const pref of ['100', '101']) lab.topo.exec(lab.router, 'ip', ['rule', 'del', 'pref', pref]);
            for (const t of ['100', '101']) lab.topo.exec(lab.router, 'ip', ['route', 'flush', 'table', t]);
            vipOnRs1('del');
          };
        },
      };
      const names = Object.keys(setups);
      const rounds = Object.fromEntries(names.map((n) => [n, []]));
      const latencyRounds = Math.min(ROUNDS, 3);
      for (let i = 0; i < latencyRounds; i++) {
        for (let j = 0; j < names.length; j++) {
          const n = names[(i + j) % names.length];
          const down = await setups[n]();
          try {
            // The mixed paths only say which hop an idle tail comes from: no loaded run (time).
            rounds[n].push(n.endsWith('Hop') ? { idle: await rtt(false) } : await both());
          } finally {
            await down();
          }
        }
      }
      // Per path: medians over the rounds of each percentile and of the load, lost probes summed.
      const paths = {};
      for (const n of names) {
        paths[n] = {};
        for (const when of ['idle', 'loaded']) {
          if (!rounds[n][0][when]) continue;
          const rs = rounds[n].map((x) => x[when]);
          const med = (key) => median(rs.map((x) => x[key]));
          const sum = (key) => rs.reduce((a, x) => a + x[key], 0);
          paths[n][when] = { p50us: med('p50us'), p90us: med('p90us'), p99us: med('p99us'), maxus: Math.max(...rs.map((x) => x.maxus)), sent: sum('sent'), received: sum('received'), lost: sum('lost'), loadAskedPps: rs[0].loadAskedPps, loadSentPps: med('loadSentPps'), loadRefusedLocallyPps: med('loadRefusedLocallyPps'), loadAtSinkPps: med('loadAtSinkPps') };
        }
      }
      /** path − kernel path; null where the kernel path's figure is the larger: noise, not a cost. */
      const added = (p, when, q) => {
        const d = paths[p][when][q] - paths.kernel[when][q];
        return d > 0 ? round2(d) : null;
      };
      r.latency = { probeRate: PROBE_RATE, probeSeconds, rounds: latencyRounds, loadAskedPps: loadAsked, paths, perRound: rounds };
      for (const when of ['idle', 'loaded']) {
        r.latency[when] = Object.fromEntries(['vstun', 'floor'].map((p) => [p, { addedP50us: added(p, when, 'p50us'), addedP99us: added(p, when, 'p99us') }]));
      }
      const lost = (when) => `lost probes ${['vstun', 'floor', 'kernel'].map((p) => `${p} ${paths[p][when].lost}/${paths[p][when].sent}`).join(', ')}`;
      const raw = (when, q) => `${q.slice(0, 3)} vstun ${paths.vstun[when][q]}, floor ${paths.floor[when][q]}, kernel ${paths.kernel[when][q]} µs`;
      const achieved = `load achieved at the sink: vstun ${k(paths.vstun.loaded.loadAtSinkPps)}, floor ${k(paths.floor.loaded.loadAtSinkPps)}, kernel ${k(paths.kernel.loaded.loadAtSinkPps)} pps (asked ${k(loadAsked)})`;
      for (const [p, label] of [['vstun', 'director + agent'], ['floor', 'C tap_fwd + C decap_ref'], ['directorHop', 'director + C decap_ref'], ['agentHop', 'C tap_fwd + agent'], ['kernel', 'kernel routing']]) {
        const x = paths[p];
        const loaded = x.loaded ? `; loaded p50 ${x.loaded.p50us} / p99 ${x.loaded.p99us} µs (lost ${x.loaded.lost}/${x.loaded.sent}; load at the sink ${k(x.loaded.loadAtSinkPps)} pps)` : '';
        console.log(`  ${label.padEnd(24)}: idle p50 ${x.idle.p50us} / p99 ${x.idle.p99us} µs (lost ${x.idle.lost}/${x.idle.sent})${loaded}`);
      }
      const rl = r.latency;
      const floor = (when, q) => ({ what: 'C forwarder + C decapsulator', value: rl[when].floor[q] });
      const rounds3 = `director with ${deployedQueues} queue(s); median of ${latencyRounds} interleaved round(s) of ${probeSeconds} s at ${PROBE_RATE} probes/s${rl.idle.vstun.addedP99us === null || rl.idle.floor.addedP99us === null ? "; n/a = the kernel path's figure was the larger (noise)" : ''}`;
      r.lines.push(
        line({ id: 'rtt.idle.added-p99-vs-floor', what: 'added RTT p99, idle (path − kernel path)', value: rl.idle.vstun.addedP99us, unit: 'µs', reference: floor('idle', 'addedP99us'), target: { on: 'ratio', op: '<=', bound: 1.25, text: '≤ 1.25' }, note: `${raw('idle', 'p99us')}; ${lost('idle')}; ${rounds3}` }),
        line({ id: 'rtt.idle.added-p99', what: 'added RTT p99, idle', value: rl.idle.vstun.addedP99us, unit: 'µs', target: { on: 'value', op: '<=', bound: 500, text: '≤ 500 µs' } }),
        // The whole RTT, never n/a: what the added figures are made of.
        line({ id: 'rtt.idle.p99-vs-floor', what: 'RTT p99, idle (whole path)', value: paths.vstun.idle.p99us, unit: 'µs', reference: { what: 'C forwarder + C decapsulator', value: paths.floor.idle.p99us }, note: `kernel path ${paths.kernel.idle.p99us} µs` }),
        line({ id: 'rtt.idle.p99.director-hop', what: 'RTT p99, idle, director + C decapsulator', value: paths.directorHop.idle.p99us, unit: 'µs', reference: { what: 'C forwarder + C decapsulator', value: paths.floor.idle.p99us }, note: `which hop the tail comes from: the director's alone; lost ${paths.directorHop.idle.lost}/${paths.directorHop.idle.sent}` }),
        line({ id: 'rtt.idle.p99.agent-hop', what: 'RTT p99, idle, C forwarder + agent', value: paths.agentHop.idle.p99us, unit: 'µs', reference: { what: 'C forwarder + C decapsulator', value: paths.floor.idle.p99us }, note: `which hop the tail comes from: the agent's alone; lost ${paths.agentHop.idle.lost}/${paths.agentHop.idle.sent}` }),
        line({ id: 'rtt.idle.added-p50', what: 'added RTT p50, idle', value: rl.idle.vstun.addedP50us, unit: 'µs', reference: floor('idle', 'addedP50us'), note: raw('idle', 'p50us') }),
        line({ id: 'rtt.loaded.added-p50', what: 'added RTT p50, ~50% load', value: rl.loaded.vstun.addedP50us, unit: 'µs', reference: floor('loaded', 'addedP50us'), note: `${raw('loaded', 'p50us')}; ${achieved}` }),
        line({ id: 'rtt.loaded.added-p99', what: 'added RTT p99, ~50% load', value: rl.loaded.vstun.addedP99us, unit: 'µs', reference: floor('loaded', 'addedP99us'), note: `${raw('loaded', 'p99us')}; ${lost('loaded')}` }),
      );
    }

    // ---------------------------------------------------------------------- SYN flood
    if (want.has('synflood')) {
      const floodTable = 65536;
      console.log(`\n[synflood] random sources, ${SECONDS} s at full speed into a ${k(floodTable)}-entry table; one established TCP flow and one UDP flow through it`);
      const agent = await agentOn();
      // The lab app's TCP echo on VIP:9000 (its UDP echo on another port: VIP:7 is udp_rtt's).
      const app = spawnDaemon(lab, rs1.ns, [path.join(ROOT, 'dist', 'lab', 'lab-app.js'), '--name', 'rs1', '--host', lab.vip, '--http-port', '8080', '--udp-port', '17', '--echo-port', '9000']);
      daemons.add(app);
      for (const end = Date.now() + 10_000; !app.output().includes('ready'); await sleep(50)) {
        if (app.child.exitCode !== null || Date.now() > end) throw new Error(`the lab app did not start: ${app.output()}`);
      }
      const echo = spawnIn(rs1.ns, path.join(BIN, 'udp_rtt'), ['echo', lab.vip, '7', '600']);
      await waitLine(lines(echo), (l) => l === 'ready', 5000, 'udp echo');
      const fd = await runDirector(floodTable);
      const flow = spawnIn(lab.client, process.execPath, [path.join(ROOT, 'bench', 'tcp-flow.mjs'), '--host', lab.vip, '--port', '9000', '--seconds', String(SECONDS + 2), '--interval-ms', '20']);
      const flowOut = lines(flow);
      await waitLine(flowOut, (l) => l === 'established' || l.startsWith('{'), 15_000, 'the TCP flow through the VIP');
      await sleep(1000);
      const c0 = await fd.control('counters');
      const tap0 = linkStats(lab.director, tap);
      const [fcmd, fargs] = pinned(0, path.join(BIN, 'syn_flood'), ['10.80.0.0', lab.vip, '80', '0', String(SECONDS)]);
      const t0 = performance.now();
      const flood = spawnIn(lab.client, fcmd, fargs);
      const floodOut = lines(flood);
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
      const tap1 = linkStats(lab.director, tap);
      await exited(probe);
      await exited(flow);
      await sleep(1500); // the director reads the TAP's kernel counters once a second
      const c1 = await fd.control('counters');
      await fd.stop(5000);
      await stopChild(echo);
      await app.stop(3000);
      await agent.stop(5000);
      const dv = (n) => (c1.verdicts[n] ?? 0) - (c0.verdicts[n] ?? 0);
      const drops = Object.fromEntries(Object.keys(c1.verdicts).filter((n) => n.startsWith('drop') && dv(n) > 0).map((n) => [n, dv(n)]));
      const kernelDrops = Object.fromEntries(Object.keys(c1.kernelDrops ?? {}).map((n) => [n, (c1.kernelDrops[n] ?? 0) - (c0.kernelDrops?.[n] ?? 0)]).filter(([, v]) => v > 0));
      const udp = lastJson(probeOut);
      const tcp = lastJson(flowOut);
      const tcpKept = tcp.established === true && tcp.error === null && tcp.echoed === tcp.sent;
      const { DirectorSection } = await import(path.join(ROOT, 'dist', 'control', 'config-schema.js'));
      const guard = DirectorSection.parse({}).guard.synPerSecond;
      const f = {
        seconds: round2(dt),
        sent: lastJson(floodOut).sent,
        offeredToDirector: tap1.tx + tap1.txDropped - tap0.tx - tap0.txDropped,
        tapTxDropped: tap1.txDropped - tap0.txDropped,
        kernelDrops,
        newFlowsPerSecond: Math.round(dv('forward') / dt),
        tableCapacity: floodTable,
        tableFullAfterMs: fullAtMs,
        evictedNonEstablished: c1.connTable.evictedOther - c0.connTable.evictedOther,
        evictedEstablished: c1.connTable.evictedEstablished - c0.connTable.evictedEstablished,
        directorDrops: drops,
        tcpFlow: { ...tcp, keptWorking: tcpKept },
        udpFlow: { sent: udp.sent, received: udp.received },
        guardDefaultSynPerSecond: guard,
      };
      r.synFlood = f;
      console.log(`  offered ${k(f.offeredToDirector / dt)}/s to the director, ${k(f.newFlowsPerSecond)} new flows/s forwarded; table ${fullAtMs === null ? 'never full' : `full after ${fullAtMs} ms`}; evicted ${k(f.evictedNonEstablished)} non-established, ${k(f.evictedEstablished)} established`);
      console.log(`  TAP tx_dropped ${k(f.tapTxDropped)} (${k(f.tapTxDropped / dt)}/s); director kernel drops ${JSON.stringify(kernelDrops)}; director drops ${JSON.stringify(drops)}`);
      console.log(`  established TCP flow: ${tcpKept ? 'kept working' : `BROKEN (${tcp.error ?? 'not all echoed'})`}, ${tcp.echoed}/${tcp.sent} echoed, longest gap ${tcp.maxGapMs} ms; UDP flow ${udp.received}/${udp.sent} echoed`);
      r.lines.push(
        line({ id: 'synflood.new-flows', what: 'SYN flood: new flows forwarded', value: f.newFlowsPerSecond, unit: 'flows/s', note: `director with ${deployedQueues} queue(s); offered ${k(f.offeredToDirector / dt)}/s; ${k(floodTable)}-entry table ${fullAtMs === null ? 'never full' : `full after ${fullAtMs} ms`}; evicted ${k(f.evictedNonEstablished)} non-established, ${f.evictedEstablished} established` }),
        line({ id: 'synflood.tap-drops', what: 'SYN flood: dropped at the TAP (kernel tx_dropped)', value: f.tapTxDropped, unit: 'frames', note: `${k(f.tapTxDropped / dt)}/s; director's kernel-drops counters ${JSON.stringify(kernelDrops)}` }),
        line({ id: 'synflood.tcp-flow', what: 'SYN flood: an established TCP flow', value: tcpKept ? 'kept working' : `broken: ${tcp.error ?? `${tcp.echoed}/${tcp.sent} echoed`}`, note: `${tcp.echoed}/${tcp.sent} messages echoed, longest gap ${tcp.maxGapMs} ms; a UDP flow ${udp.received}/${udp.sent} echoed` }),
        line({ id: 'guard.share', what: 'guard default SYN/s per VIP, share of the new flows/s above', value: guard, unit: 'SYN/s', ratio: f.newFlowsPerSecond > 0 ? guard / f.newFlowsPerSecond : null, target: { on: 'ratio', op: '<', bound: 1.0, text: '< 1.0' } }),
      );
    }
  } finally {
    stopper.lab();
    stopper.lab = null;
  }
}

// ---------------------------------------------------------------------------------------
// Sub-benchmarks in their own namespaces or processes.

async function throughputSection(r) {
  const seconds = QUICK ? 3 : Math.max(4, SECONDS + 2);
  console.log(`\n[throughput] one iperf3 TCP stream through the VIP vs the kernel path, ${seconds} s each, ${ROUNDS} round(s) (bench/bulk.mjs)`);
  const b = await runScript('bulk.mjs', ['--no-build', '--json', '--seconds', String(seconds), '--rounds', String(Math.min(ROUNDS, 5)), ...(QUICK ? [] : ['--profile-missed'])], (l) => l.startsWith('round') || l.startsWith('|') || l.startsWith('offloads'));
  r.bulk = b;
  const note = `median of ${b.rounds} round(s) of ${b.seconds} s`;
  const prof = (dir) => (b.profile?.[dir]?.director?.length ? `; --cpu-prof self time, director: ${profileText(b.profile[dir].director, 3)}; agent: ${profileText(b.profile[dir].agent, 3)}` : '');
  r.lines.push(
    line({ id: 'bulk.upload', what: 'one TCP upload through the VIP (director + agent)', value: b.offload.upGbit, unit: 'Gbit/s', reference: { what: 'kernel path', value: b.kernelPath.upGbit }, ratio: b.medianBps.offload.up / b.medianBps.kernel.up, target: { on: 'ratio', op: '>=', bound: 0.5, text: '≥ 0.5' }, note: `offloads on; --no-offload ${b.noOffload.upGbit} Gbit/s; ${note}${prof('up')}` }),
    line({ id: 'bulk.download', what: 'one TCP download through the VIP (ACKs via director + agent)', value: b.offload.downGbit, unit: 'Gbit/s', reference: { what: 'kernel path', value: b.kernelPath.downGbit }, ratio: b.medianBps.offload.down / b.medianBps.kernel.down, target: { on: 'ratio', op: '>=', bound: 0.9, text: '≥ 0.9' }, note: `offloads on; --no-offload ${b.noOffload.downGbit} Gbit/s; ${note}${prof('down')}` }),
  );
  const gueHow = b.gue.tunnelGso ? 'offloads and GSO over UDP tunnels on' : 'offloads on; this kernel refused GSO over UDP tunnels';
  r.lines.push(
    line({ id: 'bulk.gue.upload', what: 'one TCP upload through the VIP to a GUE real server', value: b.gue.offload.upGbit, unit: 'Gbit/s', reference: { what: 'kernel path', value: b.kernelPath.upGbit }, ratio: b.medianBps.gueOffload.up / b.medianBps.kernel.up, target: { on: 'ratio', op: '>=', bound: 0.5, text: '≥ 0.5' }, note: `${gueHow}; --no-tunnel-gso ${b.gue.noTunnelGso.upGbit}, --no-offload ${b.gue.noOffload.upGbit} Gbit/s; ${note}` }),
    line({ id: 'bulk.gue.download', what: 'one TCP download through the VIP, GUE real server (ACKs via director + agent)', value: b.gue.offload.downGbit, unit: 'Gbit/s', reference: { what: 'kernel path', value: b.kernelPath.downGbit }, ratio: b.medianBps.gueOffload.down / b.medianBps.kernel.down, target: { on: 'ratio', op: '>=', bound: 0.9, text: '≥ 0.9' }, note: `${gueHow}; --no-tunnel-gso ${b.gue.noTunnelGso.downGbit}, --no-offload ${b.gue.noOffload.downGbit} Gbit/s; ${note}` }),
  );
}

async function queuesSection(r) {
  console.log('\n[queues] 64-byte UDP from 16 flows: vstun-director --queues 2 vs --queues 1 vs the C forwarder with 2 queues (bench/queues.mjs, its own lab)');
  const q = await runScript('queues.mjs', ['--no-build', '--json', '--seconds', String(SECONDS), '--rounds', String(ROUNDS)], (l) => l.startsWith('round') || l.startsWith('ratio'));
  r.multiqueue = q;
  const note = `median of ${q.rounds} interleaved rounds of ${q.seconds} s, ${q.flows} flows, nothing pinned`;
  r.lines.push(
    line({ id: 'pps.2q-vs-2q-c', what: '64-byte UDP forwarding, director, 2 queues', value: q.directorQueues2Pps, unit: 'pps', reference: { what: 'C tap_fwd.c, 2 queues', value: q.cTapForwarder2QueuesPps }, target: { on: 'ratio', op: '>=', bound: 1.0, text: '≥ 1.0' }, note }),
    line({ id: 'pps.2q-vs-1q', what: '64-byte UDP forwarding, director, 2 queues', value: q.directorQueues2Pps, unit: 'pps', reference: { what: 'director, 1 queue', value: q.directorQueues1Pps }, note: `the machine's ceiling, C 2 queues / C 1 queue: ${sig3(q.cTapForwarder2QueuesPps / q.cTapForwarder1QueuePps)}` }),
  );
}

async function agentSection(r) {
  console.log(`\n[agent] decapsulation vs C raw-socket → TUN loop (bench/agent.mjs, its own namespaces)`);
  const a = await runScript('agent.mjs', ['--no-build', '--seconds', String(SECONDS), '--rounds', String(Math.min(ROUNDS, 3)), ...(QUICK ? [] : ['--profile-missed'])], (l) => l.startsWith('round') || l.startsWith('profile'));
  r.agent = a;
  r.lines.push(
    line({ id: 'agent.per-core', what: 'agent decap, 64-byte inner UDP (pps per CPU-second)', value: a.agentPpsPerCore, unit: 'pps', reference: { what: 'C decap_ref.c', value: a.cReferencePpsPerCore }, target: { on: 'ratio', op: '>=', bound: 1.0, text: '≥ 1.0' }, note: `median of ${a.rounds} rounds of ${a.seconds} s; delivered ${k(a.agentPps)} vs ${k(a.cReferencePps)} pps${a.agentDrops?.length ? `; agent drops ${a.agentDrops.join(', ')}` : ''}${a.profile?.length ? `; agent --cpu-prof self time: ${profileText(a.profile)}` : ''}` }),
  );
}

async function controlSection(r) {
  console.log('\n[control] event-loop stall adding 100 real servers; large config start and reload (bench/control-stall.mjs)');
  const c = await runScript('control-stall.mjs', ['--json', ...(QUICK ? ['--services', '1000'] : [])], (l) => !l.startsWith('{'));
  r.control = c;
  r.lines.push(
    line({ id: 'control.stall', what: `longest event-loop stall adding ${c.servers} real servers`, value: c.asyncMaxStallMs, unit: 'ms', reference: { what: 'sync route look-up per server', value: c.syncMaxStallMs } }),
    line({ id: 'control.start', what: `start with ${k(c.services)} services × ${c.perService} servers`, value: c.startSeconds, unit: 's', target: { on: 'value', op: '<', bound: 5, text: '< 5 s' }, note: `machine reference loop ${c.machineReferenceSeconds} s (0.1 s idle)` }),
    line({ id: 'control.reload', what: `unchanged reload, ${k(c.services)} services × ${c.perService} servers`, value: c.reloadSeconds, unit: 's', target: { on: 'value', op: '<', bound: 5, text: '< 5 s' } }),
  );
}

// ---------------------------------------------------------------------------------------

async function main() {
  const unknown = ONLY.filter((s) => !SECTIONS.includes(s));
  if (unknown.length || !(SECONDS > 0 && SECONDS <= 20) || !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 7) || !(MAX_MINUTES > 0 && MAX_MINUTES <= 60)) {
    console.error(`usage: npm run bench [-- --seconds (0,20] --rounds 1..7 --quick --only ${SECTIONS.join(',')} --profile --max-minutes (0,60]]${unknown.length ? `\nunknown section(s): ${unknown.join(', ')}` : ''}`);
    process.exit(2);
  }
  const want = new Set(ONLY);
  if (process.getuid?.() !== 0 && ONLY.some((s) => s !== 'memory' && s !== 'control')) {
    console.error('npm run bench needs root (network namespaces, TAP/TUN, raw sockets); --only memory,control does not');
    process.exit(2);
  }
  const started = Date.now();
  const results = {
    schema: 2,
    ...commitInfo(),
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machine(),
    loadAverage: { before: loadavg(), after: null },
    referenceLoopMs: { before: referenceLoopMs(), after: null },
    settings: { seconds: SECONDS, rounds: ROUNDS, quick: QUICK, sections: ONLY, payloadBytes: PAYLOAD, pinned: TWO_CPUS },
    lines: [],
    errors: {},
  };
  const m = results.machine;
  console.log(`vstun bench — ${results.date}, commit ${results.commit?.slice(0, 12) ?? '?'}${results.dirty.length ? ` + uncommitted changes (${results.dirty.join(', ')})` : ''}, Linux ${m.kernel}, ${m.cpu}, ${m.nproc} CPUs, load ${results.loadAverage.before.join(' ')}`);
  build();

  const stopper = { lab: null };
  const finish = (code) => {
    results.loadAverage.after = loadavg();
    results.referenceLoopMs.after = referenceLoopMs();
    results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
    if (!Object.keys(results.errors).length) delete results.errors;
    fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\n${formatTable(results)}\n\nwritten to bench/results.json (${results.elapsedSeconds} s); npm run bench:readme puts the table into README.md`);
    process.exit(code);
  };
  let stopping = false;
  const abort = (why, code) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${why}: cleaning up`);
    results.incomplete = why;
    for (const c of scripts) c.kill('SIGINT'); // they remove their own namespaces
    stopper.lab?.();
    const t0 = Date.now();
    const wait = setInterval(() => {
      if ([...scripts].every((c) => c.exitCode !== null || c.signalCode !== null) || Date.now() - t0 > 15_000) {
        clearInterval(wait);
        for (const c of scripts) if (c.exitCode === null) c.kill('SIGKILL');
        finish(code);
      }
    }, 100);
  };
  process.on('SIGINT', () => abort('interrupted', 130));
  process.on('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`stopped at the time limit (--max-minutes ${MAX_MINUTES})`, 1), Math.max(0, MAX_MINUTES * 60_000 - (Date.now() - started))).unref(); // the build counts too

  const run = async (name, fn) => {
    if (stopping) return;
    try {
      await fn();
    } catch (err) {
      if (stopping) return; // the abort reports it
      results.errors[name] = String(err?.message ?? err).slice(0, 500);
      console.error(`  section ${name} failed: ${results.errors[name]}`);
    }
  };
  if (want.has('memory')) await run('memory', () => memorySection(results));
  if (['forwarding', 'latency', 'synflood'].some((s) => want.has(s))) await run('lab', () => labSections(results, want, stopper));
  if (want.has('queues')) await run('queues', () => queuesSection(results));
  if (want.has('throughput')) await run('throughput', () => throughputSection(results));
  if (want.has('agent')) await run('agent', () => agentSection(results));
  if (want.has('control')) await run('control', () => controlSection(results));
  if (!stopping) finish(Object.keys(results.errors).length ? 1 : 0);
}

await main();
