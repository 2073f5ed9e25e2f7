// `npm start -- --directors N`: the scale-out demo. N director hosts, each with BIRD and
// vstun-director, announce the VIP to a BIRD router that spreads flows over them by ECMP;
// every director runs mh over the same three real servers, so it does not matter which
// director a flow lands on. The demo shows the spread of requests over the directors (and
// over the real servers), then stops one director the way an operator would (SIGTERM: it
// withdraws the VIP, keeps forwarding for bgp.drainSeconds, exits) while long-lived
// connections and a request loop run, and shows that nothing failed.
import { formatBarChart } from './bar-chart.js';
import { curlMany } from './curl-many.js';
import { demoTeardown, writeDemoState, type DemoState } from './demo-state.js';
import { LAB_APP_HTTP_PORT } from './lab-daemons.js';
import { buildScaleoutLab, routerNextHops, startScaleoutClient, startScaleoutStack, stopScaleoutLab, waitForNextHops, type DirectorHost, type ScaleoutLab } from './scaleout-lab.js';

export interface ScaleoutDemoOptions {
  directors: number;
  requests: number;
  stateFile?: string;
  say: (text?: string) => void;
}

/** Connections each director has scheduled so far (all services). */
async function connsPerDirector(lab: ScaleoutLab): Promise<number[]> {
  return Promise.all(
    lab.hosts.map(async (h) => {
      const r = await h.director!.control('list');
      return (r.services as { stats: { conns: number } }[]).reduce((a, s) => a + s.stats.conns, 0);
    }),
  );
}

export async function runScaleoutDemo(opts: ScaleoutDemoOptions): Promise<void> {
  const { say } = opts;
  const started = Date.now();
  say(`vstun scale-out demo: a BIRD router, ${opts.directors} director hosts (BIRD + vstun-director each), 3 real servers`);
  const lab = buildScaleoutLab({ prefix: 'demo', directors: opts.directors });
  const state: DemoState = { namespaces: [...lab.topo.namespaceNames], workDir: lab.workDir };
  if (opts.stateFile) writeDemoState(opts.stateFile, state);
  const teardown = demoTeardown(() => stopScaleoutLab(lab), opts.stateFile, say);
  try {
    await startScaleoutStack(lab, { drainSeconds: 3 });
    say(`  each director announces ${lab.vip}/32 over eBGP (hold ${lab.timers?.hold ?? 240} s) while one of its services has a live real server`);
    say(`  the router's route: ${lab.vip} via ${routerNextHops(lab).join(', ')} (ECMP, hashing on addresses and ports)`);
    say(`  scheduler mh (mh-port) on every director: the same real server for a flow whichever director gets it`);

    const url = `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;
    const before = await connsPerDirector(lab);
    say(`\nsending ${opts.requests} requests from the client (a new TCP connection each): curl ${url}`);
    const answers = curlMany(lab.client, url, opts.requests);
    const after = await connsPerDirector(lab);
    const failed = opts.requests - answers.length;
    say(`answered ${answers.length}${failed ? `, ${failed} failed` : ', none failed'}. Which director scheduled them:\n`);
    process.stdout.write(formatBarChart(lab.hosts.map((h, i) => ({ label: `dir${h.index} ${h.dip}`, count: after[i] - before[i], expectedShare: 1 / lab.hosts.length }))));
    say('\nand which real server answered:\n');
    process.stdout.write(formatBarChart(lab.realServers.map((rs) => ({ label: `rs${rs.index} ${rs.rip}`, count: answers.filter((a) => a === `rs${rs.index}`).length }))));

    const victim: DirectorHost = lab.hosts[lab.hosts.length - 1];
    say(`\nnow 60 long-lived connections (bytes checked end to end) and a request loop, while dir${victim.index} is stopped (SIGTERM):`);
    const client = await startScaleoutClient(lab, { flows: 60, maxSeconds: 120 });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    const stopped = victim.director!.stop(15_000);
    const withdrawnMs = await waitForNextHops(lab, lab.hosts.slice(0, -1), 20_000);
    say(`  dir${victim.index} withdrew the VIP: the router's route lost ${victim.dip} after ${withdrawnMs} ms; it kept forwarding while the flows moved`);
    await stopped;
    say(`  dir${victim.index} exited after ${((Date.now() - t0) / 1000).toFixed(1)} s; route now via ${routerNextHops(lab).join(', ')}`);
    await new Promise((r) => setTimeout(r, 3000));
    const s = await client.stop();
    const intact = s.flows.opened - s.flows.broken;
    say(`\n  long-lived connections: ${intact} of ${s.flows.opened} intact, ${s.flows.bytesVerified} bytes echoed and checked`);
    say(`  requests during the stop: ${s.requests.ok} answered, ${s.requests.failed} failed`);
    say(s.flows.broken === 0 && s.requests.failed === 0 ? '  no request failed and no connection broke.' : `  SOMETHING FAILED: ${JSON.stringify({ broken: s.flows.brokenDetails.slice(0, 5), failures: s.requests.failures.slice(0, 5) })}`);
    if (s.flows.broken !== 0 || s.requests.failed !== 0) process.exitCode = 1;
  } catch (err) {
    process.stderr.write(`\nvstun scale-out demo failed: ${(err as Error).message}\n(logs were in ${lab.workDir})\n`);
    process.exitCode = 1;
  } finally {
    await teardown();
  }
  say(`\ntorn down: namespaces deleted, BIRDs stopped (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
}
