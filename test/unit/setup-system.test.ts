// scripts/setup-system.mjs --check with a PATH that hides some tools: it must name exactly the
// hidden ones, for the uses asked, and never try to install (no namespaces, no root needed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts/setup-system.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'vstun-setup-system-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The tools of scripts/system-packages.txt: command → the uses that need it. */
const TOOLS = new Map(
  readFileSync(path.join(ROOT, 'scripts/system-packages.txt'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .filter((cols) => cols.length >= 4)
    .map(([command, , uses]) => [command, uses.split(',')]),
);

// Tools Debian never puts in sbin (the script also looks in sbin, where root's PATH goes).
const HIDDEN = ['curl', 'ping', 'tshark'];

/** Runs --check with PATH = one directory holding a stand-in for every tool but `hidden`. */
function check(hidden: string[], ...args: string[]) {
  const bin = mkdtempSync(path.join(dir, 'bin-'));
  for (const command of [...TOOLS.keys(), 'apt-get']) if (!hidden.includes(command)) symlinkSync('/bin/true', path.join(bin, command));
  const r = spawnSync(process.execPath, [SCRIPT, '--check', ...args], { timeout: 60_000, encoding: 'utf8', env: { PATH: bin } });
  const named = /missing system tools for [^:]*: (.*)/.exec(r.stderr)?.[1].split(' ') ?? [];
  return { ...r, named };
}

describe('setup-system --check', () => {
  it('the hidden tools are in the list, so hiding them means something', () => {
    for (const command of HIDDEN) expect(TOOLS.has(command)).toBe(true);
  });

  it('names exactly the tools PATH hides, with their packages and the command that installs them, exit 1', () => {
    const r = check(HIDDEN);
    expect(r.status).toBe(1);
    expect(r.named.sort()).toEqual([...HIDDEN].sort());
    expect(r.stderr).toMatch(/apt-get install -y --no-install-recommends curl iputils-ping tshark\n/);
    expect(r.stdout).toBe('');
  });

  it('all present: says so, exit 0', () => {
    const r = check([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/all \d+ system tools for build, test, demo, bench are present/);
  });

  it('--for demo names only the hidden tools the demo needs', () => {
    const r = check(HIDDEN, '--for', 'demo');
    expect(r.status).toBe(1);
    expect(r.named).toEqual(HIDDEN.filter((c) => TOOLS.get(c)!.includes('demo')));
    expect(r.named).toEqual(['curl']);
  });

  it('a tool no use asked for is not reported: --for bench with a test-only tool hidden passes, a bench tool hidden fails', () => {
    expect(TOOLS.get('tshark')).not.toContain('bench');
    expect(check(['tshark'], '--for', 'bench').status).toBe(0);
    const r = check(HIDDEN, '--for', 'bench');
    expect(r.status).toBe(1);
    expect(r.named).toEqual(HIDDEN.filter((c) => TOOLS.get(c)!.includes('bench')));
    expect(r.named).toEqual(['curl', 'ping']);
  });

  it('a bad --for is a usage error', () => {
    const r = check([], '--for', 'everything');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--for: give some of build,test,demo,bench');
  });
});
