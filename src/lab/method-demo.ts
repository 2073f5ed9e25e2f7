// `npm start -- --method nat|dr`: the demo in the forwarding methods' lab (method-lab.ts).
//   nat: the LVS textbook's VS/NAT: rs1 10.0.0.7 (port-mapped to 8080) and rs2 10.0.0.17
//        behind the director host 10.0.0.8, their gateway; every reply comes back through it.
//   dr:  VS/DR: rs1 10.0.0.27 and rs2 10.0.0.37 on the LAN the director's TAP joins (a
//        bridge), set up by `vstun-agent --mode dr`; replies go straight to the router.
// The requests, the bar chart and the listing are the TUN demo's (demo.ts).
import path from 'node:path';
import { formatBarChart } from './bar-chart.js';
import { curlMany } from './curl-many.js';
import { demoTeardown, writeDemoState, type DemoState } from './demo-state.js';
import { REPO_ROOT, spawnDaemon, startDirector, type Daemon } from './lab-daemons.js';
import { directorListing } from './lab-listing.js';
import { buildMethodLab, type MethodLab, type MethodLabServer } from './method-lab.js';
import { waitFor } from './netns.js';

export interface MethodDemoOptions {
  method: 'nat' | 'dr';
  requests: number;
  stateFile?: string;
  say: (text?: string) => void;
}

export async function runMethodDemo(o: MethodDemoOptions): Promise<void> {
  const say = o.say;
  const nat = o.method === 'nat';
  say(`vstun demo (${nat ? 'VS/NAT' : 'VS/DR'}): building the namespaces (client, router, director host, a LAN with two real servers)`);
  // The prefix "demo" is what demo-state.ts tears down after a crash.
  const lab = buildMethodLab({ prefix: 'demo', nat: nat ? 2 : 0, dr: nat ? 0 : 2, tun: 0 });
  const state: DemoState = { namespaces: [...lab.topo.namespaceNames], workDir: lab.workDir };
  if (o.stateFile) writeDemoState(o.stateFile, state);
  const daemons: Daemon[] = [];
  const teardown = demoTeardown(
    async () => {
      await Promise.all(daemons.map((d) => d.stop(3000)));
      lab.cleanup();
    },
    o.stateFile,
    say,
  );
  try {
    const servers: string[] = [];
    for (const rs of lab.servers) {
      const port = nat && rs.index === 1 ? 8080 : 80;
      if (!nat) daemons.push(await drAgent(lab, rs));
      daemons.push(await app(lab, rs, nat ? rs.rip : lab.vip, port));
      servers.push(`{ address: "${rs.rip}", forward: ${nat ? 'masq' : 'route'}${port !== 80 ? `, port: ${port}` : ''} }`);
    }
    const config = [
      'director:',
      '  connTableSize: 65536',
      ...(nat ? [] : [`  dr: { bridge: ${lab.lanBridge} }`]),
      'services:',
      `  - { protocol: tcp, vip: "${lab.vip}", port: 80, scheduler: rr, realServers: [${servers.join(', ')}] }`,
      '',
    ].join('\n');
    const director = await startDirector(lab, { config });
    daemons.push(director);
    say(
      nat
        ? `  rs1 ${lab.servers[0].rip}:8080 and rs2 ${lab.servers[1].rip}:80, default gateway ${lab.lanAddress} (the director host); vstun-director: -m for both`
        : `  rs1 ${lab.servers[0].rip} and rs2 ${lab.servers[1].rip} (vstun-agent --mode dr); the TAP joins ${lab.lanBridge}; vstun-director: -g for both`,
    );
    const url = `http://${lab.vip}/`;
    await waitFor(() => lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '2', url], 5000).status === 0, 20_000, `a first answer from ${url}`, 200);
    await director.control('zero').catch(() => undefined);
    say(`\nsending ${o.requests} requests from the client: curl ${url}`);
    const answers = curlMany(lab.client, url, o.requests);
    const rows = lab.servers.map((rs) => ({ label: `rs${rs.index} ${rs.rip}`, count: answers.filter((a) => a === `rs${rs.index}`).length, expectedShare: 1 / 2 }));
    process.stdout.write(formatBarChart(rows));
    say(`\nthe director's table (vstunadm -L -n --stats${nat ? '; OutPkts: the replies it rewrote' : '; OutPkts 0: replies bypass it'}):\n`);
    process.stdout.write(await directorListing(lab, director));
  } catch (err) {
    process.stderr.write(`\nvstun demo failed: ${(err as Error).message}\n`);
    await teardown();
    process.exit(1);
  }
  await teardown();
  say('\ntorn down: namespaces deleted, host changes undone');
}

/** `vstun-agent --mode dr` on a DR server; resolves once the VIP is on its lo. */
async function drAgent(lab: MethodLab, rs: MethodLabServer): Promise<Daemon> {
  const agent = spawnDaemon(lab, rs.ns, [path.join(REPO_ROOT, 'dist/cli/vstun-agent.js'), '--mode', 'dr', '--vip', lab.vip, '--listen', 'none', '--state-file', path.join(lab.workDir, `agent-rs${rs.index}.state.json`)]);
  await waitFor(() => {
    if (agent.child.exitCode !== null) throw new Error(`vstun-agent --mode dr on rs${rs.index} exited: ${agent.output().trim()}`);
    return lab.topo.exec(rs.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo']).includes(`${lab.vip}/32`);
  }, 20_000, `the VIP on lo of rs${rs.index}`, 100);
  return agent;
}

/** The lab app answering "rsN" on host:port. */
async function app(lab: MethodLab, rs: MethodLabServer, host: string, port: number): Promise<Daemon> {
  const d = spawnDaemon(lab, rs.ns, [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, '--host', host, '--http-port', String(port)]);
  await waitFor(() => {
    if (d.child.exitCode !== null) throw new Error(`the lab app on rs${rs.index} exited: ${d.output().trim()}`);
    return lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', `http://${host}:${port}/`], 3000).status === 0;
  }, 15_000, `the lab app on rs${rs.index}`, 100);
  return d;
}
