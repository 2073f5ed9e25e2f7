// The outer source address (DIP) of the tunnel toward each real server: the configured
// --dip for IPv4 servers, otherwise what the host's routing table picks (`ip route get`),
// per family, so an IPv6 real server gets an IPv6 DIP. Cached per server address.
import { execFileSync } from 'node:child_process';
import { IPV6_ID_BASE, formatAddressId, parseAddressId } from './address-id.js';

/**
 * Returns dipFor(rip id) → DIP id. `dip4` (dotted quad) overrides the IPv4 source. Throws
 * (code NO_ROUTE_TO_RS) with a hint when the host has no route to a server.
 */
export function tunnelSourceResolver(dip4?: string): (rip: number) => number {
  const cache = new Map<number, number>();
  const fixed4 = dip4 !== undefined ? parseAddressId(dip4) : null;
  return (rip) => {
    const v6 = rip >= IPV6_ID_BASE;
    if (!v6 && fixed4 !== null) return fixed4;
    let v = cache.get(rip);
    if (v === undefined) {
      v = parseAddressId(hostSourceFor(formatAddressId(rip), v6 ? 6 : 4))!;
      cache.set(rip, v);
    }
    return v;
  };
}

/** The host's source address toward `rip` for `family`, from `ip route get`. */
export function hostSourceFor(rip: string, family: 4 | 6): string {
  let out: string;
  try {
    out = execFileSync('ip', [`-${family}`, 'route', 'get', rip], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    throw Object.assign(new Error(`no route to real server ${rip} (${((err as { stderr?: string }).stderr ?? '').trim()}); add one${family === 4 ? ' or pass --dip' : ''}`), { code: 'NO_ROUTE_TO_RS' });
  }
  const m = /\bsrc (\S+)/.exec(out);
  if (!m || parseAddressId(m[1]) === null) throw Object.assign(new Error(`cannot tell the host's source address toward ${rip} from "${out.trim()}"`), { code: 'NO_ROUTE_TO_RS' });
  return m[1];
}
