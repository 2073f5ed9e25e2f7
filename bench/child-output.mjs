// Small helpers for bench scripts that run C tools as children: collect their output lines,
// wait for their exit, and pick the last JSON line they printed.

/** Collects a child's stdout and stderr lines into the returned array as they arrive. */
export function lines(child) {
  const out = [];
  child.stdout?.on('data', (d) => out.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (d) => out.push(...d.toString().split('\n').filter(Boolean)));
  return out;
}

/** Resolves once the child has exited (at once if it already has). */
export const exited = (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** The last line starting with "{" parsed as JSON, or {} when there is none. */
export const lastJson = (out) => JSON.parse([...out].reverse().find((l) => l.startsWith('{')) ?? '{}');
