// Emit for the two forwarding methods that do not tunnel (the method is the real server's,
// forward-method.ts):
//   VS/NAT (-m): the destination becomes RIP:rport (src/wire/nat-rewrite.ts, incremental
//     checksums), and the packet goes back to the kernel, which routes it to the server; a
//     server's reply comes back through the TAP (host-setup.ts NatReplyRules) and its
//     source becomes VIP:vport again (nat-reply.ts finds its connection).
//   VS/DR (-g): the IP packet is left as it is and framed to the server's MAC on the LAN
//     the TAP shares with it (the DR bridge), learned by ARP (neighbor-resolver.ts).
// An FTP control connection (a service on port 21) also goes through the FTP helper
// (ftp-control.ts), which may resize a server's 227 line.
// Neither changes the packet's size otherwise, so neither needs PMTU handling or MSS clamping: those
// are tunnel concerns (emit.ts).
import { IPV6_ID_BASE, type Ipv6AddressTable } from '../address-id.js';
import type { NeighborResolver } from '../neighbor-resolver.js';
import type { RealServer } from '../real-server.js';
import { Verdict } from '../verdicts.js';
import type { VirtualHost } from '../virtual-host.js';
import type { VirtualService } from '../virtual-service.js';
import { ARP_LENGTH, ARP_OP_REPLY, ArpView } from '../../wire/arp.js';
import { WIRE_OK } from '../../wire/errors.js';
import { copyMac, ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP, macEquals } from '../../wire/ethernet.js';
import { writeIpv4 } from '../../wire/ipv4-address.js';
import { NAT_DST, NAT_ICMP_OK, NAT_SRC, natRewriteIcmpv4Error, natRewriteIcmpv6Error, natRewriteIpv4, natRewriteIpv6, type NatSide } from '../../wire/nat-rewrite.js';
import { IPPROTO_TCP } from '../../wire/ip-protocol.js';
import type { FtpControl } from './ftp-control.js';
import { FAMILY_V4, FRAGMENT_NONE, type PacketRecord } from './packet-record.js';
import { ACTION_CONNECTION, ACTION_ICMP_ERROR, ACTION_LATER_FRAGMENT, GO_ON } from './stage.js';

/** ARP header up to the sender MAC: Ethernet, IPv4, lengths 6 and 4, request. */
const ARP_REQUEST_HEAD = Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 1]);

export class MethodEmitter {
  /** The 16 bytes of an IPv6 address being written (no allocation per packet). */
  private readonly addr6 = new Uint8Array(16);
  private readonly arp = new ArpView();

  constructor(
    private readonly host: VirtualHost,
    private readonly addresses: Ipv6AddressTable,
    readonly neighbors: NeighborResolver,
    /** The FTP helper's control-connection side (services on port 21). */
    readonly ftp: FtpControl,
  ) {}

  /** VS/NAT, client → server: VIP:vport becomes RIP:rport (an ICMP error: its quoted source). */
  nat(rec: PacketRecord): Verdict {
    const rs = rec.rs!;
    // A port-0 service never has NAT servers (config-checks.ts); natPort 0 keeps the port.
    return this.natTo(rec, rs.address, rs.natPort !== 0 ? rs.natPort : rec.vport, rec.svc !== null && rec.svc.ftp);
  }

  /**
   * VS/NAT toward rec.rs at addr:port (a service's connection, or an FTP data connection
   * with its own port). `ftpControl`: an FTP control segment, which the FTP helper reads
   * after the rewrite.
   */
  natTo(rec: PacketRecord, addr: number, port: number, ftpControl: boolean): Verdict {
    const rs = rec.rs!;
    if (!this.host.kernelMacKnown) return Verdict.DropNoKernelMac;
    if (!this.rewrite(rec, NAT_DST, addr, port)) return Verdict.DropNatIcmpUntranslatable;
    if (ftpControl && isWholeSegment(rec)) this.ftp.fromClient(rec, rec.svc!, rs);
    countIn(rec.svc, rs, rec.total);
    return this.toKernel(rec, rec.forwardVerdict);
  }

  /**
   * VS/NAT, server → client: RIP:rport becomes vip:vport, the service's address unless an
   * FTP data connection has its own port (an ICMP error: its quoted destination).
   */
  natReply(rec: PacketRecord, svc: VirtualService, rs: RealServer, vip = svc.vip, vport = svc.port, ftpControl = svc.ftp): Verdict {
    if (!this.host.kernelMacKnown) return Verdict.DropNoKernelMac;
    if (!this.rewrite(rec, NAT_SRC, vip, vport)) return Verdict.DropNatIcmpUntranslatable;
    if (ftpControl && isWholeSegment(rec)) {
      const v = this.ftp.fromServer(rec, svc, rs);
      if (v !== GO_ON) return v;
    }
    const total = rec.total;
    svc.stats.outPkts++;
    svc.stats.outBytes += total;
    rs.stats.outPkts++;
    rs.stats.outBytes += total;
    return this.toKernel(rec, Verdict.ForwardNatReply);
  }

