// Every encapsulation the director sends, chosen per real server: the outer family is
// the server's (an IPv4 RIP gets an IPv4 outer header from an IPv4 DIP, an IPv6 RIP an
// IPv6 one), the inner packet may be either family, and the tunnel is IPIP or GUE:
//
//   inner v4 → v4 RS: IPv4 proto 4 (IPIP)         inner v6 → v4 RS: IPv4 proto 41 (6in4)
//   inner v4 → v6 RS: IPv6 next header 4 (4in6)   inner v6 → v6 RS: IPv6 next header 41 (6in6)
//   GUE: outer IP + UDP (source port from the flow hash, for RSS/ECMP) + GUE (proto 4/41)
//
// Everything is written into the headroom in front of the inner packet, Ethernet to the
// kernel's MAC first; the inner packet is not touched. No allocation per packet.
import { pseudoHeaderSumV6At } from '../wire/checksum.js';
import { copyMac, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { writeOuterUdpGue, writeUdpGue, type OuterUdpGueParams } from '../wire/gue.js';
import { IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP } from '../wire/ip-protocol.js';
import { writeOuterIpv4Fields, writeOuterIpv6, type OuterIpv6Params } from '../wire/ipip.js';
import { UdpView } from '../wire/udp.js';
import { IPV6_ID_BASE, type Ipv6AddressTable } from './address-id.js';
import type { PacketRecord } from './pipeline/packet-record.js';
import type { RealServer } from './real-server.js';
import { TUNNEL_GUE, tunnelOverhead } from './tunnel-mtu.js';

export const ENCAP_TTL = 64;
/** The most any encapsulation puts in front of the inner packet: Ethernet + IPv6 + UDP + GUE. */
export const MAX_ENCAP_HEADROOM = 14 + 40 + 8 + 4;

/** GUE UDP source port from a flow hash: the dynamic range (49152..65535), as RFC 8085 advises. */
export function gueSourcePort(flowHash: number): number {
  return 0xc000 | (flowHash & 0x3fff);
}

/**
 * What the encapsulator reads of a packet record: the inner packet at data[ipOffset ..
 * ipOffset+total) of `family`, its server, its TOS (copied to the outer DSCP/ECN or
 * traffic class) and its flow hash (the GUE source port and the IPv6 flow label).
 */
export type EncapSource = Pick<PacketRecord, 'data' | 'ipOffset' | 'total' | 'family' | 'rs' | 'tos' | 'flowHash'>;

/** The Ethernet addresses of the TAP link: ours and the kernel's. */
export interface LinkMacs {
  readonly mac: Uint8Array;
  readonly kernelMac: Uint8Array;
}

export class TunnelEncapsulator {
  /** @param addresses the director's IPv6 address table (servers' and DIPs' ids are its slots) */
  constructor(private readonly addresses: Ipv6AddressTable) {}

  private readonly v6: OuterIpv6Params = { src: new Uint8Array(16), dst: new Uint8Array(16), nextHeader: 0, innerLength: 0, hopLimit: ENCAP_TTL, trafficClass: 0, flowLabel: 0 };
  private readonly udp = new UdpView();
  private readonly gue: OuterUdpGueParams = {
    src: 0,
    dst: 0,
    sourcePort: 0,
    destinationPort: 0,
    variant: 0,
    protocol: 0,
    innerLength: 0,
    ttl: ENCAP_TTL,
    dontFragment: false,
    id: 0,
    udpChecksum: false,
  };

  /**
   * Encapsulates the record's packet toward rec.rs and returns the frame's offset; its
   * length is total + frameOverhead(rs). `df` is the outer IPv4 DF bit, `id` the outer IPv4
   * identification. The caller guarantees the headroom.
   */
  encap(rec: EncapSource, df: boolean, id: number, link: LinkMacs): number {
    const data = rec.data;
    const ip = rec.ipOffset;
    const innerLength = rec.total;
    const rs = rec.rs!;
    const proto = rec.family === 6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
    const outerV6 = rs.address >= IPV6_ID_BASE;
    let start: number;
    if (!outerV6) {
      if (rs.tunnel === TUNNEL_GUE) {
        const g = this.gueFor(rs, proto, innerLength, rec.flowHash);
        g.src = rs.dip;
        g.dst = rs.address;
        g.dontFragment = df;
        g.id = id;
        start = ip - writeOuterUdpGue(data, ip, g);
      } else {
        start = ip - writeOuterIpv4Fields(data, ip, rs.dip, rs.address, proto, innerLength, ENCAP_TTL, df, id, rec.tos);
      }
    } else {
      start = this.outerIpv6(rec, rs, proto);
    }
    const e = start - 14;
    copyMac(link.kernelMac, 0, data, e);
    copyMac(link.mac, 0, data, e + 6);
    const et = outerV6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    data[e + 12] = et >>> 8;
    data[e + 13] = et & 0xff;
    return e;
  }

  /**
   * The outer IPv6 header (and UDP+GUE) in front of the inner packet; returns where it
   * starts. A method of its own, so that the IPv4 path of encap stays small enough to inline.
   */
  private outerIpv6(rec: EncapSource, rs: RealServer, proto: number): number {
    const data = rec.data;
    const ip = rec.ipOffset;
    const innerLength = rec.total;
    // The server's own bytes: no address-table read per packet.
    const p = this.v6;
    p.src = this.dipBytes(rs);
    p.dst = rs.address6!;
    p.trafficClass = rec.tos;
    p.flowLabel = rec.flowHash & 0xfffff;
    if (rs.tunnel !== TUNNEL_GUE) {
      p.nextHeader = proto;
      p.innerLength = innerLength;
      return ip - writeOuterIpv6(data, ip, p);
    }
    const udp = ip - writeUdpGue(data, ip, this.gueFor(rs, proto, innerLength, rec.flowHash));
    const udpLen = ip + innerLength - udp;
    p.nextHeader = IPPROTO_UDP;
    p.innerLength = udpLen;
    const start = udp - writeOuterIpv6(data, udp, p);
    // IPv6 requires the UDP checksum (RFC 8200 §8.1), over the pseudo-header and everything after.
    this.udp.bind(data, udp, udpLen);
    this.udp.fillChecksum(pseudoHeaderSumV6At(data, start + 8, start + 24, IPPROTO_UDP, udpLen));
    return start;
  }

  /** An IPv6 server's DIP bytes, refreshed from the address table when its dip changed. */
  private dipBytes(rs: RealServer): Uint8Array {
    const bytes = rs.dip6!;
    if (rs.dip6Of !== rs.dip) {
      this.addresses.copyTo(rs.dip, bytes, 0);
      rs.dip6Of = rs.dip;
    }
    return bytes;
  }

  /** The UDP/GUE part of the parameters toward `rs`. */
  private gueFor(rs: RealServer, proto: number, innerLength: number, flowHash: number): OuterUdpGueParams {
    const g = this.gue;
    g.sourcePort = gueSourcePort(flowHash);
    g.destinationPort = rs.guePort;
    g.protocol = proto;
    g.innerLength = innerLength;
    return g;
  }
}

/** Bytes the frame gains over the inner packet: Ethernet plus the outer headers toward `rs`. */
export function frameOverhead(rs: RealServer): number {
  return 14 + tunnelOverhead(rs.tunnel, rs.address >= IPV6_ID_BASE);
}
