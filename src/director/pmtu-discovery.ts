// Active path-MTU discovery toward each real server (RFC 1191 over the tunnel).
//
// The outer packets carry DF whenever the inner one does, so a hop with a smaller MTU
// drops them and sends ICMP "fragmentation needed" to the outer source: the DIP, which is
// the director host's own address. The director process never sees that ICMP on its TAP
// (it goes to the host, not to a VIP), and the host kernel has no ipip module to act on
// it. So the director opens a raw ICMP socket on the host, which gets a copy of every ICMP
// message the host receives, and adopts the MTU of any frag-needed that quotes one of its
// own tunnel packets (outer source a DIP, protocol 4, 41 or UDP, destination a RIP). The
// data path then answers clients with the smaller usable MTU (icmp-too-big.ts) and clamps
// MSS to it (mss-clamp.ts).
//
// To learn the MTU before any client pays for it, and to notice when a path grows back,
// it also sends a probe through each tunnel: an outer packet of the configured tunnel MTU
// with DF, carrying an ICMP echo request from the DIP to a VIP of the server. A smaller
// hop answers the probe with frag-needed; a server whose agent decapsulates it answers
// the echo, which confirms the full size and raises a lowered path MTU again. Learned
// values also expire after PATH_MTU_EXPIRE_MS (as Linux's mtu_expires), and are re-probed.
// Where ICMP is filtered on the path, neither comes back: set `tunnelMtu` in the config.
// IPv6 servers: a raw ICMPv6 socket adopts Packet Too Big about our IPv6 tunnel packets
// the same way, and IPv6 probes carry an ICMPv6 echo. Probes use the server's own tunnel
// (IPIP, 6in6, GUE…), so they cross the same filters as its traffic; they go where the
// VIP and the server share a family (the echo's source is the DIP).
import { finalizeChecksum, pseudoHeaderSumV6At, sumBytes } from '../wire/checksum.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP } from '../wire/ip-protocol.js';
import { writeOuterIpv4Fields } from '../wire/ipip.js';
import { readIpv4, writeIpv4 } from '../wire/ipv4-address.js';
import { IPV6_ID_BASE } from './address-id.js';
import type { PacketBatch, PacketDevice } from '../device/packet-device.js';
import { META_LENGTH, META_OFFSET, META_STRIDE } from '../device/packet-device.js';
import type { RealServer } from './real-server.js';
import type { ServiceRegistry } from './service-registry.js';
import { MAX_ENCAP_HEADROOM, TunnelEncapsulator } from './encap-tunnel.js';
import { FAMILY_V4, FAMILY_V6, PacketRecord } from './pipeline/packet-record.js';
import { configuredTunnelMtu, effectiveTunnelMtu, MIN_TUNNEL_MTU_V4, MIN_TUNNEL_MTU_V6, tunnelOverhead } from './tunnel-mtu.js';
import type { VirtualHost } from './virtual-host.js';

export const PATH_MTU_EXPIRE_MS = 10 * 60_000;
export const DEFAULT_PROBE_INTERVAL_MS = 60_000;
/** Echo identifier and payload tag of probes ("vs" / "vsPM"). */
export const PROBE_ECHO_ID = 0x7673;
const PROBE_TAG = [0x76, 0x73, 0x50, 0x4d];
const PROBE_TTL = 64;
/** RFC 1191 plateaus, for frag-needed from routers that report no MTU. */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

export interface PathMtuOptions {
  registry: ServiceRegistry;
  host: VirtualHost;
  /** The TAP device probes are written to. */
  tap: PacketDevice;
  /** The director's default tunnel MTU (the data path's). */
  defaultTunnelMtu: () => number;
  /** Monotonic ms. */
  clock: () => number;
  probeIntervalMs?: number;
  /** Told about every change of a server's path MTU (for logs). */
  onChange?: (rip: string, from: number, to: number, why: 'frag-needed' | 'probe-confirmed' | 'expired') => void;
}

interface PathState {
  rip: number;
  /** Last frag-needed that lowered it (ms), or -Infinity. */
  loweredAt: number;
  reports: number;
  probesSent: number;
  /** Largest probe size the server echoed back; 0 = none yet. */
  confirmedMtu: number;
}

export interface PathMtuSnapshot {
  address: string;
  configuredMtu: number;
  pathMtu: number;
  effectiveMtu: number;
  fragNeededReports: number;
  probesSent: number;
  confirmedMtu: number;
}

export class PathMtuDiscovery {
  private readonly paths = new Map<number, PathState>();
  private readonly frame = new Uint8Array(MAX_ENCAP_HEADROOM + 65535);
  private readonly encap: TunnelEncapsulator;
  /** The probe being encapsulated, described as the data path describes a packet. */
  private readonly probe = new PacketRecord();
  private readonly meta = new Int32Array(META_STRIDE);
  private timer: NodeJS.Timeout | null = null;
  private icmp: PacketDevice | null = null;
  private icmp6: PacketDevice | null = null;
  /** ICMP messages seen, and how many were frag-needed about our tunnels. */
  icmpSeen = 0;
  fragNeededAccepted = 0;
  fragNeededIgnored = 0;

