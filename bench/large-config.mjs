#!/usr/bin/env node
// npm run bench:large-config [-- --services 10000] [-- --per-service 10] [-- --json] [-- --no-setup] [-- --queues N] [-- --cpu-prof DIR]
//
// A large config on the real daemon: the built vstun-director (dist/) started in a network
// namespace of its own (its TAP, routes, nftables guard, control socket and metrics port are
// all inside it: nothing collides with another director on this host) with a generated YAML
// of S services (each its own VIP) x P real servers. Measured, wall clock:
//   start    from spawn to the "director running" log line (file read, YAML, validation,
//            host setup with one route per VIP, the services applied, sockets listening);
//   reload   SIGHUP with the file unchanged, to the "config reloaded" line;
//   change   SIGHUP after every service's first real server got another weight;
//   -L -n / -S / -L --json   vstunadm against the director, with the size of the output;
//   RSS      the director's resident memory (worker threads included) once running, and its
//            peak (VmHWM) after start, reload and change.
// Each is measured for S and for S/10 in the same run: the ratio S/(S/10) is 10 when the cost
// grows linearly with the size (well above 10: something is quadratic). Start, reload and
// change are given as wall clock and as the director's CPU seconds (user + system, from
// /proc): on a shared machine the CPU figure is the steadier one.
// --json: the same table written as JSON (YAML 1.2 includes JSON; the director reads a JSON
// file with JSON.parse, see src/control/json-config.ts), to compare with YAML's parse cost.
// --no-setup: the director does not touch the namespace's routes or nftables (--no-setup).
// --queues N: the director's --queues (default: its own, one TAP queue worker per core).
// --cpu-prof DIR: the director runs under node --cpu-prof and leaves its profile in DIR.
// Figures are printed, not asserted. Needs root (namespace, TAP); everything is torn down.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const SERVICES = Number(arg('services', '10000'));
const PER_SERVICE = Number(arg('per-service', '10'));
const SETUP = !process.argv.includes('--no-setup');
const JSON_FORMAT = process.argv.includes('--json');
const QUEUES = arg('queues', '');
const CPU_PROF = arg('cpu-prof', '');
if (!(Number.isInteger(SERVICES) && SERVICES >= 10 && SERVICES <= 60_000) || !(Number.isInteger(PER_SERVICE) && PER_SERVICE >= 1 && PER_SERVICE <= 250)) {
  process.stderr.write('usage: bench/large-config.mjs [--services 10..60000] [--per-service 1..250] [--no-setup] [--cpu-prof DIR]\n');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('bench:large-config: needs root (a network namespace and a TAP)\n');
  process.exit(2);
}

execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const { Topology } = await import(path.join(ROOT, 'dist/lab/netns.js'));
const { largeConfigYaml } = await import(path.join(ROOT, 'dist/lab/large-config.js'));
const { parseDocument } = await import('yaml');

const topo = new Topology('lcfg');
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    topo.cleanup();
    process.exit(130);
  });
}
const workDir = execFileSync('mktemp', ['-d', '/tmp/vstun-large-config-XXXXXX'], { encoding: 'utf8' }).trim();
const seconds = (t0) => (performance.now() - t0) / 1000;

/** Waits for a JSON log line whose msg matches; rejects when the director exits or after `timeoutMs`. */
function waitForLog(d, msg, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const i = d.lines.findIndex((l, k) => k >= d.seen && l.msg === msg);
      if (i >= 0) {
        d.seen = i + 1;
        cleanup();
        resolve(d.lines[i]);
      } else if (d.child.exitCode !== null) {
        cleanup();
        reject(new Error(`vstun-director exited (${d.child.exitCode}): ${d.stderr.trim().slice(-2000)}`));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${msg}" within ${timeoutMs} ms; last lines: ${JSON.stringify(d.lines.slice(-3))}`));
    }, timeoutMs);
    const poll = setInterval(check, 20);
    const cleanup = () => {
      clearTimeout(timer);
      clearInterval(poll);
    };
    check();
  });
}

