// Drops the kernel makes before our daemons read a packet, counted where operators look:
// - the director is stopped (SIGSTOP) while a UDP burst goes to the VIP: the TAP's queue
//   overflows (tx_dropped of the TAP); `vstunadm counters --json` and /metrics then report
//   exactly the kernel's count as tap-queue-full;
// - the agent is stopped while the director forwards a burst to it: its raw socket's receive
//   buffer overflows; after it resumes, /metrics reports socket-overflow equal to the drops the
//   kernel shows for that socket in /proc/net/raw.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_UDP_PORT, REPO_ROOT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { boundChild, buildCTools, collectLines, exited, lastJson, linkCounter, metricSamples, scrape } from '../support/flood-tools.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('drops before the daemons read are counted', () => {
  let lab: Lab;
  let agent: Daemon;
  let director: DirectorHandle;
  let tools: Record<string, string>;

  /** `rate` UDP datagrams/s to the VIP's echo port for `seconds` from the client (many source ports). */
  const udpLoad = async (rate: number, seconds: number) => {
    const child = lab.topo.spawn(lab.client, tools.udp_rtt, ['load', lab.vip, String(LAB_APP_UDP_PORT), String(rate), String(seconds)]);
    boundChild(child, (seconds + 10) * 1000);
    const out = collectLines(child);
    await exited(child);
    return lastJson(out).sent;
  };
  const vstunadmCounters = () =>
    JSON.parse(execFileSync('ip', ['netns', 'exec', lab.director, process.execPath, path.join(REPO_ROOT, 'bin/vstunadm.js'), '--control', director.controlPath, 'counters', '--json'], { encoding: 'utf8', timeout: 10_000 }));

  beforeAll(async () => {
    lab = buildLab({ prefix: 'hd-kd', realServers: 1 });
    tools = buildCTools(lab.workDir, ['udp_rtt']);
    const rs = lab.realServers[0];
    agent = await startAgent(lab, rs);
    await startLabApp(lab, rs);
    const servers = [{ address: rs.rip }];
    const config = ['director:', '  connTableSize: 65536', 'services:', serviceYaml({ protocol: 'udp', vip: lab.vip, port: LAB_APP_UDP_PORT, scheduler: 'mh', realServers: servers }), ''].join('\n');
    director = await startDirector(lab, { config });
    // Warm up: the kernel learns the director's MAC, the flow reaches the agent and back.
    await waitFor(() => JSON.parse(lab.topo.exec(lab.client, tools.udp_rtt, ['probe', lab.vip, String(LAB_APP_UDP_PORT), '20', '1'])).received > 0, 20_000, 'a first UDP echo through the VIP', 200);
  });

  afterAll(async () => {
    for (const p of [director?.child, agent?.child]) if (p?.pid) p.kill('SIGCONT');
    await director?.stop(3000);
    await agent?.stop(3000);
    lab?.cleanup();
  });

  it('counts the TAP queue overflow while the director is stopped as tap-queue-full, equal to the kernel count', async () => {
    await udpLoad(100, 0.3); // the kernel's neighbour entry for the director is fresh: no ARP while it is stopped
    const before = linkCounter(lab, lab.director, director.tap, 'tx_dropped');
    director.child.kill('SIGSTOP');
    let sent: number;
    try {
      sent = await udpLoad(50_000, 1);
    } finally {
      director.child.kill('SIGCONT');
    }
    const kernel = linkCounter(lab, lab.director, director.tap, 'tx_dropped') - before;
    console.log(`director stopped: ${sent} datagrams sent, TAP tx_dropped +${kernel}`);
    expect(kernel).toBeGreaterThan(0);
    await waitFor(async () => (await director.control('counters')).kernelDrops?.['tap-queue-full'] === kernel + before, 10_000, 'tap-queue-full equal to the TAP tx_dropped');
    const json = vstunadmCounters();
    expect(json.kernelDrops['tap-queue-full']).toBe(kernel + before);
    const drops = metricSamples(scrape(lab, lab.director, '127.0.0.1:9469'), 'vstun_drops_total');
    expect(drops['{reason="tap-queue-full"}']).toBe(kernel + before);
  });

  it('counts the raw socket overflow while the agent is stopped as socket-overflow, equal to /proc/net/raw drops', async () => {
    const rs = lab.realServers[0];
    await udpLoad(100, 0.3);
    agent.child.kill('SIGSTOP');
    let sent: number;
    try {
      // A rate the director forwards whole on this machine, for long enough to fill the agent's 4 MB socket buffer.
      sent = await udpLoad(10_000, 2.5);
    } finally {
      agent.child.kill('SIGCONT');
    }
    // The kernel reports a socket's drop count on the next packet it delivers: send a few more.
    await udpLoad(200, 0.5);
    const kernelDrops = () => {
      // /proc/net/raw: the last column is the socket's drop count; local port 0004 = IPPROTO_IPIP.
      const rows = lab.topo.exec(rs.ns, 'cat', ['/proc/net/raw']).split('\n').slice(1).filter(Boolean);
      return rows.filter((r) => r.trim().split(/\s+/)[1]?.endsWith(':0004')).reduce((s, r) => s + Number(r.trim().split(/\s+/).at(-1)), 0);
    };
    const kernel = kernelDrops();
    console.log(`agent stopped: ${sent} datagrams sent through the VIP, IPIP raw socket drops ${kernel}`);
    expect(kernel).toBeGreaterThan(0);
    const overflow = () => metricSamples(scrape(lab, rs.ns, '127.0.0.1:9470'), 'vstun_agent_decap_drops_total')['{reason="socket-overflow"}'];
    await waitFor(() => overflow() === kernel, 10_000, `socket-overflow equal to the kernel's ${kernel}`, 200);
  });
});
