// Stage 1, parse: fills the packet record from the frame, through the src/wire views only.
// Facts, no decisions: the only verdicts here are for frames whose headers are broken
// (and the tunnel loop guard). IPv4 and IPv6 differ only in how each field is read.
import { hashIpv6At, type Ipv6AddressTable } from '../address-id.js';
import { E_BAD_HEADER_LENGTH, E_BAD_OPTION, E_BAD_TOTAL_LENGTH, E_BAD_VERSION, E_TRUNCATED, WIRE_OK, type WireErrorCode } from '../../wire/errors.js';
import { ETHERNET_HEADER_LENGTH, EthernetView } from '../../wire/ethernet.js';
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REQUEST as ICMPV4_ECHO_REQUEST, ICMP_PARAMETER_PROBLEM, ICMP_TIME_EXCEEDED, Icmpv4View } from '../../wire/icmpv4.js';
import { ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICITATION, Icmpv6View, isIcmpv6Error } from '../../wire/icmpv6.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ip-protocol.js';
import { IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_FRAGMENT_OFFSET_MASK, Ipv4View } from '../../wire/ipv4.js';
import { ipv6Equals } from '../../wire/ipv6-address.js';
import { IPV6_HEADER_LENGTH, Ipv6View } from '../../wire/ipv6.js';
import { TcpView } from '../../wire/tcp.js';
import { UdpView } from '../../wire/udp.js';
import { Verdict } from '../verdicts.js';
import type { VirtualHost } from '../virtual-host.js';
import {
  FAMILY_V4,
  FAMILY_V6,
  FRAGMENT_FIRST,
  FRAGMENT_LATER,
  FRAGMENT_NONE,
  ICMP_ECHO_REQUEST,
  ICMP_ERROR,
  ICMP_NEIGHBOR_SOLICITATION,
  ICMP_NONE,
  ICMP_OTHER,
  ICMP_SHORT,
  type PacketRecord,
} from './packet-record.js';
import { GO_ON, type StageResult } from './stage.js';

export class Parser {
  private readonly eth = new EthernetView();
  private readonly ip4 = new Ipv4View();
  private readonly ip6 = new Ipv6View();
  private readonly tcp = new TcpView();
  private readonly udp = new UdpView();
  private readonly icmp4 = new Icmpv4View();
  private readonly icmp6 = new Icmpv6View();

  /** @param addresses the director's IPv6 address table (VIPs are its slots) */
  constructor(
    private readonly host: VirtualHost,
    private readonly addresses: Ipv6AddressTable,
  ) {}

  /** Ethernet: our MAC or a group address; sets rec.etherType. */
  frame(rec: PacketRecord): StageResult {
    const eth = this.eth;
    if (eth.bind(rec.data, rec.frameOffset, rec.frameLength) !== WIRE_OK) return Verdict.DropTruncated;
    // Unicast frames must be for us; group frames (broadcast ARP, multicast NDP) pass.
    if (!eth.isMulticastDestination && !eth.destinationEquals(this.host.mac)) return Verdict.DropForeignMac;
    rec.etherType = eth.etherType;
    rec.ipOffset = eth.payloadOffset;
    return GO_ON;
  }

  ipv4(rec: PacketRecord): StageResult {
    const ip = this.ip4;
    const code = ip.bind(rec.data, rec.ipOffset, rec.frameLength - ETHERNET_HEADER_LENGTH);
    if (code !== WIRE_OK) return ipv4Failure(code);
    const protocol = ip.protocol;
    // Loop guard: never tunnel a tunnel packet again (e.g. a route pointing back at us).
    if (protocol === IPPROTO_IPIP || protocol === IPPROTO_IPV6) return Verdict.DropIpipLoop;
    rec.family = FAMILY_V4;
    // Each field read once (a getter call apiece on the hot path): the rest is derived.
    const hlen = ip.headerLength;
    const total = ip.totalLength;
    const flags = ip.flagsFragment;
    rec.ipHeaderLength = hlen;
    rec.total = total;
    rec.tos = ip.tos;
    rec.dontFragment = (flags & IPV4_FLAG_DF) !== 0;
    const later = (flags & IPV4_FRAGMENT_OFFSET_MASK) !== 0;
    rec.fragment = later ? FRAGMENT_LATER : (flags & IPV4_FLAG_MF) !== 0 ? FRAGMENT_FIRST : FRAGMENT_NONE;
    rec.fragmentId = rec.fragment === FRAGMENT_NONE ? 0 : ip.identification;
    rec.ipProtocol = protocol;
    rec.protocol = protocol;
    rec.sourceOffset = ip.sourceOffset;
    const src = ip.source;
    rec.caddr = src;
    rec.clientKey = src;
    const dst = ip.destination;
    rec.vaddr = dst;
    rec.toDirector = dst === this.host.linkAddress;
    rec.l4Offset = later ? -1 : rec.ipOffset + hlen;
    rec.l4Length = total - hlen;
    return GO_ON;
  }

