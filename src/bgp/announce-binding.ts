// Health-aware announcement, wired to a running director: per VIP, "live" while at least one
// of its services has quorum among live real servers (keepalived's quorum: the summed weight
// of available servers that are not a stand-in sorry server reaches the service's quorum,
// default 1). Re-evaluated after every service change, every health transition, and once a
// second (cheap: a walk over the services), and handed to the VipAnnouncer, which only talks
// to BIRD when the set of VIPs to announce changes.
import { Gauge, type Registry } from 'prom-client';
import { definitionOf } from '../control/definition-index.js';
import type { Director } from '../director/director.js';
import type { RealServer } from '../director/real-server.js';
import { VipAnnouncer, type AnnouncerLog, type VipWish } from './vip-announcer.js';
import { definitionsOf } from '../control/service-definitions.js';

export interface BgpSettings {
  birdSocket: string;
  includeFile: string;
  protocol: string;
  drainSeconds: number;
}

/**
 * Per-VIP wishes from the director's current services and servers. `isStandIn(rs)`: a sorry
 * server standing in. `isSettling(rs)`: a server whose first health verdict is not in yet;
 * with `holdWhileSettling`, a VIP with such a server is not announced (a starting director
 * that announced with one server up would send the flows ECMP moves to it to that one
 * server, where the other directors send them elsewhere).
 */
export function vipWishes(director: Director, isStandIn: (rs: RealServer) => boolean = () => false, isSettling: (rs: RealServer) => boolean = () => false, holdWhileSettling = false): VipWish[] {
  const byVip = new Map<string, { services: number; up: number; live: number; settling: number }>();
  for (const svc of director.registry.list()) {
    const vip = svc.vipText;
    const def = definitionOf(definitionsOf(director), svc.protocolName, vip, svc.port);
    const quorum = (def as { quorum?: number } | undefined)?.quorum ?? 1;
    let weight = 0;
    let live = 0;
    let settling = 0;
    for (const rs of svc.servers) {
      if (!rs.removed && isSettling(rs)) settling++;
      if (!rs.available || isStandIn(rs)) continue;
      weight += rs.weight;
      live++;
    }
    const e = byVip.get(vip) ?? { services: 0, up: 0, live: 0, settling: 0 };
    e.services++;
    e.live += live;
    e.settling += settling;
    if (live > 0 && weight >= quorum) e.up++;
    byVip.set(vip, e);
  }
  return [...byVip].map(([vip, e]) => {
    if (holdWhileSettling && e.settling > 0) return { vip, live: false, reason: `held back: ${e.settling} of its real servers await their first health verdict` };
    return {
      vip,
      live: e.up > 0,
      reason:
        e.up > 0
          ? `${e.up} of ${e.services} service${e.services > 1 ? 's' : ''} on it ha${e.up > 1 ? 've' : 's'} a live server (${e.live} live)`
          : `withdrawn: none of its ${e.services} service${e.services > 1 ? 's' : ''} has a live real server (or quorum)`,
    };
  });
}

export interface AnnounceBinding {
  announcer: VipAnnouncer;
  settings: BgpSettings;
  /** Re-reads the director's state now. */
  evaluate(): void;
  /**
   * Shutdown, first thing: withdraw every VIP, then keep forwarding for drainSeconds so the
   * router moves flows to the other directors. Resolves when the drain time is over.
   */
  drainForShutdown(): Promise<void>;
  stop(): void;
}

export interface AnnounceBindingOptions {
  tap: string;
  log: AnnouncerLog;
  isStandIn?: (rs: RealServer) => boolean;
  /** A server whose first health verdict is not in yet (held back at start, see vipWishes). */
  isSettling?: (rs: RealServer) => boolean;
  /** How long a start may be held back by settling servers, ms (default 30 000). */
  settleLimitMs?: number;
  /** Re-evaluation period, ms (default 1000). */
  pollMs?: number;
}

/** Starts announcing the director's live VIPs through BIRD. */
export function startVipAnnouncement(director: Director, settings: BgpSettings, opts: AnnounceBindingOptions): AnnounceBinding {
  const announcer = new VipAnnouncer({ birdSocket: settings.birdSocket, includeFile: settings.includeFile, protocol: settings.protocol, tap: opts.tap, log: opts.log });
  // Until every server has its first verdict (or the limit passes), a VIP waits; after that, only health counts.
  const settleUntil = Date.now() + (opts.settleLimitMs ?? 30_000);
  let settled = false;
  const evaluate = () => {
    if (!settled && Date.now() > settleUntil) settled = true;
    const wishes = vipWishes(director, opts.isStandIn, opts.isSettling, !settled);
    if (!settled && wishes.every((w) => !w.reason.startsWith('held back'))) settled = true;
    announcer.update(wishes);
  };
  director.onServicesChanged(evaluate);
  const poll = setInterval(evaluate, opts.pollMs ?? 1000);
  poll.unref();
  evaluate();
  return {
    announcer,
    settings,
    evaluate,
    async drainForShutdown() {
      clearInterval(poll);
      const t0 = Date.now();
      await announcer.withdrawAll();
      opts.log.info({ drainSeconds: settings.drainSeconds, withdrawn: announcer.lastError === null }, 'VIPs withdrawn; forwarding until the router has moved the flows');
      const left = settings.drainSeconds * 1000 - (Date.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    },
    stop() {
      clearInterval(poll);
      announcer.close();
    },
  };
}

/** A control-plane error with a stable code (the control server passes `code` through). */
function noBgp(): Error {
  return Object.assign(new Error('this director has no bgp: section in its config, so it announces nothing; see the README, Scale-out'), { code: 'ERR_NO_BGP' });
}

/** Registers `announce` (state), `drain` and `undrain` on the control server; `binding` undefined: BGP not configured. */
export function registerAnnounceOps(server: { register(op: string, handler: () => Record<string, unknown> | Promise<Record<string, unknown>>): unknown }, binding: AnnounceBinding | undefined): void {
  server.register('announce', () => ({ bgp: binding ? binding.announcer.snapshot() : null }));
  server.register('drain', async () => {
    if (!binding) throw noBgp();
    await binding.announcer.setDraining(true);
    return { bgp: binding.announcer.snapshot() };
  });
  server.register('undrain', async () => {
    if (!binding) throw noBgp();
    binding.evaluate();
    await binding.announcer.setDraining(false);
    return { bgp: binding.announcer.snapshot() };
  });
}

/** vstun_vip_announced{vip}: 1 while BIRD has the VIP in its announced set, 0 otherwise (read at scrape time). */
export function registerAnnounceMetrics(registry: Registry, binding: AnnounceBinding): void {
  new Gauge({
    name: 'vstun_vip_announced',
    help: 'Whether this director has BIRD announce the VIP: 1 announced, 0 withdrawn (no live server, drained, stopping, or BIRD unreachable).',
    labelNames: ['vip'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of binding.announcer.snapshot().vips) this.set({ vip: v.vip }, v.announced ? 1 : 0);
    },
  });
}
