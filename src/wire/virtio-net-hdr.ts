// The virtio-net header (virtio spec §5.1.6, include/uapi/linux/virtio_net.h) that a TUN/TAP
// opened with IFF_VNET_HDR puts in front of every frame it reads and expects in front of
// every frame written. It says whether the frame is a GSO super-packet (and how to cut it)
// and whether its L4 checksum is still to be completed. TUN/TAP use the legacy layout in the
// host's byte order, which is little-endian on every machine we run on.
//
//  0               1               2               3
// +---------------+---------------+-------------------------------+
// |     flags     |   gso_type    |            hdr_len            |
// +---------------+---------------+-------------------------------+
// |           gso_size            |          csum_start           |
// +-------------------------------+-------------------------------+
// |          csum_offset          |  num_buffers (12-byte form)   |
// +-------------------------------+-------------------------------+
// |            hash_value (24-byte form, 0 on a TUN/TAP)          |
// +-------------------------------+-------------------------------+
// |          hash_report          |            padding            |
// +-------------------------------+-------------------------------+
// |        outer_th_offset        |        inner_nh_offset        |
// +-------------------------------+-------------------------------+
//
// The 24-byte form is struct virtio_net_hdr_v1_hash_tunnel (Linux 6.17+): a TUN/TAP whose
// header size is at least 24 reads the two offsets of GSO over a UDP tunnel from it. Such a
// super-packet has gso_type = the inner type (TCPV4/TCPV6/UDP_L4) | UDP_TUNNEL_IPV4 or _IPV6
// (the outer family), NEEDS_CSUM with csum_start at the inner transport header, hdr_len over
// every header up to and including the inner transport one, outer_th_offset at the outer
// UDP header and inner_nh_offset at the inner IP header (both from the frame's start). The
// kernel (or a NIC) then cuts it into gso_size segments, each with its outer IP and UDP
// lengths, outer IPv4 id and checksum, inner headers and inner L4 checksum fixed; the outer
// UDP checksum stays 0 unless UDP_TUNNEL_CSUM is set.
import { E_BAD_LENGTH, E_BAD_TYPE, E_TRUNCATED, WIRE_OK, parseFailure, type ParseResult, type WireErrorCode } from './errors.js';

const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;
const NUM_BUFFERS = 10;
const OUTER_TH_OFFSET = 20;
const INNER_NH_OFFSET = 22;

/** struct virtio_net_hdr. */
export const VIRTIO_NET_HDR_LENGTH = 10;
/** struct virtio_net_hdr_mrg_rxbuf (adds num_buffers). */
export const VIRTIO_NET_HDR_MRG_LENGTH = 12;
/** struct virtio_net_hdr_v1_hash_tunnel (adds the hash fields and the UDP tunnel offsets). */
export const VIRTIO_NET_HDR_TUNNEL_LENGTH = 24;

/** csum_start/csum_offset are valid: the L4 checksum field holds only the pseudo-header sum. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** The checksum was already verified (receive side only). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** UFO (IP fragmentation of UDP); never requested by us. */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** USO: UDP segmentation into gso_size datagrams, IPv4 or IPv6 (Linux 6.2+). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** Bits or-ed into gso_type: the inner GSO packet sits in a UDP tunnel over IPv4 / IPv6 (24-byte form). */
export const VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 = 0x20;
export const VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6 = 0x40;
/** Bit or-ed into gso_type: the TCP super-packet carries ECN (CWR on the first segment). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;
/** flags bit: the outer UDP checksum of each tunnel segment is to be computed too (needs TUN_F_UDP_TUNNEL_GSO_CSUM). */
export const VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM = 8;

/** The TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** GSO over UDP tunnels (Linux 6.17+); older kernels refuse the bit with EINVAL. */
export const TUN_F_UDP_TUNNEL_GSO = 0x80;
/** ... with the outer UDP checksum computed per segment. */
export const TUN_F_UDP_TUNNEL_GSO_CSUM = 0x100;

const EMPTY = new Uint8Array(0);

/** Re-bindable view over a virtio-net header of 10, 12 or 24 bytes. After bind no getter throws. */
export class VirtioNetHdrView {
  buf: Uint8Array = EMPTY;
  off = 0;
  length = VIRTIO_NET_HDR_LENGTH;

  /** Binds without allocation; 0 or a WireError code (truncated; bad-length for a size other than 10/12/24). */
  bind(buf: Uint8Array, off: number, length: number, available = buf.length - off): WireErrorCode {
    if (length !== VIRTIO_NET_HDR_LENGTH && length !== VIRTIO_NET_HDR_MRG_LENGTH && length !== VIRTIO_NET_HDR_TUNNEL_LENGTH) return E_BAD_LENGTH;
    if (off < 0 || available < length || off + length > buf.length) return E_TRUNCATED;
    this.buf = buf;
    this.off = off;
    this.length = length;
    return WIRE_OK;
  }

  private u16(at: number): number {
    return this.buf[this.off + at] | (this.buf[this.off + at + 1] << 8);
  }
  private setU16(at: number, v: number): void {
    this.buf[this.off + at] = v;
    this.buf[this.off + at + 1] = v >>> 8;
  }

