// Keeps a multi-queue TAP's steering program (steering-program.ts) in step with the table:
// which VIPs are keyed by the client (persistent services, services with VS/NAT servers) and
// which addresses are VS/NAT servers. The program is rebuilt, loaded and attached (the
// kernel swaps it atomically) only when those sets change. Where bpf() or
// TUNSETSTEERINGEBPF does not work, the caller falls back to the kernel's flow hash and to
// refusing what needs one queue (control/queue-checks.ts).
import type { ServiceConfig } from '../control/config-schema.js';
import { parseNetmaskText } from '../wire/address-text.js';
import { parseIpv6 } from '../wire/ipv6-address.js';
import type { NativeAddon } from '../native/addon.js';
import { parseIpv4 } from './ipv4-text.js';
import { buildSteeringProgram, MAX_STEERED_ADDRESSES, steeredAddressCount, steeredQueue, type SteeringSets } from './steering-program.js';

export type SteeringAddon = Pick<NativeAddon, 'bpfLoadSteering' | 'tunSetSteering' | 'closeFd'>;

/** The addresses the steering program keys by the client, from the desired table. Bad addresses are skipped (the schema refuses them earlier). */
export function steeringSetsOf(services: readonly ServiceConfig[]): SteeringSets {
  const vips4 = new Set<number>();
  const vips6 = new Map<string, Uint8Array>();
  const rips4 = new Set<number>();
  const rips6 = new Map<string, Uint8Array>();
  let prefix4 = 32;
  for (const s of services) {
    const masq = s.realServers.filter((rs) => rs.forward === 'masq');
    if (s.persistence === 0 && masq.length === 0) continue;
    const v4 = parseIpv4(s.vip);
    const v6 = v4 === null ? parseIpv6(s.vip) : null;
    if (v4 !== null) {
      vips4.add(v4);
      // A persistence netmask groups clients; the widest group decides the key of every IPv4 client.
      if (s.persistence > 0) prefix4 = Math.min(prefix4, parseNetmaskText(s.netmask, 4) ?? 32);
    } else if (v6 !== null) vips6.set(s.vip, v6);
    for (const rs of masq) {
      const r4 = parseIpv4(rs.address);
      const r6 = r4 === null ? parseIpv6(rs.address) : null;
      if (r4 !== null) rips4.add(r4);
      else if (r6 !== null) rips6.set(rs.address, r6);
    }
  }
  return { clientVips4: [...vips4], clientVips6: [...vips6.values()], natServers4: [...rips4], natServers6: [...rips6.values()], clientPrefix4: prefix4 };
}

/**
 * The sets a program is built from: `sets` itself when it fits MAX_STEERED_ADDRESSES; over
 * the cap without VS/NAT servers, the flow hash alone (persistence templates are then per
 * queue again, as without steering); null over the cap with VS/NAT servers (they cannot be
 * served on several queues).
 */
export function fittingSets(sets: SteeringSets): SteeringSets | null {
  if (steeredAddressCount(sets) <= MAX_STEERED_ADDRESSES) return sets;
  if (sets.natServers4.length + sets.natServers6.length > 0) return null;
  return { clientVips4: [], clientVips6: [], natServers4: [], natServers6: [], clientPrefix4: 32 };
}

/** Why `services` cannot be steered (VS/NAT with too many addresses for one program), or null. */
export function steeringLimitReason(services: readonly ServiceConfig[]): string | null {
  const sets = steeringSetsOf(services);
  if (fittingSets(sets) !== null) return null;
  return `the TAP's queue steering holds at most ${MAX_STEERED_ADDRESSES} client-keyed VIPs and VS/NAT server addresses, this table has ${steeredAddressCount(sets)}`;
}

/** A stable text of the sets (the program depends on nothing else but the queue count). */
function setsKey(sets: SteeringSets): string {
  const hex = (a: Uint8Array) => Buffer.from(a).toString('hex');
  return JSON.stringify([[...sets.clientVips4].sort(), sets.clientVips6.map(hex).sort(), [...sets.natServers4].sort(), sets.natServers6.map(hex).sort(), sets.clientPrefix4]);
}

/**
 * Whether this kernel loads a steering program at all (bpf() with a socket filter): null
 * when it does, else the reason. Loads and closes a program for a 2-queue TAP.
 */
