// A raw IPPROTO_IPIP socket (the agent's user-space decap input) receives IP-in-IP packets
// sent across a veth from another namespace. Both ends are the project's own devices run in
// child processes inside the namespaces: the sender is a RawSocketDevice with IP_HDRINCL
// writing whole IPIP packets with sendmmsg, the receiver a RawSocketDevice for protocol 4
// reading with recvmmsg. A UDP pair checks the UdpSocketDevice the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Topology, canRunNetnsTests } from '../support/netns.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(ROOT, 'dist', 'device', 'raw-socket-device.js');
const SENDER = '10.78.0.1';
const RECEIVER = '10.78.0.2';
const COUNT = 300;

/** Receives until `COUNT` packets or a deadline, checks each one, prints one JSON line. */
const receiverCode = `
import { RawSocketDevice, UdpSocketDevice } from ${JSON.stringify(DIST)};
const want = Number(process.env.COUNT);
const kind = process.env.KIND;
const dev = kind === 'raw'
  ? RawSocketDevice.open({ family: 4, protocol: 4, rcvbuf: 4 << 20 })
  : UdpSocketDevice.open({ family: 4, address: process.env.BIND, port: 0, rcvbuf: 4 << 20 });
const r = { packets: 0, bytes: 0, bad: 0, seqs: 0, peers: {} };
let seqMask = new Uint8Array(want);
function done() {
  const s = dev.stats();
  r.seqs = seqMask.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ ...r, stats: s }));
  dev.close();
  process.exit(0);
}
dev.onBatch((b) => {
  for (let i = 0; i < b.count; i++) {
    const off = b.meta[i * 4], len = b.meta[i * 4 + 1];
    const fam = b.meta[i * 4 + 2], port = b.meta[i * 4 + 3];
    const a = b.addr.subarray(i * 16, i * 16 + 4).join('.');
    const key = fam + '/' + a + (kind === 'udp' ? ':' + port : '');
    r.peers[key] = (r.peers[key] ?? 0) + 1;
    r.packets++;
    r.bytes += len;
    // raw: outer IPv4 header then the inner packet; udp: payload only. Marker + sequence.
    let p = off;
    if (kind === 'raw') {
      const ihl = (b.data[off] & 15) * 4;
      if (b.data[off + 9] !== 4 || b.data.subarray(off + 12, off + 16).join('.') !== process.env.SENDER) { r.bad++; continue; }
      p = off + ihl + 28; // inner IPv4 (20) + UDP (8)
    }
    const seq = (b.data[p] << 8) | b.data[p + 1];
    if (b.data[p + 2] !== 0xa5 || seq >= want) { r.bad++; continue; }
    seqMask[seq] = 1;
  }
  if (r.packets >= want) done();
});
setTimeout(done, 10000);
console.log('ready');
`;

/** Sends COUNT packets in batches of 50 through a RawSocketDevice (hdrincl) or UdpSocketDevice. */
const senderCode = `
import { RawSocketDevice, UdpSocketDevice } from ${JSON.stringify(DIST)};
const want = Number(process.env.COUNT);
const kind = process.env.KIND;
const dst = process.env.DST.split('.').map(Number);
const src = process.env.SENDER.split('.').map(Number);
const dev = kind === 'raw'
  ? RawSocketDevice.open({ family: 4, protocol: 4, hdrincl: true })
  : UdpSocketDevice.open({ family: 4, address: process.env.SENDER, port: 0 });
const SLOT = 2048, BATCH = 50;
const data = new Uint8Array(BATCH * SLOT), meta = new Int32Array(BATCH * 4), addr = new Uint8Array(BATCH * 16);
function csum(buf, off, len) {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (buf[off + i] << 8) | buf[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
function ipv4(buf, off, total, proto, s, d) {
  buf.fill(0, off, off + 20);
  buf[off] = 0x45; buf[off + 2] = total >> 8; buf[off + 3] = total & 255; buf[off + 8] = 64; buf[off + 9] = proto;
  buf.set(s, off + 12); buf.set(d, off + 16);
  const c = csum(buf, off, 20); buf[off + 10] = c >> 8; buf[off + 11] = c & 255;
}
let sent = 0, bytes = 0;
for (let base = 0; base < want; base += BATCH) {
  const n = Math.min(BATCH, want - base);
  for (let i = 0; i < n; i++) {
    const seq = base + i, o = i * SLOT;
    const payload = 3 + (seq % 900); // seq(2) + marker(1) + filler
    let p = o, len = payload;
    if (kind === 'raw') {
      len = 20 + 20 + 8 + payload;
      ipv4(data, o, len, 4, src, dst);                       // outer: sender -> receiver, IPIP
      ipv4(data, o + 20, len - 20, 17, [192, 0, 2, 1], [198, 51, 100, 1]); // inner: client -> VIP, UDP
      const u = o + 40; data[u] = 0x30; data[u + 1] = 0x39; data[u + 2] = 0; data[u + 3] = 80;
      data[u + 4] = (8 + payload) >> 8; data[u + 5] = (8 + payload) & 255; data[u + 6] = 0; data[u + 7] = 0;
      p = u + 8;
    }
    data[p] = seq >> 8; data[p + 1] = seq & 255; data[p + 2] = 0xa5; data.fill(seq & 255, p + 3, p + payload);
    meta.set([o, len, 4, kind === 'udp' ? Number(process.env.PORT) : 0], i * 4);
    addr.set(dst, i * 16);
    bytes += len;
  }
  sent += dev.writeBatch(data, meta, n, addr);
  await new Promise((r) => setTimeout(r, 5)); // let the receiver drain: we test delivery, not loss
}
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ sent, bytes, stats: dev.stats() }));
dev.close();
`;

