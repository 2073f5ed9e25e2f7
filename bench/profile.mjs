// Where a daemon's time goes, from the .cpuprofile files `node --cpu-prof --cpu-prof-dir=DIR`
// writes when it exits: the top functions by self time (idle and "(program)", time outside
// JavaScript such as syscalls in the addon, left out of the shares). Used by bench/run.mjs
// (the director under 64-byte load) and bench/bulk.mjs (director and agent under an upload).
import fs from 'node:fs';
import path from 'node:path';

/**
 * Top `n` self-time functions of the first .cpuprofile in `dir`: [{ fn, pct }]. Only samples
 * between `skipMs` and `untilMs` after the profile started count (leaving out the daemon's
 * start-up and its shutdown: module loading, host set-up and undo), so that the shares are
 * those of the measured traffic.
 */
export function summarizeProfile(dir, n = 8, skipMs = 0, untilMs = Infinity) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (!files.length) return [];
  const prof = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  const self = new Map();
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const counts = new Map();
  let t = 0;
  prof.samples.forEach((s, i) => {
    t += prof.timeDeltas?.[i] ?? 0; // microseconds since the profile started
    if (t >= skipMs * 1000 && t <= untilMs * 1000) counts.set(s, (counts.get(s) ?? 0) + 1);
  });
  let total = 0;
  for (const [id, c] of counts) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)' || node.callFrame.functionName === '(program)') continue;
    const key = `${node.callFrame.functionName || '(anonymous)'} ${path.basename(node.callFrame.url || '')}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + c);
    total += c;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, c]) => ({ fn, pct: Math.round((c / total) * 1000) / 10 }));
}

/** "fn a%, fn b%, ..." for the first `n` entries. */
export const profileText = (entries, n = 4) => entries.slice(0, n).map((p) => `${p.fn} ${p.pct}%`).join(', ');
