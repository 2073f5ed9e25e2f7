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
//   - VS/DR (`dr`): the TAP joins a bridge on the real servers' LAN (an existing one, or one
//     created here with the named ports), so the director can send frames to the servers'
//     MACs; the kernel's side of the TAP link (its address, sysctls, VIP routes) is then the
//     bridge, since a bridge port has no L3 of its own
//   - VS/NAT (NatReplyRules): replies of NAT real servers (their default gateway is this
//     host) are steered into the director by policy routing: `from RIP lookup TABLE`, whose
//     default route points at the director's link address
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
  /** VS/DR: put the TAP on the real servers' LAN through this bridge. */
  dr?: DrBridge;
}

export interface DrBridge {
  /** The bridge's name; created (and deleted on exit) when it does not exist. */
  bridge: string;
  /** Interfaces to make ports of a bridge created here (the LAN side); released on exit. */
  ports: string[];
}

/**
 * The device that holds the kernel's side of the TAP link: the DR bridge when there is
 * one (the TAP is only a port of it), else the TAP.
 */
export function kernelLinkDevice(s: Pick<DirectorHostSetup, 'tap' | 'dr'>): string {
  return s.dr?.bridge ?? s.tap;
}

export function setupDirectorHost(changes: HostChanges, s: DirectorHostSetup, readSysctl: (p: string) => string = defaultReadSysctl): void {
  changes.adoptLink(s.tap);
  if (s.dr !== undefined) joinDrBridge(changes, s.tap, s.dr);
  const l3 = kernelLinkDevice(s);
  changes.addAddress(l3, `${s.kernelAddress}/${s.prefixLength}`);
  changes.setLinkUp(s.tap);
  if (l3 !== s.tap) changes.setLinkUp(l3);
  changes.setSysctl('net/ipv4/ip_forward', 1);
  changes.setSysctl(confSysctl(4, l3, 'accept_local'), 1);
  changes.setSysctl(confSysctl(4, l3, 'rp_filter'), 0);
  if (readSysctl('net/ipv4/conf/all/rp_filter') === '1') changes.setSysctl('net/ipv4/conf/all/rp_filter', 0);
  const v6 = s.vips.some((v) => v.includes(':'));
  if (v6) {
    enableTapIpv6(changes, l3);
  } else if (l3 === s.tap) {
    try {
      changes.setSysctl(confSysctl(6, s.tap, 'disable_ipv6'), 1);
    } catch {
      /* IPv6 disabled host-wide: nothing to do */
    }
  }
  // One `ip -batch` for all of them: thousands of VIPs start in about the time of one.
  changes.addRoutes([...new Set(s.vips)].map((vip) => vipRouteSpec({ tap: l3, linkAddress: s.linkAddress }, vip)));
  if (s.probeSource !== undefined) changes.addAddress(l3, `${s.probeSource}/32`);
}

/** VS/DR: the bridge (created with its ports when missing) and the TAP as one of its ports. */
function joinDrBridge(changes: HostChanges, tap: string, dr: DrBridge): void {
  if (!changes.hasLink(dr.bridge)) {
    changes.addLink(dr.bridge, ['type', 'bridge']);
    for (const port of dr.ports) {
      changes.setMaster(port, dr.bridge);
      changes.setLinkUp(port);
    }
  }
  changes.setMaster(tap, dr.bridge);
}

/** Policy-routing table and rule priority of NAT replies (README: VS/NAT). */
export const NAT_REPLY_TABLE = 7377;

/**
 * VS/NAT replies into the director: one `from RIP lookup NAT_REPLY_TABLE` rule per NAT real
 * server, and in that table a default route via the director's link address (IPv6: via
 * fe80::2). The rules follow the service table (sync); every rule and route is a recorded
 * host change, undone on exit. Addresses must be canonical text.
 */
export class NatReplyRules {
  private readonly ruled = new Set<string>();
  private readonly tables = new Set<4 | 6>();

  constructor(
    private readonly changes: HostChanges,
    private readonly s: { device: string; linkAddress: string },
    private readonly table: number = NAT_REPLY_TABLE,
  ) {}

  /** The NAT servers whose replies are steered now. */
  get servers(): ReadonlySet<string> {
    return this.ruled;
  }

