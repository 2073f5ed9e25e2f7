// VS/DR: client → router → director host, whose TAP joins the real servers' LAN through the
// host's bridge (director.dr.bridge). Two servers set up by `vstun-agent --mode dr` (VIP on
// lo, ARP suppressed) take `-a … -g`; curl works; a tcpdump on a server shows the client's
// IP packet unchanged (to the VIP, from the client) in a frame addressed to the server's MAC
// from the director's MAC; the replies leave the server for the router's MAC, never for the
// director; -L -n shows Route; SIGTERM takes the TAP out of the bridge again.
// The director runs with its default queue count (one per core, at least two here), as an
// operator following an LVS-DR walkthrough would start it, and is driven with vstunadm from
// an empty table: the servers' ARP answers land on queue 0 (the steering program's choice),
// and the MACs learned there serve every queue (one shared neighbour table).
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnDaemon, type Daemon } from '../../src/lab/lab-daemons.js';
import { buildMethodLab, type MethodLab } from '../../src/lab/method-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
import { admOk, countByServer, curlOnce, startOperatorDirector, startVipApp, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';
import { curlMany } from '../../src/lab/curl-many.js';
import { controlRequest } from '../../src/lab/lab-control.js';
import { startCapture, tsharkLines } from '../support/methods.js';

const DIRECTOR_MAC = '02:56:53:54:00:02';
/** Client addresses: their flows spread over both queues (the steering hashes addresses and ports). */
const CLIENTS = ['10.200.1.2', '10.200.1.3', '10.200.1.4', '10.200.1.5', '10.200.1.6', '10.200.1.7'];
const PER_CLIENT = 20;

interface QueueSummary {
  queue: number;
  framesIn: number;
  forwarded: number;
}

describe.skipIf(!canRunNetnsTests())('VS/DR: the TAP on the real servers\' LAN, -g servers', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];
  const queues = async (): Promise<QueueSummary[]> => (await controlRequest(director!.control, { v: 1, op: 'queues' })).queues;
  const verdicts = async () => (await controlRequest(director!.control, { v: 1, op: 'status' })).verdicts as Record<string, number>;

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'dr', nat: 0, dr: 2, tun: 0 });
    for (const c of CLIENTS.slice(1)) lab.topo.exec(lab.client, 'ip', ['addr', 'add', `${c}/24`, 'dev', 'eth0']);
    for (const rs of lab.servers) {
      const agent = spawnDaemon(lab, rs.ns, [path.join(REPO_ROOT, 'dist/cli/vstun-agent.js'), '--mode', 'dr', '--vip', lab.vip, '--listen', 'none', '--state-file', path.join(lab.workDir, `agent-rs${rs.index}.state.json`)]);
      daemons.push(agent);
      await waitFor(() => {
        if (agent.child.exitCode !== null) throw new Error(`vstun-agent --mode dr exited: ${agent.output()}`);
        return lab.topo.exec(rs.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'lo']).includes(`${lab.vip}/32`);
      }, 20_000, `the VIP on lo of rs${rs.index}`, 100);
      daemons.push(await startVipApp(lab, rs, [lab.vip]));
    }
    // The default queue count (one per core); a one-core machine gets two, which is what is tested.
    director = await startOperatorDirector(lab, { config: `director:\n  dr:\n    bridge: ${lab.lanBridge}\n`, extraArgs: os.availableParallelism() >= 2 ? [] : ['--queues', '2'] });
    admOk(director, ['-A', '-t', `${lab.vip}:80`, '-s', 'rr']);
    for (const rs of lab.servers) admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', rs.rip, '-g']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('the agent set the server up for DR: VIP on lo, arp_ignore=1, arp_announce=2', () => {
    const rs = lab.servers[0];
    expect(lab.topo.exec(rs.ns, 'sysctl', ['-n', 'net.ipv4.conf.all.arp_ignore']).trim()).toBe('1');
    expect(lab.topo.exec(rs.ns, 'sysctl', ['-n', 'net.ipv4.conf.all.arp_announce']).trim()).toBe('2');
  });

  it('-L -n shows Route; the TAP is a port of the LAN bridge', () => {
    const listing = admOk(director!, ['-L', '-n']);
    for (const rs of lab.servers) expect(listing).toContain(`  -> ${`${rs.rip}:80`.padEnd(28)} Route   1      `);
    expect(lab.topo.exec(director!.ns, 'ip', ['-o', 'link', 'show', 'dev', director!.tap])).toContain(`master ${lab.lanBridge}`);
  });

  it('curl works through both servers; the server sees the client\'s packet unchanged in a frame to its MAC; replies go to the router', async () => {
    const rs = lab.servers[0];
    const cap = path.join(lab.workDir, 'dr-rs1.pcap');
    const capture = await startCapture(lab, rs.ns, 'eth0', cap, 'tcp port 80');
    const answers: string[] = [];
    try {
      // The first SYN may wait for the server's MAC (asked for when the server was added).
      await waitFor(() => curlOnce(lab, vipUrl(lab.vip), 3) !== null, 20_000, 'a first answer through DR', 200);
      for (let i = 0; i < 20; i++) answers.push(curlOnce(lab, vipUrl(lab.vip), 5) ?? 'failed');
    } finally {
      await capture.stop();
    }
    expect(countByServer(answers)).toEqual({ rs1: 10, rs2: 10 });
    const routerMac = lab.topo.exec(lab.router, 'cat', ['/sys/class/net/lan0/address']).trim();
    // In: client → VIP (addresses untouched), Ethernet from the director to this server.
    const inbound = tsharkLines(lab, cap, `ip.dst == ${lab.vip}`, ['eth.src', 'eth.dst', 'ip.src', 'tcp.dstport']);
    expect(inbound.length).toBeGreaterThanOrEqual(10 * 3);
    expect(new Set(inbound)).toEqual(new Set([`${DIRECTOR_MAC}\t${rs.mac}\t${lab.clientIp}\t80`]));
    expect(tsharkLines(lab, cap, `ip.dst == ${lab.vip} and (ip.checksum.status == 0 or tcp.checksum.status == 0)`, ['frame.number'])).toEqual([]);
    // Out: from the VIP straight to the router, never through the director.
    const outbound = tsharkLines(lab, cap, `ip.src == ${lab.vip}`, ['eth.dst', 'ip.dst']);
    expect(outbound.length).toBeGreaterThanOrEqual(10 * 2);
    expect(new Set(outbound)).toEqual(new Set([`${routerMac}\t${lab.clientIp}`]));
    const stats = admOk(director!, ['-L', '-n', '--stats', '--exact']);
    const line = stats.split('\n').find((l) => l.startsWith(`  -> ${rs.rip}:80`))!;
    const [conns, inPkts, outPkts] = line.trim().split(/\s+/).slice(2).map(Number);
    expect(conns).toBeGreaterThanOrEqual(10);
    expect(inPkts).toBeGreaterThan(0);
    expect(outPkts).toBe(0);
  });

  it(`${CLIENTS.length * PER_CLIENT} curls from ${CLIENTS.length} client addresses on several queues: both queues forward to both servers, none waits for a MAC`, async () => {
    const before = await queues();
    expect(before.length).toBeGreaterThanOrEqual(2);
    const v0 = await verdicts();
    const answers: string[] = [];
    for (const c of CLIENTS) answers.push(...curlMany(lab.client, vipUrl(lab.vip), PER_CLIENT, 5, c));
    expect(answers).toHaveLength(CLIENTS.length * PER_CLIENT);
    // rr's position is shared by the queues: an even split.
    expect(countByServer(answers)).toEqual({ rs1: CLIENTS.length * PER_CLIENT / 2, rs2: CLIENTS.length * PER_CLIENT / 2 });
    const after = await queues();
    for (let i = 0; i < 2; i++) expect(after[i].forwarded - before[i].forwarded, `queue ${i}: ${JSON.stringify(after)}`).toBeGreaterThan(0);
    // What an operator reads: vstunadm --queues, a row per queue and per server.
    const report = admOk(director!, ['--queues']).split('\n');
    expect(report[0]).toBe('Queue  FramesIn  Forwarded  Conns');
    for (let i = 0; i < after.length; i++) expect(report[1 + i]).toMatch(new RegExp(`^${i} +\\d+ +\\d+ +\\d+$`));
    for (const rs of lab.servers) expect(report.some((l) => l.startsWith(`tcp:${lab.vip}:80`) && l.includes(` ${rs.rip} `)), report.join('\n')).toBe(true);
    // Both servers' MACs were known on every queue: nothing was dropped waiting for one.
    const v1 = await verdicts();
    expect(v1['drop-no-server-mac'] ?? 0, JSON.stringify(v1)).toBe(v0['drop-no-server-mac'] ?? 0);
    // The answers reached one queue (ARP goes to queue 0) and were learned there, once per request.
    expect(v1['arp-learned'] ?? 0, JSON.stringify(v1)).toBeGreaterThanOrEqual(2);
  });

  it('SIGTERM takes the TAP out of the bridge (the bridge, the operator\'s, stays)', async () => {
    expect(await director!.stop(5000)).toBe(0);
    director = undefined;
    expect(lab.topo.exec(lab.director, 'ip', ['-o', 'link', 'show', 'dev', lab.lanBridge])).toContain(lab.lanBridge);
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'addr', 'show', 'dev', lab.lanBridge])).not.toContain('169.254.77.1');
    expect(lab.topo.exec(lab.director, 'ip', ['-4', 'addr', 'show', 'dev', lab.lanBridge])).toContain(`${lab.lanAddress}/24`);
  });
});
