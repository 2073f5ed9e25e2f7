// What build is running: the package version (for --version on every binary and the
// vstun_build_info gauge), the Node.js version, and the git commit when the package was
// installed from a checkout. Read once, from files only (no child process).
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: src/metrics/../.. or dist/metrics/../.. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BuildInfo {
  version: string;
  node: string;
  /** Abbreviated (12 hex digits) commit, or undefined outside a git checkout. */
  commit?: string;
}

let cached: BuildInfo | undefined;

/** Reads a ref ("refs/heads/x") from a git dir: its loose file, else packed-refs; undefined if absent. */
function readRef(gitDir: string, commonDir: string, ref: string): string | undefined {
  for (const dir of [gitDir, commonDir]) {
    const loose = path.join(dir, ref);
    if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
  }
  const packed = path.join(commonDir, 'packed-refs');
  if (!existsSync(packed)) return undefined;
  const line = readFileSync(packed, 'utf8')
    .split('\n')
    .find((l) => l.endsWith(` ${ref}`));
  return line?.split(' ')[0];
}

/** The checkout's HEAD commit (a worktree's ".git" file followed); undefined on any doubt. */
function gitCommit(root: string): string | undefined {
  try {
    let gitDir = path.join(root, '.git');
    if (!existsSync(gitDir)) return undefined;
    if (!statSync(gitDir).isDirectory()) {
      const text = readFileSync(gitDir, 'utf8');
      if (!text.startsWith('gitdir:')) return undefined;
      gitDir = path.resolve(root, text.slice(7).trim());
    }
    const commonFile = path.join(gitDir, 'commondir');
    const commonDir = existsSync(commonFile) ? path.resolve(gitDir, readFileSync(commonFile, 'utf8').trim()) : gitDir;
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    const sha = head.startsWith('ref: ') ? readRef(gitDir, commonDir, head.slice(5)) : head;
    return sha !== undefined && /^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : undefined;
  } catch {
    return undefined;
  }
}

/** The running build; never throws (an unreadable package.json reads as version "unknown"). */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    /* keep "unknown" */
  }
  cached = { version, node: process.version, commit: gitCommit(PACKAGE_ROOT) };
  return cached;
}

/** The one line every binary prints for --version, e.g. "vstun-director 0.1.0 (node v20.19.0, commit 0123456789ab)". */
export function versionLine(binary: string): string {
  const b = buildInfo();
  return `${binary} ${b.version} (node ${b.node}${b.commit ? `, commit ${b.commit}` : ''})`;
}
