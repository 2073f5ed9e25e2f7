// The director's per-batch data path. Each frame from the TAP gets exactly one verdict
// (forward, reply, or drop with a reason) and one count; forwarded and reply frames are
// described in an output meta array and written with one writeBatch per batch. Nothing is
// allocated per packet and nothing throws per packet: all parsing is offset arithmetic
// over the ring, with the wire views re-bound rather than created. IPv4 and IPv6 frames
// share the connection tracking, scheduling and encapsulation; addresses are address
// ids (address-id.ts), so an IPv6 VIP or real server is just another number here.
import { META_LENGTH, META_OFFSET, META_STRIDE, type PacketBatch, type PacketDevice } from '../device/packet-device.js';
import { updateChecksum16 } from '../wire/checksum.js';
import { E_BAD_HEADER_LENGTH, E_BAD_OPTION, E_BAD_TOTAL_LENGTH, E_BAD_VERSION, E_TRUNCATED, WIRE_OK } from '../wire/errors.js';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICITATION, isIcmpv6Error } from '../wire/icmpv6.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP } from '../wire/ip-protocol.js';
import { Ipv4View } from '../wire/ipv4.js';
import { readIpv4 } from '../wire/ipv4-address.js';
import { ipv6Equals } from '../wire/ipv6-address.js';
import { Ipv6View } from '../wire/ipv6.js';
import { hashIpv6At, IPV6_ID_BASE, type Ipv6AddressTable } from './address-id.js';
import { ConnTable, KIND_TCP, KIND_TCP_TEMPLATE, KIND_UDP, KIND_UDP_TEMPLATE } from './conn-table.js';
import { frameOverhead, TunnelEncapsulator } from './encap-tunnel.js';
import { FragmentCache } from './fragment-cache.js';
import { ICMP_ECHO_REQUEST, makeEchoReplyInPlace } from './icmp-echo.js';
import { IcmpRateLimiter } from './icmp-rate-limit.js';
import { FRAG_NEEDED_HEADROOM, fragNeededFrameLength, PACKET_TOO_BIG_HEADROOM, packetTooBigFrameLength, writeFragNeededV4, writePacketTooBigV6 } from './icmp-too-big.js';
import { IPV4_TCP_HEADERS, IPV6_TCP_HEADERS, MssClamper } from './mss-clamp.js';
import type { ProbePinTable } from './probe-pins.js';
import type { RealServer } from './real-server.js';
import { newFlowKey } from './schedulers/scheduler.js';
import type { ServiceRegistry } from './service-registry.js';
import { nextTcpState, TCP_ACK, TCP_RST, TCP_SYN, TcpState, UDP_STATE } from './tcp-state.js';
import type { Timeouts } from './timeouts.js';
import { hash2 } from './flow-hash.js';
import { MIN_TUNNEL_MTU_V6, usableInnerMtu } from './tunnel-mtu.js';
import { TX_FAILED_INDEX, Verdict, VERDICT_COUNT, VERDICT_SENDS } from './verdicts.js';
import { NA_FRAME_LENGTH, type VirtualHost } from './virtual-host.js';
import type { VirtualService } from './virtual-service.js';

export interface DatapathOptions {
  /** Answer ICMP echo to VIPs and the link address (default true). */
  icmpEcho: boolean;
  /** Create entries for TCP packets that are not SYNs (IPVS sloppy_tcp). */
  sloppyTcp: boolean;
  /** Slots checked for expiry per batch. */
  sweepPerBatch: number;
}

const ICMP_DEST_UNREACH = 3;
const ICMP_TIME_EXCEEDED = 11;
const ICMP_PARAMETER_PROBLEM = 12;

