// The benchmark's C traffic generators (bench/c: syn_flood, udp_rtt, gen), compiled on demand
// for the flood tests and the campaigns, and small helpers to run them bounded.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './lab-daemons.js';
import type { Lab } from './vs-lab.js';

/** Compiles bench/c/NAME.c for each name into DIR/bin; returns NAME → binary path. */
export function buildCTools(dir: string, names: readonly string[]): Record<string, string> {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const out: Record<string, string> = {};
  for (const n of names) {
    out[n] = path.join(bin, n);
    execFileSync('gcc', ['-O2', '-Wall', '-o', out[n], path.join(REPO_ROOT, 'bench', 'c', `${n}.c`)], { timeout: 60_000, stdio: 'pipe' });
  }
  return out;
}

/** A child's stdout+stderr lines, collected as they come. */
export function collectLines(child: ChildProcess): string[] {
  const out: string[] = [];
  let rest = '';
  const take = (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    out.push(...parts.filter(Boolean));
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  child.once('close', () => rest && out.push(rest));
  return out;
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

/** Kills a child that is still running after `ms` (a bound on every generator). */
export function boundChild(child: ChildProcess, ms: number): void {
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

/** The last line of `lines` that parses as a JSON object. */
export function lastJson(lines: readonly string[]): Record<string, number> {
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]);
      if (v && typeof v === 'object') return v;
    } catch {
      /* not JSON */
    }
  }
  throw new Error(`no JSON line in: ${lines.slice(-5).join(' | ')}`);
}

/** `name{labels} value` samples of one metric from a /metrics text, keyed by the label text. */
export function metricSamples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^\S+?(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m) out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

/** One of a link's kernel counters in `ns` (/sys/class/net/DEV/statistics/NAME). */
export function linkCounter(lab: Lab, ns: string, dev: string, name: string): number {
  return Number(lab.topo.exec(ns, 'cat', [`/sys/class/net/${dev}/statistics/${name}`]).trim());
}

/** GET http://ADDR/metrics from inside `ns` (curl). */
export function scrape(lab: Lab, ns: string, addr: string): string {
  return lab.topo.exec(ns, 'curl', ['-s', '--max-time', '3', `http://${addr}/metrics`]);
}
