// Parse helper for classify: the flow an ICMP error quotes. A client's error about a flow
// (e.g. fragmentation needed for the server's reply) quotes a packet server → client, so
// its source is the VIP and its destination the client: the record's flow is replaced by
// the quoted one, swapped back to client → VIP.
import { hashIpv6At, type Ipv6AddressTable } from '../address-id.js';
import { WIRE_OK } from '../../wire/errors.js';
import { ICMPV4_HEADER_LENGTH } from '../../wire/icmpv4.js';
import { ICMPV6_HEADER_LENGTH } from '../../wire/icmpv6.js';
import { IPPROTO_TCP, IPPROTO_UDP, transportDestinationPort, transportSourcePort } from '../../wire/ip-protocol.js';
import { IPV4_HEADER_LENGTH, Ipv4View } from '../../wire/ipv4.js';
import { Ipv6View } from '../../wire/ipv6.js';
import { Verdict } from '../verdicts.js';
import { FAMILY_V4, type PacketRecord } from './packet-record.js';
import { GO_ON, type StageResult } from './stage.js';

/** Bytes of the quoted transport header the lookup needs (the two ports, and IPv4's 8 by RFC 792). */
const QUOTED_PORTS = 4;
const QUOTED_L4_V4 = 8;

export class QuotedFlowParser {
  private readonly quoted4 = new Ipv4View();
  private readonly quoted6 = new Ipv6View();

  constructor(private readonly addresses: Ipv6AddressTable) {}

  /** GO_ON with rec's flow set to the quoted one; DropBadL4Header or DropIcmpNoFlow. */
  parse(rec: PacketRecord): StageResult {
    return rec.family === FAMILY_V4 ? this.quotedV4(rec) : this.quotedV6(rec);
  }

  private quotedV4(rec: PacketRecord): StageResult {
    const icmpLen = rec.l4Length;
    if (icmpLen < ICMPV4_HEADER_LENGTH + IPV4_HEADER_LENGTH + QUOTED_L4_V4) return Verdict.DropBadL4Header;
    const q = this.quoted4;
    if (q.bindQuoted(rec.data, rec.l4Offset + ICMPV4_HEADER_LENGTH, icmpLen - ICMPV4_HEADER_LENGTH) !== WIRE_OK) return Verdict.DropBadL4Header;
    if (icmpLen < ICMPV4_HEADER_LENGTH + q.headerLength + QUOTED_L4_V4) return Verdict.DropBadL4Header;
    const protocol = q.protocol;
    if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) return Verdict.DropIcmpNoFlow;
    const p = q.payloadOffset;
    rec.protocol = protocol;
    rec.vaddr = q.source;
    rec.caddr = q.destination;
    rec.clientKey = rec.caddr;
    rec.vport = transportSourcePort(rec.data, p);
    rec.cport = transportDestinationPort(rec.data, p);
    return GO_ON;
  }

  private quotedV6(rec: PacketRecord): StageResult {
    const icmp = rec.l4Offset;
    const q = this.quoted6;
    const data = rec.data;
    if (q.bindQuoted(data, icmp + ICMPV6_HEADER_LENGTH, rec.l4Length - ICMPV6_HEADER_LENGTH) !== WIRE_OK) return Verdict.DropBadL4Header;
    const protocol = q.upperProtocol;
    const p = q.upperOffset;
    if ((protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) || p < 0 || p + QUOTED_PORTS > icmp + rec.l4Length) return Verdict.DropIcmpNoFlow;
    const vaddr = this.addresses.find(data, q.sourceOffset);
    const caddr = this.addresses.find(data, q.destinationOffset);
    if (vaddr < 0 || caddr < 0) return Verdict.DropIcmpNoFlow;
    rec.protocol = protocol;
    rec.vaddr = vaddr;
    rec.caddr = caddr;
    rec.clientKey = hashIpv6At(data, q.destinationOffset);
    rec.vport = transportSourcePort(data, p);
    rec.cport = transportDestinationPort(data, p);
    return GO_ON;
  }
}
