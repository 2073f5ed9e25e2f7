// Run-queue waits per thread, from the kernel's scheduler tracepoints (bpftrace), for
// bench/tail.mjs --sched: how often each thread of the director and of the agent waited for
// a CPU after it became runnable (woken, or preempted while running), how long, how long it
// then ran, and for the waits over 1 ms which task held the CPU just before the thread got
// it (one of our own threads, or another process). A probe that arrives while the data-path
// thread waits sits out the whole wait, and so does every probe behind it: a few waits of
// several ms make the idle p99, which the schedstat totals cannot show.
// Needs bpftrace and tracefs (/sys/kernel/tracing, mounted when missing). Bounded: bpftrace
// exits by itself after `seconds`, and is killed 10 s later if it has not.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

/** Wait bounds in µs of the summary (a wait counts in every bound it exceeds). */
export const WAIT_BOUNDS_US = [250, 1000, 4000, 16000];

/**
 * The bpftrace program over `tids` (thread ids, at most 256), exiting after `seconds`.
 * Tracepoint fields are copied into locals before use: bpftrace 0.17's predicates on args
 * do not pass the verifier of recent kernels.
 */
export function schedProgram(tids, seconds) {
  if (!(tids.length > 0 && tids.length <= 256) || !tids.every((t) => Number.isInteger(t) && t > 0)) throw new Error('schedProgram: 1 to 256 positive thread ids');
  if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 600)) throw new Error('schedProgram: seconds is an integer in [1, 600]');
  const is = (v) => tids.map((t) => `${v} == ${t}`).join(' || ');
  const bounds = WAIT_BOUNDS_US.map((b, i) => `if ($l > ${b}) { @over${i}[$np] = count(); }`).join(' ');
  return `
tracepoint:sched:sched_wakeup { $p = args->pid; if (${is('$p')}) { @q[$p] = nsecs; } }
tracepoint:sched:sched_switch {
  $pp = args->prev_pid; $np = args->next_pid; $st = args->prev_state;
  if (${is('$pp')}) {
    if (@on[$pp]) { $r = (nsecs - @on[$pp]) / 1000; @runs[$pp] = count(); @runus[$pp] = sum($r); if ($r > 1000) { @longruns[$pp] = count(); } delete(@on[$pp]); }
    if ($st == 0) { @q[$pp] = nsecs; @preempted[$pp] = count(); }
  }
  if (${is('$np')}) {
    if (@q[$np]) {
      $l = (nsecs - @q[$np]) / 1000;
      @waits[$np] = count(); @waitus[$np] = sum($l); ${bounds}
      if ($l > 1000) { @stallus[$np] = sum($l); @before[$np, args->prev_pid, args->prev_comm] = sum($l); }
      delete(@q[$np]);
    }
    @on[$np] = nsecs;
  }
}
interval:s:${seconds} { exit(); }
END { clear(@q); clear(@on); }
`;
}

/**
 * Folds bpftrace's `-f json` output lines into per-thread rows. `threads` maps a tid to
 * { process, role } (e.g. { process: 'director', role: 'main' }); a task seen in `@before`
 * that is not in it is another process, named by its comm. Lines that are not map output
 * are ignored; a thread with no event in the trace gets no row. Rows by stall time, largest first.
 */
export function summarizeSched(jsonLines, threads) {
  const maps = {};
  for (const text of jsonLines) {
    let o;
    try {
      o = JSON.parse(text);
    } catch {
      continue;
    }
    if (o?.type === 'map' && o.data && typeof o.data === 'object') Object.assign(maps, o.data);
  }
  const get = (name, tid) => Number(maps[`@${name}`]?.[String(tid)] ?? 0);
  const rows = [];
  for (const [tid, who] of threads) {
    const waits = get('waits', tid);
    const row = {
      process: who.process,
      role: who.role,
      tid,
      waits,
      meanWaitUs: waits > 0 ? Math.round(get('waitus', tid) / waits) : 0,
      preempted: get('preempted', tid),
      stallMs: Math.round(get('stallus', tid) / 10) / 100,
      runs: get('runs', tid),
      cpuMs: Math.round(get('runus', tid) / 10) / 100,
      runsOver1ms: get('longruns', tid),
    };
    WAIT_BOUNDS_US.forEach((b, i) => (row[`waitsOver${b >= 1000 ? `${b / 1000}ms` : `${b}us`}`] = get(`over${i}`, tid)));
    if (row.runs > 0 || waits > 0) rows.push(row);
  }
  // Who held the CPU just before a thread that had waited over 1 ms got it, by stall time.
  const before = new Map();
  for (const [key, us] of Object.entries(maps['@before'] ?? {})) {
    const [waiter, prev, ...comm] = key.split(',');
    const w = threads.get(Number(waiter));
    const p = threads.get(Number(prev));
    if (!w) continue;
    const name = `${w.process} ${w.role} after ${p ? `${p.process} ${p.role}` : `other: ${comm.join(',')}`}`;
    before.set(name, (before.get(name) ?? 0) + Number(us));
  }
  const ranBefore = [...before].sort((a, b) => b[1] - a[1]).map(([what, us]) => ({ what, stallMs: Math.round(us / 10) / 100 }));
  rows.sort((a, b) => b.stallMs - a.stallMs || b.cpuMs - a.cpuMs);
  return { rows, ranBefore };
}

/** tid → { process, role } for every thread of each { process, pid }: 'main' for the first, else 'thread'. */
export function threadsOf(processes) {
  const threads = new Map();
  for (const { process, pid } of processes) {
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
    } catch {
      continue;
    }
    for (const tid of tids) threads.set(tid, { process, role: tid === pid ? 'main' : `thread ${tid}` });
  }
  return threads;
}

/** Whether bpftrace can run here (mounts tracefs when it is missing); the reason when not. */
export function schedTraceUnavailable() {
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'bpftrace is not installed (apt-get install bpftrace)';
  }
  if (!fs.existsSync('/sys/kernel/tracing/events/sched/sched_switch')) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
    } catch {
      return 'tracefs is not mounted at /sys/kernel/tracing and could not be';
    }
  }
  return null;
}

/**
 * Starts tracing `threads` for `seconds`; the returned promise resolves with
 * summarizeSched's result, or { error } when bpftrace failed.
 */
export function traceSched(threads, seconds) {
  const child = spawn('bpftrace', ['-f', 'json', '-e', schedProgram([...threads.keys()], seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 10) * 1000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(kill);
      const got = summarizeSched(out.split('\n'), threads);
      resolve(code === 0 || got.rows.some((r) => r.runs > 0) ? got : { error: `bpftrace exited with ${code}: ${err.split('\n').filter((l) => l.startsWith('ERROR') && !l.includes('RLIMIT')).join(' ').slice(0, 300)}` });
    });
  });
}