export function probeSteering(addon: SteeringAddon): string | null {
  try {
    const fd = addon.bpfLoadSteering(buildSteeringProgram({ clientVips4: [], clientVips6: [], natServers4: [], natServers6: [], clientPrefix4: 32 }, 2));
    addon.closeFd(fd);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export class QueueSteering {
  private attachedKey: string | null = null;
  private attachedFd = -1;
  /** A program loaded by `check` for a table not applied yet: attached by `sync` if the table matches. */
  private prepared: { key: string; fd: number } | null = null;
  /** False when the attached program left persistent VIPs to the flow hash (over the cap). */
  persistenceSteered = true;
  /** What the attached program was built from (null: none attached). */
  private attachedSets: SteeringSets | null = null;

  /**
   * @param addon    bpf() and the TAP ioctl
   * @param queueFd  any open queue of the TAP (the program is the device's)
   * @param queues   the TAP's queue count
   */
  constructor(
    private readonly addon: SteeringAddon,
    private readonly queueFd: number,
    readonly queues: number,
  ) {}

  /**
   * Why `services` cannot be served on several queues, or null: VS/NAT over the address cap,
   * or a program the kernel does not load (it is kept for the `sync` that follows the
   * change). Never throws.
   */
  check(services: readonly ServiceConfig[]): string | null {
    const limit = steeringLimitReason(services);
    if (limit !== null) return limit;
    const sets = fittingSets(steeringSetsOf(services))!;
    const key = setsKey(sets);
    if (key === this.attachedKey || key === this.prepared?.key) return null;
    try {
      const fd = this.addon.bpfLoadSteering(buildSteeringProgram(sets, this.queues));
      this.dropPrepared();
      this.prepared = { key, fd };
      return null;
    } catch (err) {
      return `the TAP's queue steering program could not be loaded: ${(err as Error).message}`;
    }
  }

  /**
   * Attaches the program of `services` unless it is the one attached; returns true when it
   * attached a new one. Throws (RangeError: VS/NAT over the cap; the addon's errno errors)
   * and then leaves the last program attached.
   */
  sync(services: readonly ServiceConfig[]): boolean {
    const all = steeringSetsOf(services);
    const sets = fittingSets(all);
    if (sets === null) throw new RangeError(steeringLimitReason(services) ?? 'too many addresses to steer');
    const key = setsKey(sets);
    this.persistenceSteered = sets === all;
    if (key === this.attachedKey) return false;
    let fd: number;
    if (this.prepared?.key === key) {
      fd = this.prepared.fd;
      this.prepared = null;
    } else fd = this.addon.bpfLoadSteering(buildSteeringProgram(sets, this.queues));
    try {
      this.addon.tunSetSteering(this.queueFd, fd);
    } catch (err) {
      this.addon.closeFd(fd);
      throw err;
    }
    // The device holds its own reference to the program: ours can go.
    if (this.attachedFd >= 0) this.addon.closeFd(this.attachedFd);
    this.attachedFd = fd;
    this.attachedKey = key;
    this.attachedSets = sets;
    return true;
  }

  /**
   * The queue the attached program sends a TCP/UDP packet from client:clientPort to
   * vip:vipPort (address texts), or null: no program attached, or addresses it cannot parse
   * or of two families.
   */
  queueOf(client: string, clientPort: number, vip: string, vipPort: number): number | null {
    if (this.attachedSets === null) return null;
    const c4 = parseIpv4(client);
    const v4 = parseIpv4(vip);
    if (c4 !== null && v4 !== null) return steeredQueue(this.attachedSets, this.queues, c4, clientPort, v4, vipPort);
    const c6 = parseIpv6(client);
    const v6 = parseIpv6(vip);
    return c6 !== null && v6 !== null ? steeredQueue(this.attachedSets, this.queues, c6, clientPort, v6, vipPort) : null;
  }

  /** True once a program is attached. */
  get attached(): boolean {
    return this.attachedKey !== null;
  }

  /** Closes this side's program fds (the TAP keeps its program until it is closed). */
  close(): void {
    this.dropPrepared();
    if (this.attachedFd >= 0) this.addon.closeFd(this.attachedFd);
    this.attachedFd = -1;
  }

  private dropPrepared(): void {
    if (this.prepared !== null) this.addon.closeFd(this.prepared.fd);
    this.prepared = null;
  }
}
