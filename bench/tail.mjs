#!/usr/bin/env node
// node bench/tail.mjs [--seconds 6] [--load 40000] [--probe-rate 1000] [--cpu-prof DIR] [--root DIR] [--nice N] [--guard on|off] [--sched on|off]
//
// Where the director's latency tail comes from, on the lab topology (client, router,
// director host, two real servers; network namespaces):
//   - UDP echo RTT (bench/c/udp_rtt.c, --probe-rate probes/s) through director + agent to a C
//     echo on rs1's VIP, idle and under --load pps of 64-byte UDP background load to rs2
//     (many flows, through the director only; rs2 has no agent and drops the IPIP);
//   - the same probes with the kernel routing the VIP to rs1 directly (policy routing on
//     the router), idle and at the same load: the floor the added figures are taken from;
//   - the director's (main thread, and its TAP queue workers summed) and the agent's
//     event-loop delay histograms from /metrics over each phase (bucket deltas), so a tail
//     can be matched to a loop being late;
//   - per thread of the director and of the agent, the CPU time it got and the time it spent
//     runnable but waiting for a CPU over each phase (/proc/PID/task/TID/schedstat): on a
//     shared host a loop that is late because its thread waited in the run queue is told
//     apart from one that was busy with our own work;
//   - with --cpu-prof DIR, a CPU profile of the director over the whole run.
// --root runs another checkout's dist/ (e.g. main) for a before/after in the same session.
// --nice N renices the director's and the agent's main threads (e.g. -10): on a shared host
// most of an idle tail is the daemons waiting for a CPU, which this shows.
// --guard on runs the director with its nftables guard as deployed by default (off by
// default here: the figures stay comparable with earlier runs); its counters are polled
// once a second, which is what a before/after of that poll needs.
// --sched on traces the scheduler (bpftrace, bench/sched-trace.mjs) over each probe phase:
// per thread of the director and of the agent, its run-queue waits (how many over 250 µs,
// 1, 4 and 16 ms, and their total over 1 ms), its runs, and which task held the CPU before
// a thread that had waited over 1 ms got it (one of ours, or another process by name).
// Lost probes and the load actually sent are reported, never hidden. Bounded in time;
// namespaces and children are removed on exit and on SIGINT. Prints one JSON object.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, lastJson, lines } from './child-output.mjs';
import { routeVipByKernel } from './lib/bench-setup.mjs';
import { schedTraceUnavailable, threadsOf, traceSched } from './sched-trace.mjs';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const ROOT = path.resolve(arg('root', HERE));
const SECONDS = Number(arg('seconds', '6'));
const LOAD = Number(arg('load', '40000'));
const PROBE_RATE = Number(arg('probe-rate', '1000'));
const CPU_PROF = arg('cpu-prof', '');
const NICE = arg('nice', '');
const GUARD = arg('guard', 'off');
const SCHED = arg('sched', 'off');
const BIN = fs.mkdtempSync(path.join(os.tmpdir(), 'vstun-tail-bin-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round2 = (x) => Math.round(x * 100) / 100;

/** Cumulative bucket counts of one histogram family in a Prometheus text page, summed over its series: { le: count }, sum, count. */
function histogram(text, name) {
  const h = { buckets: {}, sum: 0, count: 0 };
  for (const line of text.split('\n')) {
    let m = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)`).exec(line);
    if (m) h.buckets[m[1]] = (h.buckets[m[1]] ?? 0) + Number(m[2]);
    m = new RegExp(`^${name}_(sum|count)(?:\\{[^}]*\\})? (\\S+)`).exec(line);
    if (m) h[m[1]] += Number(m[2]);
  }
  return h;
}

/** Per thread of `pid`: [cpu ns, run-queue wait ns] from schedstat; {} when the process is gone. */
function schedstat(pid) {
  const out = {};
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const [cpu, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      out[tid] = [cpu, wait];
    } catch {
      /* thread ended */
    }
  }
  return out;
}

/**
 * Over a phase: the main thread (tid = pid), then the other threads by CPU time (the
 * director's queue workers come first under load), each as CPU ms and run-queue wait ms.
 */
function schedDelta(pid, before, after) {
  const rows = Object.entries(after).map(([tid, [cpu, wait]]) => ({ tid, cpuMs: round2((cpu - (before[tid]?.[0] ?? 0)) / 1e6), runqueueWaitMs: round2((wait - (before[tid]?.[1] ?? 0)) / 1e6) }));
  const main = rows.find((r) => r.tid === String(pid));
  const others = rows.filter((r) => r !== main).sort((a, b) => b.cpuMs - a.cpuMs);
  const rest = others.slice(3);
  return { main, busiest: others.slice(0, 3), rest: { threads: rest.length, cpuMs: round2(rest.reduce((t, r) => t + r.cpuMs, 0)), runqueueWaitMs: round2(rest.reduce((t, r) => t + r.runqueueWaitMs, 0)) } };
}

/** after - before, per bucket; the share of samples above each bound, in percent. */
function histogramDelta(before, after) {
  const count = after.count - before.count;
  const over = {};
  for (const [le, n] of Object.entries(after.buckets)) {
    if (le === '+Inf') continue;
    const inBucket = n - (before.buckets[le] ?? 0);
    over[`>${Number(le) * 1e6}us`] = count > 0 ? round2((100 * (count - inBucket)) / count) : null;
  }
  return { samples: count, meanUs: count > 0 ? round2(((after.sum - before.sum) / count) * 1e6) : null, percentOver: over };
}

async function main() {
  if (process.getuid?.() !== 0) {
    console.error('bench/tail.mjs needs root (network namespaces, TAP/TUN, raw sockets)');
    process.exit(2);
  }
  if (NICE !== '' && !(Number.isInteger(Number(NICE)) && Number(NICE) >= -20 && Number(NICE) <= 19)) {
    console.error('--nice must be an integer in [-20, 19]');
    process.exit(2);
  }
  if (GUARD !== 'on' && GUARD !== 'off') {
    console.error('--guard is on or off');
    process.exit(2);
  }
  if (SCHED !== 'on' && SCHED !== 'off') {
    console.error('--sched is on or off');
    process.exit(2);
  }
  const noSched = SCHED === 'on' ? schedTraceUnavailable() : null;
  if (noSched !== null) {
    console.error(`--sched on: ${noSched}`);
    process.exit(2);
  }
  if (!(SECONDS >= 2 && SECONDS <= 30) || !(LOAD >= 0 && LOAD <= 500000) || !(PROBE_RATE >= 10 && PROBE_RATE <= 10000)) {
    console.error('--seconds in [2, 30], --load in [0, 500000], --probe-rate in [10, 10000]');
    process.exit(2);
  }
  execFileSync('gcc', ['-O2', '-Wall', '-o', path.join(BIN, 'udp_rtt'), path.join(HERE, 'bench', 'c', 'udp_rtt.c')], { stdio: 'inherit' });
  const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
  const { startAgent, startDirector, serviceYaml } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
  const loadBefore = os.loadavg().map(round2);
  const lab = buildLab({ prefix: 'tail', realServers: 2 });
  const children = [];
  let director;
  let agent;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await director?.stop(10_000).catch(() => null);
    await agent?.stop().catch(() => null);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    lab.cleanup();
    fs.rmSync(BIN, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const spawnIn = (ns, cmd, args) => {
    const c = lab.topo.spawn(ns, cmd, args);
    children.push(c);
    return c;
  };
  /** The main thread's loop-delay histogram, or with `queues` the queue workers' (summed). */
  const scrape = (ns, port, queues = false) => {
    const r = lab.topo.tryExec(ns, 'curl', ['-s', '--max-time', '3', `http://127.0.0.1:${port}/metrics`]);
    return histogram(r.status === 0 ? r.stdout : '', queues ? 'vstun_queue_event_loop_delay_seconds' : 'vstun_event_loop_delay_seconds');
  };

  const result = { date: new Date().toISOString(), root: ROOT, nice: NICE === '' ? null : Number(NICE), guard: GUARD === 'on', sched: SCHED === 'on', seconds: SECONDS, probeRate: PROBE_RATE, loadAsked: LOAD, loadAverage: { before: loadBefore } };
  try {
    const [rs1, rs2] = lab.realServers;
    agent = await startAgent(lab, rs1);
    const echo = spawnIn(rs1.ns, path.join(BIN, 'udp_rtt'), ['echo', lab.vip, '7', String(SECONDS * 6 + 60)]);
    const echoOut = lines(echo);
    for (let t = 0; !echoOut.includes('ready'); t++) {
      if (t > 250) throw new Error(`udp echo did not start: ${echoOut.join(' | ')}`);
      await sleep(20);
    }
    const config = [
      'director:',
      `  guard: { enabled: ${GUARD === 'on'} }`,
      'services:',
      serviceYaml({ protocol: 'udp', vip: lab.vip, port: 9, scheduler: 'rr', realServers: [{ address: rs2.rip }] }),
      serviceYaml({ protocol: 'udp', vip: lab.vip, port: 7, scheduler: 'rr', realServers: [{ address: rs1.rip }] }),
      '',
    ].join('\n');
    const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(CPU_PROF)] : [];
    director = await startDirector(lab, { config, nodeArgs });
    if (NICE !== '') for (const d of [director, agent]) execFileSync('renice', ['-n', NICE, '-p', String(d.child.pid)], { stdio: 'ignore' });
    lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '1', lab.vip]);

    /** One probe phase; with `withLoad` the background load runs alongside. */
    const phase = async (withLoad, watchDaemons) => {
      const d0 = watchDaemons ? scrape(lab.director, 9469) : null;
      const q0 = watchDaemons ? scrape(lab.director, 9469, true) : null;
      const a0 = watchDaemons ? scrape(rs1.ns, 9470) : null;
      const ds0 = watchDaemons ? schedstat(director.child.pid) : null;
      const as0 = watchDaemons ? schedstat(agent.child.pid) : null;
      const load = withLoad && LOAD > 0 ? spawnIn(lab.client, path.join(BIN, 'udp_rtt'), ['load', lab.vip, '9', String(LOAD), String(SECONDS + 1)]) : null;
      const loadOut = load ? lines(load) : [];
      await sleep(500);
      const probe = spawnIn(lab.client, path.join(BIN, 'udp_rtt'), ['probe', lab.vip, '7', String(PROBE_RATE), String(SECONDS)]);
      const sched = watchDaemons && SCHED === 'on' ? traceSched(threadsOf([{ process: 'director', pid: director.child.pid }, { process: 'agent', pid: agent.child.pid }]), Math.max(1, Math.floor(SECONDS))) : null;
      const out = lines(probe);
      await exited(probe);
      if (load) await exited(load);
      const rtt = lastJson(out);
      const r = { ...rtt, lost: (rtt.sent ?? 0) - (rtt.received ?? 0) };
      if (load) r.loadSentPps = Math.round((lastJson(loadOut).sent ?? 0) / (SECONDS + 1));
      if (watchDaemons) {
        r.directorThreads = schedDelta(director.child.pid, ds0, schedstat(director.child.pid));
        r.agentThreads = schedDelta(agent.child.pid, as0, schedstat(agent.child.pid));
        r.directorLoopDelay = histogramDelta(d0, scrape(lab.director, 9469));
        r.directorQueuesLoopDelay = histogramDelta(q0, scrape(lab.director, 9469, true));
        r.agentLoopDelay = histogramDelta(a0, scrape(rs1.ns, 9470));
        if (sched) r.sched = await sched;
      }
      return r;
    };
    result.through = { idle: await phase(false, true), load: await phase(true, true) };
    await director.stop(10_000);
    director = undefined;

    // The kernel routes the VIP straight to rs1 (port 9 to rs2): the same hops, no user space.
    routeVipByKernel(lab, rs1, rs2);
    result.kernel = { idle: await phase(false, false), load: await phase(true, false) };
    for (const k of ['idle', 'load']) {
      result[`added_${k}`] = { p50us: round2(result.through[k].p50us - result.kernel[k].p50us), p99us: round2(result.through[k].p99us - result.kernel[k].p99us) };
    }
  } finally {
    await cleanup();
  }
  result.loadAverage.after = os.loadavg().map(round2);
  console.log(JSON.stringify(result, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
