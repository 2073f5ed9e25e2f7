// A strict reader of the Prometheus text exposition format (0.0.4), for tests: every line
// is a HELP, a TYPE, a sample or empty; HELP and TYPE come once per family, before its samples;
// sample names belong to the declared family (with _bucket/_sum/_count for histograms);
// label values use only the \\ \" \n escapes; values are floats. Returns the samples, or
// throws an Error naming the line.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
      const c = text[j];
      if (c === '"') break;
      if (c === '\n') throw new Error(`line ${line}: raw newline in label value`);
      if (c === '\\') {
        const n = text[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`line ${line}: bad escape \\${n} in label value`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    if (Object.hasOwn(out, name)) throw new Error(`line ${line}: label ${name} twice`);
    out[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`line ${line}: expected "," between labels`);
      i++;
    }
  }
  return out;
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Prometheus reads NaN in any case (Go's ParseFloat); prom-client writes "Nan" (a lag gauge before its first sample).
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

export function parseExposition(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const sampled = new Set<string>();
  const samples: Sample[] = [];
  const lines = text.slice(0, -1).split('\n');
  let current = '';
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === '') return; // the format ignores empty lines
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) throw new Error(`line ${line}: a comment that is neither HELP nor TYPE`);
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      if (sampled.has(name)) throw new Error(`line ${line}: ${kind} for ${name} after its samples`);
      if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`line ${line}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`line ${line}: bad escape in HELP`);
        help.set(name, rest);
      } else {
        if (type.has(name)) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type ${rest}`);
        type.set(name, rest);
      }
      current = name;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, labelText, valueText] = m;
    const t = type.get(current);
    const family =
      name === current ||
      (t === 'histogram' && (name === `${current}_bucket` || name === `${current}_sum` || name === `${current}_count`)) ||
      (t === 'summary' && (name === `${current}_sum` || name === `${current}_count`));
    if (!family) throw new Error(`line ${line}: sample ${name} outside its family (last declared: ${current || 'none'})`);
    if (!help.has(current) || !type.has(current)) throw new Error(`line ${line}: ${current} lacks a HELP/TYPE pair`);
    const labels = labelText === undefined || labelText === '' ? {} : parseLabels(labelText, line);
    if (name.endsWith('_bucket') && t === 'histogram' && labels.le === undefined) throw new Error(`line ${line}: histogram bucket without le`);
    sampled.add(current);
    samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  for (const name of type.keys()) if (!help.has(name)) throw new Error(`${name}: TYPE without HELP`);
  for (const name of help.keys()) if (!type.has(name)) throw new Error(`${name}: HELP without TYPE`);
  return samples;
}
