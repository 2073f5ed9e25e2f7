// Bulk TCP through the VIP with TAP/TUN offloads on, then forced off: the real
// vstun-director (TAP with a virtio-net header: TSO super-packets from the kernel, segmented
// in software into IPIP) and a real vstun-agent (TUN with a virtio-net header: user-space
// GRO writes coalesced super-packets). A file goes up (client → VIP → director → agent → app)
// and one comes down (app → client directly, the client's ACKs through director + agent);
// sha256 is checked at both ends. tshark validates every checksum of a sample of the
// tunnelled traffic captured at the real server's uplink.
// Size: VSTUN_BULK_MB (default 64 MB each way here; the 200 MB run is the same test with
// VSTUN_BULK_MB=200). Every transfer is bounded by curl's --max-time.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const MB = Number(process.env.VSTUN_BULK_MB ?? 64);
const SIZE = MB * 1024 * 1024;
const TRANSFER_TIMEOUT_S = Math.max(120, MB * 3);
/** Frames tshark checks (the sample); tcpdump stops after this many. */
const SAMPLE = 3000;

/** sha256 of what the lab app serves for GET /bytes/N (a 64 KiB pattern repeated; src/lab/lab-app.ts). */
function labPatternSha(total: number): string {
  const pattern = Buffer.alloc(64 * 1024, 'vstun lab payload ');
  const h = createHash('sha256');
  for (let left = total; left > 0; left -= pattern.length) h.update(pattern.subarray(0, Math.min(left, pattern.length)));
  return h.digest('hex');
}

async function fileSha(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe.skipIf(!canRunNetnsTests())(`bulk TCP through the VIP with offloads (${MB} MB each way)`, () => {
  let lab: Lab;
  let agent: Daemon | undefined;
  let app: Daemon | undefined;
  let director: DirectorHandle | undefined;
  let uploadFile: string;
  let uploadSha: string;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'of', realServers: 1 });
    uploadFile = path.join(lab.workDir, 'upload.bin');
    const body = randomBytes(SIZE);
    writeFileSync(uploadFile, body);
    uploadSha = createHash('sha256').update(body).digest('hex');
  }, 120_000);

  afterAll(async () => {
    await director?.stop().catch(() => null);
    await app?.stop().catch(() => null);
    await agent?.stop().catch(() => null);
    lab?.cleanup();
  });

  async function start(offload: boolean): Promise<DirectorHandle> {
    await director?.stop();
    await app?.stop();
    await agent?.stop();
    const rs = lab.realServers[0];
    const off = offload ? ['--offload'] : ['--no-offload'];
    agent = await startAgent(lab, rs, { extraArgs: off });
    app = await startLabApp(lab, rs);
    director = await startDirector(lab, {
      config: ['services:', serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'rr', realServers: [{ address: rs.rip }] }), ''].join('\n'),
      extraArgs: off,
    });
    return director;
  }

  async function agentGro(): Promise<Record<string, number>> {
    const text = lab.topo.exec(lab.realServers[0].ns, 'curl', ['-s', '--max-time', '5', 'http://127.0.0.1:9470/metrics']);
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^vstun_agent_gro_total\{what="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }

  /** Upload and download through the VIP while tcpdump samples the tunnel at the real server; checks sha256 and checksums. */
  async function transfer(tag: string): Promise<void> {
    const rs = lab.realServers[0];
    const pcap = path.join(lab.workDir, `tunnel-${tag}.pcap`);
    const dump = lab.topo.spawn(rs.ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-s', '256', '-c', String(SAMPLE), '-i', 'eth0', '-w', pcap, 'ip proto 4']);
    try {
      await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
      await new Promise((r) => setTimeout(r, 300));
      const up = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', String(TRANSFER_TIMEOUT_S), '-H', 'Expect:', '--data-binary', `@${uploadFile}`, `http://${lab.vip}:${LAB_APP_HTTP_PORT}/upload`], (TRANSFER_TIMEOUT_S + 10) * 1000);
      expect(up.status, `upload: ${up.stderr}`).toBe(0);
      // The server's sha256 of what it received equals the client's of what it sent.
      expect(up.stdout.trim().split(' ')).toEqual(['rs1', String(SIZE), uploadSha]);
      const file = path.join(lab.workDir, `download-${tag}.bin`);
      const dl = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', String(TRANSFER_TIMEOUT_S), '-o', file, '-w', '%{http_code}', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/bytes/${SIZE}`], (TRANSFER_TIMEOUT_S + 10) * 1000);
      expect(dl.stdout, dl.stderr).toBe('200');
      expect(statSync(file).size).toBe(SIZE);
      expect(await fileSha(file)).toBe(labPatternSha(SIZE));
    } finally {
      if (dump.exitCode === null) dump.kill('SIGINT');
      await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    }
    // Every outer and inner IPv4 header checksum and every TCP checksum in the sample is good
    // (the director's segments carry full checksums; none is left partial).
    const fields = lab.topo
      .exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp', '-T', 'fields', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.len'], { timeoutMs: 120_000 })
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(fields.length).toBeGreaterThan(100);
    // With -s 256 the payload is cut, so tshark marks the TCP checksum unverified (2) on data segments; full ones (pure ACKs, SYNs) must be good.
    for (const f of fields) {
      const [ipStatus, tcpStatus] = f.split('\t');
      expect(ipStatus, f).toBe('1,1');
      expect(['1', '2'], f).toContain(tcpStatus);
    }
    const bad = lab.topo.exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad"'], { timeoutMs: 120_000 });
    expect(bad.trim()).toBe('');
  }

  it('offloads on: TSO super-packets are segmented by the director, GRO super-packets written by the agent; sha256 and checksums hold', async () => {
    const d = await start(true);
    const before = await d.control('offload');
    expect(before.vnetHdrLen).toBe(12);
    expect(before.offloads).toEqual(expect.arrayContaining(['csum', 'tso4', 'tso6']));
    await transfer('on');
    const after = await d.control('offload');
    // The upload arrived as super-packets and left as MSS-sized IPIP segments.
    expect(after.counters.gsoPackets).toBeGreaterThan(0);
    expect(after.counters.gsoSegments).toBeGreaterThan(after.counters.gsoPackets);
    expect(after.counters.dropGsoUnsupported + after.counters.dropGsoMalformed + after.counters.dropGsoNoRoom + after.counters.dropBadVnetHeader).toBe(0);
    const gro = await agentGro();
    expect(gro['super-packets']).toBeGreaterThan(0);
    expect(gro['merged-segments']).toBeGreaterThan(gro['super-packets']);
    expect(gro['bad-checksum']).toBe(0);
  }, 900_000);

  it('offloads forced off (--no-offload on both): no virtio-net header, no super-packets; sha256 and checksums hold', async () => {
    const d = await start(false);
    const st = await d.control('offload');
    expect(st.vnetHdrLen).toBe(0);
    expect(st.counters).toBeNull();
    await transfer('off');
    expect(await agentGro()).toEqual({});
  }, 900_000);
});
