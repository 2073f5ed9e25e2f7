// Software GSO: cuts a TCP or UDP super-packet that a TUN/TAP handed us (virtio-net header
// gso_type TCPV4/TCPV6/UDP_L4) into gso_size-payload packets, in place in its ring slot, so
// that the rest of the data path sees ordinary packets. Each segment gets its own copy of
// the headers with the IP length (and IPv4 identification + header checksum), the TCP
// sequence number and flags, or the UDP length, fixed, and a full L4 checksum.
// Segment k is laid out at first + k * stride, stride = headroom + headers + gso_size, so
// every segment keeps `headroom` bytes in front of it for an outer header. Payloads move
// back to front, so no move overwrites bytes a later move still needs.
import { META_LENGTH, META_OFFSET, META_STRIDE } from '../native/addon.js';
import { finalizeChecksum, pseudoHeaderSumV4At, pseudoHeaderSumV6At } from '../wire/checksum.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ip-protocol.js';
import { rewriteIpv4TotalLength } from '../wire/ipv4.js';
import { TCP_CWR, TCP_FIN, TCP_PSH } from '../wire/tcp.js';
import { payloadSum } from './payload-sum.js';
import { VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4 } from '../wire/virtio-net-hdr.js';

/** Returned (negative) when a super-packet cannot be segmented; the caller counts and drops it. */
export const GSO_UNSUPPORTED = -1; // gso_type, IP version, protocol or extension headers we do not cut
export const GSO_MALFORMED = -2; // lengths that do not add up, gso_size 0
export const GSO_NO_ROOM = -3; // the segments would not fit the slot (a tiny gso_size)
export const GSO_NEED_META = -4; // the output meta array is too short: grow it and call again (nothing changed)

/**
 * Segments the super-packet data[frameOff .. +frameLen) (L3 header at frameOff + l3Off: 14 on
 * a TAP, 0 on a TUN) whose virtio-net header said gsoType/gsoSize. Segments may use bytes up
 * to `limit` (the slot's end). Writes offset/length of each segment into out[] from entry
 * outIndex (META_STRIDE ints each). Returns the number of segments, or a negative GSO_* code;
 * on a negative code neither the bytes nor `out` were touched.
 */
