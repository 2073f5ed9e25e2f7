// The SYN-flood guard: an nftables table in front of the TAP on the director host. A flood of
// new flows past what the director can read would fill the TAP queue, and the kernel would
// then drop established traffic along with the flood. The guard drops the excess earlier, in
// the kernel's forward and output hooks: per VIP, new TCP SYNs and new UDP flows above a
// rate are dropped (and counted) before they are queued to the TAP. Packets of established
// TCP connections (no lone SYN) and of UDP flows already seen are never limited.
//
// The table is installed at start through HostChanges (undone on exit, or after a crash on the
// next start). After that, nft only runs asynchronously and only when the VIPs change
// (syncGuard()); the once-a-second read of the drop counters goes through netlink
// (host/nft-counters.ts), since a child process a second forked the whole director.
import { execFile } from 'node:child_process';
import type { HostChanges } from '../host/host-changes.js';
import { readNftCounters, type NftCounter } from '../host/nft-counters.js';
import { PolledDropSource } from './kernel-drops.js';

export interface GuardSettings {
  enabled: boolean;
  /** New TCP SYNs per second per VIP let through to the TAP. */
  synPerSecond: number;
  /** New UDP flows (first packet of a 4-tuple not seen in the last minute) per second per VIP. */
  udpNewPerSecond: number;
  /** The TAP's queue length in frames (what the kernel holds while the director is busy). */
  tapQueueLength: number;
}

/** Runs `nft ARGS` with `input` on stdin; resolves with stdout, rejects with nft's stderr. */
export type AsyncNft = (args: string[], input?: string) => Promise<string>;

/** Reads the named counters of inet table `table`; rejects on failure. */
export type CounterReader = (table: string) => Promise<ReadonlyMap<string, NftCounter>>;

/** How long a UDP 4-tuple counts as an established flow after its last packet (s). */
const UDP_FLOW_TIMEOUT_S = 60;
/** Most UDP flows the guard remembers per family; beyond it, new flows are all rate-limited. */
const UDP_FLOW_SET_SIZE = 262_144;

/** `vstun_<tap>`: the table's name, with characters nft names do not take turned into `_`. */
export function guardTableName(tap: string): string {
  return `vstun_${tap.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The whole table as an `nft -f` script (family inet), with the VIP sets filled from `vips`. */
export function guardRuleset(tap: string, s: GuardSettings, vips: readonly string[]): string {
  const t = guardTableName(tap);
  const syn = `limit rate over ${s.synPerSecond}/second burst ${s.synPerSecond} packets`;
  const udp = `limit rate over ${s.udpNewPerSecond}/second burst ${s.udpNewPerSecond} packets`;
  const lines = [`table inet ${t} {`, '  counter syn_dropped {}', '  counter udp_dropped {}', '  set vips4 { type ipv4_addr; }', '  set vips6 { type ipv6_addr; }'];
  for (const f of ['4', '6'] as const) {
    const addr = f === '4' ? 'ipv4_addr' : 'ipv6_addr';
    lines.push(
      `  set syn_rate${f} { type ${addr}; size 65536; flags dynamic,timeout; timeout 60s; }`,
      `  set udp_rate${f} { type ${addr}; size 65536; flags dynamic,timeout; timeout 60s; }`,
      `  set udp_flows${f} { type ${addr} . inet_service . ${addr} . inet_service; size ${UDP_FLOW_SET_SIZE}; flags dynamic,timeout; timeout ${UDP_FLOW_TIMEOUT_S}s; }`,
    );
  }
  lines.push('  chain guard {');
  for (const f of ['4', '6'] as const) {
    const ip = f === '4' ? 'ip' : 'ip6';
    const tuple = `${ip} saddr . udp sport . ${ip} daddr . udp dport`;
    lines.push(
      `    ${ip} daddr @vips${f} tcp flags & (fin|syn|rst|ack) == syn update @syn_rate${f} { ${ip} daddr ${syn} } counter name "syn_dropped" drop`,
      `    ${ip} daddr @vips${f} ${tuple} @udp_flows${f} update @udp_flows${f} { ${tuple} } return`,
      `    ${ip} daddr @vips${f} meta l4proto udp update @udp_rate${f} { ${ip} daddr ${udp} } counter name "udp_dropped" drop`,
      `    ${ip} daddr @vips${f} meta l4proto udp update @udp_flows${f} { ${tuple} }`,
    );
  }
  lines.push('  }');
  // Forwarded traffic (clients elsewhere) and the host's own (a client on the director host).
  for (const hook of ['forward', 'output']) {
    lines.push(`  chain ${hook} { type filter hook ${hook} priority filter - 10; policy accept; oifname ${JSON.stringify(tap)} jump guard; }`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n${vipElements(t, vips)}`;
}

/** Replaces both VIP sets' contents in one transaction. */
export function vipElements(table: string, vips: readonly string[]): string {
  const v4 = [...new Set(vips.filter((v) => !v.includes(':')))];
  const v6 = [...new Set(vips.filter((v) => v.includes(':')))];
  let out = `flush set inet ${table} vips4\nflush set inet ${table} vips6\n`;
  if (v4.length) out += `add element inet ${table} vips4 { ${v4.join(', ')} }\n`;
  if (v6.length) out += `add element inet ${table} vips6 { ${v6.join(', ')} }\n`;
  return out;
}

/** nft through an async child process (never blocks the event loop); 10 s timeout. */
export const runNftAsync: AsyncNft = (args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 10_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nft ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => {}); // nft exiting early must not become an unhandled EPIPE
    child.stdin?.end(input ?? '');
  });

