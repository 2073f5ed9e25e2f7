// FTP data connections of VS/NAT services (IPv4), which the control connection announced
// (ftp-control.ts) and which no service matches:
//   passive  client:cport → VIP:port (no service on the port): the first SYN takes the
//            expectation a 227/229 left and goes to the control connection's server,
//            VIP:port → RIP:port;
//   active   RIP:rport → client:port (the server's connect back, steered into the TAP by
//            the NAT reply rules): the first SYN takes the expectation a PORT/EPRT left;
//            the source becomes VIP:(service port - 1), i.e. VIP:20, and the client's
//            answers to VIP:20 go back to RIP:rport.
// Both then live in FtpDataConns (ftp-data-conns.ts) with the NAT TCP state machine (both
// directions) and its timeouts, and count as the service's and server's traffic. A packet
// that fits neither keeps the verdict it had (drop-no-service, drop-not-vip); a new
// connection the full table cannot hold is drop-table-full.
import { FtpDataConns } from '../ftp-data-conns.js';
import { FTP_ACTIVE, FTP_PASSIVE, type FtpExpectations } from '../ftp-helper.js';
import { FORWARD_NAT } from '../forward-method.js';
import type { ServiceRegistry } from '../service-registry.js';
import { nextTcpStateNat, TCP_ACK, TCP_RST, TCP_SYN, TcpState } from '../tcp-state.js';
import type { Timeouts } from '../timeouts.js';
import { Verdict } from '../verdicts.js';
import { IPPROTO_TCP } from '../../wire/ip-protocol.js';
import type { MethodEmitter } from './emit-methods.js';
import { FAMILY_V4, FRAGMENT_NONE, ICMP_NONE, type PacketRecord } from './packet-record.js';
import { ACTION_CONNECTION } from './stage.js';

export class FtpData {
  /** Allocated with the first data connection: a director without FTP pays nothing. */
  private table: FtpDataConns | null = null;

  /** @param capacity most data connections at once */
  constructor(
    private readonly registry: ServiceRegistry,
    readonly expectations: FtpExpectations,
    private readonly timeouts: Timeouts,
    private readonly methods: MethodEmitter,
    private readonly capacity = 4096,
  ) {}

  /** Anything announced or open (else the hooks have nothing to find). */
  get active(): boolean {
    return this.expectations.size > 0 || (this.table !== null && this.table.size > 0);
  }

  /** The data connections (allocated on first use). */
  get conns(): FtpDataConns {
    return (this.table ??= new FtpDataConns(this.capacity));
  }

  /** A client's packet to a VIP port without a service (classify said drop-no-service). */
  toServer(rec: PacketRecord): Verdict {
    if (!isPlainTcp4(rec)) return Verdict.DropNoService;
    const conns = this.conns;
    const now = rec.now;
    const flags = rec.tcpFlags;
    let r = conns.fromClient(rec.caddr, rec.cport, rec.vaddr, rec.vport, now);
    if (r < 0) {
      if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return Verdict.DropNoService;
      const e = this.expectations.take(FTP_PASSIVE, rec.caddr, rec.vport, now);
      if (e < 0) return Verdict.DropNoService;
      const svc = this.registry.services[this.expectations.serviceOf(e)];
      const rs = this.registry.servers[this.expectations.serverOf(e)];
      if (svc === undefined || rs === undefined || rs.serviceId !== svc.id || rs.forward !== FORWARD_NAT || svc.vip !== rec.vaddr) return Verdict.DropNoService;
      const state = nextTcpStateNat(TcpState.None, flags, false);
      r = conns.add(rec.caddr, rec.cport, rec.vaddr, rec.vport, rs.address, rec.vport, svc.id, rs.id, state, now + this.timeouts.forState(state), now);
      if (r < 0) return Verdict.DropTableFull;
    } else {
      this.follow(r, flags, false, now);
    }
    if (!this.bind(rec, r)) return Verdict.DropNoRealServer;
    rec.forwardVerdict = Verdict.Forward;
    return this.methods.natTo(rec, conns.ripOf(r), conns.rportOf(r), false);
  }

  /** A packet from a NAT server that is no reply of a service connection (drop-not-vip so far). */
  fromServer(rec: PacketRecord): Verdict {
    if (!isPlainTcp4(rec) || rec.icmpKind !== ICMP_NONE) return Verdict.DropNotVip;
    const conns = this.conns;
    const now = rec.now;
    const flags = rec.tcpFlags;
    // Parse named the source the client side: here it is RIP:rport, the destination client:cport.
    const rip = rec.caddr;
    const rport = rec.cport;
    const client = rec.vaddr;
    const cport = rec.vport;
    let r = conns.fromServer(rip, rport, client, cport, now);
    if (r < 0) {
      if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return Verdict.DropNotVip;
      const e = this.expectations.take(FTP_ACTIVE, client, cport, now);
      if (e < 0) return Verdict.DropNotVip;
      const svc = this.registry.services[this.expectations.serviceOf(e)];
      const rs = this.registry.servers[this.expectations.serverOf(e)];
      if (svc === undefined || rs === undefined || rs.serviceId !== svc.id || rs.forward !== FORWARD_NAT || rs.address !== rip) return Verdict.DropNotVip;
      const state = nextTcpStateNat(TcpState.None, flags, true);
      r = conns.add(client, cport, svc.vip, svc.port - 1, rip, rport, svc.id, rs.id, state, now + this.timeouts.forState(state), now);
      if (r < 0) return Verdict.DropTableFull;
    } else {
      this.follow(r, flags, true, now);
    }
    if (!this.bind(rec, r)) return Verdict.DropNatReplyNoFlow;
    return this.methods.natReply(rec, rec.svc!, rec.rs!, conns.vipOf(r), conns.vportOf(r), false);
  }

  /** Record r's TCP state after a packet with `flags` (fromServer: the server's side), kept alive for its timeout. */
  private follow(r: number, flags: number, fromServer: boolean, now: number): void {
    const conns = this.conns;
    const state = nextTcpStateNat(conns.stateOf(r), flags, fromServer);
    conns.touch(r, state, now + this.timeouts.forState(state), now);
  }

  /**
   * rec.svc and rec.rs from record r: false when the service or server was deleted meanwhile,
   * or when its id now names another one (records and expectations hold ids without keeping
   * them from reuse, as connection entries do: after -D or -C, an id can go to a new service
   * or server, which must not inherit this connection or its counts).
   */
  private bind(rec: PacketRecord, r: number): boolean {
    const conns = this.conns;
    const svc = this.registry.services[conns.serviceOf(r)];
    const rs = this.registry.servers[conns.serverOf(r)];
    if (svc === undefined || rs === undefined) return false;
    if (rs.serviceId !== svc.id || rs.address !== conns.ripOf(r) || svc.vip !== conns.vipOf(r)) return false;
    rec.action = ACTION_CONNECTION;
    rec.svc = svc;
    rec.rs = rs;
    return true;
  }

  sweep(now: number, maxSlots: number): void {
    this.table?.sweep(now, maxSlots);
  }

  clear(): void {
    this.table?.clear();
    this.expectations.clear();
  }
}

/** An IPv4 TCP segment with a sane header, not a fragment: what a data connection carries. */
function isPlainTcp4(rec: PacketRecord): boolean {
  return rec.family === FAMILY_V4 && rec.protocol === IPPROTO_TCP && rec.l4Sane && rec.l4Offset >= 0 && rec.fragment === FRAGMENT_NONE;
}