  constructor(private readonly opts: PathMtuOptions) {
    this.encap = new TunnelEncapsulator(opts.registry.addresses);
  }

  /**
   * Starts listening on `icmpSocket` (a raw IPv4 ICMP socket, packets with their IP
   * header) and probing every interval. Idempotent.
   */
  start(icmpSocket: PacketDevice | null): void {
    if (this.timer) return;
    this.icmp = icmpSocket;
    icmpSocket?.onBatch((b) => this.handleBatch(b));
    // First probes soon after start (the kernel may need a moment for neighbours), then periodically.
    const early = [300, 1500, 4000].map((ms) => setTimeout(() => this.probeAll(), ms).unref());
    this.timer = setInterval(() => this.probeAll(), this.opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS);
    this.timer.unref();
    this.early = early;
  }
  private early: NodeJS.Timeout[] = [];

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.early) clearTimeout(t);
    this.timer = null;
    this.icmp?.close();
    this.icmp = null;
    this.icmp6?.close();
    this.icmp6 = null;
  }

  /** Also listens on a raw ICMPv6 socket (messages without the IPv6 header) for Packet Too Big. */
  listenV6(icmp6Socket: PacketDevice): void {
    this.icmp6 = icmp6Socket;
    icmp6Socket.onBatch((b) => {
      const now = this.opts.clock();
      for (let i = 0; i < b.count; i++) {
        const m = i * META_STRIDE;
        this.handleIcmpv6(b.data, b.meta[m + META_OFFSET], b.meta[m + META_LENGTH], now);
      }
    });
  }

  /**
   * One ICMPv6 message at data[off .. off+len) (from an IPv6 raw socket: no IPv6 header).
   * A Packet Too Big quoting one of our IPv6 tunnel packets (source a DIP, next header 4,
   * 41 or UDP, destination a real server) lowers that server's path MTU (never below
   * 1280). Returns true when it changed one.
   */
  handleIcmpv6(data: Uint8Array, off: number, len: number, now: number): boolean {
    this.icmpSeen++;
    if (len >= 8 && data[off] === 129) return this.handleEchoReply(data, off, len, true);
    if (len < 8 + 40 || data[off] !== 2 || data[off + 1] !== 0) return false;
    const q = off + 8;
    if (data[q] >> 4 !== 6) return this.ignore();
    const nh = data[q + 6];
    if (nh !== IPPROTO_IPIP && nh !== IPPROTO_IPV6 && nh !== IPPROTO_UDP) return this.ignore();
    const dip = this.opts.registry.addresses.find(data, q + 8);
    const rip = this.opts.registry.addresses.find(data, q + 24);
    if (dip < 0 || rip < 0) return this.ignore();
    const servers = this.serversAt(rip, dip);
    if (servers.length === 0) return this.ignore();
    let mtu = ((data[off + 4] << 24) | (data[off + 5] << 16) | (data[off + 6] << 8) | data[off + 7]) >>> 0;
    if (mtu < MIN_TUNNEL_MTU_V6) mtu = MIN_TUNNEL_MTU_V6;
    return this.lowerPathMtu(servers, rip, mtu, now);
  }

  handleBatch(batch: PacketBatch): void {
    const now = this.opts.clock();
    for (let i = 0; i < batch.count; i++) {
      const m = i * META_STRIDE;
      this.handleIcmp(batch.data, batch.meta[m + META_OFFSET], batch.meta[m + META_LENGTH], now);
    }
  }

  /**
   * One IPv4 packet from the raw ICMP socket at data[off .. off+len). Frag-needed about one
   * of our tunnel packets lowers that server's path MTU; an echo reply to a probe confirms
   * its size. Everything else is ignored. Returns true when it changed a path MTU.
   */
  handleIcmp(data: Uint8Array, off: number, len: number, now: number): boolean {
    this.icmpSeen++;
    if (len < 28 || data[off] >> 4 !== 4) return false;
    const hlen = (data[off] & 0x0f) << 2;
    if (data[off + 9] !== IPPROTO_ICMP || len < hlen + 8) return false;
    const icmp = off + hlen;
    const type = data[icmp];
    if (type === 0) return this.handleEchoReply(data, icmp, off + len - icmp, false);
    if (type !== 3 || data[icmp + 1] !== 4) return false;
    const q = icmp + 8;
    if (len < hlen + 8 + 20 || data[q] >> 4 !== 4) return this.ignore();
    const proto = data[q + 9];
    if (proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6 && proto !== IPPROTO_UDP) return this.ignore();
    const src = readIpv4(data, q + 12);
    const rip = readIpv4(data, q + 16);
    const servers = this.serversAt(rip, src);
    if (servers.length === 0) return this.ignore();
    let mtu = (data[icmp + 6] << 8) | data[icmp + 7];
    const quotedTotal = (data[q + 2] << 8) | data[q + 3];
    if (mtu === 0 || mtu >= quotedTotal) mtu = plateauBelow(quotedTotal);
    if (mtu < MIN_TUNNEL_MTU_V4) mtu = MIN_TUNNEL_MTU_V4;
    return this.lowerPathMtu(servers, rip, mtu, now);
  }

  /** Adopts a reported `mtu` for the servers at `rip` where it is lower; true if any changed. */
  private lowerPathMtu(servers: readonly RealServer[], rip: number, mtu: number, now: number): boolean {
    this.fragNeededAccepted++;
    const path = this.path(rip);
    path.reports++;
    path.loweredAt = now;
    let changed = false;
    for (const rs of servers) {
      const before = this.effective(rs);
      if (mtu < before) {
        rs.pathMtu = mtu;
        changed = true;
        this.opts.onChange?.(this.opts.registry.addressText(rip), before, mtu, 'frag-needed');
      }
    }
    return changed;
  }

  /** Sends one probe per real-server address now, and expires old learned values. */
  probeAll(): number {
    const now = this.opts.clock();
    const host = this.opts.host;
    if (!host.kernelMacKnown) return 0;
    let sent = 0;
    const done = new Set<number>();
    for (const rs of this.opts.registry.servers) {
      if (rs === undefined || rs.removed || done.has(rs.address)) continue;
      done.add(rs.address);
      const path = this.path(rs.address);
      if (rs.pathMtu > 0 && now - path.loweredAt > PATH_MTU_EXPIRE_MS) this.raise(rs.address, 'expired');
      const svc = this.opts.registry.services[rs.serviceId];
      // The echo inside needs a source the server can answer: the DIP, so the VIP must be of its family.
      if (svc === undefined || rs.address >= IPV6_ID_BASE !== svc.vip >= IPV6_ID_BASE) continue;
      const size = configuredTunnelMtu(rs, svc, this.opts.defaultTunnelMtu());
      const start = this.writeProbe(rs, svc.vip, size);
      this.meta[META_OFFSET] = start;
      this.meta[META_LENGTH] = 14 + size;
      if (this.opts.tap.writeBatch(this.frame, this.meta, 1) === 1) {
        path.probesSent++;
        sent++;
      }
    }
    return sent;
  }

  /** Per-address state for the control plane. */
  snapshot(): PathMtuSnapshot[] {
    const out: PathMtuSnapshot[] = [];
    const seen = new Set<number>();
    for (const rs of this.opts.registry.servers) {
      if (rs === undefined || rs.removed || seen.has(rs.address)) continue;
      seen.add(rs.address);
      const svc = this.opts.registry.services[rs.serviceId] ?? null;
      const p = this.paths.get(rs.address);
      out.push({
        address: this.opts.registry.addressText(rs.address),
        configuredMtu: configuredTunnelMtu(rs, svc, this.opts.defaultTunnelMtu()),
        pathMtu: rs.pathMtu,
        effectiveMtu: effectiveTunnelMtu(rs, svc, this.opts.defaultTunnelMtu()),
        fragNeededReports: p?.reports ?? 0,
        probesSent: p?.probesSent ?? 0,
        confirmedMtu: p?.confirmedMtu ?? 0,
      });
    }
    return out;
  }

  /**
   * Writes the probe for `rs` into this.frame and returns the frame's offset; the frame is
   * 14 + size bytes. The outer headers are exactly the server's tunnel (IPIP, 6in6, GUE…)
   * with DF, `size` bytes in all; inside, an ICMP(v6) echo request from the DIP to `vip`
   * whose identifier is PROBE_ECHO_ID, sequence the size, and data the tag and the RIP.
   */
  writeProbe(rs: RealServer, vip: number, size: number): number {
    const f = this.frame;
    const inner = MAX_ENCAP_HEADROOM;
    const innerLen = size - tunnelOverhead(rs.tunnel, rs.address >= IPV6_ID_BASE);
    const v6 = vip >= IPV6_ID_BASE;
    const icmp = inner + (v6 ? 40 : 20);
    const icmpLen = innerLen - (v6 ? 40 : 20);
    f.fill(0, icmp, icmp + icmpLen);
    f[icmp] = v6 ? 128 : 8; // echo request
    f[icmp + 4] = PROBE_ECHO_ID >>> 8;
    f[icmp + 5] = PROBE_ECHO_ID & 0xff;
    f[icmp + 6] = size >>> 8;
    f[icmp + 7] = size;
    for (let k = 0; k < 4; k++) f[icmp + 8 + k] = PROBE_TAG[k];
    if (v6) {
      this.opts.registry.addresses.copyTo(rs.address, f, icmp + 12);
      f[inner] = 0x60;
      f[inner + 1] = 0;
      f[inner + 2] = 0;
      f[inner + 3] = 0;
      f[inner + 4] = icmpLen >>> 8;
      f[inner + 5] = icmpLen;
      f[inner + 6] = IPPROTO_ICMPV6;
      f[inner + 7] = PROBE_TTL;
      this.opts.registry.addresses.copyTo(rs.dip, f, inner + 8);
      this.opts.registry.addresses.copyTo(vip, f, inner + 24);
      const c = finalizeChecksum(sumBytes(f, icmp, icmpLen, pseudoHeaderSumV6At(f, inner + 8, inner + 24, IPPROTO_ICMPV6, icmpLen)));
      f[icmp + 2] = c >>> 8;
      f[icmp + 3] = c;
    } else {
      writeIpv4(f, icmp + 12, rs.address);
      const c = finalizeChecksum(sumBytes(f, icmp, icmpLen));
      f[icmp + 2] = c >>> 8;
      f[icmp + 3] = c;
      writeOuterIpv4Fields(f, icmp, rs.dip, vip, IPPROTO_ICMP, icmpLen, PROBE_TTL, true, 0, 0);
    }
    const probe = this.probe;
    probe.data = f;
    probe.ipOffset = inner;
    probe.total = innerLen;
    probe.family = v6 ? FAMILY_V6 : FAMILY_V4;
    probe.rs = rs;
    probe.tos = 0;
    // The flow hash (GUE source port, flow label) is the server's address: one path per server.
    probe.flowHash = rs.address | 0;
    return this.encap.encap(probe, true, 0, this.opts.host);
  }

  /** An echo reply to one of our probes (IPv4 or IPv6, ICMP header at `icmp`). */
  private handleEchoReply(data: Uint8Array, icmp: number, icmpLen: number, v6: boolean): boolean {
    if (icmpLen < (v6 ? 28 : 16) || ((data[icmp + 4] << 8) | data[icmp + 5]) !== PROBE_ECHO_ID) return false;
    for (let k = 0; k < 4; k++) if (data[icmp + 8 + k] !== PROBE_TAG[k]) return false;
    const size = (data[icmp + 6] << 8) | data[icmp + 7];
    const rip = v6 ? this.opts.registry.addresses.find(data, icmp + 12) : readIpv4(data, icmp + 12);
    const path = this.paths.get(rip);
    if (path === undefined) return false;
    if (size > path.confirmedMtu) path.confirmedMtu = size;
    // The full configured size made it: whatever was learned before no longer holds.
    let raised = false;
    for (const rs of this.serversAt(rip, -1)) {
      if (rs.pathMtu > 0 && size > rs.pathMtu) {
        const from = rs.pathMtu;
        rs.pathMtu = size >= configuredTunnelMtu(rs, this.opts.registry.services[rs.serviceId] ?? null, this.opts.defaultTunnelMtu()) ? 0 : size;
        this.opts.onChange?.(this.opts.registry.addressText(rip), from, rs.pathMtu || size, 'probe-confirmed');
        raised = true;
      }
    }
    return raised;
  }

  private raise(rip: number, why: 'expired'): void {
    for (const rs of this.serversAt(rip, -1)) {
      if (rs.pathMtu === 0) continue;
      const from = rs.pathMtu;
      rs.pathMtu = 0;
      this.opts.onChange?.(this.opts.registry.addressText(rip), from, this.effective(rs), why);
    }
  }

  private effective(rs: RealServer): number {
    return effectiveTunnelMtu(rs, this.opts.registry.services[rs.serviceId] ?? null, this.opts.defaultTunnelMtu());
  }

  /** Live servers with address `rip` (and outer source `dip`, unless -1). */
  private serversAt(rip: number, dip: number): RealServer[] {
    const out: RealServer[] = [];
    for (const rs of this.opts.registry.servers) if (rs !== undefined && !rs.removed && rs.address === rip && (dip === -1 || rs.dip === dip)) out.push(rs);
    return out;
  }

  private path(rip: number): PathState {
    let p = this.paths.get(rip);
    if (p === undefined) {
      p = { rip, loweredAt: -Infinity, reports: 0, probesSent: 0, confirmedMtu: 0 };
      this.paths.set(rip, p);
    }
    return p;
  }

  private ignore(): false {
    this.fragNeededIgnored++;
    return false;
  }
}

/** The largest RFC 1191 plateau below `size` bytes. */
export function plateauBelow(size: number): number {
  for (const p of PLATEAUS) if (p < size) return p;
  return 68;
}
