// The outer source address (DIP) of the tunnel toward each real server: the configured
// --dip for IPv4 servers, otherwise what the host's routing table picks (`ip route get`),
// per family, so an IPv6 real server gets an IPv6 DIP. Looked up ahead of each change, for
// all its new servers in one `ip -batch` child that does not block the event loop; the
// registry then reads the cache synchronously.
import { execFile } from 'node:child_process';
import { canonicalIpText, formatAddressId, IPV6_ID_BASE, parseAddressId, type Ipv6AddressTable } from './address-id.js';

/** Runs `ip -o -force -batch -` over `lines`; resolves with its stdout and stderr. */
export type IpBatchRunner = (lines: string[]) => Promise<{ stdout: string; stderr: string }>;

const realBatch: IpBatchRunner = (lines) =>
  new Promise((resolve) => {
    const child = execFile('ip', ['-o', '-force', '-batch', '-'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ stdout: stdout ?? '', stderr: stderr || (err && !stdout ? err.message : '') || '' });
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });

function noRoute(rip: string, why: string): Error {
  return Object.assign(new Error(`no route to real server ${rip} (${why}); add one${rip.includes(':') ? '' : ' or pass --dip'}`), { code: 'NO_ROUTE_TO_RS' });
}

export class TunnelSources {
  /** Canonical server address → DIP id (in `addresses`). */
  private readonly cache = new Map<string, number>();
  private readonly fixed4: number | null;

  /**
   * @param dip4      dotted quad that overrides the IPv4 source
   * @param addresses the director's IPv6 address table (ids in and out are its slots)
   */
  constructor(
    dip4: string | undefined,
    private readonly addresses: Ipv6AddressTable,
    private readonly runBatch: IpBatchRunner = realBatch,
  ) {
    this.fixed4 = dip4 !== undefined ? parseAddressId(dip4, addresses) : null;
  }

  /**
   * The DIP id for a real server id, from the cache filled by prepare(). Throws (code
   * NO_ROUTE_TO_RS) for a server that was not prepared or has no route.
   */
  readonly dipFor = (rip: number): number => {
    if (rip < IPV6_ID_BASE && this.fixed4 !== null) return this.fixed4;
    const text = formatAddressId(rip, this.addresses);
    const v = this.cache.get(text);
    if (v === undefined) throw noRoute(text, 'not looked up yet');
    return v;
  };

  /**
   * Looks up the sources toward the servers in `rips` (address texts) that are not cached,
   * in one asynchronous `ip -batch`. Throws NO_ROUTE_TO_RS naming the first server without
   * a route; the others found are cached.
   */
  async prepare(rips: Iterable<string>): Promise<void> {
    const want = new Set<string>();
    for (const raw of rips) {
      const text = canonicalIpText(raw);
      if (text === null || this.cache.has(text)) continue;
      if (!text.includes(':') && this.fixed4 !== null) continue;
      want.add(text);
    }
    if (want.size === 0) return;
    // The family follows from the address (batch lines take no -4/-6).
    const { stdout, stderr } = await this.runBatch([...want].map((t) => `route get ${t}`));
    // Each answer is one line: [type] DEST [via GW] dev DEV src SRC ...; failures print nothing there.
    for (const line of stdout.split('\n')) {
      let dest: string | undefined;
      for (const w of line.trim().split(/\s+/)) {
        const t = canonicalIpText(w);
        if (t !== null) {
          dest = t;
          break;
        }
      }
      const src = canonicalIpText(/\bsrc (\S+)/.exec(line)?.[1] ?? '');
      if (dest === undefined || !want.has(dest) || src === null || dest.includes(':') !== src.includes(':')) continue;
      const id = parseAddressId(src, this.addresses);
      if (id !== null) this.cache.set(dest, id);
    }
    const missing = [...want].find((t) => !this.cache.has(t));
    if (missing !== undefined) throw noRoute(missing, stderr.split('\n').find((l) => l.trim() !== '' && !l.startsWith('Command failed'))?.trim() ?? 'no answer');
  }
}