function collect(child: ChildProcess): { out: () => string; line: (pred: (l: string) => boolean, ms: number) => Promise<string>; exit: (ms: number) => Promise<number | null> } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    out: () => out,
    line: async (pred, ms) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = out.split('\n').find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no matching line in child output: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exit: (ms) =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const t = setTimeout(() => reject(new Error(`child did not exit in ${ms} ms: ${out}`)), ms);
        child.once('exit', (code) => {
          clearTimeout(t);
          resolve(code);
        });
      }),
  };
}

interface ReceiverReport {
  packets: number;
  bytes: number;
  bad: number;
  seqs: number;
  peers: Record<string, number>;
  stats: { rxPackets: number; rxBytes: number; rxTruncated: number };
}
interface SenderReport {
  sent: number;
  bytes: number;
  stats: { txPackets: number; txErrors: number; txDropped: number };
}

describe.skipIf(!canRunNetnsTests())('raw and UDP socket devices across a veth', () => {
  const topo = new Topology('raw');
  let nsA = '';
  let nsB = '';

  beforeAll(() => {
    nsA = topo.ns('a');
    nsB = topo.ns('b');
    topo.veth(nsA, 'veth-a', nsB, 'veth-b');
    topo.exec(nsA, 'ip', ['addr', 'add', `${SENDER}/24`, 'dev', 'veth-a']);
    topo.exec(nsB, 'ip', ['addr', 'add', `${RECEIVER}/24`, 'dev', 'veth-b']);
    topo.tryExec(nsA, 'ping', ['-c', '1', '-W', '2', RECEIVER]); // resolve ARP before counting
  });

  afterAll(() => topo.cleanup());

  async function exchange(kind: 'raw' | 'udp'): Promise<{ rx: ReceiverReport; tx: SenderReport }> {
    const env = { ...process.env, COUNT: String(COUNT), KIND: kind, SENDER, DST: RECEIVER, BIND: RECEIVER };
    const receiver = topo.spawn(nsB, process.execPath, ['--input-type=module', '-e', receiverCode], { env });
    const rxOut = collect(receiver);
    await rxOut.line((l) => l === 'ready', 10_000);
    let port = 0;
    if (kind === 'udp') {
      const ss = topo.exec(nsB, 'ss', ['-Hunlp', 'src', RECEIVER]);
      port = Number(/:(\d+)\s/.exec(ss)?.[1]);
      expect(port).toBeGreaterThan(0);
    }
    const sender = topo.spawn(nsA, process.execPath, ['--input-type=module', '-e', senderCode], { env: { ...env, PORT: String(port) } });
    const txOut = collect(sender);
    expect(await txOut.exit(20_000)).toBe(0);
    expect(await rxOut.exit(20_000)).toBe(0);
    const rx = JSON.parse(await rxOut.line((l) => l.startsWith('{'), 1000)) as ReceiverReport;
    const tx = JSON.parse(await txOut.line((l) => l.startsWith('{'), 1000)) as SenderReport;
    return { rx, tx };
  }

  it('a raw IPPROTO_IPIP socket receives every IPIP packet, outer header included', async () => {
    const { rx, tx } = await exchange('raw');
    expect(tx.sent).toBe(COUNT);
    expect(tx.stats).toMatchObject({ txPackets: COUNT, txErrors: 0, txDropped: 0 });
    expect(rx.packets).toBe(COUNT);
    expect(rx.seqs).toBe(COUNT);
    expect(rx.bad).toBe(0);
    expect(rx.bytes).toBe(tx.bytes);
    expect(rx.stats).toMatchObject({ rxPackets: COUNT, rxBytes: tx.bytes, rxTruncated: 0 });
    expect(rx.peers).toEqual({ [`4/${SENDER}`]: COUNT });
  });

  it('a UDP socket device receives datagrams with the peer address and port', async () => {
    const { rx, tx } = await exchange('udp');
    expect(tx.sent).toBe(COUNT);
    expect(rx.packets).toBe(COUNT);
    expect(rx.seqs).toBe(COUNT);
    expect(rx.bad).toBe(0);
    expect(rx.bytes).toBe(tx.bytes);
    const peers = Object.entries(rx.peers);
    expect(peers).toHaveLength(1);
    expect(peers[0][0]).toMatch(new RegExp(`^4/${SENDER.replace(/\./g, '\\.')}:\\d+$`));
    expect(peers[0][1]).toBe(COUNT);
  });
});
