// GSO over a UDP tunnel for the director's GUE frames: the kernel (Linux 6.17+, probed in
// native-tap-device.ts) takes a TAP write whose virtio-net header says "TCP super-packet
// inside UDP over IPv4" and cuts it itself, fixing every segment's outer IPv4 length, id and
// checksum, UDP length, inner IPv4 length, id and checksum, and inner TCP checksum; when the
// path to the real server can carry the super-packet whole (a veth, a NIC with tunnel TSO),
// it is cut even later or not at all. One write then replaces one per segment.
//
// The data path still segments and encapsulates each segment (the PMTU check, the counters
// and the connection table see every segment as before); this framing lets the TcpCoalescer
// (src/agent/gro-coalesce.ts) join, after encapsulation, the GUE frames of one TCP flow that
// follow each other, keeping the first frame's outer headers:
//
//   Ethernet 14 | IPv4 20 (no options) | UDP 8 (checksum 0) | GUE 4+ (variant 0, data) or
//   none (variant 1) | inner IPv4/IPv6 + TCP | payload
//
// Only IPv4 outer headers: GUE over IPv6 carries a UDP checksum, which would need
// TUN_F_UDP_TUNNEL_GSO_CSUM; those frames, IPIP frames and anything else go out as they are.
import { ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import { IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP } from '../wire/ip-protocol.js';
import { rewriteIpv4TotalLength } from '../wire/ipv4.js';
import { VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 } from '../wire/virtio-net-hdr.js';
import type { TunnelFraming } from '../agent/gro-coalesce.js';

const ETH = 14;
const OUTER_IP = ETH;
const UDP = ETH + 20;
const GUE = UDP + 8;
/** The smallest frame worth looking at: the headers above with an inner IPv4 + TCP header. */
const MIN_FRAME = GUE + 20 + 20;
/** virtio_net_hdr_v1_hash_tunnel: outer_th_offset and inner_nh_offset. */
const VNET_OUTER_TH = 20;
const VNET_INNER_NH = 22;

export class GueTunnelFraming implements TunnelFraming {
  readonly l2Length = ETH;

  /**
   * Offset of the inner IP header in the frame at data[off .. +len), or -1 when the frame is
   * not Ethernet + IPv4 (no options, not a fragment) + UDP with checksum 0 + GUE data carrying
   * IPv4/IPv6, with lengths that match the frame.
   */
  innerOffset(data: Uint8Array, off: number, len: number): number {
    if (len < MIN_FRAME || ((data[off + 12] << 8) | data[off + 13]) !== ETHERTYPE_IPV4) return -1;
    const ip = off + OUTER_IP;
    if (data[ip] !== 0x45 || data[ip + 9] !== IPPROTO_UDP) return -1;
    if (((data[ip + 6] & 0x3f) | data[ip + 7]) !== 0) return -1;
    if (((data[ip + 2] << 8) | data[ip + 3]) !== len - ETH) return -1;
    const udp = off + UDP;
    if (((data[udp + 4] << 8) | data[udp + 5]) !== len - UDP || data[udp + 6] !== 0 || data[udp + 7] !== 0) return -1;
    const first = data[off + GUE];
    const variant = first >> 6;
    if (variant === 1) return GUE; // direct IP: the inner version nibble follows
    if (variant !== 0 || (first & 0x20) !== 0) return -1; // version 2/3, or a control message
    const proto = data[off + GUE + 1];
    if (proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6) return -1;
    const inner = GUE + 4 + ((first & 0x1f) << 2);
    return inner + 40 <= len ? inner : -1;
  }

  /** Same Ethernet header, outer TOS, DF, TTL, addresses, UDP ports and GUE header bytes. */
  sameTunnel(data: Uint8Array, a: number, b: number, innerOffset: number): boolean {
    for (let k = 0; k < ETH; k++) if (data[a + k] !== data[b + k]) return false;
    const ia = a + OUTER_IP;
    const ib = b + OUTER_IP;
    if (data[ia + 1] !== data[ib + 1] || (data[ia + 6] & 0x40) !== (data[ib + 6] & 0x40) || data[ia + 8] !== data[ib + 8]) return false;
    for (let k = 12; k < 20; k++) if (data[ia + k] !== data[ib + k]) return false;
    for (let k = UDP; k < UDP + 4; k++) if (data[a + k] !== data[b + k]) return false;
    for (let k = GUE; k < innerOffset; k++) if (data[a + k] !== data[b + k]) return false;
    return true;
  }

  /** Outer IPv4 total length and checksum, UDP length (its checksum stays 0), and the tunnel's header fields. */
  finish(buf: Uint8Array, hdr: number, frame: number, innerOffset: number, frameLength: number): void {
    rewriteIpv4TotalLength(buf, frame + OUTER_IP, frameLength - ETH);
    const udpLen = frameLength - UDP;
    buf[frame + UDP + 4] = udpLen >>> 8;
    buf[frame + UDP + 5] = udpLen;
    buf[hdr + 1] |= VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4;
    buf[hdr + VNET_OUTER_TH] = UDP;
    buf[hdr + VNET_OUTER_TH + 1] = 0;
    buf[hdr + VNET_INNER_NH] = innerOffset;
    buf[hdr + VNET_INNER_NH + 1] = innerOffset >>> 8;
  }
}
