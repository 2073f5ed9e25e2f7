#!/usr/bin/env node
// node bench/gro-emit.mjs [--segments 44] [--mss 1448] [--rounds 2000]
//
// The agent's user-space GRO, output side, in process: one batch of `segments` consecutive
// TCP segments of one flow (what a 64 KB TSO burst becomes after decapsulation), coalesced
// into one super-packet and handed to a device whose writeBatch does nothing, two ways:
//   copy    - coalesce(): every byte copied into one output buffer (the previous writeTo);
//   scatter - writeTo(): the header written in front of the first segment, the rest sent as
//             spans of the batch itself (META_FLAG_CONTINUES), nothing copied.
// Both start each round from a fresh copy of the batch (writeTo rewrites headers in place),
// so that copy is in both figures. Prints ns per segment for each and their ratio, measured
// in the same run, alternating; the median of 5 alternations.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : dflt;
};
const SEGMENTS = arg('segments', 44);
const MSS = arg('mss', 1448);
const ROUNDS = arg('rounds', 2000);
const { TcpCoalescer } = await import(path.join(ROOT, 'dist', 'agent', 'gro-coalesce.js'));
const { META_STRIDE, META_OFFSET, META_LENGTH } = await import(path.join(ROOT, 'dist', 'native', 'addon.js'));
const { finalizeChecksum, pseudoHeaderSumV4At, sumBytes } = await import(path.join(ROOT, 'dist', 'wire', 'checksum.js'));

/** One IPv4/TCP segment with valid checksums (20-byte headers, ACK). */
function segment(k) {
  const len = 40 + MSS;
  const p = new Uint8Array(len);
  p.set([0x45, 0, len >> 8, len & 0xff, 0, k & 0xff, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  const seq = (1000 + k * MSS) >>> 0;
  p.set([0xa0, 0x28, 0x00, 0x50, seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff, 0, 0, 0, 5, 0x50, 0x10, 0xff, 0xff], 20);
  for (let i = 40; i < len; i++) p[i] = (i * 7 + k) & 0xff;
  const ipck = finalizeChecksum(sumBytes(p, 0, 20));
  p[10] = ipck >> 8;
  p[11] = ipck & 0xff;
  const ck = finalizeChecksum(sumBytes(p, 20, len - 20, pseudoHeaderSumV4At(p, 12, 16, 6, len - 20)));
  p[36] = ck >> 8;
  p[37] = ck & 0xff;
  return p;
}

const SLOT = 2048;
const template = new Uint8Array(SEGMENTS * SLOT);
const meta = new Int32Array(SEGMENTS * META_STRIDE);
for (let k = 0; k < SEGMENTS; k++) {
  template.set(segment(k), k * SLOT + 128);
  meta[k * META_STRIDE + META_OFFSET] = k * SLOT + 128;
  meta[k * META_STRIDE + META_LENGTH] = 40 + MSS;
}
const data = new Uint8Array(template.length);
let sink = 0;
const nullDevice = { writeBatch: (_d, _m, n) => ((sink += n), n) };
const gro = new TcpCoalescer(12);

function time(fn) {
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) {
    data.set(template);
    fn();
  }
  return Number(process.hrtime.bigint() - t0) / (ROUNDS * SEGMENTS);
}
const copy = () => nullDevice.writeBatch(gro.buf, gro.meta, gro.coalesce(data, meta, SEGMENTS));
const scatter = () => gro.writeTo(nullDevice, data, meta, SEGMENTS);
data.set(template);
copy();
data.set(template);
scatter();
if (gro.stats.superPackets !== 2) throw new Error(`expected one super-packet per call, got ${gro.stats.superPackets} for 2 calls`);
const baseline = time(() => nullDevice.writeBatch(data, meta, 0)); // the batch refresh alone
const c = [];
const s = [];
for (let i = 0; i < 5; i++) {
  c.push(time(copy));
  s.push(time(scatter));
}
const med = (xs) => [...xs].sort((a, b) => a - b)[2];
const round1 = (x) => Math.round(x * 10) / 10;
console.log(JSON.stringify({ segments: SEGMENTS, mss: MSS, rounds: ROUNDS, nsPerSegment: { batchRefreshOnly: round1(baseline), copy: round1(med(c)), scatter: round1(med(s)) }, copyOverScatter: Number((med(c) / med(s)).toPrecision(3)), copyOverScatterWithoutRefresh: Number(((med(c) - baseline) / (med(s) - baseline)).toPrecision(3)), sink: sink > 0 }));
