#!/usr/bin/env node
// npm run bench:scaleout [-- --quick] [-- --directors 3] [-- --gap-ms 20] [-- --loops 4]
//
// How long a director's death takes to reach the router, and how many requests fail in
// that window, in the scale-out lab (src/lab/scaleout-lab.ts: a BIRD router with ECMP over
// N director hosts, each with BIRD and vstun-director, mh over three real servers). LOOPS curl
// loops (each a new connection every GAP ms, 5 s max each) run throughout; for each BGP timer
// set the last director dies three ways:
//   process  kill -9 of vstun-director only: its TAP vanishes, BIRD withdraws the device
//            routes at once (no timer involved);
//   drain    SIGTERM: withdraw, forward bgp.drainSeconds (2 s), exit;
//   host     the host falls silent (nftables drops all) and both daemons get SIGKILL: only
//            the BGP hold time tells the router.
// Then, with fast timers, what still breaks flows: 100 long-lived flows (bytes checked end to
// end), and a real server quiesced (weight 0) on every director, first alone, then at the
// same moment as a director's death: the flows ECMP moves meet a table without that server.
// Timer sets: fast (hold 3 s, keepalive 1 s: the fastest we recommend without BFD) and
// BIRD's defaults (hold 240 s, keepalive 80 s). --quick skips the defaults' host death,
// which takes four minutes by construction. Times are measured from the kill to the
// router's FIB losing the next hop (polled every 25 ms). Failed requests: the loops' requests
// that ended from the kill until 10 more had been answered after the withdrawal
// (requestWindow in src/lab/scaleout-lab.ts, unit-tested), with curl's reasons; delayed: answered
// only after a SYN retransmission (0.9 s or more), i.e. first sent to the dead director. The router
// hashes ECMP on addresses and ports (hashEcmpOnHeaders): a connection sent to a silent
// director keeps being sent there until the withdrawal, so roughly 1/N of the new
// connections in that window fail.
// Bounded; everything is torn down, also on SIGINT.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const QUICK = process.argv.includes('--quick');
/** --only concurrent: just the concurrent-change measurement. */
const ONLY = arg('only', '');
const DIRECTORS = Number(arg('directors', '3'));
const GAP_MS = Number(arg('gap-ms', '20'));
const LOOPS = Number(arg('loops', '4'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const so = await import(path.join(ROOT, 'dist/lab/scaleout-lab.js'));

let current = null;
process.on('SIGINT', () => {
  if (current) current.cleanup();
  process.exit(130);
});

/** Waits for `n` more answered requests; returns the status then. */
async function moreRequests(client, n, timeoutMs = 60_000) {
  const ok0 = client.status().requests.ok;
  const deadline = Date.now() + timeoutMs;
  while (client.status().requests.ok < ok0 + n) {
    if (Date.now() > deadline) throw new Error(`no ${n} more answered requests within ${timeoutMs} ms`);
    await sleep(100);
  }
  return client.status();
}

async function measure(lab, client, victim, how) {
  const others = lab.hosts.filter((h) => h !== victim);
  await moreRequests(client, 10);
  const before = client.status();
  const t0 = Date.now();
  let exited = null;
  if (how === 'process') victim.director.child.kill('SIGKILL');
  else if (how === 'drain') exited = victim.director.stop(30_000);
  else so.killDirectorHost(lab, victim, true);
  const timeoutMs = (lab.timers?.hold ?? 240) * 1000 + 60_000;
  await so.waitForNextHops(lab, others, timeoutMs);
  const withdrawnMs = Date.now() - t0;
  if (exited) await exited;
  const after = await moreRequests(client, 10);
  return { withdrawnMs, ...so.requestWindow(before, after), windowMs: Date.now() - t0 };
}

/** Sets a real server's weight on the echo service of every running director (as an operator would with vstunadm -e). */
async function setWeight(lab, hosts, rip, weight) {
  const { LAB_APP_ECHO_PORT } = await import(path.join(ROOT, 'dist/lab/lab-daemons.js'));
  for (const h of hosts) {
    const r = await h.director.control('edit-server', { args: ['-e', '-t', `${lab.vip}:${LAB_APP_ECHO_PORT}`, '-r', rip, '-w', String(weight)] });
    if (r.ok !== true) throw new Error(`edit-server on dir${h.index}: ${JSON.stringify(r.error)}`);
  }
}

async function settle(client) {
  const deadline = Date.now() + 40_000;
  await sleep(3000);
  while (client.status().flows.behind > 0 && Date.now() < deadline) await sleep(250);
  return client.status();
}

/** Broken flows of 100 when rs3 is quiesced alone, and when at the same moment a director dies. */
async function concurrentChange(lab) {
  const victim = lab.hosts[lab.hosts.length - 1];
  const others = lab.hosts.filter((h) => h !== victim);
  const rs = lab.realServers[2];
  const client = await so.startScaleoutClient(lab, { flows: 100, requestGapMs: 200, maxSeconds: 600 });
  const out = [];
  try {
    await sleep(2000);
    let before = client.status();
    await setWeight(lab, lab.hosts, rs.rip, 0);
    let after = await settle(client);
    out.push({ change: `rs${rs.index} quiesced, directors unchanged`, flows: 100, onServer: before.flows.byServer[`rs${rs.index}`] ?? 0, broken: after.flows.broken - before.flows.broken });
    await setWeight(lab, lab.hosts, rs.rip, 1);
    await sleep(2000);
    before = client.status();
    const moved = ((await victim.director.control('counters')).connTable ?? {}).entries ?? 0;
    victim.director.child.kill('SIGKILL');
    await setWeight(lab, others, rs.rip, 0);
    await so.waitForNextHops(lab, others, 30_000);
    after = await settle(client);
    const brokenNow = after.flows.brokenDetails.filter((b) => b.atMs > before.elapsedMs);
    const servers = {};
    for (const b of brokenNow) servers[b.server] = (servers[b.server] ?? 0) + 1;
    out.push({ change: `rs${rs.index} quiesced as dir${victim.index} dies`, flows: 100, onServer: before.flows.byServer[`rs${rs.index}`] ?? 0, entriesOnDeadDirector: moved, broken: after.flows.broken - before.flows.broken, brokenByServer: servers });
  } finally {
    await client.stop();
  }
  return out;
}

const rows = [];
const concurrentRows = [];
const timerSets = [
  { name: 'fast (hold 3 s, keepalive 1 s)', timers: so.FAST_BGP_TIMERS },
  { name: "BIRD's defaults (hold 240 s, keepalive 80 s)", timers: null },
];
for (const set of ONLY === 'concurrent' ? timerSets.slice(0, 1) : timerSets) {
  const lab = so.buildScaleoutLab({ prefix: 'bso', directors: DIRECTORS, timers: set.timers });
  current = lab;
  try {
    await so.startScaleoutStack(lab, { drainSeconds: 2 });
    if (set.timers !== null) {
      for (const r of await concurrentChange(lab)) {
        concurrentRows.push(r);
        console.log(JSON.stringify(r));
      }
      const victim = lab.hosts[lab.hosts.length - 1];
      await so.reviveDirectorHost(lab, victim, { drainSeconds: 2 });
      await so.waitForNextHops(lab, lab.hosts, 60_000);
      await setWeight(lab, lab.hosts, lab.realServers[2].rip, 1);
    }
    if (ONLY === 'concurrent') continue;
    const client = await so.startScaleoutClient(lab, { flows: 0, requestGapMs: GAP_MS, requestLoops: LOOPS, maxSeconds: 900 });
    const victim = lab.hosts[lab.hosts.length - 1];
    for (const how of ['process', 'drain', 'host']) {
      if (how === 'host' && set.timers === null && QUICK) {
        rows.push({ timers: set.name, death: how, skipped: '--quick' });
        continue;
      }
      const r = await measure(lab, client, victim, how);
      rows.push({ timers: set.name, death: how, ...r });
      console.log(JSON.stringify(rows.at(-1)));
      if (how !== 'host') {
        await so.reviveDirectorHost(lab, victim, { drainSeconds: 2 });
        await so.waitForNextHops(lab, lab.hosts, 60_000);
      }
    }
    await client.stop();
  } finally {
    await so.stopScaleoutLab(lab);
    current = null;
  }
}

console.log(`\nscale-out: a director's death to the router's withdrawal (${DIRECTORS} directors, ${LOOPS} request loops, each a request every ${GAP_MS} ms + curl time) — ${new Date().toISOString()}, ${process.arch}\n`);
console.log(`${'BGP timers'.padEnd(46)} ${'death'.padEnd(8)} ${'withdrawn after'.padStart(16)} ${'failed / attempted requests'.padStart(28)} ${'delayed ≥ 0.9 s'.padStart(16)}`);
for (const r of rows) {
  if (r.skipped) console.log(`${r.timers.padEnd(46)} ${r.death.padEnd(8)} ${'(skipped: --quick)'.padStart(16)}`);
  else console.log(`${r.timers.padEnd(46)} ${r.death.padEnd(8)} ${`${(r.withdrawnMs / 1000).toFixed(2)} s`.padStart(16)} ${`${r.failed} / ${r.attempted}`.padStart(28)} ${String(r.delayed).padStart(16)}  ${Object.entries(r.reasons).map(([e, n]) => `${n}× ${e}`).join('; ')}`);
}
if (concurrentRows.length) {
  console.log(`\nwhat still breaks flows (fast timers, 100 long-lived flows on the echo service):`);
  for (const r of concurrentRows) console.log(`  ${r.change.padEnd(36)} ${String(r.broken).padStart(3)} of ${r.flows} flows broken (${r.onServer} were on that server${r.brokenByServer ? `; broken by server ${JSON.stringify(r.brokenByServer)}` : ''})`);
}
