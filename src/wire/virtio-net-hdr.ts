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
import { E_BAD_LENGTH, E_BAD_TYPE, E_TRUNCATED, WIRE_OK, parseFailure, type ParseResult, type WireErrorCode } from './errors.js';

const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;
const NUM_BUFFERS = 10;

/** struct virtio_net_hdr. */
export const VIRTIO_NET_HDR_LENGTH = 10;
/** struct virtio_net_hdr_mrg_rxbuf (adds num_buffers). */
export const VIRTIO_NET_HDR_MRG_LENGTH = 12;

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
/** Bit or-ed into gso_type: the TCP super-packet carries ECN (CWR on the first segment). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** The TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

const EMPTY = new Uint8Array(0);

/** Re-bindable view over a virtio-net header of 10 or 12 bytes. After bind no getter throws. */
export class VirtioNetHdrView {
  buf: Uint8Array = EMPTY;
  off = 0;
  length = VIRTIO_NET_HDR_LENGTH;

  /** Binds without allocation; 0 or a WireError code (truncated; bad-length for a size other than 10/12). */
  bind(buf: Uint8Array, off: number, length: number, available = buf.length - off): WireErrorCode {
    if (length !== VIRTIO_NET_HDR_LENGTH && length !== VIRTIO_NET_HDR_MRG_LENGTH) return E_BAD_LENGTH;
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
  /** num_buffers of the 12-byte form; 0 for the 10-byte form. */
  get numBuffers(): number {
    return this.length === VIRTIO_NET_HDR_MRG_LENGTH ? this.u16(NUM_BUFFERS) : 0;
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
}

export const VirtioNetHdr = {
  /** Parses `length` (10 or 12) bytes at off. num_buffers is not kept: the kernel ignores it on write. */
  parse(buf: Uint8Array, off = 0, length = VIRTIO_NET_HDR_LENGTH): ParseResult<VirtioNetHdr> {
    const v = new VirtioNetHdrView();
    const code = v.bind(buf, off, length);
    if (code !== WIRE_OK) return parseFailure(code);
    const gsoType = v.gsoType;
    const base = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (base !== VIRTIO_NET_HDR_GSO_NONE && base !== VIRTIO_NET_HDR_GSO_TCPV4 && base !== VIRTIO_NET_HDR_GSO_UDP && base !== VIRTIO_NET_HDR_GSO_TCPV6 && base !== VIRTIO_NET_HDR_GSO_UDP_L4) {
      return parseFailure(E_BAD_TYPE);
    }
    return {
      ok: true,
      value: { flags: v.flags, gsoType, hdrLen: v.hdrLen, gsoSize: v.gsoSize, csumStart: v.csumStart, csumOffset: v.csumOffset },
      byteLength: length,
    };
  },

  /** Writes h at off in `length` bytes (num_buffers 0); returns the bytes written. */
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
    return length;
  },

  byteLength(length = VIRTIO_NET_HDR_LENGTH): number {
    return length;
  },
};
