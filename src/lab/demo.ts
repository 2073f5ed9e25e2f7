// `npm start`: vstun end to end in a small internet of network namespaces.
//
//   client ── router ──► director host (kernel → TAP → vstun-director) ──IPIP──► rs1 / rs2 / rs3
//                 ▲                                                               (three sites)
//                 └──────────────── replies straight from the real servers ◄──────┘
//
// Each real server runs vstun-agent and an HTTP server (nginx if installed) on the VIP. The
// client sends a few hundred curl requests to the VIP; the demo prints which real server
// answered each share, then the director's table as `vstunadm -L -n --stats` prints it.
// Everything is torn down at the end, on Ctrl-C and on failure (see demo-state.ts, and
// scripts/demo.sh's trap for the case where this process itself dies).
import { Command, Option } from 'commander';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { SCHEDULER_NAMES } from '../director/schedulers/scheduler.js';
import { curlMany } from './curl-many.js';
import { formatBarChart, type BarRow } from './bar-chart.js';
import { demoTeardown, KEPT_DEMOS_DIR, teardownDemo, teardownKeptDemos, writeDemoState, type DemoState } from './demo-state.js';
import { REPO_ROOT, serviceYaml, startAgent, startDirector, type Daemon, type DirectorHandle } from './lab-daemons.js';
import { directorListing } from './lab-listing.js';
import { canRunNetnsTests, waitFor } from './netns.js';
import { runMethodDemo } from './method-demo.js';
import { runScaleoutDemo } from './scaleout-demo.js';
import { buildLab, startHttpServer, type Lab } from './vs-lab.js';

interface DemoFlags {
  scheduler: string;
  weights: string;
  requests: string;
  keep: boolean;
  ipv6: boolean;
  down: boolean;
  stateFile?: string;
  directors: string;
  method: string;
}

const program = new Command('vstun-demo')
  .description('vstun end to end: client, router, director and three real servers on three sites, in network namespaces')
  .addOption(new Option('--scheduler <name>', 'the director\'s scheduler for the HTTP service').choices([...SCHEDULER_NAMES]).default('wrr'))
  .option('--weights <w1,w2,w3>', 'real-server weights', '1,2,3')
  .option('--requests <n>', 'curl requests to send through the VIP', '300')
  .option('--keep', 'leave everything running and print the commands to explore it', false)
  .option('--ipv6', 'also serve an IPv6 VIP and send the requests over IPv6', false)
  .option('--down', 'tear down demos left running by --keep, then exit', false)
  .option('--state-file <path>', 'where to record what to tear down (scripts/demo.sh passes one for its trap)')
  .addOption(new Option('--method <method>', 'forwarding method: tun (IPIP to three sites, the default), nat (VS/NAT, the textbook LAN behind the director host) or dr (VS/DR, the TAP on the servers\' LAN)').choices(['tun', 'nat', 'dr']).default('tun'))
  .option('--directors <n>', 'scale-out: N director hosts behind a BIRD router with ECMP (2..8; src/lab/scaleout-demo.ts)', '1')
  .showHelpAfterError();

