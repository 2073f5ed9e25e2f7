#!/usr/bin/env node
// node bench/bulk-perf.mjs [--tunnel ipip|gue] [--direction up|down] [--seconds 6] [--out DIR]
//                          [--top 25] [--no-build] [--director-args "..."] [--agent-args "..."]
//
// Where the time of one bulk TCP stream through the VIP goes, kernel included: the lab of
// bench/bulk.mjs (client, router, director host, one real server), director and agent with
// offloads on, one iperf3 upload (or download with --direction down), and `perf record -e
// cpu-clock -g` attached to each daemon's process (all its threads) for the middle of the run.
// Node runs with --perf-basic-prof so JIT frames have names. Prints, per process, the iperf3
// figure, the share of samples in kernel and user space, and the top self-time symbols; the
// raw perf.data files stay in --out (default a fresh directory under /tmp) for `perf report -i`.
// Needs root and perf; samples only the two daemons, never the machine.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const TUNNEL = arg('tunnel', 'ipip');
const DIRECTION = arg('direction', 'up');
const SECONDS = Number(arg('seconds', '6'));
const TOP = Number(arg('top', '25'));
const OUT = arg('out', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'vstun-bulk-perf-'));
fs.mkdirSync(OUT, { recursive: true });
const DIRECTOR_ARGS = arg('director-args', '').split(' ').filter(Boolean);
const AGENT_ARGS = arg('agent-args', '').split(' ').filter(Boolean);
/** Experiment: a receive packet steering CPU mask (hex) for the director's TAP queues, so the kernel forwards its writes on that CPU. */
const RPS = arg('rps', '');
const PORT = 5201;

