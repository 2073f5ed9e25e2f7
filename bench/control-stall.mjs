#!/usr/bin/env node
// npm run bench:control [-- --servers 100 --services 10000 --per-service 10] [--json]
//
// Control-plane costs that the data path feels, on the built dist/ (npm run build):
//
// 1. Event-loop stall while N real servers are added in one change (vstunadm -R through
//    the director's ops). The tunnel source of each new server comes from the host's
//    routing table. "sync" looks each one up as main did before issue 11 (execFileSync of
//    `ip route get` per server, on the event loop); "async" is what the director does now
//    (TunnelSources: one asynchronous `ip -batch` per change). The longest stall is
//    perf_hooks.monitorEventLoopDelay's max over the change, with a 1 ms timer beating.
// 2. A large table: S services x P servers, start (empty → all, from the YAML file) and an
//    unchanged reload (file read, parsed, validated, diffed), wall-clock seconds.
//
// With --json the last line printed is the figures as one JSON object (npm run bench reads it).
// Figures are printed, not asserted (the machine is shared and noisy). Nothing here needs
// root: no device, no namespace; the route look-ups use this host's routing table.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(ROOT, 'dist', p));
const { Director } = await dist('director/director.js');
const { Ipv6AddressTable, parseAddressId, formatAddressId } = await dist('director/address-id.js');
const { TunnelSources } = await dist('director/tunnel-source.js');
const { FakeDevice } = await dist('device/fake-device.js');
const { applyConfig } = await dist('control/config-reload.js');
const { applyRuleCommandsToDirector } = await dist('control/director-ops.js');
const { parseRestore } = await dist('control/ipvsadm-dump.js');
const { loadDirectorConfig, validateDirectorConfig } = await dist('control/config-loader.js');
const { largeConfigYaml } = await dist('lab/large-config.js');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : dflt;
}
const SERVERS = arg('servers', 100);
const SERVICES = arg('services', 10_000);
const PER_SERVICE = arg('per-service', 10);

function newDirector(addresses, dipFor, prepareSources) {
  return new Director({
    device: new FakeDevice({ headroom: 128 }),
    mac: new Uint8Array([2, 0, 0, 0x77, 0, 2]),
    linkAddress: 0xa9fe4d02,
    kernelAddress: 0xa9fe4d01,
    kernelMac: new Uint8Array([2, 0, 0, 0x77, 0, 1]),
    addresses,
    dipFor,
    prepareSources,
    connTableCapacity: 65536,
    timers: false,
  });
}