const say = (text = '') => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  program.parse();
  const flags = program.opts<DemoFlags>();
  if (!canRunNetnsTests()) {
    process.stderr.write('vstun demo: needs root and iproute2 (it creates network namespaces, TAP/TUN devices and raw sockets). Run: sudo npm start\n');
    process.exit(2);
  }
  if (flags.down) {
    const n = await teardownKeptDemos();
    say(n ? `tore down ${n} kept demo${n > 1 ? 's' : ''}` : 'no kept demo to tear down');
    return;
  }
  if (flags.method !== 'tun') {
    if (flags.keep || flags.ipv6 || flags.directors !== '1') fail('--method nat|dr runs its own lab, which has no --keep, --ipv6 or --directors');
    const r = Number(flags.requests);
    if (!Number.isInteger(r) || r < 1 || r > 5000) fail('--requests: give an integer 1..5000');
    await runMethodDemo({ method: flags.method as 'nat' | 'dr', requests: r, stateFile: flags.stateFile, say });
    return;
  }
  if (flags.directors !== '1') {
    const n = Number(flags.directors);
    if (!Number.isInteger(n) || n < 2 || n > 8) fail('--directors: give an integer 2..8');
    if (flags.keep || flags.ipv6) fail('--directors runs the scale-out demo, which has no --keep or --ipv6');
    const r = Number(flags.requests);
    if (!Number.isInteger(r) || r < 1 || r > 5000) fail('--requests: give an integer 1..5000');
    await runScaleoutDemo({ directors: n, requests: Number(flags.requests), stateFile: flags.stateFile, say });
    return;
  }
  const weights = flags.weights.split(',').map(Number);
  const requests = Number(flags.requests);
  if (weights.length !== 3 || !weights.every((w) => Number.isInteger(w) && w >= 0 && w <= 65535)) fail('--weights: give three integers 0..65535, e.g. 1,2,3');
  if (!Number.isInteger(requests) || requests < 1 || requests > 5000) fail('--requests: give an integer 1..5000');

  const started = Date.now();
  say(`vstun demo: building the namespaces (client, router, director, rs1..rs3 on three sites${flags.ipv6 ? ', IPv4 and IPv6' : ''})`);
  const lab = buildLab({ prefix: 'demo', realServers: 3, ipv6: flags.ipv6 });
  const state: DemoState = { namespaces: [...lab.topo.namespaceNames], workDir: lab.workDir };
  if (flags.stateFile) writeDemoState(flags.stateFile, state);
  const daemons: Daemon[] = [];
  // Graceful first, so that director and agents undo their host changes.
  const teardown = demoTeardown(
    async () => {
      await Promise.all(daemons.map((d) => d.stop(3000)));
      lab.cleanup();
    },
    flags.stateFile,
    say,
  );

  try {
    const logs = flags.keep ? (name: string) => ({ logFile: path.join(lab.workDir, `${name}.log`) }) : () => ({});
    let server = '';
    for (const rs of lab.realServers) {
      daemons.push(await startAgent(lab, rs, logs(`agent-rs${rs.index}`)));
      server = startHttpServer(lab, rs);
    }
    say(`  vstun-agent and ${server === 'nginx' ? 'nginx' : "Node's http"} on the VIP ${lab.vip}${lab.vip6 ? ` and ${lab.vip6}` : ''} at ${lab.realServers.map((r) => `rs${r.index} ${r.rip}`).join(', ')}`);

    const servers = lab.realServers.map((rs, i) => ({ address: rs.rip, weight: weights[i] }));
    const lines = ['director:', '  connTableSize: 65536', 'services:'];
    lines.push(serviceYaml({ protocol: 'tcp', vip: lab.vip, port: 80, scheduler: flags.scheduler, realServers: servers }));
    if (lab.vip6) {
      lines.push(serviceYaml({ protocol: 'tcp', vip: lab.vip6, port: 80, scheduler: flags.scheduler, realServers: lab.realServers.map((rs, i) => ({ address: rs.rip6!, weight: weights[i] })) }));
    }
    let director: DirectorHandle;
    try {
      director = await startDirector(lab, { config: `${lines.join('\n')}\n`, ...logs('director') });
    } catch (err) {
      if (flags.ipv6) throw new Error(`${(err as Error).message}\n(--ipv6 needs a director build with IPv6 VIPs; this one refused the IPv6 service)`);
      throw err;
    }
    daemons.push(director);
    say(`  vstun-director on the director host: TAP ${director.tap}, DIP ${lab.dip}, scheduler ${flags.scheduler}, weights ${weights.join(':')}`);

    const vip = lab.vip6 ?? lab.vip;
    const url = vip.includes(':') ? `http://[${vip}]/` : `http://${vip}/`;
    // The first packets teach the director the kernel's MAC on the TAP: wait for one answer.
    await waitFor(() => lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '2', url], 5000).status === 0, 20_000, `a first answer from ${url}`, 200);
    await director.control('zero').catch(() => undefined); // counters from here on, where supported

    say(`\nsending ${requests} requests from the client: curl ${url} (a new TCP connection each)`);
    const t0 = Date.now();
    const answers = curlMany(lab.client, url, requests);
    const seconds = (Date.now() - t0) / 1000;
    const counts = lab.realServers.map((rs) => answers.filter((a) => a === `rs${rs.index}`).length);
    const failed = requests - counts.reduce((a, b) => a + b, 0);
    say(`answered in ${seconds.toFixed(1)} s${failed ? `, ${failed} failed` : ', none failed'}:\n`);
    const total = weights.reduce((a, b) => a + b, 0);
    const expected = (i: number) => (flags.scheduler === 'wrr' && total > 0 ? weights[i] / total : flags.scheduler === 'rr' ? 1 / 3 : undefined);
    const rows: BarRow[] = lab.realServers.map((rs, i) => ({ label: `rs${rs.index} ${vip.includes(':') ? rs.rip6 : rs.rip}`, count: counts[i], expectedShare: expected(i) }));
    process.stdout.write(formatBarChart(rows));
    if (['sh', 'mh', 'dh', 'lblc', 'lblcr'].includes(flags.scheduler)) {
      say(`  (${flags.scheduler} hashes addresses, and all requests come from one client address, so one real server gets them all: that is the point of it)`);
    }

    say('\nthe director\'s table (vstunadm -L -n --stats):\n');
    process.stdout.write(await directorListing(lab, director));

    if (flags.keep) {
      lab.topo.release();
      const keptFile = path.join(KEPT_DEMOS_DIR, `${lab.topo.tag}.json`);
      writeDemoState(keptFile, state);
      if (flags.stateFile) rmSync(flags.stateFile, { force: true });
      printExploreHelp(lab, director, url);
      process.exit(0);
    }
  } catch (err) {
    process.stderr.write(`\nvstun demo failed: ${process.env.VSTUN_DEMO_DEBUG ? (err as Error).stack : (err as Error).message}\n`);
    for (const d of daemons) if (d.child.exitCode !== null && d.output().trim()) process.stderr.write(`--- ${path.basename(d.child.spawnargs[5] ?? '')} output (last lines) ---\n${d.output().trim().split('\n').slice(-5).join('\n')}\n`);
    await teardown();
    process.exit(1);
  }
  await teardown();
  say(`\ntorn down: namespaces deleted, host changes undone (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
}

function fail(message: string): never {
  process.stderr.write(`vstun demo: ${message}\n`);
  process.exit(2);
}

function printExploreHelp(lab: Lab, director: DirectorHandle, url: string): void {
  const rs = lab.realServers[0];
  const vstunadm = `node ${path.join(REPO_ROOT, 'dist/cli/vstunadm.js')} --control ${director.controlPath}`;
  say('\neverything is left running (--keep). To explore:');
  say(`  ip netns exec ${lab.client} curl ${url}`);
  say(`  ip netns exec ${lab.director} ${vstunadm} -L -n --stats`);
  say(`  ip netns exec ${lab.director} ${vstunadm} -L -n -c`);
  say(`  ip netns exec ${rs.ns} tcpdump -ni eth0 ip proto 4        # the tunnel arriving at rs1`);
  say(`  ip netns exec ${lab.client} tcpdump -ni eth0 port 80      # replies come from the real servers, source VIP`);
  say(`  ip netns exec ${rs.ns} curl -s http://127.0.0.1:9470/metrics   # vstun-agent's counters`);
  say(`  logs: ${lab.workDir}/*.log`);
  say('tear it all down with:');
  say('  npm start -- --down');
}

void main();
