// The soak campaign (npm run soak -- --minutes M [--seed S]): a lab with the built director and
// two agents under moderate mixed traffic for M minutes (a curl loop of new TCP connections, a
// UDP echo flow at 200 datagrams/s, background UDP over many source ports, and a trickle of
// fuzzed frames on the TAP), with the director's and the agents' RSS sampled every 30 s. Reports
// the RSS slope (least squares, KB/min) and whether every curl succeeded.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { boundChild, buildCTools, collectLines, exited, lastJson, linkCounter } from './c-tools.js';
import { DirectorFrameFuzzer } from './frame-fuzzer.js';
import { injectFrames } from './frame-injector.js';
import { curlOnce } from './fuzz-campaign.js';
import { LAB_APP_HTTP_PORT, LAB_APP_UDP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from './lab-daemons.js';
import { freshSeed, SeededRandom } from './seeded-random.js';
import { buildLab } from './vs-lab.js';
import { parseMac } from '../wire/ethernet.js';

export interface SoakOptions {
  minutes: number;
  seed?: number;
  /** Seconds between RSS samples (default 30). */
  sampleSeconds?: number;
  prefix?: string;
  log?: (line: string) => void;
}

export interface RssSample {
  atS: number;
  directorKiB: number;
  agentsKiB: number[];
}

export interface SoakResult {
  seed: number;
  ok: boolean;
  problems: string[];
  minutes: number;
  samples: RssSample[];
  /** Least-squares slope of the director's RSS over the run, KB per minute. */
  directorSlopeKbPerMin: number;
  agentSlopesKbPerMin: number[];
  /** Every failed curl (the first 200) with when it happened and what curl said. */
  curls: { ok: number; failed: number; failures: CurlFailure[]; reasons: Record<string, number> };
  udpEcho: { sent: number; received: number };
  fuzzFrames: number;
}

export interface CurlFailure {
  /** Seconds into the run when the curl started. */
  atS: number;
  /** How long it took to fail, ms. */
  tookMs: number;
  reason: string;
  /** The machine's 1-minute load average then. */
  load: number;
  /** Frames the kernel dropped at the director's TAP (queue full: the director did not read in time) since the previous failure, or since at most 200 answered curls before. */
  tapDropped: number;
  /** Director RSS then, MB. */
  directorMb: number;
}

/** The class of a failed curl's message, for counting: curl's exit code and its text without numbers (times, bytes, ports). */
export function failureClass(reason: string): string {
  return reason.replace(/\d+/g, (m, off: number, all: string) => (all[off - 1] === '(' ? m : 'N')).slice(0, 120);
}

const DIRECTOR_MAC = '02:56:53:54:00:02';

/** Least-squares slope of y over x. 0 for fewer than two points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function runSoakCampaign(opts: SoakOptions): Promise<SoakResult> {
  const seed = opts.seed ?? freshSeed();
  const log = opts.log ?? (() => {});
  const sampleS = opts.sampleSeconds ?? 30;
  const durationS = Math.round(opts.minutes * 60);
  log(`soak: seed ${seed}, ${opts.minutes} min, RSS every ${sampleS} s`);
  const lab = buildLab({ prefix: opts.prefix ?? 'sk', realServers: 2 });
  let director: DirectorHandle | undefined;
  const agents: Daemon[] = [];
  try {
    const tools = buildCTools(lab.workDir, ['udp_rtt']);
    for (const rs of lab.realServers) {
      agents.push(await startAgent(lab, rs));
      await startLabApp(lab, rs);
    }
    const servers = lab.realServers.map((rs) => ({ address: rs.rip }));
    const config = ['director:', `  mac: "${DIRECTOR_MAC}"`, 'services:', serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'wrr', realServers: servers }), serviceYaml({ protocol: 'udp', vip: lab.vip, port: LAB_APP_UDP_PORT, scheduler: 'mh', realServers: servers }), ''].join('\n');
    director = await startDirector(lab, { config });
    const url = `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;
    for (let i = 0; i < 100 && !/^rs\d$/.test(await curlOnce(lab, url, 2)); i++) await new Promise((r) => setTimeout(r, 200));

    const t0 = Date.now();
    const elapsedS = () => (Date.now() - t0) / 1000;
    const samples: RssSample[] = [];
    const sample = () => {
      samples.push({ atS: Math.round(elapsedS()), directorKiB: rssKiB(director!.child.pid), agentsKiB: agents.map((a) => rssKiB(a.child.pid)) });
      const s = samples[samples.length - 1];
      log(`soak: ${s.atS} s, director RSS ${Math.round(s.directorKiB / 1024)} MB, agents ${s.agentsKiB.map((k) => Math.round(k / 1024)).join('/')} MB`);
    };
    sample();
    const sampler = setInterval(sample, sampleS * 1000);
    sampler.unref();

    // UDP: one echo flow, and background datagrams from many source ports (new flows all along).
    const probe = lab.topo.spawn(lab.client, tools.udp_rtt, ['probe', lab.vip, String(LAB_APP_UDP_PORT), '200', String(durationS)]);
    const load = lab.topo.spawn(lab.client, tools.udp_rtt, ['load', lab.vip, String(LAB_APP_UDP_PORT), '2000', String(durationS)]);
    for (const c of [probe, load]) boundChild(c, (durationS + 30) * 1000);
    const probeOut = collectLines(probe);

    // A trickle of fuzzed frames on the TAP: 50/s.
    const kernelMac = parseMac((JSON.parse(lab.topo.exec(lab.director, 'ip', ['-j', 'link', 'show', 'dev', director.tap]))[0] as { address: string }).address)!;
    const fuzz = new DirectorFrameFuzzer({ directorMac: parseMac(DIRECTOR_MAC)!, kernelMac, linkAddress: '169.254.77.2', kernelAddress: '169.254.77.1', vip: lab.vip, tcpPort: LAB_APP_HTTP_PORT, udpPort: LAB_APP_UDP_PORT }, new SeededRandom(seed));
    const fuzzCount = 50 * durationS;
    const fuzzing = injectFrames(lab, lab.director, director.tap, fuzzCount, () => fuzz.next(), 50, (durationS + 60) * 1000);

    const curls = { ok: 0, failed: 0, failures: [] as CurlFailure[], reasons: {} as Record<string, number> };
    const tapDrops = () => {
      try {
        return linkCounter(lab, lab.director, director!.tap, 'tx_dropped');
      } catch {
        return NaN;
      }
    };
    let dropsBefore = tapDrops();
    while (elapsedS() < durationS) {
      const atS = elapsedS();
      const started = Date.now();
      const body = await curlOnce(lab, url);
      if (/^rs\d$/.test(body)) {
        curls.ok++;
        if (curls.ok % 200 === 0) dropsBefore = tapDrops();
      } else {
        curls.failed++;
        const dropsNow = tapDrops();
        const f: CurlFailure = {
          atS: Math.round(atS * 10) / 10,
          tookMs: Date.now() - started,
          reason: body.slice(0, 300) || '(empty answer)',
          load: Math.round(loadavg()[0] * 10) / 10,
          tapDropped: dropsNow - dropsBefore,
          directorMb: Math.round(rssKiB(director.child.pid) / 1024),
        };
        dropsBefore = dropsNow;
        if (curls.failures.length < 200) curls.failures.push(f);
        const cls = failureClass(f.reason);
        curls.reasons[cls] = (curls.reasons[cls] ?? 0) + 1;
        log(`soak: curl failed at ${f.atS} s after ${f.tookMs} ms (load ${f.load}, TAP dropped ${f.tapDropped} frames lately, director ${f.directorMb} MB): ${f.reason}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all([exited(probe), exited(load)]);
    const fuzzRes = await fuzzing;
    sample();
    clearInterval(sampler);

    const problems: string[] = [];
    if (director.child.exitCode !== null) problems.push('the director exited');
    agents.forEach((a, i) => a.child.exitCode !== null && problems.push(`agent ${i + 1} exited`));
    if (curls.failed > 0) problems.push(`${curls.failed} of ${curls.ok + curls.failed} curls failed (${Object.entries(curls.reasons).map(([r, n]) => `${n}× ${r}`).join('; ')})`);
    const echo = lastJson(probeOut);
    const minutes = samples.map((s) => s.atS / 60);
    const result: SoakResult = {
      seed,
      ok: problems.length === 0,
      problems,
      minutes: opts.minutes,
      samples,
      directorSlopeKbPerMin: Math.round(slope(minutes, samples.map((s) => s.directorKiB)) * 10) / 10,
      agentSlopesKbPerMin: agents.map((_, i) => Math.round(slope(minutes, samples.map((s) => s.agentsKiB[i])) * 10) / 10),
      curls,
      udpEcho: { sent: echo.sent, received: echo.received },
      fuzzFrames: fuzzRes.sent,
    };
    return result;
  } finally {
    await director?.stop(5000);
    for (const a of agents) await a.stop(5000);
    lab.cleanup();
  }
}