export class Datapath {
  /** Count per verdict (index = Verdict). */
  readonly verdicts = new Float64Array(VERDICT_COUNT);
  framesIn = 0;
  /** Outer IP identification (wraps at 16 bits). */
  private ipId = 0;
  private txMeta = new Int32Array(256 * META_STRIDE);
  private readonly ip = new Ipv4View();
  private readonly ip6 = new Ipv6View();
  private readonly quoted6 = new Ipv6View();
  private readonly encap: TunnelEncapsulator;
  private readonly flow = newFlowKey();
  /** Set when a frame was dropped for lack of the kernel's MAC: the owner sends an ARP probe. */
  needKernelMac = false;
  /** Tunnel health-check pins (set by health-binding.ts when a probe source is configured). */
  probePins: ProbePinTable | null = null;
  /** Default tunnel MTU (bytes) for servers and services that set none: the TAP's MTU. */
  defaultTunnelMtu = 1500;
  /** Per-client budget for the "too big" errors the director sends. */
  readonly icmpLimiter = new IcmpRateLimiter();
  readonly mss = new MssClamper();
  readonly fragments = new FragmentCache();
  // Per-packet outputs of handle(), fields rather than an allocated result.
  private outOff = 0;
  private outLen = 0;
  private headroom = 0;
  /** Set by connect(): the server the packet goes to. */
  private picked: RealServer | null = null;
  /** Hash of the packet's flow, for the GUE source port and the IPv6 flow label. */
  // Kept as a signed int32 (`| 0`): a uint32 above 2^31 would be boxed as a heap number
  // each time it crosses a call, i.e. one allocation per packet.
  private flowHash = 0;

  constructor(
    private readonly registry: ServiceRegistry,
    private readonly table: ConnTable,
    private readonly timeouts: Timeouts,
    private readonly host: VirtualHost,
    readonly options: DatapathOptions,
  ) {
    this.addresses = registry.addresses;
    this.encap = new TunnelEncapsulator(registry.addresses);
  }

  /** The director's IPv6 address table (the registry's), read per IPv6 packet. */
  private readonly addresses: Ipv6AddressTable;

