// The bench's figures as "lines": one comparable figure each, with the reference it is
// measured against in the same run, the ratio, and the target (issue 15 "Targets") it is
// checked against. bench/run.mjs writes them to bench/results.json (key "lines"), and
// bench/readme.mjs turns them into the README's table; both format them here, so the console,
// results.json and the README say the same thing.
//
// A line (results.json "lines"[i]; every field but id and what may be null):
//   id         stable key, e.g. "pps.vs-batched-c" (other benches add their own, see bench/README.md)
//   what       what is measured, in words
//   value      vstun's figure: a number in `unit`, or a short text ("kept working")
//   unit       "pps", "µs", "Gbit/s", "B/flow", "ms", "s", "flows/s", ...
//   reference  { what, value } measured in the same run, same unit
//   ratio      value / reference.value, unrounded (the table shows 3 significant digits)
//   target     { on: "ratio" | "value", op: ">=" | "<=" | "<", bound, text }
//   met        the target checked on the unrounded figure (null: reported only)
//   note       conditions that matter for reading it (load achieved, lost probes, rounds)

/** The sections of `npm run bench`, in the order they run; a full run has all of them. */
export const SECTIONS = ['memory', 'forwarding', 'queues', 'latency', 'synflood', 'throughput', 'agent', 'control'];

const OPS = {
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
  '<': (a, b) => a < b,
};

/** Builds a line; `met` is computed here, from the unrounded figure. */
export function line({ id, what, value = null, unit = null, reference = null, ratio, target = null, note = null }) {
  const r = ratio !== undefined ? ratio : reference && typeof value === 'number' && typeof reference.value === 'number' && reference.value > 0 ? value / reference.value : null;
  const subject = target?.on === 'ratio' ? r : value;
  const met = target && typeof subject === 'number' && Number.isFinite(subject) ? OPS[target.op](subject, target.bound) : null;
  return { id, what, value, unit, reference, ratio: r, target, met, note };
}

/**
 * Three significant digits; more where three would put the figure on the other side of the
 * target's bound than the unrounded figure is (0.9996 against ">= 1" prints 0.9996, not 1.00).
 */
export function sig3(x, target = null) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return 'n/a';
  let p = 3;
  const text = (q) => (Math.abs(x) >= 1000 ? Number(x.toPrecision(q)).toLocaleString('en') : x.toPrecision(q));
  while (target && p < 12 && OPS[target.op](Number(x.toPrecision(p)), target.bound) !== OPS[target.op](x, target.bound)) p++;
  return text(p);
}

/** A measured figure: integers above 100 in full (thousands separated), the rest to 3 digits. */
export function figure(v, unit, target = null) {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v !== 'number') return String(v);
  const t = target?.on === 'value' ? target : null;
  const n = Math.abs(v) >= 100 && !t ? Math.round(v).toLocaleString('en') : sig3(v, t);
  return unit ? `${n} ${unit}` : n;
}

const metText = (m) => (m === true ? 'met' : m === false ? 'missed' : '');

/** The Markdown table of `results.lines`, with a header naming the run. */
export function formatTable(results) {
  const m = results.machine ?? {};
  const la = results.loadAverage ?? {};
  const ref = results.referenceLoopMs ? `; a 1e8-step JS loop took ${results.referenceLoopMs.before} ms before, ${results.referenceLoopMs.after} ms after (about 100 on an idle core)` : '';
  const commit = results.commit ? `${results.commit.slice(0, 12)}${results.dirty?.length ? ' (with uncommitted changes)' : ''}` : 'unknown commit';
  const head = [
    `\`${results.command ?? 'npm run bench'}\` on ${commit}, ${String(results.date ?? m.date ?? '').slice(0, 16).replace('T', ' ')} UTC:`,
    `Linux ${m.kernel}, ${m.cpu}, ${m.nproc} CPUs, Node ${m.node}; load average ${(la.before ?? []).join(' ')} before, ${(la.after ?? []).join(' ')} after${ref}; ${results.elapsedSeconds ?? '?'} s.`,
  ];
  if (results.incomplete) head.push(`INCOMPLETE RUN: ${results.incomplete}`);
  for (const [section, err] of Object.entries(results.errors ?? {})) head.push(`section ${section} failed: ${err}`);
  const rows = (results.lines ?? []).map((l) => [
    l.what,
    figure(l.value, l.unit, l.target),
    l.reference ? `${l.reference.what}: ${figure(l.reference.value, l.unit)}` : '',
    l.ratio === null || l.ratio === undefined ? '' : sig3(l.ratio, l.target?.on === 'ratio' ? l.target : null),
    l.target?.text ?? '',
    metText(l.met),
    l.note ?? '',
  ]);
  const cols = ['figure', 'vstun', 'reference, same run', 'ratio', 'target', '', 'conditions'];
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  return [...head, '', `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}