  /** VS/DR: the unchanged packet in a frame to the server's MAC (asked for by ARP when unknown). */
  dr(rec: PacketRecord): Verdict {
    const rs = rec.rs!;
    const f = rec.frameOffset;
    // IPv4 only: the resolver speaks ARP (config-checks.ts refuses IPv6 DR servers).
    if (rs.address >= IPV6_ID_BASE || !this.neighbors.macOf(rs.address, rec.data, f, rec.now)) return Verdict.DropNoServerMac;
    copyMac(this.host.mac, 0, rec.data, f + 6);
    countIn(rec.svc, rs, rec.total);
    rec.outOffset = f;
    rec.outLength = ETHERNET_HEADER_LENGTH + rec.total;
    return rec.forwardVerdict;
  }

  /**
   * Rewrites one side of the packet in place (or, for an ICMP error, the outer address on
   * that side and the quoted packet's other side). False when an error's quote cannot be
   * translated; the packet is then unchanged.
   */
  private rewrite(rec: PacketRecord, side: NatSide, addr: number, port: number): boolean {
    const data = rec.data;
    const icmp = rec.action === ACTION_ICMP_ERROR;
    const l4 = rec.action === ACTION_LATER_FRAGMENT ? -1 : rec.l4Offset;
    if (rec.family === FAMILY_V4) {
      if (icmp) return natRewriteIcmpv4Error(data, rec.ipOffset, l4, l4 + rec.l4Length, side, addr, port) === NAT_ICMP_OK;
      natRewriteIpv4(data, rec.ipOffset, l4, rec.ipProtocol, side, addr, port);
      return true;
    }
    this.addresses.copyTo(addr, this.addr6, 0);
    if (icmp) return natRewriteIcmpv6Error(data, rec.ipOffset, l4, l4 + rec.l4Length, side, this.addr6, 0, port) === NAT_ICMP_OK;
    natRewriteIpv6(data, rec.ipOffset, l4, rec.ipProtocol, side, this.addr6, 0, port);
    return true;
  }

  /**
   * An ARP frame answering one of the resolver's requests (addressed to our MAC, from a DR
   * server): learned, true. Anything else: false, for the virtual host to handle.
   */
  learnNeighbor(rec: PacketRecord): boolean {
    const arp = this.arp;
    const off = rec.frameOffset + ETHERNET_HEADER_LENGTH;
    if (arp.bind(rec.data, off, rec.frameLength - ETHERNET_HEADER_LENGTH) !== WIRE_OK || arp.operation !== ARP_OP_REPLY) return false;
    if (!macEquals(rec.data, arp.targetHardwareAddressOffset, this.host.mac, 0)) return false;
    const spa = arp.senderProtocolAddress;
    if (spa === this.host.kernelAddress) return false;
    return this.neighbors.learn(spa, rec.data, arp.senderHardwareAddressOffset, rec.now);
  }

  /**
   * Writes an ARP request for `ip` (a DR server) at data[off]: broadcast, our MAC, sender
   * address 0.0.0.0 (an RFC 5227 probe: the server answers it without adding us to its
   * neighbour table). Returns the frame length.
   */
  writeRequest(data: Uint8Array, off: number, ip: number): number {
    data.fill(0xff, off, off + 6);
    copyMac(this.host.mac, 0, data, off + 6);
    data[off + 12] = ETHERTYPE_ARP >>> 8;
    data[off + 13] = ETHERTYPE_ARP & 0xff;
    const a = off + ETHERNET_HEADER_LENGTH;
    data.set(ARP_REQUEST_HEAD, a);
    copyMac(this.host.mac, 0, data, a + 8);
    data.fill(0, a + 14, a + 24);
    writeIpv4(data, a + 24, ip);
    return ETHERNET_HEADER_LENGTH + ARP_LENGTH;
  }

  /** The rewritten packet back to the kernel (which routes it on), in its own frame. */
  private toKernel(rec: PacketRecord, verdict: Verdict): Verdict {
    const f = rec.frameOffset;
    copyMac(this.host.kernelMac, 0, rec.data, f);
    copyMac(this.host.mac, 0, rec.data, f + 6);
    rec.outOffset = f;
    rec.outLength = ETHERNET_HEADER_LENGTH + rec.total;
    return verdict;
  }
}

/** A TCP segment with its header and payload here (not an ICMP error, not a fragment): what the FTP helper reads. */
function isWholeSegment(rec: PacketRecord): boolean {
  return rec.action === ACTION_CONNECTION && rec.fragment === FRAGMENT_NONE && rec.protocol === IPPROTO_TCP && rec.l4Sane;
}

/** Service and server traffic in (a health probe has no service and is not counted). */
function countIn(svc: VirtualService | null, rs: RealServer, total: number): void {
  if (svc === null) return;
  svc.stats.inPkts++;
  svc.stats.inBytes += total;
  rs.stats.inPkts++;
  rs.stats.inBytes += total;
}