  /** Processes one batch at time `now` (ms, monotonic) and writes the output in one call. */
  processBatch(batch: PacketBatch, device: PacketDevice, now: number): void {
    const count = batch.count;
    if (this.txMeta.length < count * META_STRIDE) this.txMeta = new Int32Array(count * META_STRIDE);
    this.headroom = batch.headroom;
    const meta = batch.meta;
    const data = batch.data;
    const tx = this.txMeta;
    let out = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const v = this.handle(data, meta[m + META_OFFSET], meta[m + META_LENGTH], now);
      this.verdicts[v]++;
      if (VERDICT_SENDS[v] === 1) {
        const t = out * META_STRIDE;
        tx[t + META_OFFSET] = this.outOff;
        tx[t + META_LENGTH] = this.outLen;
        out++;
      }
    }
    this.framesIn += count;
    if (out > 0) {
      const sent = device.writeBatch(data, tx, out);
      if (sent < out) this.verdicts[TX_FAILED_INDEX] += out - sent;
    }
    if (this.options.sweepPerBatch > 0) this.table.sweep(now, this.options.sweepPerBatch);
  }

  /** One frame → one verdict; sets outOff/outLen for forward and reply verdicts. */
  private handle(data: Uint8Array, off: number, len: number, now: number): Verdict {
    if (len < ETHERNET_HEADER_LENGTH) return Verdict.DropTruncated;
    const host = this.host;
    const mac = host.mac;
    // Unicast frames must be for us; group frames (broadcast ARP) pass.
    if ((data[off] & 1) === 0) {
      for (let k = 0; k < 6; k++) if (data[off + k] !== mac[k]) return Verdict.DropForeignMac;
    }
    const etherType = (data[off + 12] << 8) | data[off + 13];
    if (etherType === ETHERTYPE_ARP) {
      const v = host.handleArp(data, off, len);
      this.outOff = off;
      this.outLen = ETHERNET_HEADER_LENGTH + 28;
      return v;
    }
    if (etherType === ETHERTYPE_IPV6) return this.handleV6(data, off, len, now);
    if (etherType !== ETHERTYPE_IPV4) return Verdict.DropEthertype;

    const ipOff = off + ETHERNET_HEADER_LENGTH;
    const ip = this.ip;
    const code = ip.bind(data, ipOff, len - ETHERNET_HEADER_LENGTH);
    if (code !== WIRE_OK) {
      if (code === E_BAD_VERSION) return Verdict.DropBadVersion;
      if (code === E_BAD_HEADER_LENGTH || code === E_BAD_OPTION) return Verdict.DropBadHeaderLength;
      if (code === E_BAD_TOTAL_LENGTH) return Verdict.DropBadTotalLength;
      return Verdict.DropTruncated;
    }
    const protocol = data[ipOff + 9];
    // Loop guard: never tunnel a tunnel packet again (e.g. a route pointing back at us).
    if (protocol === IPPROTO_IPIP || protocol === IPPROTO_IPV6) return Verdict.DropIpipLoop;
    const hlen = (data[ipOff] & 0x0f) << 2;
    const total = (data[ipOff + 2] << 8) | data[ipOff + 3];
    const dst = readIpv4(data, ipOff + 16);
    const l4 = ipOff + hlen;
    const l4len = total - hlen;
    const laterFragment = ((data[ipOff + 6] & 0x1f) | data[ipOff + 7]) !== 0;

    if (dst === host.linkAddress) {
      if (protocol === IPPROTO_ICMP && !laterFragment) return this.echo(data, off, ipOff, hlen, l4, l4len, total);
      return Verdict.DropToDirector;
    }
    if (!this.registry.isVip(dst)) return Verdict.DropNotVip;
    if (laterFragment) return this.laterFragment(data, ipOff, total, false, protocol, readIpv4(data, ipOff + 12), dst, (data[ipOff + 4] << 8) | data[ipOff + 5], now);

    if (protocol === IPPROTO_ICMP) {
      if (l4len < 8) return Verdict.DropBadL4Header;
      const type = data[l4];
      if (type === ICMP_ECHO_REQUEST) return this.echo(data, off, ipOff, hlen, l4, l4len, total);
      if (type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM) {
        return this.icmpError(data, ipOff, l4, l4len, total, now);
      }
      return Verdict.DropIcmpUnsupported;
    }
    if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) return Verdict.DropProtocol;

    const isTcp = protocol === IPPROTO_TCP;
    if (!l4HeaderSane(data, l4, l4len, isTcp, (data[ipOff + 6] & 0x20) !== 0)) return Verdict.DropBadL4Header;
    const cport = (data[l4] << 8) | data[l4 + 1];
    const vport = (data[l4 + 2] << 8) | data[l4 + 3];
    // Tunnel health probes go to their pinned RS, never through the table or the scheduler.
    const pins = this.probePins;
    if (pins !== null && readIpv4(data, ipOff + 12) === pins.source && pins.isProbePort(cport)) {
      const pinned = pins.target(protocol, cport, dst, vport);
      this.flowHash = hash2(0x6e7, cport, vport) | 0;
      return pinned === undefined ? Verdict.DropProbeUnpinned : this.forward(data, ipOff, total, false, null, pinned, Verdict.Forward, now);
    }
    const svc = this.registry.lookup(protocol, dst, vport);
    if (svc === undefined) return Verdict.DropNoService;
    const caddr = readIpv4(data, ipOff + 12);
    const flags = isTcp ? data[l4 + 13] : 0;
    this.flowHash = hash2(0x6e7, caddr, ((cport << 16) | vport) >>> 0) | 0;
    const v = this.connect(svc, protocol, isTcp, flags, caddr, caddr, cport, dst, vport, now);
    if (v !== Verdict.Forward) return v;
    const rs = this.picked!;
    if (isTcp && (flags & TCP_SYN) !== 0 && svc.mssClamp) {
      this.mss.clamp(data, l4, l4len, usableInnerMtu(rs, svc, this.defaultTunnelMtu, rs.address >= IPV6_ID_BASE) - IPV4_TCP_HEADERS);
    }
    // A first fragment: its later fragments (no ports) follow it to the same server.
    if ((data[ipOff + 6] & 0x20) !== 0) this.fragments.store(caddr, dst, (data[ipOff + 4] << 8) | data[ipOff + 5], protocol, svc.id, rs.id, now);
    return this.forward(data, ipOff, total, false, svc, rs, Verdict.Forward, now);
  }

  /**
   * Connection tracking and scheduling for one TCP/UDP packet of either family: finds or
   * creates the entry (caddr/dst are address ids; flowCaddr is what the schedulers hash,
   * the address itself for IPv6 so that directors agree), and leaves the server in
   * this.picked. Returns Forward to go on, or the drop verdict.
   */
  private connect(svc: VirtualService, protocol: number, isTcp: boolean, flags: number, caddr: number, flowCaddr: number, cport: number, dst: number, vport: number, now: number): Verdict {
    const table = this.table;
    const kind = isTcp ? KIND_TCP : KIND_UDP;

    let slot = table.lookup(kind, caddr, cport, dst, vport, now);
    let rs: RealServer | undefined;
    if (slot >= 0 && isTcp && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      // A fresh SYN on a closing entry starts a new connection (IPVS conn_reuse_mode).
      const st = table.stateAt(slot);
      if (st === TcpState.TimeWait || st === TcpState.Close || st === TcpState.FinWait) {
        table.remove(slot);
        slot = -1;
      }
    }
    if (slot >= 0) {
      rs = this.registry.servers[table.rsAt(slot)];
      if (rs === undefined) {
        table.remove(slot);
        return Verdict.DropNoRealServer;
      }
      if (isTcp) {
        const from = table.stateAt(slot);
        const to = nextTcpState(from, flags);
        if (to !== from) {
          table.setState(slot, to);
          this.registry.transition(rs, from, to);
        }
        table.setExpires(slot, now + this.timeouts.forState(to));
      } else {
        table.setExpires(slot, now + this.timeouts.forState(UDP_STATE));
      }
    } else {
      if (isTcp && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) {
        // Mid-flow packet with no entry: only mh can place it where another director
        // (or our previous incarnation) did; sloppy_tcp takes it anyway.
        if (!(svc.schedulerName === 'mh' || svc.sloppy || this.options.sloppyTcp) || (flags & TCP_RST) !== 0) return Verdict.DropTcpNotSyn;
      }
      const flow = this.flow;
      flow.protocol = protocol;
      flow.caddr = flowCaddr;
      flow.cport = cport;
      flow.vaddr = dst;
      flow.vport = vport;
      const picked = svc.persistenceMs > 0 ? this.schedulePersistent(svc, caddr, now) : svc.scheduler.schedule(flow);
      if (picked === null) return Verdict.DropNoRealServer;
      rs = picked;
      svc.stats.conns++;
      rs.stats.conns++;
      if (!(svc.onePacket && !isTcp)) {
        const state = isTcp ? nextTcpState(TcpState.None, flags) : UDP_STATE;
        slot = table.insert(kind, caddr, cport, dst, vport, svc.id, rs.id, isTcp ? TcpState.None : UDP_STATE, now + this.timeouts.forState(state), now);
        if (slot < 0) return Verdict.DropTableFull;
        this.registry.bound(rs, kind);
        if (isTcp && state !== TcpState.None) {
          table.setState(slot, state);
          this.registry.transition(rs, TcpState.None, state);
        }
      }
    }
    this.picked = rs;
    return Verdict.Forward;
  }

  /**
   * A fragment after the first: to the server its first fragment went to; without a cache
   * entry (lost, reordered, evicted), by a hash of (client, VIP, protocol) over the VIP's
   * service for the protocol, so all such fragments of a datagram meet at one server.
   */
  private laterFragment(data: Uint8Array, ipOff: number, total: number, innerV6: boolean, protocol: number, src: number, dst: number, id: number, now: number): Verdict {
    this.flowHash = hash2(0x6e7, src, dst) | 0;
    const slot = this.fragments.lookup(src, dst, id, protocol, now);
    if (slot >= 0) {
      const svc = this.registry.services[this.fragments.serviceAt(slot)];
      const rs = this.registry.servers[this.fragments.realServerAt(slot)];
      if (svc !== undefined && rs !== undefined) return this.forward(data, ipOff, total, innerV6, svc, rs, Verdict.ForwardFragment, now);
    }
    const svc = this.serviceForFragment(protocol, dst);
    if (svc === undefined) return Verdict.DropFragmentNoFlow;
    const rs = this.pickByHash(svc, hash2(0x3e77, src ^ protocol, dst));
    if (rs === null) return Verdict.DropFragmentNoFlow;
    return this.forward(data, ipOff, total, innerV6, svc, rs, Verdict.ForwardFragment, now);
  }

  /** The VIP's service for a portless fragment: the all-ports service, else the first one. */
  private serviceForFragment(protocol: number, vip: number): VirtualService | undefined {
    const any = this.registry.lookup(protocol, vip, 0);
    if (any !== undefined) return any;
    const list = this.registry.services;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s !== undefined && s.vip === vip && s.protocol === protocol) return s;
    }
    return undefined;
  }

  /** The available server at position hash mod (available count); null when none is. */
  private pickByHash(svc: VirtualService, hash: number): RealServer | null {
    const servers = svc.servers;
    let n = 0;
    for (let i = 0; i < servers.length; i++) if (servers[i].available) n++;
    if (n === 0) return null;
    let k = hash % n;
    for (let i = 0; i < servers.length; i++) {
      if (!servers[i].available) continue;
      if (k === 0) return servers[i];
      k--;
    }
    return null;
  }

  /** IPVS ip_vs_sched_persist: reuse the client network's template, or schedule and create one. */
  private schedulePersistent(svc: VirtualService, caddr: number, now: number): RealServer | null {
    const flow = this.flow;
    const table = this.table;
    const tkind = svc.protocol === IPPROTO_TCP ? KIND_TCP_TEMPLATE : KIND_UDP_TEMPLATE;
    // The netmask (-M) is IPv4's; an IPv6 client's template is its own address.
    const cnet = caddr >= IPV6_ID_BASE ? caddr : (caddr & svc.netmask) >>> 0;
    const t = table.lookup(tkind, cnet, 0, flow.vaddr, svc.port, now);
    if (t >= 0) {
      const rs = this.registry.servers[table.rsAt(t)];
      // A template to a quiescent or deleted server expires (expire_quiescent_template).
      if (rs !== undefined && rs.available) {
        table.setExpires(t, now + svc.persistenceMs);
        return rs;
      }
      table.remove(t);
    }
    const rs = svc.scheduler.schedule(flow);
    if (rs === null) return null;
    const slot = table.insert(tkind, cnet, 0, flow.vaddr, svc.port, svc.id, rs.id, 0, now + svc.persistenceMs, now);
    if (slot >= 0) this.registry.bound(rs, tkind);
    return rs;
  }

  /**
   * Tunnels the packet (IPv6 when innerV6) to `rs` and returns `verdict`, unless it is too
   * big for the tunnel: then a DF IPv4 packet gets "fragmentation needed" and an IPv6
   * packet "packet too big" back (rate-limited per client; never for ICMP errors or later
   * fragments), and an IPv4 packet without DF goes out with the outer DF clear so the path
   * may fragment it. `svc` null: a health probe, not counted as service or server traffic.
   */
  private forward(data: Uint8Array, ipOff: number, total: number, innerV6: boolean, svc: VirtualService | null, rs: RealServer, verdict: Verdict, now: number): Verdict {
    if (this.headroom < frameOverhead(rs)) return Verdict.DropNoHeadroom;
    const host = this.host;
    if (!host.kernelMacKnown) {
      this.needKernelMac = true;
      return Verdict.DropNoKernelMac;
    }
    // An IPv6 packet is never fragmented on the way, so it behaves as if DF were set.
    const innerDf = innerV6 || (data[ipOff + 6] & 0x40) !== 0;
    const usable = usableInnerMtu(rs, svc, this.defaultTunnelMtu, rs.address >= IPV6_ID_BASE);
    if (total > usable && innerDf) {
      if (verdict === Verdict.Forward) return innerV6 ? this.tooBigV6(data, ipOff, total, usable, now) : this.tooBig(data, ipOff, total, usable, now);
      // An ICMP error or a later fragment: never answered with an error; let the path fragment it.
      return this.encapsulate(data, ipOff, total, innerV6, svc, rs, verdict, false);
    }
    return this.encapsulate(data, ipOff, total, innerV6, svc, rs, verdict, innerDf);
  }

  private encapsulate(data: Uint8Array, ipOff: number, total: number, innerV6: boolean, svc: VirtualService | null, rs: RealServer, verdict: Verdict, df: boolean): Verdict {
    const host = this.host;
    if (svc !== null) {
      svc.stats.inPkts++;
      svc.stats.inBytes += total;
      rs.stats.inPkts++;
      rs.stats.inBytes += total;
    }
    const id = this.ipId;
    this.ipId = (id + 1) & 0xffff;
    const tos = innerV6 ? ((data[ipOff] & 0x0f) << 4) | (data[ipOff + 1] >> 4) : data[ipOff + 1];
    this.outOff = this.encap.encap(data, ipOff, total, innerV6, rs, tos, df, id, this.flowHash, host.mac, host.kernelMac);
    this.outLen = total + frameOverhead(rs);
    return verdict;
  }

  /** ICMP frag-needed to the client, from the VIP, reporting `usable` as the next-hop MTU. */
  private tooBig(data: Uint8Array, ipOff: number, total: number, usable: number, now: number): Verdict {
    if (this.headroom < FRAG_NEEDED_HEADROOM) return Verdict.DropNoHeadroom;
    if (!this.icmpLimiter.allow(IcmpRateLimiter.keyV4(readIpv4(data, ipOff + 12)), now)) return Verdict.DropTooBigRateLimited;
    const hlen = (data[ipOff] & 0x0f) << 2;
    const id = this.ipId;
    this.ipId = (id + 1) & 0xffff;
    this.outOff = writeFragNeededV4(data, ipOff, hlen, total, usable, id, this.host.mac, this.host.kernelMac);
    this.outLen = fragNeededFrameLength(hlen, total);
    return Verdict.ReplyIcmpTooBig;
  }

  /** ICMPv6 Packet Too Big to the client, from the VIP, with `usable` (at least 1280) as the MTU. */
  private tooBigV6(data: Uint8Array, ipOff: number, total: number, usable: number, now: number): Verdict {
    if (this.headroom < PACKET_TOO_BIG_HEADROOM) return Verdict.DropNoHeadroom;
    if (!this.icmpLimiter.allow(hashIpv6At(data, ipOff + 8), now)) return Verdict.DropTooBigRateLimited;
    this.outOff = writePacketTooBigV6(data, ipOff, total, usable < MIN_TUNNEL_MTU_V6 ? MIN_TUNNEL_MTU_V6 : usable, this.host.mac, this.host.kernelMac);
    this.outLen = packetTooBigFrameLength(total);
    return Verdict.ReplyIcmpTooBig;
  }

  private echo(data: Uint8Array, off: number, ipOff: number, hlen: number, icmp: number, icmpLen: number, total: number): Verdict {
    if (icmpLen < 8) return Verdict.DropBadL4Header;
    if (data[icmp] !== ICMP_ECHO_REQUEST) return Verdict.DropIcmpUnsupported;
    if (!this.options.icmpEcho) return Verdict.DropIcmpEchoDisabled;
    if (!this.host.kernelMacKnown) {
      this.needKernelMac = true;
      return Verdict.DropNoKernelMac;
    }
    makeEchoReplyInPlace(data, off, ipOff, hlen, icmp, this.host.mac, this.host.kernelMac);
    this.outOff = off;
    this.outLen = ETHERNET_HEADER_LENGTH + total;
    return Verdict.ReplyIcmpEcho;
  }

  /**
   * An ICMP error from a client about a flow (e.g. fragmentation needed for the server's
   * reply) goes to the server that owns the flow. The quoted packet is server → client,
   * so the lookup swaps its addresses and ports.
   */
  private icmpError(data: Uint8Array, ipOff: number, icmp: number, icmpLen: number, total: number, now: number): Verdict {
    const inner = icmp + 8;
    if (icmpLen < 8 + 20 + 8) return Verdict.DropBadL4Header;
    const ihl = (data[inner] & 0x0f) << 2;
    if (data[inner] >> 4 !== 4 || ihl < 20 || icmpLen < 8 + ihl + 8) return Verdict.DropBadL4Header;
    const proto = data[inner + 9];
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return Verdict.DropIcmpNoFlow;
    const vaddr = readIpv4(data, inner + 12);
    const caddr = readIpv4(data, inner + 16);
    const p = inner + ihl;
    const vport = (data[p] << 8) | data[p + 1];
    const cport = (data[p + 2] << 8) | data[p + 3];
    const slot = this.table.lookup(proto === IPPROTO_TCP ? KIND_TCP : KIND_UDP, caddr, cport, vaddr, vport, now);
    if (slot < 0) return Verdict.DropIcmpNoFlow;
    const rs = this.registry.servers[this.table.rsAt(slot)];
    const svc = this.registry.services[this.table.serviceAt(slot)];
    if (rs === undefined || svc === undefined) return Verdict.DropIcmpNoFlow;
    this.flowHash = hash2(0x6e7, caddr, ((cport << 16) | vport) >>> 0) | 0;
    return this.forward(data, ipOff, total, false, svc, rs, Verdict.ForwardIcmpError, now);
  }

  /**
   * One IPv6 frame (Ethernet at off): neighbour solicitations for our link address, echo
   * and client ICMPv6 errors for VIPs, and TCP/UDP to VIP services, tracked and tunnelled
   * like IPv4. IPv6 addresses become address ids; a client without one gets one for the
   * life of its connection entry.
   */
  private handleV6(data: Uint8Array, off: number, len: number, now: number): Verdict {
    const ipOff = off + ETHERNET_HEADER_LENGTH;
    const ip = this.ip6;
    const code = ip.bind(data, ipOff, len - ETHERNET_HEADER_LENGTH);
    if (code !== WIRE_OK) {
      if (code === E_BAD_VERSION) return Verdict.DropBadVersion;
      if (code === E_TRUNCATED) return Verdict.DropTruncated;
      if (code === E_BAD_TOTAL_LENGTH) return Verdict.DropBadTotalLength;
      return Verdict.DropBadHeaderLength;
    }
    const total = 40 + ((data[ipOff + 4] << 8) | data[ipOff + 5]);
    const protocol = ip.upperProtocol;
    if (protocol === IPPROTO_IPIP || protocol === IPPROTO_IPV6) return Verdict.DropIpipLoop;
    const l4 = ip.upperOffset;
    const l4len = l4 < 0 ? 0 : ipOff + total - l4;
    const host = this.host;
    // To us: the link address or a multicast group (solicited-node, all-nodes, MLD).
    if (data[ipOff + 24] === 0xff || ipv6Equals(data, ipOff + 24, host.linkAddress6, 0)) {
      if (protocol === IPPROTO_ICMPV6 && l4 >= 0 && l4len >= 8) {
        if (data[l4] === ICMPV6_NEIGHBOR_SOLICITATION) {
          const v = host.handleNeighborSolicitation(data, off, ipOff, l4, l4len);
          this.outOff = off;
          this.outLen = NA_FRAME_LENGTH;
          return v;
        }
        return Verdict.DropNdpIgnored;
      }
      return Verdict.DropToDirector;
    }
    const dst = this.addresses.find(data, ipOff + 24);
    if (dst < 0 || !this.registry.isVip(dst)) return Verdict.DropNotVip;
    if (ip.fragmentHeaderOffset >= 0 && ip.fragmentOffset > 0) {
      return this.laterFragment(data, ipOff, total, true, protocol, hashIpv6At(data, ipOff + 8), dst, ip.fragmentIdentification, now);
    }
    if (l4 < 0) return Verdict.DropBadL4Header;

    if (protocol === IPPROTO_ICMPV6) {
      if (l4len < 8) return Verdict.DropBadL4Header;
      const type = data[l4];
      if (type === ICMPV6_ECHO_REQUEST) return this.echoV6(data, off, ipOff, l4, total);
      if (isIcmpv6Error(type)) return this.icmpErrorV6(data, ipOff, l4, l4len, total, now);
      return Verdict.DropIcmpUnsupported;
    }
    if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) return Verdict.DropProtocol;
    const isTcp = protocol === IPPROTO_TCP;
    if (!l4HeaderSane(data, l4, l4len, isTcp, ip.moreFragments)) return Verdict.DropBadL4Header;
    const cport = (data[l4] << 8) | data[l4 + 1];
    const vport = (data[l4 + 2] << 8) | data[l4 + 3];
    const svc = this.registry.lookup(protocol, dst, vport);
    if (svc === undefined) return Verdict.DropNoService;
    // The entry takes its own references; a new client's address is held only meanwhile.
    let caddr = this.addresses.find(data, ipOff + 8);
    const fresh = caddr < 0;
    if (fresh) {
      caddr = this.addresses.acquire(data, ipOff + 8);
      if (caddr < 0) return Verdict.DropAddressTableFull;
    }
    const flowCaddr = this.addresses.addressHash(caddr);
    const flags = isTcp ? data[l4 + 13] : 0;
    this.flowHash = hash2(0x6e7, flowCaddr, ((cport << 16) | vport) >>> 0) | 0;
    const v = this.connect(svc, protocol, isTcp, flags, caddr, flowCaddr, cport, dst, vport, now);
    if (fresh) this.addresses.release(caddr);
    if (v !== Verdict.Forward) return v;
    const rs = this.picked!;
    if (isTcp && (flags & TCP_SYN) !== 0 && svc.mssClamp) {
      this.mss.clamp(data, l4, l4len, usableInnerMtu(rs, svc, this.defaultTunnelMtu, rs.address >= IPV6_ID_BASE) - IPV6_TCP_HEADERS);
    }
    if (ip.moreFragments) this.fragments.store(hashIpv6At(data, ipOff + 8), dst, ip.fragmentIdentification, protocol, svc.id, rs.id, now);
    return this.forward(data, ipOff, total, true, svc, rs, Verdict.Forward, now);
  }

  /** Echo reply in place: addresses swapped (the pseudo-header sum is unchanged), type 129. */
  private echoV6(data: Uint8Array, off: number, ipOff: number, icmp: number, total: number): Verdict {
    if (!this.options.icmpEcho) return Verdict.DropIcmpEchoDisabled;
    if (!this.host.kernelMacKnown) {
      this.needKernelMac = true;
      return Verdict.DropNoKernelMac;
    }
    for (let k = 0; k < 16; k++) {
      const t = data[ipOff + 8 + k];
      data[ipOff + 8 + k] = data[ipOff + 24 + k];
      data[ipOff + 24 + k] = t;
    }
    data[ipOff + 7] = 64;
    const ck = updateChecksum16((data[icmp + 2] << 8) | data[icmp + 3], (ICMPV6_ECHO_REQUEST << 8) | data[icmp + 1], (ICMPV6_ECHO_REPLY << 8) | data[icmp + 1]);
    data[icmp] = ICMPV6_ECHO_REPLY;
    data[icmp + 2] = ck >>> 8;
    data[icmp + 3] = ck;
    for (let k = 0; k < 6; k++) {
      data[off + k] = this.host.kernelMac[k];
      data[off + 6 + k] = this.host.mac[k];
    }
    this.outOff = off;
    this.outLen = ETHERNET_HEADER_LENGTH + total;
    return Verdict.ReplyIcmpEcho;
  }

  /** An ICMPv6 error from a client about a flow goes to the flow's server (quoted: server → client). */
  private icmpErrorV6(data: Uint8Array, ipOff: number, icmp: number, icmpLen: number, total: number, now: number): Verdict {
    const q = this.quoted6;
    if (q.bindQuoted(data, icmp + 8, icmpLen - 8) !== WIRE_OK) return Verdict.DropBadL4Header;
    const proto = q.upperProtocol;
    const p = q.upperOffset;
    if ((proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) || p < 0 || p + 4 > icmp + icmpLen) return Verdict.DropIcmpNoFlow;
    const vaddr = this.addresses.find(data, icmp + 8 + 8);
    const caddr = this.addresses.find(data, icmp + 8 + 24);
    if (vaddr < 0 || caddr < 0) return Verdict.DropIcmpNoFlow;
    const vport = (data[p] << 8) | data[p + 1];
    const cport = (data[p + 2] << 8) | data[p + 3];
    const slot = this.table.lookup(proto === IPPROTO_TCP ? KIND_TCP : KIND_UDP, caddr, cport, vaddr, vport, now);
    if (slot < 0) return Verdict.DropIcmpNoFlow;
    const rs = this.registry.servers[this.table.rsAt(slot)];
    const svc = this.registry.services[this.table.serviceAt(slot)];
    if (rs === undefined || svc === undefined) return Verdict.DropIcmpNoFlow;
    this.flowHash = hash2(0x6e7, this.addresses.addressHash(caddr), ((cport << 16) | vport) >>> 0) | 0;
    return this.forward(data, ipOff, total, true, svc, rs, Verdict.ForwardIcmpError, now);
  }
}

/**
 * TCP data offset within the segment, or UDP length at least 8 and within the datagram.
 * `firstFragment`: the packet carries only the start of a datagram whose UDP length
 * covers more than this packet.
 */
function l4HeaderSane(data: Uint8Array, l4: number, l4len: number, isTcp: boolean, firstFragment: boolean): boolean {
  if (isTcp) {
    if (l4len < 20) return false;
    const doff = (data[l4 + 12] >>> 4) << 2;
    return doff >= 20 && doff <= l4len;
  }
  if (l4len < 8) return false;
  const ulen = (data[l4 + 4] << 8) | data[l4 + 5];
  return ulen >= 8 && (ulen <= l4len || firstFragment);
}
