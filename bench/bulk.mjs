#!/usr/bin/env node
// npm run bench:bulk [-- --seconds 8 --rounds 1] [--json] [--profile | --profile-missed]
//
// Bulk TCP through the VIP, measured with iperf3 in one run on the lab topology (client,
// router, director host, one real server; network namespaces):
//   - kernel path: client -> router -> director host (the kernel forwards) -> router -> RS,
//     to the RIP, by policy routing on the router: the same hops with no user space;
//   - vstun with offloads (TAP TSO + software segmentation, TUN GRO): director + agent;
//   - vstun with --no-offload on both;
//   - the same to the real server as a GUE tunnel (realServers tunnel: gue): offloads with the
//     kernel's GSO over UDP tunnels (the director writes GUE super-packets, Linux 6.17+; where
//     the kernel refuses it the line says so), offloads with --no-tunnel-gso (one TAP write
//     per GUE segment), and --no-offload.
// For each: one upload (client -> VIP) and one download (-R: RS -> client directly, the
// client's ACKs through director + agent). Ratios are against the kernel path of the same
// round; medians over rounds. Writes the "bulk" key of bench/results.json (other keys kept)
// and prints a table. Targets are reported, never asserted. The machine's load average is
// recorded before and after: on shared CPUs every figure is noisy.
// --no-build: use dist/ as it is (npm run bench has just built it). With --json (how
// `npm run bench` runs it) results.json is left alone and the last line
// printed is the "bulk" object as JSON.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileText, summarizeProfile } from './profile.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const SECONDS = Number(arg('seconds', '8'));
const ROUNDS = Number(arg('rounds', '1'));
const PROFILE = process.argv.includes('--profile');
const PROFILE_MISSED = process.argv.includes('--profile-missed');
const PORT = 5201;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gbit = (bps) => Math.round(bps / 1e7) / 100;
const ratio = (a, b) => (b > 0 ? Number((a / b).toPrecision(3)) : null);