/** The pre-issue-11 resolver: one blocking `ip route get` per new server. */
function syncResolver(addresses) {
  const cache = new Map();
  return (rip) => {
    let v = cache.get(rip);
    if (v === undefined) {
      const out = execFileSync('ip', ['-4', 'route', 'get', formatAddressId(rip, addresses)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
      v = parseAddressId(/\bsrc (\S+)/.exec(out)[1], addresses);
      cache.set(rip, v);
    }
    return v;
  };
}

/** Longest gap between 1 ms ticks (ms), measured by hand next to the histogram. */
function gapMeter() {
  let last = performance.now();
  let max = 0;
  const t = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 1);
  return { stop: () => (clearInterval(t), Math.max(max, performance.now() - last)) };
}

async function stallWhileAdding(mode) {
  const addresses = new Ipv6AddressTable(1024);
  let d;
  if (mode === 'sync') {
    d = newDirector(addresses, syncResolver(addresses));
  } else {
    const sources = new TunnelSources(undefined, addresses);
    d = newDirector(addresses, sources.dipFor, (rips) => sources.prepare(rips));
  }
  const state = { configPath: undefined, config: validateDirectorConfig({}) };
  await applyConfig(d, state, validateDirectorConfig({}));
  const lines = ['-A -t 10.200.0.1:80 -s wrr'];
  for (let i = 0; i < SERVERS; i++) lines.push(`-a -t 10.200.0.1:80 -r 10.201.${i >> 8}.${(i & 255) + 1} -i -w 1`);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((r) => setTimeout(r, 50));
  h.reset();
  const gap = gapMeter();
  const t0 = performance.now();
  await applyRuleCommandsToDirector(d, state, parseRestore(lines.join('\n')));
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  const gapMs = gap.stop();
  h.disable();
  const servers = d.registry.list()[0].servers.length;
  d.stop();
  return { maxStallMs: Math.max(h.max / 1e6, gapMs), histMs: h.max / 1e6, changeMs: ms, servers };
}

const seconds = (t0) => (performance.now() - t0) / 1000;

async function bigTable() {
  const dir = mkdtempSync(path.join(tmpdir(), 'vstun-bench-control-'));
  try {
    const file = path.join(dir, 'director.yaml');
    writeFileSync(file, largeConfigYaml({ services: SERVICES, perService: PER_SERVICE }));
    const addresses = new Ipv6AddressTable(1024);
    const sources = new TunnelSources('10.77.2.1', addresses);
    const d = newDirector(addresses, sources.dipFor, (rips) => sources.prepare(rips));
    const state = { configPath: file, config: validateDirectorConfig({}) };
    let t0 = performance.now();
    const config = loadDirectorConfig(file);
    const loadS = seconds(t0);
    t0 = performance.now();
    await applyConfig(d, state, config);
    const startS = seconds(t0);
    const services = d.registry.list().length;
    const again = loadDirectorConfig(file);
    t0 = performance.now();
    await applyConfig(d, state, again);
    const reloadS = seconds(t0);
    d.stop();
    return { services, loadS, startS, reloadS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds for a fixed loop: how fast this (shared) machine is right now. */
function cpuReference() {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x = (x + i) | 0;
  return { s: seconds(t0), x };
}

// Warm up the code paths (JIT) once, so that neither side pays for compiling them.
await stallWhileAdding('async');
const sync = await stallWhileAdding('sync');
const asyncRun = await stallWhileAdding('async');
console.log(`add ${SERVERS} real servers in one change (tunnel source per server from the routing table):`);
console.log(`  sync ip route get per server (before): longest event-loop stall ${sync.maxStallMs.toFixed(1)} ms, change ${sync.changeMs.toFixed(0)} ms, ${sync.servers} servers`);
console.log(`  async ip -batch per change (now):      longest event-loop stall ${asyncRun.maxStallMs.toFixed(1)} ms, change ${asyncRun.changeMs.toFixed(0)} ms, ${asyncRun.servers} servers`);
console.log(`  stall ratio before/now: ${(sync.maxStallMs / asyncRun.maxStallMs).toFixed(1)}x`);
const big = await bigTable();
console.log(`${SERVICES} services x ${PER_SERVICE} servers (${big.services} live):`);
console.log(`  read + parse YAML + validate the file: ${big.loadS.toFixed(2)} s`);
console.log(`  apply at start (empty -> all): ${big.startS.toFixed(2)} s; unchanged reload: ${big.reloadS.toFixed(2)} s`);
console.log(`  start total ${(big.loadS + big.startS).toFixed(2)} s, reload total ${(big.loadS + big.reloadS).toFixed(2)} s (target < 5 s each)`);
const ref = cpuReference();
console.log(`machine reference: 1e8-iteration JS loop ${ref.s.toFixed(2)} s (about 0.1 s on an idle core; scale the figures above by it); load average ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
if (process.argv.includes('--json')) {
  const r2 = (x) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      servers: SERVERS,
      syncMaxStallMs: r2(sync.maxStallMs),
      asyncMaxStallMs: r2(asyncRun.maxStallMs),
      services: SERVICES,
      perService: PER_SERVICE,
      liveServices: big.services,
      startSeconds: r2(big.loadS + big.startS),
      reloadSeconds: r2(big.loadS + big.reloadS),
      machineReferenceSeconds: r2(ref.s),
    }),
  );
}