  get flags(): number {
    return this.buf[this.off + FLAGS];
  }
  set flags(v: number) {
    this.buf[this.off + FLAGS] = v;
  }
  get needsCsum(): boolean {
    return (this.buf[this.off + FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
  }
  /** gso_type including the ECN bit. */
  get gsoType(): number {
    return this.buf[this.off + GSO_TYPE];
  }
  set gsoType(v: number) {
    this.buf[this.off + GSO_TYPE] = v;
  }
  /** Bytes of headers (L2 to L4 inclusive) in front of the payload; a hint, not trusted. */
  get hdrLen(): number {
    return this.u16(HDR_LEN);
  }
  set hdrLen(v: number) {
    this.setU16(HDR_LEN, v);
  }
  /** Payload bytes per segment (the MSS for TCP). */
  get gsoSize(): number {
    return this.u16(GSO_SIZE);
  }
  set gsoSize(v: number) {
    this.setU16(GSO_SIZE, v);
  }
  /** Offset from the frame start where checksumming starts (the L4 header). */
  get csumStart(): number {
    return this.u16(CSUM_START);
  }
  set csumStart(v: number) {
    this.setU16(CSUM_START, v);
  }
  /** Offset of the checksum field from csumStart (16 for TCP, 6 for UDP). */
  get csumOffset(): number {
    return this.u16(CSUM_OFFSET);
  }
  set csumOffset(v: number) {
    this.setU16(CSUM_OFFSET, v);
  }
  /** num_buffers of the 12- and 24-byte forms; 0 for the 10-byte form. */
  get numBuffers(): number {
    return this.length >= VIRTIO_NET_HDR_MRG_LENGTH ? this.u16(NUM_BUFFERS) : 0;
  }
  /** 24-byte form: offset of the outer UDP header from the frame's start (0 in shorter forms). */
  get outerThOffset(): number {
    return this.length === VIRTIO_NET_HDR_TUNNEL_LENGTH ? this.u16(OUTER_TH_OFFSET) : 0;
  }
  /** Ignored (nothing written) on the shorter forms, which have no such field. */
  set outerThOffset(v: number) {
    if (this.length === VIRTIO_NET_HDR_TUNNEL_LENGTH) this.setU16(OUTER_TH_OFFSET, v);
  }
  /** 24-byte form: offset of the inner IP header from the frame's start (0 in shorter forms). */
  get innerNhOffset(): number {
    return this.length === VIRTIO_NET_HDR_TUNNEL_LENGTH ? this.u16(INNER_NH_OFFSET) : 0;
  }
  set innerNhOffset(v: number) {
    if (this.length === VIRTIO_NET_HDR_TUNNEL_LENGTH) this.setU16(INNER_NH_OFFSET, v);
  }

  /** Writes an all-zero header (no GSO, checksum complete). */
  clear(): void {
    this.buf.fill(0, this.off, this.off + this.length);
  }
}

/** A virtio-net header as a plain object, for control code, tests and logs. */
export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /** 24-byte form only (GSO over a UDP tunnel); absent or 0 otherwise. */
  outerThOffset?: number;
  innerNhOffset?: number;
}

export const VirtioNetHdr = {
  /**
   * Parses `length` (10, 12 or 24) bytes at off. num_buffers and the hash are not kept (the
   * kernel ignores them on write); the tunnel offsets are, for the 24-byte form. A UDP tunnel
   * bit needs the 24-byte form and one outer family (bad-type otherwise).
   */
  parse(buf: Uint8Array, off = 0, length = VIRTIO_NET_HDR_LENGTH): ParseResult<VirtioNetHdr> {
    const v = new VirtioNetHdrView();
    const code = v.bind(buf, off, length);
    if (code !== WIRE_OK) return parseFailure(code);
    const gsoType = v.gsoType;
    const tunnel = gsoType & (VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 | VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6);
    if (tunnel !== 0 && (length !== VIRTIO_NET_HDR_TUNNEL_LENGTH || tunnel === (VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 | VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6))) return parseFailure(E_BAD_TYPE);
    const base = gsoType & ~(VIRTIO_NET_HDR_GSO_ECN | tunnel);
    if (base !== VIRTIO_NET_HDR_GSO_NONE && base !== VIRTIO_NET_HDR_GSO_TCPV4 && base !== VIRTIO_NET_HDR_GSO_UDP && base !== VIRTIO_NET_HDR_GSO_TCPV6 && base !== VIRTIO_NET_HDR_GSO_UDP_L4) {
      return parseFailure(E_BAD_TYPE);
    }
    const value: VirtioNetHdr = { flags: v.flags, gsoType, hdrLen: v.hdrLen, gsoSize: v.gsoSize, csumStart: v.csumStart, csumOffset: v.csumOffset };
    if (length === VIRTIO_NET_HDR_TUNNEL_LENGTH) {
      value.outerThOffset = v.outerThOffset;
      value.innerNhOffset = v.innerNhOffset;
    }
    return { ok: true, value, byteLength: length };
  },

  /** Writes h at off in `length` bytes (num_buffers and hash 0; the tunnel offsets in the 24-byte form); returns the bytes written. */
  emit(h: VirtioNetHdr, buf: Uint8Array, off = 0, length = VIRTIO_NET_HDR_LENGTH): number {
    const v = new VirtioNetHdrView();
    if (v.bind(buf, off, length) !== WIRE_OK) throw new RangeError(`no room for a ${length}-byte virtio-net header at ${off}`);
    v.clear();
    v.flags = h.flags;
    v.gsoType = h.gsoType;
    v.hdrLen = h.hdrLen;
    v.gsoSize = h.gsoSize;
    v.csumStart = h.csumStart;
    v.csumOffset = h.csumOffset;
    v.outerThOffset = h.outerThOffset ?? 0;
    v.innerNhOffset = h.innerNhOffset ?? 0;
    return length;
  },

  byteLength(length = VIRTIO_NET_HDR_LENGTH): number {
    return length;
  },
};
