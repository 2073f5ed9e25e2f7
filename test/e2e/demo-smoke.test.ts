// `npm start`, the first thing a user runs: the demo end to end in its short mode (30
// requests), through npm so that its prestart set-up check runs too. It must succeed, print
// the spread and the director's table, and leave no namespace behind.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/lab/lab-daemons.js';
import { LAB_VIP } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, run } from '../support/netns.js';

const REQUESTS = 30;

/** The demo's namespaces (vt-demo-<role>-<tag>) that exist now. */
function demoNamespaces(): string[] {
  return run('ip', ['netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('vt-demo-'));
}

describe.skipIf(!canRunNetnsTests())('npm start (the demo)', () => {
  it(`sends ${REQUESTS} requests through the VIP, shows them on all three real servers, and tears everything down`, () => {
    const before = new Set(demoNamespaces());
    // SIGTERM on timeout: scripts/demo.sh's trap then tears down what the demo recorded.
    const r = spawnSync('npm', ['start', '--', '--requests', String(REQUESTS)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000, killSignal: 'SIGTERM' });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.status, output).toBe(0);
    expect(r.stdout).toContain(`sending ${REQUESTS} requests from the client`);
    expect(r.stdout).toContain('none failed');
    const shares = [...r.stdout.matchAll(/^ {2}rs(\d) \S+ [^\d]*(\d+) +[\d.]+%/gm)].map((m) => ({ rs: Number(m[1]), count: Number(m[2]) }));
    expect(shares.map((s) => s.rs)).toEqual([1, 2, 3]);
    for (const s of shares) expect(s.count, `rs${s.rs}`).toBeGreaterThan(0);
    expect(shares.reduce((a, s) => a + s.count, 0)).toBe(REQUESTS);
    // vstunadm's table: the VIP service counted every connection.
    expect(r.stdout).toMatch(new RegExp(`^TCP +${LAB_VIP.replaceAll('.', '\\.')}:80 +${REQUESTS} `, 'm'));
    expect(r.stdout).toMatch(/^torn down: namespaces deleted/m);
    expect(demoNamespaces().filter((n) => !before.has(n))).toEqual([]);
  }, 180_000);
});
