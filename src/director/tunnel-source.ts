// The outer source address (DIP) of the tunnel toward each real server: the configured
// --dip for IPv4 servers, otherwise what the host's routing table picks (`ip route get`),
// per family, so an IPv6 real server gets an IPv6 DIP. Looked up ahead of each change, for
// all its new servers in one `ip -batch` child that does not block the event loop; the
// registry then reads the cache synchronously.
import { execFile } from 'node:child_process';
import { canonicalIpText, IPV6_ID_BASE, formatAddressId, parseAddressId } from './address-id.js';

/** Runs `ip -o -force -batch -` over `lines`; resolves with its stdout and stderr. */
export type IpBatchRunner = (lines: string[]) => Promise<{ stdout: string; stderr: string }>;

const realBatch: IpBatchRunner = (lines) =>
  new Promise((resolve) => {
    const child = execFile('ip', ['-o', '-force', '-batch', '-'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ stdout: stdout ?? '', stderr: stderr || (err && !stdout ? err.message : '') || '' });
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });

function noRoute(rip: string, why: string, v6: boolean): Error {
  return Object.assign(new Error(`no route to real server ${rip} (${why}); add one${v6 ? '' : ' or pass --dip'}`), { code: 'NO_ROUTE_TO_RS' });
}

export class TunnelSources {
  private readonly cache = new Map<number, number>();
  private readonly fixed4: number | null;

  /** `dip4` (dotted quad) overrides the IPv4 source. */
  constructor(dip4?: string, private readonly runBatch: IpBatchRunner = realBatch) {
    this.fixed4 = dip4 !== undefined ? parseAddressId(dip4) : null;
  }

  /**
   * The DIP id for a real server id, from the cache filled by prepare(). Throws (code
   * NO_ROUTE_TO_RS) for a server that was not prepared or has no route.
   */
  readonly dipFor = (rip: number): number => {
    if (rip < IPV6_ID_BASE && this.fixed4 !== null) return this.fixed4;
    const v = this.cache.get(rip);
    if (v === undefined) throw noRoute(formatAddressId(rip), 'not looked up yet', rip >= IPV6_ID_BASE);
    return v;
  };

  /**
   * Looks up the sources toward the servers in `rips` (address texts) that are not cached,
   * in one asynchronous `ip -batch`. Throws NO_ROUTE_TO_RS naming the first server without
   * a route; the others found are cached.
   */
  async prepare(rips: Iterable<string>): Promise<void> {
    const want = new Map<number, string>();
    for (const text of rips) {
      const id = parseAddressId(text);
      if (id === null || want.has(id) || this.cache.has(id)) continue;
      if (id < IPV6_ID_BASE && this.fixed4 !== null) continue;
      want.set(id, text);
    }
    if (want.size === 0) return;
    const ids = [...want.keys()];
    const byText = new Map<string, number>();
    for (const id of ids) byText.set(formatAddressId(id), id);
    // The family follows from the address (batch lines take no -4/-6).
    const { stdout, stderr } = await this.runBatch(ids.map((id) => `route get ${formatAddressId(id)}`));
    // Each answer is one line: [type] DEST [via GW] dev DEV src SRC ...; failures print nothing there.
    for (const line of stdout.split('\n')) {
      let dest: number | undefined;
      for (const w of line.trim().split(/\s+/)) {
        const t = canonicalIpText(w);
        if (t !== null) {
          dest = byText.get(t);
          break;
        }
      }
      const src = /\bsrc (\S+)/.exec(line)?.[1];
      if (dest === undefined || src === undefined || canonicalIpText(src) === null) continue;
      if ((dest >= IPV6_ID_BASE) !== src.includes(':')) continue;
      this.cache.set(dest, parseAddressId(src)!);
    }
    const missing = ids.find((id) => !this.cache.has(id));
    if (missing !== undefined) throw noRoute(want.get(missing)!, stderr.split('\n').find((l) => l.trim() !== '' && !l.startsWith('Command failed'))?.trim() ?? 'no answer', missing >= IPV6_ID_BASE);
  }
}