/** perf report of one file: self-time symbols (kernel and user), and the kernel/user split. */
function summarize(file, who) {
  const report = (sortKey, children = false) =>
    execFileSync('perf', ['report', '-i', file, children ? '--children' : '--no-children', '--sort', sortKey, '--stdio', '-g', 'none', '--percent-limit', '0.5'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  const rows = (text) =>
    text
      .split('\n')
      .filter((l) => /^\s+\d+\.\d+%/.test(l))
      .map((l) => l.trim().replace(/\s+/g, ' '));
  const samples = /# Samples: (\S+)/.exec(report('sym'))?.[1] ?? '?';
  const bySym = rows(report('dso,sym')).slice(0, TOP);
  const byDso = rows(report('dso')).slice(0, 8);
  const kernelShare = rows(report('dso'))
    .filter((l) => /\[kernel\.kallsyms\]/.test(l))
    .reduce((s, l) => s + Number.parseFloat(l), 0);
  console.log(`\n== ${who}: ${samples} samples, kernel ${kernelShare.toFixed(1)} % ==`);
  console.log('-- by object --');
  for (const l of byDso) console.log(`  ${l}`);
  console.log('-- top symbols (self) --');
  for (const l of bySym) console.log(`  ${l}`);
  // Inclusive kernel time: which paths (TUN write, softirq forwarding, socket receive, scheduling)
  // the self time above belongs to. Syscall entry frames are left out: they include everything.
  const skip = /\] (entry_SYSCALL|do_syscall_64|__x64_sys|__raw_callee_save|do_iter_readv|do_softirq|__local_bh_enable|handle_softirqs|__napi_poll)/;
  const inclusive = rows(report('dso,sym', true))
    .filter((l) => /\[kernel\.kallsyms\]/.test(l) && !skip.test(l))
    .slice(0, TOP);
  console.log('-- kernel, inclusive (children, self) --');
  for (const l of inclusive) console.log(`  ${l}`);
}

/** Per thread of `pid`: [name, ns on a CPU, ns runnable but waiting for one] from /proc schedstat. */
function schedstat(pid) {
  const dir = `/proc/${pid}/task`;
  const out = new Map();
  for (const tid of fs.readdirSync(dir)) {
    try {
      const [run, wait] = fs.readFileSync(`${dir}/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, [fs.readFileSync(`${dir}/${tid}/comm`, 'utf8').trim(), run, wait]);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Threads that ran more than 2 % of the window: CPU share and run-queue wait share (wait: starved by other load). */
function schedText(before, after, ms) {
  const rows = [];
  for (const [tid, [name, run, wait]] of after) {
    const b = before.get(tid) ?? [name, 0, 0];
    const cpu = (run - b[1]) / 1e6 / ms;
    if (cpu > 0.02) rows.push(`${name}/${tid} cpu ${(cpu * 100).toFixed(0)} %, runqueue wait ${(((wait - b[2]) / 1e6 / ms) * 100).toFixed(0)} %`);
  }
  return rows.join('; ');
}

async function main() {
  if (!['ipip', 'gue'].includes(TUNNEL) || !['up', 'down'].includes(DIRECTION) || !(SECONDS >= 2 && SECONDS <= 30)) {
    console.error('--tunnel ipip|gue, --direction up|down, --seconds 2..30');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('bench/bulk-perf.mjs needs root (network namespaces, TAP/TUN, raw sockets, perf)');
    process.exit(2);
  }
  if (!process.argv.includes('--no-build')) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
  const { startAgent, startDirector, serviceYaml } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
  const lab = buildLab({ prefix: 'bpf', realServers: 1 });
  const rs = lab.realServers[0];
  const daemons = [];
  const perfs = [];
  let server;
  const cleanup = async () => {
    for (const p of perfs) if (p.exitCode === null) p.kill('SIGINT');
    for (const d of daemons.reverse()) await d.stop().catch(() => null);
    if (server && server.exitCode === null) server.kill('SIGKILL');
    lab.cleanup();
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const service =
      TUNNEL === 'gue'
        ? `  - { protocol: tcp, vip: "${lab.vip}", port: ${PORT}, scheduler: rr, realServers: [{ address: "${rs.rip}", tunnel: gue }] }`
        : serviceYaml({ protocol: 'tcp', vip: lab.vip, port: PORT, scheduler: 'rr', realServers: [{ address: rs.rip }] });
    const nodeArgs = ['--perf-basic-prof'];
    const agent = await startAgent(lab, rs, { extraArgs: ['--offload', ...AGENT_ARGS], nodeArgs });
    daemons.push(agent);
    const director = await startDirector(lab, { config: ['services:', service, ''].join('\n'), extraArgs: ['--offload', ...DIRECTOR_ARGS], nodeArgs });
    daemons.push(director);
    if (RPS) {
      const r = lab.topo.tryExec(lab.director, 'sh', ['-c', `for q in /sys/class/net/${director.tap}/queues/rx-*; do echo ${RPS} > $q/rps_cpus; done; cat /sys/class/net/${director.tap}/queues/rx-*/rps_cpus`], 5000);
      console.log(`rps_cpus on ${director.tap}: ${r.stdout.trim().split('\n').join(' ')} ${r.stderr.trim()}`);
    }
    server = lab.topo.spawn(rs.ns, 'iperf3', ['-s', '-p', String(PORT)]);
    await new Promise((r) => setTimeout(r, 1000));
    const total = SECONDS + 3;
    const client = lab.topo.spawn(lab.client, 'iperf3', ['-c', lab.vip, '-p', String(PORT), '-t', String(total), '-J', ...(DIRECTION === 'down' ? ['-R'] : [])]);
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    const clientDone = new Promise((r) => client.once('exit', r));
    await new Promise((r) => setTimeout(r, 1500));
    const files = { director: path.join(OUT, `director-${TUNNEL}-${DIRECTION}.data`), agent: path.join(OUT, `agent-${TUNNEL}-${DIRECTION}.data`) };
    const sched0 = { director: schedstat(director.child.pid), agent: schedstat(agent.child.pid) };
    const t0 = performance.now();
    for (const [who, d] of [['director', director], ['agent', agent]]) {
      const p = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', files[who], '-p', String(d.child.pid), '--', 'sleep', String(SECONDS)], { stdio: 'ignore' });
      perfs.push(p);
    }
    await Promise.all(perfs.map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)))));
    const ms = performance.now() - t0;
    const sched = { director: schedText(sched0.director, schedstat(director.child.pid), ms), agent: schedText(sched0.agent, schedstat(agent.child.pid), ms) };
    await Promise.race([clientDone, new Promise((r) => setTimeout(r, (total + 20) * 1000))]);
    const end = JSON.parse(out || '{}').end;
    const bps = end?.sum_received?.bits_per_second;
    console.log(`${TUNNEL} ${DIRECTION}load: ${bps ? (bps / 1e9).toFixed(2) : '?'} Gbit/s, ${end?.sum_sent?.retransmits ?? '?'} retransmits (iperf3 ${total} s, perf on the middle ${SECONDS} s); load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const tapStats = lab.topo.tryExec(lab.director, 'ip', ['-s', 'link', 'show', 'dev', director.tap], 5000).stdout.trim().split('\n').slice(2).join(' | ');
    console.log(`TAP ${director.tap}: ${tapStats.replace(/\s+/g, ' ')}`);
    const offload = await director.control('offload').catch(() => null);
    if (offload?.counters) console.log(`director offload counters: ${JSON.stringify(offload.counters)}`);
    for (const who of ['director', 'agent']) console.log(`${who} threads over the perf window: ${sched[who]}`);
    console.log(`perf data in ${OUT}`);
    for (const who of ['director', 'agent']) summarize(files[who], who);
  } finally {
    // --perf-basic-prof also leaves V8 logs in the daemons' working directory (the repository).
    const pids = new Set(daemons.map((d) => String(d.child.pid)));
    for (const f of fs.readdirSync(ROOT)) if (/^isolate-.*-(\d+)-v8\.log$/.test(f) && pids.has(/-(\d+)-v8\.log$/.exec(f)[1])) fs.rmSync(path.join(ROOT, f), { force: true });
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
