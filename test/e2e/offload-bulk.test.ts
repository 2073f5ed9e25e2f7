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
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, serviceYaml } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { agentGroCounters, BulkDaemons, downloadThroughVip, uploadThroughVip } from '../support/bulk-transfer.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const MB = Number(process.env.VSTUN_BULK_MB ?? 64);
const SIZE = MB * 1024 * 1024;
const TRANSFER_TIMEOUT_S = Math.max(120, MB * 3);
/** Frames tshark checks (the sample); tcpdump stops after this many. */
const SAMPLE = 3000;

describe.skipIf(!canRunNetnsTests())(`bulk TCP through the VIP with offloads (${MB} MB each way)`, () => {
  let lab: Lab;
  let daemons: BulkDaemons;
  let uploadFile: string;
  let uploadSha: string;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'of', realServers: 1 });
    daemons = new BulkDaemons(lab);
    uploadFile = path.join(lab.workDir, 'upload.bin');
    const body = randomBytes(SIZE);
    writeFileSync(uploadFile, body);
    uploadSha = createHash('sha256').update(body).digest('hex');
  }, 120_000);

  const service = () => serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler: 'rr', realServers: [{ address: lab.realServers[0].rip }] });

  afterAll(async () => {
    await daemons?.stop();
    lab?.cleanup();
  });

  /** Upload and download through the VIP while tcpdump samples the tunnel at the real server; checks sha256 and checksums. */
  async function transfer(tag: string): Promise<void> {
    const rs = lab.realServers[0];
    const pcap = path.join(lab.workDir, `tunnel-${tag}.pcap`);
    const dump = lab.topo.spawn(rs.ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-s', '256', '-c', String(SAMPLE), '-i', 'eth0', '-w', pcap, 'ip proto 4']);
    try {
      await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
      await new Promise((r) => setTimeout(r, 300));
      uploadThroughVip(lab, uploadFile, SIZE, uploadSha, TRANSFER_TIMEOUT_S);
      await downloadThroughVip(lab, tag, SIZE, TRANSFER_TIMEOUT_S);
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
    const d = await daemons.start(true, service());
    const before = await d.control('offload');
    // 24 where the kernel takes GSO over UDP tunnels (used for GUE servers only; IPIP frames go out one by one behind it).
    expect(before.vnetHdrLen).toBe(before.offloads.includes('udp-tunnel-gso') ? 24 : 12);
    expect(before.offloads).toEqual(expect.arrayContaining(['csum', 'tso4', 'tso6']));
    await transfer('on');
    const after = await d.control('offload');
    // The upload arrived as super-packets and left as MSS-sized IPIP segments.
    expect(after.counters.gsoPackets).toBeGreaterThan(0);
    expect(after.counters.gsoSegments).toBeGreaterThan(after.counters.gsoPackets);
    expect(after.counters.dropGsoUnsupported + after.counters.dropGsoMalformed + after.counters.dropGsoNoRoom + after.counters.dropBadVnetHeader).toBe(0);
    const gro = agentGroCounters(lab);
    expect(gro['super-packets']).toBeGreaterThan(0);
    expect(gro['merged-segments']).toBeGreaterThan(gro['super-packets']);
    expect(gro['bad-checksum']).toBe(0);
  }, 900_000);

  it('offloads forced off (--no-offload on both): no virtio-net header, no super-packets; sha256 and checksums hold', async () => {
    const d = await daemons.start(false, service());
    const st = await d.control('offload');
    expect(st.vnetHdrLen).toBe(0);
    expect(st.counters).toBeNull();
    await transfer('off');
    expect(agentGroCounters(lab)).toEqual({});
  }, 900_000);
});
