// Stage 3, track: the real server. A TCP/UDP packet finds or creates its connection entry
// (scheduling a new flow, IPVS persistence templates included); a later fragment follows
// its first fragment (or a hash of client and VIP); an ICMP error follows the flow it
// quotes. Leaves the server in rec.rs and the service in rec.svc.
import { IPV6_ID_BASE, type Ipv6AddressTable } from '../address-id.js';
import { type ConnTable, KIND_TCP, KIND_TCP_TEMPLATE, KIND_UDP, KIND_UDP_TEMPLATE, newConnEntry } from '../conn-table.js';
import { hash2 } from '../flow-hash.js';
import type { FragmentCache } from '../fragment-cache.js';
import type { RealServer } from '../real-server.js';
import { newFlowKey } from '../schedulers/scheduler.js';
import type { ServiceRegistry } from '../service-registry.js';
import { FORWARD_NAT } from '../forward-method.js';
import type { NatReplyTable } from '../nat-conn.js';
import { nextTcpState, nextTcpStateNat, TCP_ACK, TCP_RST, TCP_SYN, TcpState, UDP_STATE } from '../tcp-state.js';
import type { Timeouts } from '../timeouts.js';
import { Verdict } from '../verdicts.js';
import type { VirtualService } from '../virtual-service.js';
import { IPPROTO_TCP } from '../../wire/ip-protocol.js';
import { FRAGMENT_FIRST, type PacketRecord } from './packet-record.js';
import { ACTION_CONNECTION, ACTION_ICMP_ERROR, ACTION_LATER_FRAGMENT, GO_ON, type StageResult } from './stage.js';
import { pickByHash, serviceForFragment } from './track-fragment.js';

/** Seed of the hash that spreads portless fragments without a cache entry. */
const FRAGMENT_HASH_SEED = 0x3e77;

export interface TrackOptions {
  /** Create entries for TCP packets that are not SYNs (IPVS sloppy_tcp). */
  sloppyTcp: boolean;
}

export class Tracker {
  private readonly flow = newFlowKey();
  /** The entry being inserted (refilled each time). */
  private readonly entry = newConnEntry();

  constructor(
    private readonly registry: ServiceRegistry,
    private readonly table: ConnTable,
    private readonly timeouts: Timeouts,
    private readonly fragments: FragmentCache,
    private readonly addresses: Ipv6AddressTable,
    private readonly options: TrackOptions,
    /** VS/NAT's reply index (nat-conn.ts); null: no NAT in this data path. */
    private readonly replies: NatReplyTable | null = null,
  ) {}

  track(rec: PacketRecord): StageResult {
    const action = rec.action;
    if (action === ACTION_CONNECTION) return this.connection(rec);
    if (action === ACTION_LATER_FRAGMENT) return this.laterFragment(rec);
    if (action === ACTION_ICMP_ERROR) return this.quotedFlow(rec);
    return GO_ON;
  }

  /** A TCP/UDP packet of a service. An IPv6 client without an id gets one for the life of its entry. */
  private connection(rec: PacketRecord): StageResult {
    let caddr = rec.caddr;
    let fresh = false;
    if (caddr < 0) {
      // The entry takes its own references; a new client's address is held only meanwhile.
      caddr = this.addresses.find(rec.data, rec.sourceOffset);
      if (caddr < 0) {
        caddr = this.addresses.acquire(rec.data, rec.sourceOffset);
        if (caddr < 0) return Verdict.DropAddressTableFull;
        fresh = true;
      }
      rec.caddr = caddr;
    }
    const v = this.connect(rec, rec.svc!);
    if (fresh) this.addresses.release(caddr);
    if (v !== GO_ON) return v;
    // A first fragment: its later fragments (no ports) follow it to the same server.
    if (rec.fragment === FRAGMENT_FIRST) this.fragments.store(rec.clientKey, rec.vaddr, rec.fragmentId, rec.protocol, rec.svc!.id, rec.rs!.id, rec.now);
    return GO_ON;
  }

  /**
   * Finds or creates the entry (the schedulers hash the client as clientKey, so that
   * directors agree on IPv6 clients too) and leaves the server in rec.rs.
   */
  private connect(rec: PacketRecord, svc: VirtualService): StageResult {
    const table = this.table;
    const now = rec.now;
    const isTcp = rec.protocol === IPPROTO_TCP;
    const flags = rec.tcpFlags;
    const kind = isTcp ? KIND_TCP : KIND_UDP;
    let slot = table.lookup(kind, rec.caddr, rec.cport, rec.vaddr, rec.vport, now);
    if (slot >= 0 && isTcp && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      // A fresh SYN on a closing entry starts a new connection (IPVS conn_reuse_mode).
      const st = table.stateAt(slot);
      if (st === TcpState.TimeWait || st === TcpState.Close || st === TcpState.FinWait) {
        table.remove(slot);
        slot = -1;
      }
    }
    if (slot >= 0) {
      const rs = this.registry.servers[table.rsAt(slot)];
      if (rs === undefined) {
        table.remove(slot);
        return Verdict.DropNoRealServer;
      }
      const nat = rs.forward === FORWARD_NAT;
      let state: number = UDP_STATE;
      if (isTcp) {
        const from = table.stateAt(slot);
        // NAT sees both directions (IPVS's INPUT rows here, OUTPUT in nat-reply.ts); TUN/DR input only.
        state = nat ? nextTcpStateNat(from, flags, false) : nextTcpState(from, flags);
        if (state !== from) {
          table.setState(slot, state);
          this.registry.transition(rs, from, state);
        }
      }
      const expires = now + this.timeouts.forState(state);
      table.setExpires(slot, expires);
      if (nat) this.keepReplyKey(rec, kind, svc, rs, expires);
      rec.rs = rs;
      return GO_ON;
    }
    return this.open(rec, svc, kind, isTcp, flags, now);
  }