  /**
   * Makes the rules those of `servers`: adds the missing ones first (throws HostChangeError
   * on a refusal, with what was added so far kept and recorded), then removes the others.
   */
  sync(servers: Iterable<string>): void {
    const want = new Set(servers);
    for (const rip of want) {
      if (this.ruled.has(rip)) continue;
      const family: 4 | 6 = rip.includes(':') ? 6 : 4;
      if (!this.tables.has(family)) {
        const via = family === 6 ? DIRECTOR_LINK_ADDRESS6 : this.s.linkAddress;
        this.changes.addRoute([family === 6 ? '::/0' : '0.0.0.0/0', 'via', via, 'dev', this.s.device, 'table', String(this.table)]);
        this.tables.add(family);
      }
      this.changes.addRule(family, this.ruleSpec(rip));
      this.ruled.add(rip);
    }
    for (const rip of [...this.ruled]) {
      if (want.has(rip)) continue;
      this.changes.removeRule(rip.includes(':') ? 6 : 4, this.ruleSpec(rip));
      this.ruled.delete(rip);
    }
  }

  private ruleSpec(rip: string): string[] {
    return ['from', rip.includes(':') ? `${rip}/128` : `${rip}/32`, 'lookup', String(this.table), 'priority', String(this.table)];
  }
}

/** IPv6 on the TAP for IPv6 VIPs: sysctl writes only (no child process), so also fine after start. */
function enableTapIpv6(changes: HostChanges, tap: string): void {
  // Regenerate the kernel's link-local address at once, without DAD's second of waiting.
  changes.setSysctl(confSysctl(6, tap, 'accept_dad'), 0);
  changes.setSysctl(confSysctl(6, tap, 'disable_ipv6'), 1);
  changes.setSysctl(confSysctl(6, tap, 'disable_ipv6'), 0);
  changes.setSysctl('net/ipv6/conf/all/forwarding', 1);
}

/** The route that sends `vip` into the TAP: IPv4 /32 via the link address, IPv6 /128 via fe80::2. */
export function vipRouteSpec(s: Pick<DirectorHostSetup, 'tap' | 'linkAddress'>, vip: string): string[] {
  return vip.includes(':') ? [`${vip}/128`, 'via', DIRECTOR_LINK_ADDRESS6, 'dev', s.tap] : [`${vip}/32`, 'via', s.linkAddress, 'dev', s.tap];
}

/** A pending change of the routed VIP set: the new routes are in; commit drops the stale ones. */
export interface VipRouteChange {
  /** Deletes the routes of VIPs that left (after the data path stopped serving them). */
  commit(): Promise<void>;
  /** Deletes the routes this change added (the rest of the change failed). */
  rollback(): Promise<void>;
}

/**
 * The VIP routes into the TAP after start: every change of the service table passes the VIP
 * set it leads to, and the host follows (diff against what is routed, add with undo records
 * first, remove and drop the records after). Asynchronous: never blocks the event loop.
 * VIP texts must be canonical (dotted quad, RFC 5952).
 */
export class HostVipRoutes {
  private readonly routed = new Set<string>();
  private ipv6Ready: boolean;

  constructor(
    private readonly changes: HostChanges,
    private readonly s: Pick<DirectorHostSetup, 'tap' | 'linkAddress'>,
    initial: Iterable<string>,
    /** Called with the failures of deleting stale routes (their undo records stay). */
    private readonly onRemoveFailed: (failures: string[]) => void = () => {},
  ) {
    for (const v of initial) this.routed.add(v);
    this.ipv6Ready = [...this.routed].some((v) => v.includes(':'));
  }

  /** The VIPs routed now. */
  get vips(): ReadonlySet<string> {
    return this.routed;
  }

  /**
   * Adds the routes of VIPs in `desired` that are not routed yet. Throws HostChangeError
   * (nothing added) when one is refused. The returned change removes the others on commit.
   */
  async prepare(desired: ReadonlySet<string>): Promise<VipRouteChange> {
    const add = [...desired].filter((v) => !this.routed.has(v));
    if (add.some((v) => v.includes(':')) && !this.ipv6Ready) {
      enableTapIpv6(this.changes, this.s.tap);
      this.ipv6Ready = true;
    }
    await this.changes.addRoutesAsync(add.map((v) => vipRouteSpec(this.s, v)));
    for (const v of add) this.routed.add(v);
    let done = false;
    return {
      commit: async () => {
        if (done) return;
        done = true;
        const stale = [...this.routed].filter((v) => !desired.has(v));
        for (const v of stale) this.routed.delete(v);
        const failures = await this.changes.removeRoutesAsync(stale.map((v) => vipRouteSpec(this.s, v)));
        if (failures.length) this.onRemoveFailed(failures);
      },
      rollback: async () => {
        if (done) return;
        done = true;
        for (const v of add) this.routed.delete(v);
        const failures = await this.changes.removeRoutesAsync(add.map((v) => vipRouteSpec(this.s, v)));
        if (failures.length) this.onRemoveFailed(failures);
      },
    };
  }
}

function defaultReadSysctl(p: string): string {
  return readFileSync(`/proc/sys/${p}`, 'utf8').trim();
}
