// Emit helpers for the director's own answers, written in place over the request: ARP for
// its link address, IPv6 neighbour advertisements, and ICMP echo replies (IPv4 and IPv6,
// to its link address and to VIPs). Each sets the record's output span.
import { ETHERNET_HEADER_LENGTH } from '../../wire/ethernet.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../../wire/ip-protocol.js';
import { ARP_LENGTH } from '../../wire/arp.js';
import { makeEchoReplyInPlace, makeEchoV6ReplyInPlace } from '../icmp-echo.js';
import { Verdict } from '../verdicts.js';
import { NA_FRAME_LENGTH, type VirtualHost } from '../virtual-host.js';
import { FAMILY_V4, FRAGMENT_LATER, ICMP_ECHO_REQUEST, ICMP_NEIGHBOR_SOLICITATION, ICMP_NONE, ICMP_SHORT, type PacketRecord } from './packet-record.js';

export class LocalReplies {
  /**
   * @param host the director's link identity (MACs, addresses)
   * @param options icmpEcho: answer echo requests (to VIPs and the link address)
   */
  constructor(
    private readonly host: VirtualHost,
    private readonly options: { readonly icmpEcho: boolean },
  ) {}

  /** An ARP frame: the virtual host answers or learns in place. */
  arp(rec: PacketRecord): Verdict {
    const v = this.host.handleArp(rec.data, rec.frameOffset, rec.frameLength);
    return out(rec, v, ETHERNET_HEADER_LENGTH + ARP_LENGTH);
  }

  /**
   * A packet to the director itself. IPv4: an echo request to the link address is
   * answered. IPv6: neighbour solicitations are (the kernel's IPv6 VIP routes point at the
   * link address); other ICMPv6 to it or to a multicast group is ignored.
   */
  toDirector(rec: PacketRecord): Verdict {
    if (rec.family === FAMILY_V4) {
      return rec.ipProtocol === IPPROTO_ICMP && rec.fragment !== FRAGMENT_LATER ? this.echo(rec) : Verdict.DropToDirector;
    }
    const kind = rec.icmpKind;
    if (rec.ipProtocol !== IPPROTO_ICMPV6 || kind === ICMP_NONE || kind === ICMP_SHORT) return Verdict.DropToDirector;
    if (kind !== ICMP_NEIGHBOR_SOLICITATION) return Verdict.DropNdpIgnored;
    const v = this.host.handleNeighborSolicitation(rec.data, rec.frameOffset, rec.ipOffset, rec.l4Offset, rec.l4Length);
    return out(rec, v, NA_FRAME_LENGTH);
  }

  /** An echo request becomes its reply, back to the kernel. */
  echo(rec: PacketRecord): Verdict {
    const kind = rec.icmpKind;
    if (kind === ICMP_SHORT) return Verdict.DropBadL4Header;
    if (kind !== ICMP_ECHO_REQUEST) return Verdict.DropIcmpUnsupported;
    if (!this.options.icmpEcho) return Verdict.DropIcmpEchoDisabled;
    const host = this.host;
    if (!host.kernelMacKnown) return Verdict.DropNoKernelMac;
    if (rec.family === FAMILY_V4) makeEchoReplyInPlace(rec.data, rec.frameOffset, rec.ipOffset, rec.ipHeaderLength, rec.l4Offset, host.mac, host.kernelMac);
    else makeEchoV6ReplyInPlace(rec.data, rec.frameOffset, rec.ipOffset, rec.l4Offset, host.mac, host.kernelMac);
    return out(rec, Verdict.ReplyIcmpEcho, ETHERNET_HEADER_LENGTH + rec.total);
  }
}

/** The reply is the frame itself, rewritten: `length` bytes from the frame's start. */
function out(rec: PacketRecord, v: Verdict, length: number): Verdict {
  rec.outOffset = rec.frameOffset;
  rec.outLength = length;
  return v;
}