async function main() {
  if (!(SECONDS >= 2 && SECONDS <= 60) || !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 5)) {
    console.error('--seconds must be in [2, 60] and --rounds in 1..5');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('npm run bench:bulk needs root (network namespaces, TAP/TUN, raw sockets)');
    process.exit(2);
  }
  if (!process.argv.includes('--no-build')) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const { buildLab } = await import(path.join(ROOT, 'dist', 'lab', 'vs-lab.js'));
  const { startAgent, startDirector, serviceYaml } = await import(path.join(ROOT, 'dist', 'lab', 'lab-daemons.js'));
  const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const lab = buildLab({ prefix: 'blk', realServers: 1 });
  const rs = lab.realServers[0];
  let agent;
  let director;
  let server;
  const stopAll = async () => {
    await director?.stop().catch(() => null);
    await agent?.stop().catch(() => null);
    director = agent = undefined;
  };
  const cleanup = async () => {
    await stopAll();
    if (server && server.exitCode === null) server.kill('SIGKILL');
    lab.cleanup();
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

  /** One iperf3 run from the client; bits per second received. */
  const iperf = (target, reverse) => {
    const args = ['-c', target, '-p', String(PORT), '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])];
    const r = lab.topo.tryExec(lab.client, 'iperf3', args, (SECONDS + 30) * 1000);
    if (r.status !== 0) throw new Error(`iperf3 ${args.join(' ')}: ${r.stderr || r.stdout.slice(0, 500)}`);
    return JSON.parse(r.stdout).end.sum_received.bits_per_second;
  };
  /** Director + agent; with `profileDir`, both under --cpu-prof (written there when they stop). */
  const vstun = async (offload, profileDir, tunnel = 'ipip', tunnelGso = true) => {
    await stopAll();
    const flag = offload ? '--offload' : '--no-offload';
    const service = tunnel === 'gue' ? `  - { protocol: tcp, vip: "${lab.vip}", port: ${PORT}, scheduler: rr, realServers: [{ address: "${rs.rip}", tunnel: gue }] }` : serviceYaml({ protocol: 'tcp', vip: lab.vip, port: PORT, scheduler: 'rr', realServers: [{ address: rs.rip }] });
    const prof = (who) => (profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, who)}`] } : {});
    const spawnedAt = { agent: performance.now() };
    agent = await startAgent(lab, rs, { extraArgs: [flag], ...prof('agent') });
    spawnedAt.director = performance.now();
    director = await startDirector(lab, {
      config: ['services:', service, ''].join('\n'),
      extraArgs: [flag, ...(tunnelGso ? [] : ['--no-tunnel-gso'])],
      ...prof('director'),
    });
    return spawnedAt;
  };
  /** Where the time goes in one upload or download with offloads on: both daemons' top functions. */
  const profile = async (reverse) => {
    const dir = fs.mkdtempSync(path.join(lab.workDir, 'prof-'));
    const spawnedAt = await vstun(true, dir);
    const t1 = performance.now(); // both daemons are up: their start-up stays out of the shares
    iperf(lab.vip, reverse);
    const t2 = performance.now() - 500; // the profile starts after the spawn: a margin keeps shutdown out
    await stopAll();
    const summary = (who) => summarizeProfile(path.join(dir, who), 8, t1 - spawnedAt[who], t2 - spawnedAt[who]);
    return { director: summary('director'), agent: summary('agent') };
  };

  const rounds = [];
  const profiles = {};
  let tunnelGsoTaken = false;
  let tunnelGsoWrites = null;
  try {
    // The kernel path: the router sends the client's traffic for the RIP through the director host.
    lab.topo.exec(lab.router, 'ip', ['route', 'add', `${rs.rip}/32`, 'via', '10.70.1.2', 'table', '77']);
    lab.topo.exec(lab.router, 'ip', ['rule', 'add', 'iif', 'cli0', 'to', `${rs.rip}/32`, 'lookup', '77']);
    lab.topo.sysctl(lab.director, 'net.ipv4.conf.all.send_redirects', 0);
    lab.topo.sysctl(lab.director, 'net.ipv4.conf.eth0.send_redirects', 0);
    await vstun(true); // puts the VIP on the RS's lo, so iperf3 answers on the VIP too
    server = lab.topo.spawn(rs.ns, 'iperf3', ['-s', '-p', String(PORT)]);
    await new Promise((r) => setTimeout(r, 1000));
    for (let round = 0; round < ROUNDS; round++) {
      const r = {};
      r.kernel = { up: iperf(rs.rip, false), down: iperf(rs.rip, true) };
      await vstun(true);
      r.offload = { up: iperf(lab.vip, false), down: iperf(lab.vip, true) };
      await vstun(false);
      r.noOffload = { up: iperf(lab.vip, false), down: iperf(lab.vip, true) };
      await vstun(true, undefined, 'gue', true);
      const st = await director.control('offload');
      tunnelGsoTaken = st.offloads.includes('udp-tunnel-gso');
      r.gueOffload = { up: iperf(lab.vip, false), down: iperf(lab.vip, true) };
      const after = (await director.control('offload')).counters;
      tunnelGsoWrites = { packets: after.tunnelGsoPackets, segments: after.tunnelGsoSegments };
      await vstun(true, undefined, 'gue', false);
      r.gueNoTunnelGso = { up: iperf(lab.vip, false), down: iperf(lab.vip, true) };
      await vstun(false, undefined, 'gue');
      r.gueNoOffload = { up: iperf(lab.vip, false), down: iperf(lab.vip, true) };
      rounds.push(r);
      console.log(`round ${round + 1}: ${JSON.stringify(r, (k, v) => (typeof v === 'number' ? gbit(v) : v))} (Gbit/s)`);
    }
    // --profile: one more upload and download under --cpu-prof; --profile-missed: only those
    // whose median misses its target (how npm run bench runs it).
    const med0 = (w, d) => median(rounds.map((x) => x[w][d]));
    for (const [d, target] of [['up', 0.5], ['down', 0.9]]) {
      if (PROFILE || (PROFILE_MISSED && med0('offload', d) < target * med0('kernel', d))) {
        profiles[d] = await profile(d === 'down');
        console.log(`profile ${d}load (self time): director ${profileText(profiles[d].director)}; agent ${profileText(profiles[d].agent)}`);
      }
    }
  } finally {
    await cleanup();
  }

  const med = (path2) => median(rounds.map((r) => r[path2[0]][path2[1]]));
  const line = (what) => ({
    upGbit: gbit(med([what, 'up'])),
    downGbit: gbit(med([what, 'down'])),
    upRatio: ratio(med([what, 'up']), med(['kernel', 'up'])),
    downRatio: ratio(med([what, 'down']), med(['kernel', 'down'])),
  });
  const bulk = {
    date: new Date().toISOString(),
    seconds: SECONDS,
    rounds: ROUNDS,
    loadAverage: { before: loadBefore, after: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    kernelPath: { upGbit: gbit(med(['kernel', 'up'])), downGbit: gbit(med(['kernel', 'down'])) },
    offload: line('offload'),
    noOffload: line('noOffload'),
    offloadGain: { up: ratio(med(['offload', 'up']), med(['noOffload', 'up'])), down: ratio(med(['offload', 'down']), med(['noOffload', 'down'])) },
    gue: {
      /** The kernel took TUN_F_UDP_TUNNEL_GSO (else gue.offload is software segmentation too). */
      tunnelGso: tunnelGsoTaken,
      /** The last round's upload + download with tunnel GSO: super-packets written and the segments they joined. */
      tunnelGsoWrites,
      offload: line('gueOffload'),
      noTunnelGso: line('gueNoTunnelGso'),
      noOffload: line('gueNoOffload'),
      tunnelGsoGain: { up: ratio(med(['gueOffload', 'up']), med(['gueNoTunnelGso', 'up'])), down: ratio(med(['gueOffload', 'down']), med(['gueNoTunnelGso', 'down'])) },
    },
    targets: { upRatio: 0.5, downRatio: 0.9 },
    /** The medians in bits per second, unrounded (npm run bench computes its ratios from these). */
    medianBps: Object.fromEntries(['kernel', 'offload', 'noOffload', 'gueOffload', 'gueNoTunnelGso', 'gueNoOffload'].map((w) => [w, { up: med([w, 'up']), down: med([w, 'down']) }])),
    ...(Object.keys(profiles).length ? { profile: profiles } : {}),
    perRound: rounds.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { upGbit: gbit(v.up), downGbit: gbit(v.down) }]))),
  };
  const file = path.join(ROOT, 'bench', 'results.json');
  const json = process.argv.includes('--json');
  if (!json) {
    const results = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    results.bulk = bulk;
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  }
  console.log('\n| one TCP stream through the VIP | upload Gbit/s | ratio to kernel | download Gbit/s | ratio to kernel |');
  console.log('|---|---|---|---|---|');
  console.log(`| kernel path (same hops, no user space) | ${bulk.kernelPath.upGbit} | 1 | ${bulk.kernelPath.downGbit} | 1 |`);
  console.log(`| vstun, offloads on | ${bulk.offload.upGbit} | ${bulk.offload.upRatio} | ${bulk.offload.downGbit} | ${bulk.offload.downRatio} |`);
  console.log(`| vstun, --no-offload | ${bulk.noOffload.upGbit} | ${bulk.noOffload.upRatio} | ${bulk.noOffload.downGbit} | ${bulk.noOffload.downRatio} |`);
  console.log(`| vstun GUE, offloads + GSO over UDP tunnels${tunnelGsoTaken ? '' : ' (refused by this kernel)'} | ${bulk.gue.offload.upGbit} | ${bulk.gue.offload.upRatio} | ${bulk.gue.offload.downGbit} | ${bulk.gue.offload.downRatio} |`);
  console.log(`| vstun GUE, offloads, --no-tunnel-gso | ${bulk.gue.noTunnelGso.upGbit} | ${bulk.gue.noTunnelGso.upRatio} | ${bulk.gue.noTunnelGso.downGbit} | ${bulk.gue.noTunnelGso.downRatio} |`);
  console.log(`| vstun GUE, --no-offload | ${bulk.gue.noOffload.upGbit} | ${bulk.gue.noOffload.upRatio} | ${bulk.gue.noOffload.downGbit} | ${bulk.gue.noOffload.downRatio} |`);
  console.log(`offloads on / off: upload ${bulk.offloadGain.up}, download ${bulk.offloadGain.down}; GUE tunnel GSO on / off: upload ${bulk.gue.tunnelGsoGain.up}, download ${bulk.gue.tunnelGsoGain.down}${tunnelGsoWrites ? ` (last round: ${tunnelGsoWrites.segments} segments in ${tunnelGsoWrites.packets} writes)` : ''}; targets: upload >= 0.5, download >= 0.9 of the kernel path`);
  console.log(`load average before ${loadBefore.join(' ')}, after ${bulk.loadAverage.after.join(' ')}${json ? '' : '; written to bench/results.json (key "bulk")'}`);
  if (json) console.log(JSON.stringify(bulk));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