  /** A flow without an entry: schedules it and creates the entry (its own method, so that connect stays inlinable). */
  private open(rec: PacketRecord, svc: VirtualService, kind: number, isTcp: boolean, flags: number, now: number): StageResult {
    if (isTcp && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) {
      // Mid-flow packet with no entry: only mh can place it where another director (or our previous incarnation) did; sloppy_tcp takes it anyway.
      if (!(svc.schedulerName === 'mh' || svc.sloppy || this.options.sloppyTcp) || (flags & TCP_RST) !== 0) return Verdict.DropTcpNotSyn;
    }
    const flow = this.flow;
    flow.protocol = rec.protocol;
    flow.caddr = rec.clientKey;
    flow.cport = rec.cport;
    flow.vaddr = rec.vaddr;
    flow.vport = rec.vport;
    const rs = svc.persistenceMs > 0 ? this.schedulePersistent(svc, rec.caddr, now) : svc.scheduler.schedule(flow);
    if (rs === null) return Verdict.DropNoRealServer;
    svc.stats.conns++;
    rs.stats.conns++;
    if (!(svc.onePacket && !isTcp)) {
      const state = isTcp ? nextTcpState(TcpState.None, flags) : UDP_STATE;
      const e = this.entry;
      e.kind = kind;
      e.caddr = rec.caddr;
      e.cport = rec.cport;
      e.vaddr = rec.vaddr;
      e.vport = rec.vport;
      e.svcId = svc.id;
      e.rsId = rs.id;
      e.state = isTcp ? TcpState.None : UDP_STATE;
      e.expires = now + this.timeouts.forState(state);
      const slot = this.table.insert(e, now);
      if (slot < 0) return Verdict.DropTableFull;
      this.registry.bound(rs, kind);
      if (isTcp && state !== TcpState.None) {
        this.table.setState(slot, state);
        this.registry.transition(rs, TcpState.None, state);
      }
      if (rs.forward === FORWARD_NAT) this.keepReplyKey(rec, kind, svc, rs, now + this.timeouts.forState(state));
    }
    rec.rs = rs;
    return GO_ON;
  }

  /**
   * VS/NAT: the reply index entry RIP:rport → client:cport, alive as long as the connection
   * (one more lookup per NAT packet; the index never outlives its entry by more than that).
   */
  private keepReplyKey(rec: PacketRecord, kind: number, svc: VirtualService, rs: RealServer, expires: number): void {
    const replies = this.replies;
    if (replies === null) return;
    const rport = rs.natPort !== 0 ? rs.natPort : rec.vport;
    const r = replies.find(kind, rs.address, rport, rec.caddr, rec.cport, rec.now);
    if (r >= 0 && replies.serviceAt(r) === svc.id && replies.rsAt(r) === rs.id) replies.setExpires(r, expires);
    else replies.add(kind, rec.caddr, rec.cport, rs.address, rport, svc.id, rs.id, expires, rec.now);
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
    const e = this.entry;
    e.kind = tkind;
    e.caddr = cnet;
    e.cport = 0;
    e.vaddr = flow.vaddr;
    e.vport = svc.port;
    e.svcId = svc.id;
    e.rsId = rs.id;
    e.state = 0;
    e.expires = now + svc.persistenceMs;
    const slot = table.insert(e, now);
    if (slot >= 0) this.registry.bound(rs, tkind);
    return rs;
  }

  /**
   * A fragment after the first: to the server its first fragment went to; without a cache
   * entry (lost, reordered, evicted), by a hash of (client, VIP, protocol) over the VIP's
   * service for the protocol, so all such fragments of a datagram meet at one server.
   */
  private laterFragment(rec: PacketRecord): StageResult {
    const protocol = rec.protocol;
    const slot = this.fragments.lookup(rec.clientKey, rec.vaddr, rec.fragmentId, protocol, rec.now);
    if (slot >= 0) {
      const svc = this.registry.services[this.fragments.serviceAt(slot)];
      const rs = this.registry.servers[this.fragments.realServerAt(slot)];
      if (svc !== undefined && rs !== undefined) return found(rec, svc, rs);
    }
    const svc = serviceForFragment(this.registry, protocol, rec.vaddr);
    if (svc === undefined) return Verdict.DropFragmentNoFlow;
    const rs = pickByHash(svc, hash2(FRAGMENT_HASH_SEED, rec.clientKey ^ protocol, rec.vaddr));
    if (rs === null) return Verdict.DropFragmentNoFlow;
    return found(rec, svc, rs);
  }

  /** An ICMP error goes to the server of the flow it quotes, if the table has it. */
  private quotedFlow(rec: PacketRecord): StageResult {
    const slot = this.table.lookup(rec.protocol === IPPROTO_TCP ? KIND_TCP : KIND_UDP, rec.caddr, rec.cport, rec.vaddr, rec.vport, rec.now);
    if (slot < 0) return Verdict.DropIcmpNoFlow;
    const rs = this.registry.servers[this.table.rsAt(slot)];
    const svc = this.registry.services[this.table.serviceAt(slot)];
    if (rs === undefined || svc === undefined) return Verdict.DropIcmpNoFlow;
    return found(rec, svc, rs);
  }
}

function found(rec: PacketRecord, svc: VirtualService, rs: RealServer): StageResult {
  rec.svc = svc;
  rec.rs = rs;
  return GO_ON;
}
