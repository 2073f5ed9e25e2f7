// What a running demo leaves behind, written down so that it can always be torn down: by the
// demo itself, by scripts/demo.sh's trap if the demo dies, and by `npm start -- --down`
// after `--keep`. Teardown is graceful first (SIGTERM lets vstun-director and vstun-agent
// undo their host changes), then forceful.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './netns.js';

export interface DemoState {
  namespaces: string[];
  workDir: string;
}

/** Where kept demos (`--keep`) are recorded until `--down`. */
export const KEPT_DEMOS_DIR = '/run/vstun-demo';

export function writeDemoState(file: string, state: DemoState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state)}\n`);
}

/** Reads a state file; null when it is missing, empty or not a demo state. */
export function readDemoState(file: string): DemoState | null {
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as DemoState;
    return Array.isArray(s.namespaces) && typeof s.workDir === 'string' ? s : null;
  } catch {
    return null;
  }
}

function pidsIn(ns: string): number[] {
  return run('ip', ['netns', 'pids', ns], { allowFail: true })
    .stdout.split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Stops every process in the namespaces (SIGTERM, up to `graceMs`, then SIGKILL), deletes
 * the namespaces and the work directory. Names not created by the demo are ignored:
 * only `vt-demo-…` namespaces are touched. Never throws.
 */
export async function teardownDemo(state: DemoState, graceMs = 5000): Promise<void> {
  const namespaces = state.namespaces.filter((n) => /^vt-demo-[A-Za-z0-9-]+$/.test(n));
  signal(namespaces.flatMap(pidsIn), 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && namespaces.some((n) => pidsIn(n).length > 0)) await new Promise((r) => setTimeout(r, 100));
  signal(namespaces.flatMap(pidsIn), 'SIGKILL');
  for (const ns of namespaces) run('ip', ['netns', 'del', ns], { allowFail: true });
  if (state.workDir.includes('vstun-lab-demo-')) rmSync(state.workDir, { recursive: true, force: true });
}

/** Tears down every demo left running with --keep; returns how many there were. */
export async function teardownKeptDemos(): Promise<number> {
  if (!existsSync(KEPT_DEMOS_DIR)) return 0;
  let n = 0;
  for (const name of readdirSync(KEPT_DEMOS_DIR)) {
    const file = path.join(KEPT_DEMOS_DIR, name);
    const state = readDemoState(file);
    if (state) {
      await teardownDemo(state);
      n++;
    }
    rmSync(file, { force: true });
  }
  return n;
}

/**
 * The demo's teardown, run at most once: `stop` (graceful first), then the state file is
 * removed. SIGINT and SIGTERM run it and exit 130.
 */
export function demoTeardown(stop: () => Promise<void>, stateFile: string | undefined, say: (text: string) => void): () => Promise<void> {
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    await stop();
    if (stateFile) rmSync(stateFile, { force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    say(`\n${sig}: tearing down`);
    void teardown().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return teardown;
}
