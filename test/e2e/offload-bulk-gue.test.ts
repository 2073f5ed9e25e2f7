// Bulk TCP through the VIP to a GUE real server, with the kernel's GSO over UDP tunnels
// (Linux 6.17+; the director probes it) and without: the real vstun-director joins the GUE
// segments of a flow into one super-packet per TAP write (24-byte virtio-net header,
// gso_type TCPV4 | UDP_TUNNEL_IPV4), the kernel carries it to the real server whole over the
// lab's veths or cuts it where a link cannot take it, and the real vstun-agent receives it as
// one datagram and writes it into its TUN with NEEDS_CSUM. A file goes up and one comes down;
// sha256 is checked at both ends. Checksums: the captured sample's inner packets are checked
// by tshark (decapsulated into a raw-IP capture, tshark has no GUE dissector), whole
// super-packets by their partial-checksum form, and a phase with a tbf qdisc on the director
// host's uplink (which makes the kernel cut every super-packet in software) checks every
// kernel-made segment: IP checksums good, TCP checksums good or left partial for the device
// (a veth never completes them; the agent passes those on with NEEDS_CSUM). Then the same
// transfers with offloads forced off, where every checksum must be complete.
// Size: VSTUN_BULK_MB (default 64 MB each way; the 200 MB run is VSTUN_BULK_MB=200).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { foldSum, pseudoHeaderSumV4At } from '../../src/wire/checksum.js';
import { agentGroCounters, BulkDaemons, downloadThroughVip, uploadThroughVip } from '../support/bulk-transfer.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
import { parseGueFrame, pcapFrames, writeInnerPcap } from '../support/pcap-read.js';

const MB = Number(process.env.VSTUN_BULK_MB ?? 64);
const SIZE = MB * 1024 * 1024;
const TRANSFER_TIMEOUT_S = Math.max(120, MB * 3);
const GUE_PORT = 6080;
/** Frames captured (whole) at the real server's uplink. */
const SAMPLE = 800;
/** Upload of the phase where the kernel cuts every super-packet (a tbf qdisc in the path). */
const CUT_SIZE = 16 * 1024 * 1024;

