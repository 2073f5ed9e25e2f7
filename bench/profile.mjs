// Where a daemon's time goes, from the .cpuprofile files `node --cpu-prof --cpu-prof-dir=DIR`
// writes when it exits (one per thread: the main thread and each worker, e.g. the director's
// queue workers): the top functions by self time over all of them, idle and "(program)" left
// out of the shares. Used by bench/run.mjs (the director under 64-byte load), bench/bulk.mjs
// (director and agent under an upload or download) and bench/agent.mjs.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Top `n` self-time functions over the .cpuprofile files in `dir`: [{ fn, pct }]. Only samples
 * between `skipMs` and `untilMs` after the first profile started count (leaving out the
 * daemon's start-up and its shutdown: module loading, host set-up and undo), so that the
 * shares are those of the measured traffic. Threads share one clock, so the window is the
 * same moment in every file.
 */
export function summarizeProfile(dir, n = 8, skipMs = 0, untilMs = Infinity) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  const profiles = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  if (!profiles.length) return [];
  const origin = Math.min(...profiles.map((p) => p.startTime ?? 0)); // microseconds
  const self = new Map();
  let total = 0;
  for (const prof of profiles) {
    const byId = new Map(prof.nodes.map((x) => [x.id, x]));
    let t = (prof.startTime ?? 0) - origin;
    prof.samples.forEach((id, i) => {
      t += prof.timeDeltas?.[i] ?? 0;
      const node = byId.get(id);
      if (t < skipMs * 1000 || t > untilMs * 1000 || !node) return;
      const name = node.callFrame.functionName;
      if (name === '(idle)' || name === '(program)') return;
      const key = `${name || '(anonymous)'} ${path.basename(node.callFrame.url || '')}:${node.callFrame.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + 1);
      total++;
    });
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)) // ties by name: the same files give the same order
    .slice(0, n)
    .map(([fn, c]) => ({ fn, pct: Math.round((c / total) * 1000) / 10 }));
}

/** "fn a%, fn b%, ..." for the first `n` entries. */
export const profileText = (entries, n = 4) => entries.slice(0, n).map((p) => `${p.fn} ${p.pct}%`).join(', ');
