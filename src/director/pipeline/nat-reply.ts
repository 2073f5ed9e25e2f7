// The reply path of VS/NAT, taken by a packet that is not addressed to a VIP: a NAT real
// server's answer (RIP:rport → client:cport), or an ICMP error about a client's packet to a
// NAT server (quoting client:cport → RIP:rport), steered into the TAP by the director host
// (host-setup.ts NatReplyRules). The reply index (nat-conn.ts) names the service and the
// server; the connection entry found from the client's side then moves through IPVS's
// OUTPUT state rows (both directions are seen), and both entries' lifetimes follow it.
// Anything else not for a VIP keeps the drop-not-vip verdict.
import { IPV6_ID_BASE, type Ipv6AddressTable } from '../address-id.js';
import { type ConnTable, KIND_TCP, KIND_UDP } from '../conn-table.js';
import type { NatReplyTable } from '../nat-conn.js';
import type { ServiceRegistry } from '../service-registry.js';
import { nextTcpStateNat, UDP_STATE } from '../tcp-state.js';
import type { Timeouts } from '../timeouts.js';
import { Verdict } from '../verdicts.js';
import { WIRE_OK } from '../../wire/errors.js';
import { ICMPV4_HEADER_LENGTH } from '../../wire/icmpv4.js';
import { ICMPV6_HEADER_LENGTH } from '../../wire/icmpv6.js';
import { IPPROTO_TCP, IPPROTO_UDP, transportDestinationPort, transportSourcePort } from '../../wire/ip-protocol.js';
import { Ipv4View } from '../../wire/ipv4.js';
import { Ipv6View } from '../../wire/ipv6.js';
import type { MethodEmitter } from './emit-methods.js';
import { FAMILY_V4, FRAGMENT_LATER, ICMP_ERROR, ICMP_NONE, type PacketRecord } from './packet-record.js';
import { ACTION_CONNECTION, ACTION_ICMP_ERROR } from './stage.js';

export class NatReplies {
  private readonly quoted4 = new Ipv4View();
  private readonly quoted6 = new Ipv6View();
  // The flow of the packet being handled, as the reply index keys it.
  private rip = 0;
  private rport = 0;
  private client = 0;
  private cport = 0;
  private protocol = 0;

  constructor(
    private readonly registry: ServiceRegistry,
    private readonly table: ConnTable,
    readonly replies: NatReplyTable,
    private readonly timeouts: Timeouts,
    private readonly addresses: Ipv6AddressTable,
    private readonly emit: MethodEmitter,
  ) {}

  /** For a packet whose destination is no VIP (after parse). Always a final verdict. */
  reply(rec: PacketRecord): Verdict {
    if (this.replies.size === 0 || rec.fragment === FRAGMENT_LATER || rec.l4Offset < 0) return Verdict.DropNotVip;
    const icmp = rec.icmpKind;
    if (icmp === ICMP_NONE) {
      if (!rec.l4Sane || (rec.protocol !== IPPROTO_TCP && rec.protocol !== IPPROTO_UDP)) return Verdict.DropNotVip;
      if (!this.ownFlow(rec)) return Verdict.DropNotVip;
      rec.action = ACTION_CONNECTION;
    } else {
      if (icmp !== ICMP_ERROR || !this.quotedFlow(rec)) return Verdict.DropNotVip;
      rec.action = ACTION_ICMP_ERROR;
    }
    const kind = this.protocol === IPPROTO_TCP ? KIND_TCP : KIND_UDP;
    const now = rec.now;
    const r = this.replies.find(kind, this.rip, this.rport, this.client, this.cport, now);
    if (r < 0) return Verdict.DropNotVip;
    const svc = this.registry.services[this.replies.serviceAt(r)];
    const rs = this.registry.servers[this.replies.rsAt(r)];
    const slot = svc === undefined || rs === undefined ? -1 : this.table.lookup(kind, this.client, this.cport, svc.vip, svc.port, now);
    if (slot < 0 || this.table.rsAt(slot) !== rs!.id) {
      this.replies.remove(r);
      return Verdict.DropNatReplyNoFlow;
    }
    if (icmp === ICMP_NONE) {
      let state = UDP_STATE;
      if (kind === KIND_TCP) {
        const from = this.table.stateAt(slot);
        state = nextTcpStateNat(from, rec.tcpFlags, true);
        if (state !== from) {
          this.table.setState(slot, state);
          this.registry.transition(rs!, from, state);
        }
      }
      const expires = now + this.timeouts.forState(state);
      this.table.setExpires(slot, expires);
      this.replies.setExpires(r, expires);
    }
    return this.emit.natReply(rec, svc!, rs!);
  }

  /** A TCP/UDP packet: source RIP:rport, destination client:cport. */
  private ownFlow(rec: PacketRecord): boolean {
    this.protocol = rec.protocol;
    this.rport = rec.cport;
    this.cport = rec.vport;
    if (rec.family === FAMILY_V4) {
      this.rip = rec.caddr;
      this.client = rec.vaddr;
      return true;
    }
    return this.ids6(rec.data, rec.sourceOffset, rec.sourceOffset + 16);
  }

  /** An ICMP error quoting client:cport → RIP:rport (what the server or a router on its side received). */
  private quotedFlow(rec: PacketRecord): boolean {
    const data = rec.data;
    const icmp = rec.l4Offset;
    const end = icmp + rec.l4Length;
    let l4: number;
    if (rec.family === FAMILY_V4) {
      const q = this.quoted4;
      if (q.bindQuoted(data, icmp + ICMPV4_HEADER_LENGTH, rec.l4Length - ICMPV4_HEADER_LENGTH) !== WIRE_OK) return false;
      l4 = q.payloadOffset;
      this.protocol = q.protocol;
      this.client = q.source;
      this.rip = q.destination;
    } else {
      const q = this.quoted6;
      if (q.bindQuoted(data, icmp + ICMPV6_HEADER_LENGTH, rec.l4Length - ICMPV6_HEADER_LENGTH) !== WIRE_OK) return false;
      l4 = q.upperOffset;
      this.protocol = q.upperProtocol;
      if (l4 < 0 || !this.ids6(data, q.destinationOffset, q.sourceOffset)) return false;
    }
    if ((this.protocol !== IPPROTO_TCP && this.protocol !== IPPROTO_UDP) || l4 + 4 > end) return false;
    this.cport = transportSourcePort(data, l4);
    this.rport = transportDestinationPort(data, l4);
    return true;
  }

  /** IPv6: the ids of the server and the client (both held by the table while the connection lives). */
  private ids6(data: Uint8Array, ripOff: number, clientOff: number): boolean {
    this.rip = this.addresses.find(data, ripOff);
    this.client = this.addresses.find(data, clientOff);
    return this.rip >= IPV6_ID_BASE && this.client >= IPV6_ID_BASE;
  }
}