function startDirector(ns, configPath, tag) {
  const control = path.join(workDir, `${tag}.sock`);
  const args = [path.join(ROOT, 'dist/cli/vstun-director.js'), '--config', configPath, '--tap', `vtl${topo.tag}`.slice(0, 15), '--dip', '10.77.2.1', '--control', control, '--state-file', path.join(workDir, `${tag}.state.json`), '--metrics', '127.0.0.1:9469'];
  if (!SETUP) args.push('--no-setup');
  if (QUEUES) args.push('--queues', QUEUES);
  const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
  const child = topo.spawn(ns, process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const d = { child, control, lines: [], seen: 0, stderr: '' };
  let buf = '';
  child.stdout.on('data', (chunk) => {
    buf += chunk.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        d.lines.push(JSON.parse(line));
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr.on('data', (chunk) => (d.stderr = (d.stderr + chunk.toString()).slice(-8000)));
  return d;
}

function stopDirector(d) {
  return new Promise((resolve) => {
    if (d.child.exitCode !== null) return resolve(d.child.exitCode);
    const timer = setTimeout(() => d.child.kill('SIGKILL'), 30_000);
    d.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    d.child.kill('SIGTERM');
  });
}

/** CPU seconds (user + system) the process has used so far. */
function cpuS(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The config text in the chosen format. */
function configText(opts) {
  const yaml = largeConfigYaml(opts);
  return JSON_FORMAT ? `${JSON.stringify(parseDocument(yaml).toJS())}\n` : yaml;
}

/** The director's resident memory now (VmRSS) or its peak so far (VmHWM), MiB; worker threads included. */
function rssMiB(pid, field = 'VmRSS') {
  try {
    // `ip netns exec` execs node in place: the pid is the director's.
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Runs vstunadm with `args` against the director; seconds and output bytes. */
function vstunadm(d, args) {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, [path.join(ROOT, 'dist/cli/vstunadm.js'), '--control', d.control, ...args], { maxBuffer: 1 << 30, timeout: 120_000 });
  return { s: seconds(t0), bytes: out.length, lines: out.toString().split('\n').length - 1 };
}

async function measure(ns, services) {
  const tag = `s${services}`;
  const configPath = path.join(workDir, `${tag}.yaml`);
  writeFileSync(configPath, configText({ services, perService: PER_SERVICE }));
  const fileMiB = readFileSync(configPath).length / 2 ** 20;
  let t0 = performance.now();
  const d = startDirector(ns, configPath, tag);
  try {
    const running = await waitForLog(d, 'director running', 300_000);
    const startS = seconds(t0);
    const startCpu = cpuS(d.child.pid);
    if (running.services !== services) throw new Error(`the director runs ${running.services} services, not ${services}`);
    const rss = rssMiB(d.child.pid);
    t0 = performance.now();
    let c0 = cpuS(d.child.pid);
    d.child.kill('SIGHUP');
    await waitForLog(d, 'config reloaded (SIGHUP)', 300_000);
    const reloadS = seconds(t0);
    const reloadCpu = cpuS(d.child.pid) - c0;
    writeFileSync(configPath, configText({ services, perService: PER_SERVICE, firstWeight: 7 }));
    t0 = performance.now();
    c0 = cpuS(d.child.pid);
    d.child.kill('SIGHUP');
    const changed = await waitForLog(d, 'config reloaded (SIGHUP)', 300_000);
    const changeS = seconds(t0);
    const changeCpu = cpuS(d.child.pid) - c0;
    const peakRss = rssMiB(d.child.pid, 'VmHWM');
    // Printed now: a listing that times out below must not lose them.
    console.log(JSON.stringify({ services, startS, startCpu, reloadS, reloadCpu, changeS, changeCpu, rss, peakRss }));
    const list = vstunadm(d, ['-L', '-n']);
    const save = vstunadm(d, ['-S', '-n']);
    const json = vstunadm(d, ['-L', '-n', '--json']);
    if (list.lines < services * (PER_SERVICE + 1)) throw new Error(`vstunadm -L -n printed ${list.lines} lines for ${services} x ${PER_SERVICE}`);
    t0 = performance.now();
    const code = await stopDirector(d);
    const stopS = seconds(t0);
    return { services, fileMiB, startS, startCpu, reloadS, reloadCpu, changeS, changeCpu, changed: changed.reload, rss, peakRss, list, save, json, stopS, code };
  } catch (err) {
    d.child.kill('SIGKILL');
    throw err;
  }
}

const rows = [];
try {
  const ns = topo.ns('dir');
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  for (const services of [Math.round(SERVICES / 10), SERVICES]) {
    const r = await measure(ns, services);
    rows.push(r);
    console.log(JSON.stringify({ ...r, changed: undefined }));
  }
} finally {
  topo.cleanup();
  execFileSync('rm', ['-rf', workDir]);
}

const [small, big] = rows;
const f = (s) => `${s.toFixed(2)} s`;
console.log(`\nlarge config (${JSON_FORMAT ? 'JSON' : 'YAML'}) on vstun-director (${SETUP ? 'with host setup: a route per VIP, nftables guard' : '--no-setup'}; ${PER_SERVICE} real servers per service, a VIP per service) — ${new Date().toISOString()}, load average ${loadavg()[0].toFixed(1)}`);
console.log(`${'services'.padStart(8)} ${'file'.padStart(8)} ${'start'.padStart(8)} ${'(cpu)'.padStart(8)} ${'reload'.padStart(8)} ${'(cpu)'.padStart(8)} ${'change'.padStart(8)} ${'(cpu)'.padStart(8)} ${'-L -n'.padStart(8)} ${'-S'.padStart(8)} ${'--json'.padStart(8)} ${'stop'.padStart(8)} ${'RSS'.padStart(8)} ${'peak'.padStart(8)}`);
for (const r of rows) {
  console.log(`${String(r.services).padStart(8)} ${`${r.fileMiB.toFixed(1)} MB`.padStart(8)} ${f(r.startS).padStart(8)} ${f(r.startCpu).padStart(8)} ${f(r.reloadS).padStart(8)} ${f(r.reloadCpu).padStart(8)} ${f(r.changeS).padStart(8)} ${f(r.changeCpu).padStart(8)} ${f(r.list.s).padStart(8)} ${f(r.save.s).padStart(8)} ${f(r.json.s).padStart(8)} ${f(r.stopS).padStart(8)} ${`${Math.round(r.rss)} MB`.padStart(8)} ${`${Math.round(r.peakRss)} MB`.padStart(8)}`);
}
const ratio = (k) => (big[k] / small[k]).toFixed(1);
const ratioOf = (k) => (big[k].s / small[k].s).toFixed(1);
console.log(`ratio ${big.services}/${small.services} (10 = linear): start ${ratio('startS')} (cpu ${ratio('startCpu')}), reload ${ratio('reloadS')}, change ${ratio('changeS')} (cpu ${ratio('changeCpu')}), -L -n ${ratioOf('list')}, -S ${ratioOf('save')}, --json ${ratioOf('json')}`);
console.log(`target: ${big.services} x ${PER_SERVICE} start and reload each under 5 s: start ${f(big.startS)} (cpu ${f(big.startCpu)}), unchanged reload ${f(big.reloadS)}, reload with ${big.services} changed weights ${f(big.changeS)} (cpu ${f(big.changeCpu)})`);
