#!/usr/bin/env node
// Connection-table memory for `npm run bench`, as the process sees it: a fresh node process
// (one per size, so that nothing else lives in its heap) constructs the director's real
// ConnTable (dist/director/conn-table.js) with capacity FLOWS, as `connTableSize: FLOWS`
// does, and inserts FLOWS live UDP flows (distinct client address:port to one VIP:port, an
// expiry far away). The figure is the growth of the process's resident set (RSS, what the
// kernel charges) from before the table existed to after the last insert; it includes
// whatever the table touches (typed arrays, their pages, the heap), not array sizes
// computed on paper. RSS right after construction is recorded too: the kernel hands out
// zeroed pages lazily, so an empty table costs little until flows arrive.
//
//   node --expose-gc bench/conntable-rss.mjs --flows 1000000     (after npm run build)
//
// Prints one JSON line.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--flows');
const flows = Number(i > 0 ? process.argv[i + 1] : NaN);
if (!(Number.isInteger(flows) && flows >= 1000 && flows <= 64 * 1024 * 1024)) {
  process.stderr.write('usage: node --expose-gc bench/conntable-rss.mjs --flows N (1000..67108864)\n');
  process.exit(2);
}
const { ConnTable, KIND_UDP, newConnEntry } = await import(path.join(ROOT, 'dist', 'director', 'conn-table.js'));
const { UDP_STATE } = await import(path.join(ROOT, 'dist', 'director', 'tcp-state.js'));
const rss = () => {
  globalThis.gc?.();
  return process.memoryUsage().rss;
};
const before = rss();
const t = new ConnTable(flows, undefined, 12345);
const constructed = rss();
const vip = 0x0a466400;
// One entry refilled per insert, as the data path does (no allocation in the timed loop).
const e = Object.assign(newConnEntry(), { kind: KIND_UDP, vaddr: vip, vport: 53, state: UDP_STATE, expires: 1e12 });
const t0 = performance.now();
for (let k = 0; k < flows; k++) {
  e.caddr = (0x0b000000 + (k >>> 6)) >>> 0;
  e.cport = 1024 + (k & 63) * 997;
  e.rsId = k & 7;
  t.insert(e, 0);
}
const insertNs = ((performance.now() - t0) * 1e6) / flows;
const filled = rss();
const s = t.stats();
process.stdout.write(
  `${JSON.stringify({
    flows,
    entries: s.entries,
    rssBeforeBytes: before,
    rssGrowthEmptyBytes: constructed - before,
    rssGrowthBytes: filled - before,
    rssBytesPerFlow: Math.round(((filled - before) / s.entries) * 10) / 10,
    typedArrayBytes: s.bytes,
    insertNsPerFlow: Math.round(insertNs),
    gcExposed: typeof globalThis.gc === 'function',
  })}\n`,
);