/**
 * The guard of one director. install() at start (sync, through HostChanges); then syncGuard()
 * from the services-changed hook and read() for the counters, both without blocking.
 */
export class NftGuard extends PolledDropSource {
  readonly table: string;
  private counts = { syn: 0, udp: 0 };
  private syncing: Promise<void> | null = null;
  private pendingVips: readonly string[] | null = null;
  private lastVips = '';
  /** Failures of the last sync or counter read ('' when fine), for logs and tests. */
  lastError = '';

  constructor(
    readonly tap: string,
    readonly settings: GuardSettings,
    private readonly nft: AsyncNft = runNftAsync,
    private readonly onError: (what: string, err: Error) => void = () => {},
    private readonly counters: CounterReader = (table) => readNftCounters('inet', table),
  ) {
    super();
    this.table = guardTableName(tap);
  }

  /** Creates the table with `vips` (recorded in `changes`, so it is deleted on undo). Throws HostChangeError. */
  install(changes: HostChanges, vips: readonly string[]): void {
    changes.setTxQueueLength(this.tap, this.settings.tapQueueLength);
    changes.addNftTable('inet', this.table, guardRuleset(this.tap, this.settings, vips));
    this.lastVips = key(vips);
  }

  /**
   * Makes the guard's VIP sets equal `vips` (one nft transaction, asynchronous). Calls made
   * while one runs are coalesced: only the newest set of VIPs is applied next. Never rejects;
   * a failure is reported through onError and kept in lastError.
   */
  syncGuard(vips: readonly string[]): Promise<void> {
    if (key(vips) === this.lastVips && this.syncing === null) return Promise.resolve();
    this.pendingVips = vips;
    if (this.syncing === null) this.syncing = this.drainSyncs();
    return this.syncing;
  }

  private async drainSyncs(): Promise<void> {
    try {
      while (this.pendingVips !== null) {
        const vips = this.pendingVips;
        this.pendingVips = null;
        if (key(vips) === this.lastVips) continue;
        try {
          await this.nft(['-f', '-'], vipElements(this.table, vips));
          this.lastVips = key(vips);
          this.lastError = '';
        } catch (err) {
          this.lastError = (err as Error).message;
          this.onError('sync', err as Error);
        }
      }
    } finally {
      this.syncing = null;
    }
  }

  /**
   * One asynchronous read of the table's counters through netlink (start()/poll() drive it).
   * A failed read, or a table without the two counters (deleted behind our back), keeps
   * the last counts and says why in lastError.
   */
  protected async refresh(): Promise<void> {
    try {
      const c = await this.counters(this.table);
      const syn = c.get('syn_dropped');
      const udp = c.get('udp_dropped');
      if (!syn || !udp) throw new Error(`nftables table inet ${this.table} has no syn_dropped/udp_dropped counters (deleted outside vstun?)`);
      this.counts = { syn: syn.packets, udp: udp.packets };
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  /** Packets dropped by the guard since it was installed. */
  get dropped(): { syn: number; udp: number } {
    return { ...this.counts };
  }

  read(): Record<string, number> {
    return { 'guard-syn-flood': this.counts.syn, 'guard-udp-flood': this.counts.udp };
  }
}

function key(vips: readonly string[]): string {
  return [...new Set(vips)].sort().join(',');
}