  ipv6(rec: PacketRecord): StageResult {
    const ip = this.ip6;
    const data = rec.data;
    const code = ip.bind(data, rec.ipOffset, rec.frameLength - ETHERNET_HEADER_LENGTH);
    if (code !== WIRE_OK) return ipv6Failure(code);
    const protocol = ip.upperProtocol;
    if (protocol === IPPROTO_IPIP || protocol === IPPROTO_IPV6) return Verdict.DropIpipLoop;
    rec.family = FAMILY_V6;
    rec.ipHeaderLength = IPV6_HEADER_LENGTH;
    rec.total = IPV6_HEADER_LENGTH + ip.payloadLength;
    rec.tos = ip.trafficClass;
    rec.dontFragment = true;
    rec.fragment = ip.fragmentOffset > 0 ? FRAGMENT_LATER : ip.moreFragments ? FRAGMENT_FIRST : FRAGMENT_NONE;
    rec.fragmentId = ip.fragmentIdentification;
    rec.ipProtocol = protocol;
    rec.protocol = protocol;
    rec.sourceOffset = ip.sourceOffset;
    // The client's id is looked up (or taken) only when a connection needs it: see track.ts.
    rec.caddr = -1;
    rec.clientKey = hashIpv6At(data, ip.sourceOffset);
    const dst = ip.destinationOffset;
    // To us: the link address or a multicast group (solicited-node, all-nodes, MLD).
    rec.toDirector = data[dst] === 0xff || ipv6Equals(data, dst, this.host.linkAddress6, 0);
    rec.vaddr = rec.toDirector ? -1 : this.addresses.find(data, dst);
    rec.l4Offset = ip.upperOffset;
    rec.l4Length = ip.upperLength;
    return GO_ON;
  }

  /** After ipv4/ipv6: ports and flags of TCP/UDP, or the kind of the family's ICMP message. */
  transport(rec: PacketRecord): void {
    rec.icmpKind = ICMP_NONE;
    rec.l4Sane = false;
    rec.tcpFlags = 0;
    rec.cport = 0;
    rec.vport = 0;
    const l4 = rec.l4Offset;
    if (l4 < 0) return;
    const data = rec.data;
    const len = rec.l4Length;
    const protocol = rec.ipProtocol;
    if (protocol === IPPROTO_TCP) {
      const tcp = this.tcp;
      if (tcp.bindHeader(data, l4, len) !== WIRE_OK) return;
      rec.l4Sane = true;
      const ports = tcp.ports;
      rec.cport = ports >>> 16;
      rec.vport = ports & 0xffff;
      rec.tcpFlags = tcp.flags;
    } else if (protocol === IPPROTO_UDP) {
      const udp = this.udp;
      // A first fragment carries only the start of a datagram its length field covers.
      if ((rec.fragment === FRAGMENT_FIRST ? udp.bindFirstFragment(data, l4, len) : udp.bind(data, l4, len)) !== WIRE_OK) return;
      rec.l4Sane = true;
      const ports = udp.ports;
      rec.cport = ports >>> 16;
      rec.vport = ports & 0xffff;
    } else if (rec.family === FAMILY_V4) {
      if (protocol === IPPROTO_ICMP) rec.icmpKind = this.icmpv4Kind(data, l4, len);
    } else if (protocol === IPPROTO_ICMPV6) {
      rec.icmpKind = this.icmpv6Kind(data, l4, len);
    }
  }

  private icmpv4Kind(data: Uint8Array, l4: number, len: number): number {
    const icmp = this.icmp4;
    if (icmp.bind(data, l4, len) !== WIRE_OK) return ICMP_SHORT;
    const type = icmp.type;
    if (type === ICMPV4_ECHO_REQUEST) return ICMP_ECHO_REQUEST;
    return type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM ? ICMP_ERROR : ICMP_OTHER;
  }

  private icmpv6Kind(data: Uint8Array, l4: number, len: number): number {
    const icmp = this.icmp6;
    if (icmp.bind(data, l4, len) !== WIRE_OK) return ICMP_SHORT;
    const type = icmp.type;
    if (type === ICMPV6_ECHO_REQUEST) return ICMP_ECHO_REQUEST;
    if (type === ICMPV6_NEIGHBOR_SOLICITATION) return ICMP_NEIGHBOR_SOLICITATION;
    return isIcmpv6Error(type) ? ICMP_ERROR : ICMP_OTHER;
  }
}

function ipv4Failure(code: WireErrorCode): Verdict {
  if (code === E_BAD_VERSION) return Verdict.DropBadVersion;
  if (code === E_BAD_HEADER_LENGTH || code === E_BAD_OPTION) return Verdict.DropBadHeaderLength;
  if (code === E_BAD_TOTAL_LENGTH) return Verdict.DropBadTotalLength;
  return Verdict.DropTruncated;
}

function ipv6Failure(code: WireErrorCode): Verdict {
  if (code === E_BAD_VERSION) return Verdict.DropBadVersion;
  if (code === E_TRUNCATED) return Verdict.DropTruncated;
  if (code === E_BAD_TOTAL_LENGTH) return Verdict.DropBadTotalLength;
  return Verdict.DropBadHeaderLength;
}