export function segmentGso(
  data: Uint8Array,
  frameOff: number,
  frameLen: number,
  l3Off: number,
  gsoType: number,
  gsoSize: number,
  headroom: number,
  limit: number,
  out: Int32Array,
  outIndex: number,
): number {
  const type = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  const ip = frameOff + l3Off;
  if (frameLen < l3Off + 20) return GSO_MALFORMED;
  const version = data[ip] >> 4;
  if (l3Off === 14) {
    const etherType = (data[frameOff + 12] << 8) | data[frameOff + 13];
    if (etherType !== (version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6)) return GSO_UNSUPPORTED;
  }
  let protocol: number;
  let l4: number;
  if (version === 4) {
    if (type !== VIRTIO_NET_HDR_GSO_TCPV4 && type !== VIRTIO_NET_HDR_GSO_UDP_L4) return GSO_UNSUPPORTED;
    const ihl = (data[ip] & 0x0f) << 2;
    if (ihl < 20) return GSO_MALFORMED;
    // A fragment cannot be a super-packet.
    if (((data[ip + 6] & 0x3f) | data[ip + 7]) !== 0) return GSO_MALFORMED;
    protocol = data[ip + 9];
    l4 = ip + ihl;
  } else if (version === 6) {
    if (type !== VIRTIO_NET_HDR_GSO_TCPV6 && type !== VIRTIO_NET_HDR_GSO_UDP_L4) return GSO_UNSUPPORTED;
    protocol = data[ip + 6]; // extension headers: not cut here (the kernel's TCP does not send them)
    l4 = ip + 40;
  } else {
    return GSO_UNSUPPORTED;
  }
  const isTcp = protocol === IPPROTO_TCP;
  // TCP only with the TCP types, UDP only with UDP_L4.
  if (isTcp === (type === VIRTIO_NET_HDR_GSO_UDP_L4) || (!isTcp && protocol !== IPPROTO_UDP)) return GSO_UNSUPPORTED;
  if (l4 + (isTcp ? 20 : 8) > frameOff + frameLen) return GSO_MALFORMED;
  const l4HeaderLen = isTcp ? (data[l4 + 12] >> 4) << 2 : 8;
  if (l4HeaderLen < (isTcp ? 20 : 8)) return GSO_MALFORMED;
  const hdrs = l4 + l4HeaderLen - frameOff;
  const payload = frameLen - hdrs;
  if (payload < 0 || gsoSize <= 0) return GSO_MALFORMED;
  const n = payload === 0 ? 1 : Math.ceil(payload / gsoSize);
  const stride = headroom + hdrs + gsoSize;
  const lastLen = payload - (n - 1) * gsoSize;
  if (frameOff + (n - 1) * stride + hdrs + lastLen > limit) return GSO_NO_ROOM;
  if ((outIndex + n) * META_STRIDE > out.length) return GSO_NEED_META;

  const l4Rel = l4 - frameOff;
  const ipRel = l3Off;
  const ipHeaderLen = l4Rel - ipRel;
  const id0 = (data[ip + 4] << 8) | data[ip + 5];
  const seq0 = ((data[l4 + 4] << 24) | (data[l4 + 5] << 16) | (data[l4 + 6] << 8) | data[l4 + 7]) >>> 0;
  const flags0 = data[l4 + 13];
  for (let k = n - 1; k >= 0; k--) {
    const seg = frameOff + k * stride;
    const len = k === n - 1 ? lastLen : gsoSize;
    if (k > 0) {
      data.copyWithin(seg + hdrs, frameOff + hdrs + k * gsoSize, frameOff + hdrs + k * gsoSize + len);
      data.copyWithin(seg, frameOff, frameOff + hdrs);
    }
    const sip = seg + ipRel;
    const sl4 = seg + l4Rel;
    const l4Len = l4HeaderLen + len;
    let pseudo: number;
    if (version === 4) {
      const id = (id0 + k) & 0xffff;
      data[sip + 4] = id >>> 8;
      data[sip + 5] = id;
      rewriteIpv4TotalLength(data, sip, ipHeaderLen + l4Len);
      pseudo = pseudoHeaderSumV4At(data, sip + 12, sip + 16, protocol, l4Len);
    } else {
      const plen = ipHeaderLen - 40 + l4Len;
      data[sip + 4] = plen >>> 8;
      data[sip + 5] = plen;
      pseudo = pseudoHeaderSumV6At(data, sip + 8, sip + 24, protocol, l4Len);
    }
    let csumAt: number;
    if (isTcp) {
      const seq = (seq0 + k * gsoSize) >>> 0;
      data[sl4 + 4] = seq >>> 24;
      data[sl4 + 5] = seq >>> 16;
      data[sl4 + 6] = seq >>> 8;
      data[sl4 + 7] = seq;
      let f = flags0;
      if (k < n - 1) f &= ~(TCP_FIN | TCP_PSH);
      if (k > 0) f &= ~TCP_CWR;
      data[sl4 + 13] = f;
      csumAt = sl4 + 16;
    } else {
      data[sl4 + 4] = l4Len >>> 8;
      data[sl4 + 5] = l4Len;
      csumAt = sl4 + 6;
    }
    data[csumAt] = 0;
    data[csumAt + 1] = 0;
    let ck = finalizeChecksum(payloadSum(data, sl4, l4Len, pseudo));
    if (ck === 0 && !isTcp) ck = 0xffff; // UDP: 0 would mean "no checksum"
    data[csumAt] = ck >>> 8;
    data[csumAt + 1] = ck;
    const m = (outIndex + k) * META_STRIDE;
    out[m + META_OFFSET] = seg;
    out[m + META_LENGTH] = hdrs + len;
  }
  return n;
}

/**
 * Completes a CHECKSUM_PARTIAL packet (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at
 * csumStart + csumOffset holds the pseudo-header sum; the sum from csumStart to the end of
 * the frame replaces it. Offsets are from frameOff. False (nothing changed) when they point
 * outside the frame.
 */
export function completeChecksum(data: Uint8Array, frameOff: number, frameLen: number, csumStart: number, csumOffset: number): boolean {
  if (csumStart + csumOffset + 2 > frameLen) return false;
  const at = frameOff + csumStart + csumOffset;
  let ck = finalizeChecksum(payloadSum(data, frameOff + csumStart, frameLen - csumStart));
  if (ck === 0 && csumOffset === 6) ck = 0xffff; // UDP
  data[at] = ck >>> 8;
  data[at + 1] = ck;
  return true;
}
