// The real server's host configuration for VS/TUN, applied through HostChanges so that
// every change is undone on exit and after a crash (the state file). Idempotent: a value
// that already satisfies VS/TUN is left alone, so nothing is recorded for it and the
// restore puts back exactly what was there.
import { confSysctl, type HostChanges } from '../host/host-changes.js';
import type { AddressPrefix } from './address-match.js';

export interface HostSetupPlan {
  vips: readonly AddressPrefix[];
  /** Resolved uplink names (see resolveUplinks). */
  uplinks: readonly string[];
}

/** arp_ignore values under which a link does not answer ARP for addresses on lo. */
const ARP_IGNORE_OK = new Set(['1', '2', '3', '8']);

/**
 * Puts each VIP on lo (/32, /128), sets arp_ignore=1 / arp_announce=2 on `all` and each
 * uplink (IPv4 VIPs only), and turns strict rp_filter (1) off on `all` and `default` —
 * before the TUN is created, so that it inherits 0 from `default`. Throws HostChangeError;
 * the caller undoes what was applied.
 */
export function applyHostSetup(changes: HostChanges, plan: HostSetupPlan, read: (key: string) => string): void {
  for (const vip of plan.vips) changes.addAddress('lo', `${vip.text}/${vip.family === 4 ? 32 : 128}`);
  if (!plan.vips.some((v) => v.family === 4)) return;
  for (const dev of ['all', ...plan.uplinks]) {
    if (!ARP_IGNORE_OK.has(read(confSysctl(4, dev, 'arp_ignore')))) changes.setSysctl(confSysctl(4, dev, 'arp_ignore'), 1);
    changes.setSysctl(confSysctl(4, dev, 'arp_announce'), 2);
  }
  relaxRpFilter(changes, ['all', 'default'], read);
}

/** rp_filter 1 (strict) → 0 on these devices; 0 and 2 (loose) are left as they are. */
export function relaxRpFilter(changes: HostChanges, devs: readonly string[], read: (key: string) => string): void {
  for (const dev of devs) {
    if (read(confSysctl(4, dev, 'rp_filter')) === '1') changes.setSysctl(confSysctl(4, dev, 'rp_filter'), 0);
  }
}