describe.skipIf(!canRunNetnsTests())(`bulk TCP to a GUE real server, GSO over UDP tunnels (${MB} MB each way)`, () => {
  let lab: Lab;
  let daemons: BulkDaemons;
  let uploadFile: string;
  let uploadSha: string;
  let cutFile: string;
  let cutSha: string;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'og', realServers: 1 });
    daemons = new BulkDaemons(lab);
    uploadFile = path.join(lab.workDir, 'upload.bin');
    const body = randomBytes(SIZE);
    writeFileSync(uploadFile, body);
    uploadSha = createHash('sha256').update(body).digest('hex');
    cutFile = path.join(lab.workDir, 'upload-cut.bin');
    const cut = body.subarray(0, CUT_SIZE);
    writeFileSync(cutFile, cut);
    cutSha = createHash('sha256').update(cut).digest('hex');
  }, 120_000);

  const service = () => `  - { protocol: tcp, vip: "${lab.vip}", port: ${LAB_APP_HTTP_PORT}, scheduler: rr, realServers: [{ address: "${lab.realServers[0].rip}", tunnel: gue }] }`;

  afterAll(async () => {
    await daemons?.stop();
    lab?.cleanup();
  });

  /** Runs `traffic` while tcpdump keeps the first SAMPLE GUE frames (whole) at the real server; returns the capture. */
  async function captured(tag: string, traffic: () => Promise<void>): Promise<string> {
    const pcap = path.join(lab.workDir, `gue-${tag}.pcap`);
    const dump = lab.topo.spawn(lab.realServers[0].ns, 'tcpdump', ['-U', '--immediate-mode', '-n', '-s', '0', '-c', String(SAMPLE), '-i', 'eth0', '-w', pcap, `udp dst port ${GUE_PORT}`]);
    try {
      await waitFor(() => existsSync(pcap), 10_000, 'tcpdump to start');
      await new Promise((r) => setTimeout(r, 300));
      await traffic();
    } finally {
      if (dump.exitCode === null) dump.kill('SIGINT');
      await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
    }
    return pcap;
  }

  /**
   * Checks the capture: every outer IPv4 checksum good (tshark); every inner IPv4 checksum of
   * the frames that fit a 1500-byte link good, and every inner TCP checksum good (tshark on
   * the decapsulated packets) or, with `allowPartial`, in the CHECKSUM_PARTIAL form (the
   * folded pseudo-header sum for its length): segments the kernel cut from a super-packet
   * keep that form for the device to complete, and a veth leaves it to the receiver. Every
   * larger frame (a super-packet carried whole) has outer lengths that match it and its inner
   * TCP checksum field in the CHECKSUM_PARTIAL form. Returns the super-packets and the
   * partial-form segments seen.
   */
  function checkSample(pcap: string, tag: string, allowPartial: boolean): { supers: number; partial: number; longest: number } {
    const frames = pcapFrames(pcap);
    expect(frames.length).toBeGreaterThan(100);
    const outer = lab.topo.exec(null, 'tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'ip.checksum.status'], { timeoutMs: 120_000 }).trim().split('\n');
    expect(new Set(outer)).toEqual(new Set(['1']));
    const small = frames.filter((f) => f.origLength <= 1514);
    const inner = path.join(lab.workDir, `inner-${tag}.pcap`);
    const written = writeInnerPcap(small, GUE_PORT, inner);
    let supers = 0;
    for (const fr of frames) {
      const f = fr.bytes;
      const g = parseGueFrame(f, GUE_PORT);
      expect(g, `frame of ${f.length} bytes is GUE`).not.toBeNull();
      expect(g!.udpChecksum).toBe(0);
      if (fr.origLength <= 1514) continue;
      supers++;
      expect(f.length).toBe(fr.origLength);
      expect(((f[16] << 8) | f[17]) + 14).toBe(f.length);
      expect(((f[g!.udp + 4] << 8) | f[g!.udp + 5]) + g!.udp).toBe(f.length);
      const ip = g!.inner;
      expect(f[ip]).toBe(0x45);
      expect(f[ip + 9]).toBe(6);
      expect(((f[ip + 2] << 8) | f[ip + 3]) + ip).toBe(f.length);
      const tcpLen = f.length - ip - 20;
      expect((f[ip + 36] << 8) | f[ip + 37], 'inner TCP checksum field = folded pseudo-header sum').toBe(foldSum(pseudoHeaderSumV4At(f, ip + 12, ip + 16, 6, tcpLen)));
    }
    let partial = 0;
    if (written > 0) {
      const fields = ['ip.checksum.status', 'tcp.checksum.status', 'ip.src', 'ip.dst', 'ip.len', 'ip.hdr_len', 'tcp.checksum'];
      const rows = lab.topo
        .exec(null, 'tshark', ['-n', '-r', inner, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp', '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { timeoutMs: 120_000 })
        .trim()
        .split('\n')
        .filter(Boolean);
      // Most inner packets are TCP (the rest: the director's tunnel health probes); every one is checked.
      expect(rows.length).toBeGreaterThan(written / 2);
      for (const row of rows) {
        const [ipStatus, tcpStatus, src, dst, ipLen, hdrLen, tcpCsum] = row.split('\t');
        expect(ipStatus, row).toBe('1');
        if (tcpStatus === '1') continue;
        expect(allowPartial, `inner TCP checksum not good: ${row}`).toBe(true);
        const words = [...src.split('.'), ...dst.split('.')].map(Number);
        let sum = 6 + Number(ipLen) - Number(hdrLen);
        for (let k = 0; k < 8; k += 2) sum += (words[k] << 8) | words[k + 1];
        expect(Number(tcpCsum), `inner TCP checksum neither good nor partial: ${row}`).toBe(foldSum(sum));
        partial++;
      }
    }
    return { supers, partial, longest: Math.max(...frames.map((f) => f.origLength)) };
  }

  it('GSO over UDP tunnels: GUE super-packets written by the director, carried whole or cut by the kernel; sha256 and checksums hold', async () => {
    const d = await daemons.start(true, service());
    const st = await d.control('offload');
    if (!st.offloads.includes('udp-tunnel-gso')) {
      // A kernel before 6.17 refuses the flag: the director falls back to one write per segment.
      expect(st.vnetHdrLen).toBe(12);
      console.warn('this kernel refuses TUN_F_UDP_TUNNEL_GSO: the super-packet checks are skipped');
      return;
    }
    expect(st.vnetHdrLen).toBe(24);
    const pcap = await captured('on', async () => {
      uploadThroughVip(lab, uploadFile, SIZE, uploadSha, TRANSFER_TIMEOUT_S);
      await downloadThroughVip(lab, 'on', SIZE, TRANSFER_TIMEOUT_S);
    });
    const after = await d.control('offload');
    expect(after.counters.tunnelGsoPackets).toBeGreaterThan(0);
    expect(after.counters.tunnelGsoSegments).toBeGreaterThan(after.counters.tunnelGsoPackets * 2);
    expect(after.counters.dropGsoUnsupported + after.counters.dropGsoMalformed + after.counters.dropGsoNoRoom + after.counters.dropBadVnetHeader).toBe(0);
    // The lab's veths carry the super-packets whole to the real server.
    const { supers } = checkSample(pcap, 'on', false);
    expect(supers).toBeGreaterThan(0);
    const gro = agentGroCounters(lab);
    console.log(`tunnel GSO: ${after.counters.tunnelGsoPackets} super-packets of ${after.counters.tunnelGsoSegments} segments written; ${supers} of ${SAMPLE} sampled frames at the real server were whole super-packets; agent ${JSON.stringify(gro)}`);
    expect(gro['kernel-super-packets']).toBeGreaterThan(0);
    expect(gro['bad-checksum']).toBe(0);

    // A tbf qdisc on the director host's uplink cuts every GSO packet in software
    // (tbf_segment): tshark checks the segments the kernel made of our super-packets.
    // tbf cuts a GSO packet longer than its burst (1600 bytes: a 1514-byte frame still passes whole).
    lab.topo.exec(lab.director, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '40gbit', 'burst', '1600', 'limit', '4000000']);
    try {
      const before = (await d.control('offload')).counters.tunnelGsoPackets;
      const cut = await captured('cut', async () => uploadThroughVip(lab, cutFile, CUT_SIZE, cutSha, TRANSFER_TIMEOUT_S));
      expect((await d.control('offload')).counters.tunnelGsoPackets).toBeGreaterThan(before);
      const { partial, longest } = checkSample(cut, 'cut', true);
      expect(longest).toBeLessThanOrEqual(1600);
      console.log(`tbf in the path: every frame at the real server was a segment; ${partial} kept the partial inner TCP checksum for the device to complete`);
    } finally {
      lab.topo.exec(lab.director, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  }, 900_000);

  it('offloads forced off (--no-offload on both): one write per GUE segment; sha256 and checksums hold', async () => {
    const d = await daemons.start(false, service());
    const st = await d.control('offload');
    expect(st.vnetHdrLen).toBe(0);
    expect(st.counters).toBeNull();
    const pcap = await captured('off', async () => {
      uploadThroughVip(lab, uploadFile, SIZE, uploadSha, TRANSFER_TIMEOUT_S);
      await downloadThroughVip(lab, 'off', SIZE, TRANSFER_TIMEOUT_S);
    });
    expect(checkSample(pcap, 'off', false)).toMatchObject({ supers: 0, partial: 0 });
    expect(agentGroCounters(lab)).toEqual({});
  }, 900_000);
});
