// The fuzz campaign (npm run fuzz -- --frames N [--seed S] [--rate PPS]): a lab with the built
// director and one agent; mutated and random frames of every protocol the director parses are
// written onto its real TAP, and IPIP/GUE garbage onto the real server's link for the agent,
// while a curl loop runs through the VIP. At the end the director and the agent must be up,
// the director's frames in = the sum of its verdicts = the TAP's tx (what the kernel handed
// it), the agent's received = accepted + drops, and every curl must have succeeded.
import { execFile } from 'node:child_process';
import { boundChild, linkCounter, metricSamples, scrape } from './c-tools.js';
import { AgentFrameFuzzer, DirectorFrameFuzzer, type KindCounts } from './frame-fuzzer.js';
import { injectFrames } from './frame-injector.js';
import { LAB_APP_HTTP_PORT, LAB_APP_UDP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from './lab-daemons.js';
import { freshSeed, SeededRandom } from './seeded-random.js';
import { buildLab, type Lab } from './vs-lab.js';
import { DEFAULT_GUE_PORT } from '../agent/agent-config.js';
import { parseMac } from '../wire/ethernet.js';

export interface FuzzOptions {
  frames: number;
  seed?: number;
  /** Frames per second per injector (director and agent each). Default 20 000. */
  rate?: number;
  /** Share of the frames aimed at the agent (default 0.25). */
  agentShare?: number;
  /** Namespace prefix (default "fz"). */
  prefix?: string;
  log?: (line: string) => void;
}

export interface FuzzResult {
  seed: number;
  ok: boolean;
  problems: string[];
  director: { injected: number; sendErrors: number; kinds: KindCounts; framesIn: number; verdictSum: number; tapTx: number; tapDropped: number; alive: boolean; verdicts: Record<string, number> };
  agent: { injected: number; sendErrors: number; kinds: KindCounts; received: number; accepted: number; drops: Record<string, number>; alive: boolean };
  curls: { ok: number; failed: number; failures: string[] };
  seconds: number;
}

const DIRECTOR_MAC = '02:56:53:54:00:02';
/** Most frames per second aimed at the agent. */
const AGENT_RATE = 5000;

/** Reasons counted after acceptance or outside the received count (see decap-counters.ts). */
const AGENT_NOT_PER_PACKET = new Set(['rx-truncated', 'tun-write-dropped', 'tun-write-error', 'socket-overflow']);

export async function runFuzzCampaign(opts: FuzzOptions): Promise<FuzzResult> {
  const seed = opts.seed ?? freshSeed();
  const log = opts.log ?? (() => {});
  const rate = opts.rate ?? 20_000;
  const agentFrames = Math.round(opts.frames * (opts.agentShare ?? 0.25));
  const directorFrames = opts.frames - agentFrames;
  const t0 = Date.now();
  log(`fuzz: seed ${seed}, ${directorFrames} frames at the director's TAP, ${agentFrames} at the agent, ${rate} frames/s each`);
  const lab = buildLab({ prefix: opts.prefix ?? 'fz', realServers: 1 });
  let director: DirectorHandle | undefined;
  let agent: Daemon | undefined;
  try {
    const rs = lab.realServers[0];
    agent = await startAgent(lab, rs);
    await startLabApp(lab, rs);
    const servers = [{ address: rs.rip }];
    const config = ['director:', `  mac: "${DIRECTOR_MAC}"`, 'services:', serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'mh', realServers: servers }), serviceYaml({ protocol: 'udp', vip: lab.vip, port: LAB_APP_UDP_PORT, scheduler: 'mh', realServers: servers }), ''].join('\n');
    director = await startDirector(lab, { config });
    const url = `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;
    await waitForCurl(lab, url);

    const macOf = (ns: string, dev: string) => parseMac((JSON.parse(lab.topo.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev]))[0] as { address: string }).address)!;
    const rng = new SeededRandom(seed);
    const dFuzz = new DirectorFrameFuzzer({ directorMac: parseMac(DIRECTOR_MAC)!, kernelMac: macOf(lab.director, director.tap), linkAddress: '169.254.77.2', kernelAddress: '169.254.77.1', vip: lab.vip, tcpPort: LAB_APP_HTTP_PORT, udpPort: LAB_APP_UDP_PORT }, rng);
    const aFuzz = new AgentFrameFuzzer({ rsMac: macOf(rs.ns, 'eth0'), routerMac: macOf(lab.router, `site${rs.index}`), rip: rs.rip, dip: lab.dip, vip: lab.vip, udpPort: LAB_APP_UDP_PORT, guePort: DEFAULT_GUE_PORT }, new SeededRandom(rng.next()));

    const before = await director.control('counters');
    const tx0 = linkCounter(lab, lab.director, director.tap, 'tx_packets');
    const drop0 = linkCounter(lab, lab.director, director.tap, 'tx_dropped');
    const agentBefore = agentCounts(lab, rs.ns);

    // The curl loop runs until both injectors are done.
    let injecting = true;
    const curls = { ok: 0, failed: 0, failures: [] as string[] };
    const loop = (async () => {
      while (injecting) {
        const r = await curlOnce(lab, url);
        if (r === 'rs1') curls.ok++;
        else {
          curls.failed++;
          if (curls.failures.length < 10) curls.failures.push(r);
        }
      }
    })();
    log(`fuzz: injecting (director MAC ${DIRECTOR_MAC}, VIP ${lab.vip})`);
    // Generous bounds: with flow control the director side goes no faster than the director reads (≥ 200 frames/s assumed).
    const budgetMs = (frames: number) => 120_000 + frames * 5;
    const progress = setInterval(() => log(`fuzz: ${Math.round((Date.now() - t0) / 1000)} s, curls ${curls.ok} ok / ${curls.failed} failed`), 30_000);
    progress.unref();
    let dRes, aRes;
    try {
      [dRes, aRes] = await Promise.all([
        // At most 2048 frames ahead of what the director has read (its TAP queue holds 8192).
        injectFrames(lab, lab.director, director.tap, directorFrames, () => dFuzz.next(), rate, budgetMs(directorFrames), { taken: async () => (await director!.control('counters')).framesIn, window: 2048 }),
        // Most agent frames never reach its sockets (the kernel drops them first), so no window here:
        // a rate it keeps up with; what its socket buffer cannot hold is counted as socket-overflow.
        injectFrames(lab, lab.router, `site${rs.index}`, agentFrames, () => aFuzz.next(), Math.min(rate, AGENT_RATE), budgetMs(agentFrames)),
      ]);
    } finally {
      injecting = false;
      clearInterval(progress);
      await loop;
    }
    await new Promise((r) => setTimeout(r, 1500));

    const problems: string[] = [];
    const directorAlive = director.child.exitCode === null && (await director.control('status').catch(() => ({ ok: false }))).ok === true;
    if (!directorAlive) problems.push('the director is not running');
    const after = await director.control('counters');
    const verdicts: Record<string, number> = {};
    let verdictSum = 0;
    for (const [k, v] of Object.entries(after.verdicts as Record<string, number>)) {
      const d = v - (before.verdicts[k] ?? 0);
      if (d > 0) verdicts[k] = d;
      if (k !== 'drop-tx-failed') verdictSum += d;
    }
    const framesIn = after.framesIn - before.framesIn;
    const tapTx = linkCounter(lab, lab.director, director.tap, 'tx_packets') - tx0;
    const tapDropped = linkCounter(lab, lab.director, director.tap, 'tx_dropped') - drop0;
    if (framesIn !== verdictSum) problems.push(`director frames in ${framesIn} != sum of verdicts ${verdictSum}`);
    if (framesIn !== tapTx) problems.push(`director frames in ${framesIn} != TAP tx ${tapTx}`);
    if (dRes.sent + dRes.errors !== directorFrames) problems.push(`only ${dRes.sent + dRes.errors} of ${directorFrames} director frames were handed to the kernel`);

    const agentAlive = agent.child.exitCode === null;
    if (!agentAlive) problems.push('the agent is not running');
    const agentAfter = agentAlive ? agentCounts(lab, rs.ns) : agentBefore;
    const received = agentAfter.received - agentBefore.received;
    const accepted = agentAfter.accepted - agentBefore.accepted;
    const drops: Record<string, number> = {};
    let perPacketDrops = 0;
    for (const [k, v] of Object.entries(agentAfter.drops)) {
      const d = v - (agentBefore.drops[k] ?? 0);
      if (d > 0) drops[k] = d;
      if (!AGENT_NOT_PER_PACKET.has(k)) perPacketDrops += d;
    }
    if (received !== accepted + perPacketDrops) problems.push(`agent received ${received} != accepted ${accepted} + drops ${perPacketDrops}`);
    if (curls.failed > 0) problems.push(`${curls.failed} of ${curls.ok + curls.failed} curls failed: ${curls.failures.join('; ')}`);
    if (curls.ok === 0) problems.push('no curl ran');

    return {
      seed,
      ok: problems.length === 0,
      problems,
      director: { injected: dRes.sent, sendErrors: dRes.errors, kinds: dFuzz.kinds, framesIn, verdictSum, tapTx, tapDropped, alive: directorAlive, verdicts },
      agent: { injected: aRes.sent, sendErrors: aRes.errors, kinds: aFuzz.kinds, received, accepted, drops, alive: agentAlive },
      curls,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await director?.stop(5000);
    await agent?.stop(5000);
    lab.cleanup();
  }
}

/** The agent's decap counters from its /metrics (received over all sources, accepted over all VIPs, drops by reason). */
function agentCounts(lab: Lab, ns: string): { received: number; accepted: number; drops: Record<string, number> } {
  const text = scrape(lab, ns, '127.0.0.1:9470');
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const drops: Record<string, number> = {};
  for (const [labels, v] of Object.entries(metricSamples(text, 'vstun_agent_decap_drops_total'))) drops[/reason="([^"]+)"/.exec(labels)?.[1] ?? labels] = v;
  return { received: sum(metricSamples(text, 'vstun_agent_decap_received_packets_total')), accepted: sum(metricSamples(text, 'vstun_agent_decap_packets_total')), drops };
}

/** One GET through the VIP from the client; resolves with the body, or a description of the failure. */
export function curlOnce(lab: Lab, url: string, maxTimeS = 10): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile('ip', ['netns', 'exec', lab.client, 'curl', '-s', '-S', '--max-time', String(maxTimeS), url], { timeout: (maxTimeS + 5) * 1000 }, (err, stdout, stderr) => {
      resolve(err ? `curl failed: ${(stderr || err.message).trim()}` : stdout.trim());
    });
    boundChild(child, (maxTimeS + 10) * 1000);
  });
}

async function waitForCurl(lab: Lab, url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await curlOnce(lab, url, 2)) === 'rs1') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer through ${url}`);
}

