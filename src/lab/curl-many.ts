// Many HTTP requests from one namespace with one curl process, each on its own TCP
// connection (so each is a new flow the director schedules): the demo and the tests.
import { execFileSync } from 'node:child_process';

/**
 * GETs `url` `n` times from namespace `ns` and returns the response bodies, one trimmed body
 * per answered request (failed requests leave nothing, so `n - result.length` failed).
 * Bounded: each request `maxTimeS`, the whole run 2 minutes. `source`: the client address to
 * connect from (one of the namespace's).
 */
export function curlMany(ns: string, url: string, n: number, maxTimeS = 3, source?: string): string[] {
  const config = `url = "${url}"\n`.repeat(n);
  let out: string;
  try {
    // `source`: one of the namespace's addresses to connect from (curl --interface).
    const from = source !== undefined ? ['--interface', source] : [];
    out = execFileSync('ip', ['netns', 'exec', ns, 'curl', '-s', ...from, '--max-time', String(maxTimeS), '-H', 'Connection: close', '-K', '-'], {
      input: config,
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    // curl exits non-zero when the last request failed; the bodies it printed still count.
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  return out.split('\n').map((s) => s.trim()).filter(Boolean);
}
