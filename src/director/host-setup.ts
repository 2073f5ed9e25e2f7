// What the director needs from its host, all through HostChanges (so every change is
// undone on exit, or on the next start after a crash):
//   - the TAP's kernel-side address (e.g. 169.254.77.1/30); the director is .2 on that link
//   - a /32 route for each VIP via the director's link address on the TAP
//   - ip_forward=1; on the TAP accept_local=1 (the outer source is the host's own address)
//     and rp_filter=0, and all.rp_filter lowered from strict (1) because the kernel uses
//     max(all, dev)
//   - IPv6 VIPs: IPv6 on the TAP without duplicate-address detection, IPv6 forwarding, and
//     a /128 route for each via the director's IPv6 link address (fe80::2, answered by its
//     NDP); without IPv6 VIPs, IPv6 off on the TAP (no RS/MLD noise)
//   - the tunnel-check probe source P as a /32 on the TAP, when configured: a connect() from
//     P to a VIP then leaves through the TAP into the director, and replies to P (routed to
//     this host by the network) are local
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { confSysctl, type HostChanges } from '../host/host-changes.js';
import { DEFAULT_LINK_ADDRESS6 as DIRECTOR_LINK_ADDRESS6 } from './virtual-host.js';

export interface DirectorHostSetup {
  tap: string;
  kernelAddress: string;
  linkAddress: string;
  prefixLength: number;
  vips: string[];
  /** Tunnel health-check probe source address (health-binding.ts). */
  probeSource?: string;
}

export function setupDirectorHost(changes: HostChanges, s: DirectorHostSetup, readSysctl: (p: string) => string = defaultReadSysctl): void {
  changes.adoptLink(s.tap);
  changes.addAddress(s.tap, `${s.kernelAddress}/${s.prefixLength}`);
  changes.setLinkUp(s.tap);
  changes.setSysctl('net/ipv4/ip_forward', 1);
  changes.setSysctl(confSysctl(4, s.tap, 'accept_local'), 1);
  changes.setSysctl(confSysctl(4, s.tap, 'rp_filter'), 0);
  if (readSysctl('net/ipv4/conf/all/rp_filter') === '1') changes.setSysctl('net/ipv4/conf/all/rp_filter', 0);
  const v6 = s.vips.some((v) => v.includes(':'));
  if (v6) {
    // Regenerate the kernel's link-local address at once, without DAD's second of waiting.
    changes.setSysctl(confSysctl(6, s.tap, 'accept_dad'), 0);
    changes.setSysctl(confSysctl(6, s.tap, 'disable_ipv6'), 1);
    changes.setSysctl(confSysctl(6, s.tap, 'disable_ipv6'), 0);
    changes.setSysctl('net/ipv6/conf/all/forwarding', 1);
  } else {
    try {
      changes.setSysctl(confSysctl(6, s.tap, 'disable_ipv6'), 1);
    } catch {
      /* IPv6 disabled host-wide: nothing to do */
    }
  }
  for (const vip of new Set(s.vips)) addVipRoute(changes, s, vip);
  if (s.probeSource !== undefined) changes.addAddress(s.tap, `${s.probeSource}/32`);
}

/** Routes one more VIP to the director (control plane adds services at run time). */
export function addVipRoute(changes: HostChanges, s: Pick<DirectorHostSetup, 'tap' | 'linkAddress'>, vip: string): void {
  if (vip.includes(':')) changes.addRoute([`${vip}/128`, 'via', DIRECTOR_LINK_ADDRESS6, 'dev', s.tap]);
  else changes.addRoute([`${vip}/32`, 'via', s.linkAddress, 'dev', s.tap]);
}

function defaultReadSysctl(p: string): string {
  return readFileSync(`/proc/sys/${p}`, 'utf8').trim();
}

/**
 * The host's source address toward `rip` (what `ip route get` picks): the default outer
 * source of tunnels. Throws with a hint when there is no route.
 */
export function hostSourceToward(rip: string): string {
  let out: string;
  try {
    out = execFileSync('ip', ['-4', 'route', 'get', rip], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    throw Object.assign(new Error(`no route to real server ${rip} (${((err as { stderr?: string }).stderr ?? '').trim()}); add one or pass --dip`), { code: 'NO_ROUTE_TO_RS' });
  }
  const m = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(out);
  if (!m) throw Object.assign(new Error(`cannot tell the host's source address toward ${rip} from "${out.trim()}"; pass --dip`), { code: 'NO_ROUTE_TO_RS' });
  return m[1];
}
