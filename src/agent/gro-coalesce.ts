// User-space GRO for the injection TUN: within one batch of decapsulated packets, TCP
// segments that continue each other (same flow, next sequence number, same ACK, window,
// options and IP fields, payload no larger than the first one's) are joined into one
// super-packet, written with a virtio-net header (gso_type TCPV4/TCPV6, gso_size = the first
// segment's payload, NEEDS_CSUM with the pseudo-header sum in the TCP checksum field). The
// kernel then runs one TCP receive for up to 64 KiB instead of one per segment, as with
// GRO on a NIC. A flow's run ends at a gap, a flag other than ACK/PSH, a PSH (which the
// run keeps), a short segment, or the end of the batch. A segment whose own checksum is
// wrong is never merged (the kernel drops it as it would have), since a merged packet's
// checksum is computed afresh by the kernel.
//
// Two passes: the first links segments into items without touching bytes. Only when some
// item has two or more segments does the second build the output, in item order (which
// keeps each flow's order): writeTo() sends it without copying a byte, as a scatter write
// (the first segment with the virtio-net header written into the bytes in front of it and
// its headers fixed in place, then each further segment's payload as a continuation span);
// coalesce() copies it into one buffer instead (tests, and callers that need the bytes).
//
// With a TunnelFraming (the director's TAP, gue-tunnel-gso.ts) each packet is a frame with
// the IP/TCP segment inside a tunnel: segments are joined on their inner headers as above,
// only within one tunnel, and the super-packet keeps the first frame's outer headers (their
// lengths fixed by the framing) behind a virtio-net header that asks for GSO over the tunnel.
import { MAX_GATHER_SPANS, META_FAMILY, META_FLAG_CONTINUES, META_FLAG_VNET_HDR, META_LENGTH, META_OFFSET, META_PORT, META_STRIDE } from '../native/addon.js';
import type { PacketDevice } from '../device/packet-device.js';
import { payloadSum } from '../device/payload-sum.js';
import { foldSum, pseudoHeaderSumV4At, pseudoHeaderSumV6At } from '../wire/checksum.js';
import { IPPROTO_TCP } from '../wire/ip-protocol.js';
import { rewriteIpv4TotalLength } from '../wire/ipv4.js';
import { TCP_ACK, TCP_PSH } from '../wire/tcp.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6 } from '../wire/virtio-net-hdr.js';

export interface GroStats {
  /** Super-packets written (items of two or more segments). */
  superPackets: number;
  /** Segments that went into them. */
  mergedSegments: number;
  /** Segments not merged because their TCP checksum was wrong (written as they came). */
  badChecksum: number;
  /** Segments merged without summing their TCP checksum: the caller computed it (ownChecksum). */
  ownChecksums: number;
  /**
   * Packets the kernel had already merged (GRO on this host's uplink) before the decap socket
   * read them: their TCP checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL), so
   * they are written with NEEDS_CSUM and a GSO type, never as they came (the TUN would drop
   * them for a bad checksum).
   */
  kernelSuperPackets: number;
  /**
   * Segments (no longer than MAX_WIRE_PACKET) whose TCP checksum field holds the pseudo-header
   * sum and that were not merged: written alone with NEEDS_CSUM. The kernel cut a tunnel
   * super-packet into them in software on this host or the director's, and no device on the
   * way completed the checksum (a veth leaves it to the receiver).
   */
  partialSegments: number;
}

/**
 * An IP packet longer than this cannot have crossed a standard Ethernet link as one segment:
 * above it, a TCP packet whose checksum does not hold is tested for being a kernel GRO
 * super-packet. gso_size for those (the kernel does not say it on a raw socket) is what a
 * 1500-byte link carries.
 */
const MAX_WIRE_PACKET = 1500;

/** IP total length (IPv4) or payload length (IPv6) is 16 bits. */
const MAX_IP_LENGTH = 65535;
/** At most this many segments per super-packet (Linux GRO's MAX_GRO_SKBS is 17 frags; 64 keeps us under 64 KiB anyway). */
const MAX_SEGMENTS = Math.min(64, MAX_GATHER_SPANS - 1);
const HASH_SIZE = 1024;
const NONE = -1;

/**
 * Outer headers around the segments (the director's GUE tunnel): where the inner IP packet
 * starts, which frames share a tunnel, and how the merged frame's outer headers and
 * virtio-net header are finished.
 */
export interface TunnelFraming {
  /** Bytes of link header in front of the outer IP header (14: Ethernet). */
  readonly l2Length: number;
  /** Offset of the inner IP header from the frame's start at data[off], or -1: not a tunnel frame we join. */
  innerOffset(data: Uint8Array, off: number, len: number): number;
  /** Frames at a and b (same inner offset) go through the same tunnel: equal outer headers but for lengths, IPv4 id and checksums. */
  sameTunnel(data: Uint8Array, a: number, b: number, innerOffset: number): boolean;
  /**
   * The merged frame at buf[frame ..) is `frameLength` bytes (inner IP at frame + innerOffset):
   * fixes its outer lengths and checksums and adds the tunnel's fields (gso_type bits,
   * offsets) to the virtio-net header at buf[hdr ..), whose plain fields are already written.
   */
  finish(buf: Uint8Array, hdr: number, frame: number, innerOffset: number, frameLength: number): void;
}

export class TcpCoalescer {
  readonly stats: GroStats = { superPackets: 0, mergedSegments: 0, badChecksum: 0, ownChecksums: 0, kernelSuperPackets: 0, partialSegments: 0 };
  /** Output of the last coalesce(): packets (each behind a virtio-net header) and their meta. */
  buf = new Uint8Array(0);
  meta = new Int32Array(0);
  /** Output of the last writeTo(): spans of the input batch (see gather). */
  private spans = new Int32Array(0);
  private cap = 0;
  // Per packet of the batch.
  private l4 = new Int32Array(0); // TCP header offset, NONE when the packet is no TCP candidate
  private inner = new Int32Array(0); // inner IP header offset (the packet's offset without a framing)
  private hdrs = new Int32Array(0); // IP + TCP header bytes
  private partialCsum = new Uint8Array(0); // the TCP checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL)
  private nextInItem = new Int32Array(0);
  // Per item (at most one per packet).
  private itemFirst = new Int32Array(0);
  private itemLast = new Int32Array(0);
  private itemSegs = new Int32Array(0);
  private itemLen = new Int32Array(0); // IP packet length after the merge
  private itemGso = new Int32Array(0); // payload of the first segment
  private itemNextSeq = new Uint32Array(0);
  private itemOpen = new Uint8Array(0);
  private itemChecked = new Uint8Array(0);
  private itemPartial = new Uint8Array(0); // a kernel super-packet (CHECKSUM_PARTIAL), written alone
  // Flow hash -> open item, valid when its stamp matches this batch's.
  private readonly table = new Int32Array(HASH_SIZE);
  private readonly stamp = new Uint32Array(HASH_SIZE);
  private batchStamp = 0;

  constructor(
    /** Bytes of virtio-net header the TUN/TAP expects in front of each packet (10, 12; 24 with a framing). */
    readonly vnetHdrLen: number,
    /** Tunnel frames around the segments (director); absent: bare IP packets (agent's TUN). */
    private readonly framing?: TunnelFraming,
    /**
     * True for an inner IP packet (at data[l3]) whose TCP checksum the caller computed itself
     * over bytes it trusts (the director's software GSO: OffloadRx.ownChecksumAt): merged
     * without summing it again. Absent: every segment's checksum is verified.
     */
    private readonly ownChecksum?: (data: Uint8Array, l3: number) => boolean,
  ) {}

  /**
   * Coalesces packets 0..count-1 (bare IP packets at meta offsets in data). Returns the
   * number of packets in this.buf/this.meta, or 0 when nothing could be merged (then the
   * batch is best written as it is).
   */
  coalesce(data: Uint8Array, meta: Int32Array, count: number): number {
    const items = this.link(data, meta, count);
    return items > 0 ? this.emit(data, meta, count, items) : 0;
  }

  /**
   * Coalesces and writes the batch to `tun` (one writeBatch either way); returns the packets
   * handed to it. Each packet must own the vnetHdrLen bytes in front of it (its outer header
   * or the ring's headroom): a merged item's header is written there, and the first
   * segment's IP and TCP headers are rewritten in place, so the batch is consumed.
   */
  writeTo(tun: Pick<PacketDevice, 'writeBatch'>, data: Uint8Array, meta: Int32Array, count: number): number {
    const items = this.link(data, meta, count);
    if (items === 0) {
      tun.writeBatch(data, meta, count);
      return count;
    }
    if (!this.roomInFront(meta, items)) {
      const n = this.emit(data, meta, count, items); // may grow this.buf: read it after
      tun.writeBatch(this.buf, this.meta, n);
      return n;
    }
    const spans = this.gather(data, meta, items);
    tun.writeBatch(data, this.spans, spans);
    return items;
  }

  /** First pass: links segments into items; returns the item count, or 0 when nothing merged. */
  private link(data: Uint8Array, meta: Int32Array, count: number): number {
    this.ensure(count);
    this.batchStamp = (this.batchStamp + 1) >>> 0;
    if (this.batchStamp === 0) {
      this.stamp.fill(0);
      this.batchStamp = 1;
    }
    let items = 0;
    let merged = false;
    for (let i = 0; i < count; i++) {
      const frame = meta[i * META_STRIDE + META_OFFSET];
      const frameLen = meta[i * META_STRIDE + META_LENGTH];
      this.nextInItem[i] = NONE;
      const prefix = this.framing ? this.framing.innerOffset(data, frame, frameLen) : 0;
      const off = frame + prefix;
      const len = frameLen - prefix;
      this.inner[i] = off;
      const l4 = prefix < 0 ? NONE : this.parse(data, off, len, i);
      if (l4 === NONE) {
        this.newItem(items++, i, false, 0, 0, 0);
        continue;
      }
      const v6 = data[off] >> 4 === 6;
      const h = flowHash(data, off, l4, v6);
      let j = this.stamp[h] === this.batchStamp ? this.table[h] : NONE;
      if (j !== NONE && !sameFlow(data, this.inner[this.itemFirst[j]], off, v6)) j = NONE; // a hash collision: leave the other flow's item open
      const payload = len - this.hdrs[i];
      // Only the agent's decap sockets see CHECKSUM_PARTIAL packets (the director's TAP reader completes them).
      const partial = !this.framing && isChecksumPartial(data, off, len, l4);
      this.partialCsum[i] = partial ? 1 : 0;
      if (partial) merged = true; // it needs a header with NEEDS_CSUM even when nothing merges
      if (partial && len > MAX_WIRE_PACKET && payload > 0) {
        // Merged by the kernel already: it ends the flow's run and goes out alone, as a super-packet.
        if (j !== NONE) this.itemOpen[j] = 0;
        this.newItem(items, i, false, len, MAX_WIRE_PACKET - this.hdrs[i], 0);
        this.itemPartial[items++] = 1;
        merged = true;
        continue;
      }
      const flags = data[l4 + 13];
      const candidate = payload > 0 && (flags & ~(TCP_ACK | TCP_PSH)) === 0 && (flags & TCP_ACK) !== 0;
      const seq = ((data[l4 + 4] << 24) | (data[l4 + 5] << 16) | (data[l4 + 6] << 8) | data[l4 + 7]) >>> 0;
      if (j !== NONE && this.itemOpen[j] === 1) {
        if (candidate && this.canAppend(data, meta, j, i, frame, off, len, payload, seq)) {
          this.itemNextSeq[j] = (seq + payload) >>> 0;
          this.nextInItem[this.itemLast[j]] = i;
          this.itemLast[j] = i;
          this.itemSegs[j]++;
          this.itemLen[j] += payload;
          merged = true;
          // PSH ends the run (it stays on the last segment); a short segment can only be last.
          if ((flags & TCP_PSH) !== 0 || payload < this.itemGso[j]) this.itemOpen[j] = 0;
          continue;
        }
        this.itemOpen[j] = 0;
      }
      const open = candidate && (flags & TCP_PSH) === 0;
      this.newItem(items, i, open, len, payload, (seq + payload) >>> 0);
      this.itemPartial[items] = this.partialCsum[i];
      if (open) {
        this.table[h] = items;
        this.stamp[h] = this.batchStamp;
      }
      items++;
    }
    return merged ? items : 0;
  }

  /** TCP header offset of a TCP-over-IP packet we could merge, else NONE; sets hdrs[i]. */
  private parse(data: Uint8Array, off: number, len: number, i: number): number {
    const version = data[off] >> 4;
    let l4: number;
    if (version === 4) {
      // No IP options (as Linux GRO needs), no fragment, the whole packet present.
      if (len < 40 || data[off] !== 0x45 || data[off + 9] !== IPPROTO_TCP) return NONE;
      if (((data[off + 6] & 0x3f) | data[off + 7]) !== 0) return NONE;
      if (((data[off + 2] << 8) | data[off + 3]) !== len) return NONE;
      l4 = off + 20;
    } else if (version === 6) {
      if (len < 60 || data[off + 6] !== IPPROTO_TCP || 40 + ((data[off + 4] << 8) | data[off + 5]) !== len) return NONE;
      l4 = off + 40;
    } else {
      return NONE;
    }
    const doff = (data[l4 + 12] >> 4) << 2;
    if (doff < 20 || l4 + doff > off + len) return NONE;
    this.l4[i] = l4;
    this.hdrs[i] = l4 - off + doff;
    return l4;
  }

  private newItem(j: number, i: number, open: boolean, len: number, payload: number, nextSeq: number): void {
    this.itemFirst[j] = i;
    this.itemLast[j] = i;
    this.itemSegs[j] = 1;
    this.itemLen[j] = len;
    this.itemGso[j] = payload;
    this.itemNextSeq[j] = nextSeq;
    this.itemOpen[j] = open ? 1 : 0;
    this.itemChecked[j] = 0;
    this.itemPartial[j] = 0;
  }

  /** Packet i (TCP, ACK[/PSH], payload > 0; frame at `frame`, IP at `off`) continues item j exactly. */
  private canAppend(data: Uint8Array, meta: Int32Array, j: number, i: number, frame: number, off: number, len: number, payload: number, seq: number): boolean {
    if (seq !== this.itemNextSeq[j] || payload > this.itemGso[j]) return false;
    const first = this.itemFirst[j];
    const fFrame = meta[first * META_STRIDE + META_OFFSET];
    const fOff = this.inner[first];
    const prefix = off - frame;
    // The outer IP length covers the tunnel headers too (a framing's prefix past its link header).
    const outer = this.framing ? prefix - this.framing.l2Length : 0;
    if (this.itemSegs[j] >= MAX_SEGMENTS || this.itemLen[j] + payload > MAX_IP_LENGTH - outer + (data[off] >> 4 === 6 ? 40 : 0)) return false;
    if (this.framing && (fOff - fFrame !== prefix || !this.framing.sameTunnel(data, fFrame, frame, prefix))) return false;
    const fl4 = this.l4[first];
    const l4 = this.l4[i];
    if (this.hdrs[first] !== this.hdrs[i]) return false;
    if (data[off] >> 4 === 4) {
      // TOS, DF, TTL as Linux's inet_gro_receive compares them.
      if (data[off + 1] !== data[fOff + 1] || (data[off + 6] & 0x40) !== (data[fOff + 6] & 0x40) || data[off + 8] !== data[fOff + 8]) return false;
    } else {
      // Traffic class, flow label, hop limit.
      for (let k = 0; k < 4; k++) if (data[off + k] !== data[fOff + k]) return false;
      if (data[off + 7] !== data[fOff + 7]) return false;
    }
    // ACK number, data offset, window and options equal; flags equal but for PSH.
    for (let k = 8; k < 12; k++) if (data[l4 + k] !== data[fl4 + k]) return false;
    if (data[l4 + 12] !== data[fl4 + 12] || (data[l4 + 13] | TCP_PSH) !== (data[fl4 + 13] | TCP_PSH)) return false;
    if (data[l4 + 14] !== data[fl4 + 14] || data[l4 + 15] !== data[fl4 + 15]) return false;
    const doff = (data[l4 + 12] >> 4) << 2;
    for (let k = 20; k < doff; k++) if (data[l4 + k] !== data[fl4 + k]) return false;
    // Both checksums must hold (or be left to the receiver, CHECKSUM_PARTIAL): the kernel will not see them once merged.
    if (this.itemChecked[j] === 0) {
      if (this.partialCsum[first] === 0 && !this.checksumHolds(data, fOff, meta[first * META_STRIDE + META_LENGTH] - (fOff - fFrame), fl4)) {
        this.stats.badChecksum++;
        this.itemOpen[j] = 0;
        return false;
      }
      this.itemChecked[j] = 1;
    }
    if (this.partialCsum[i] === 0 && !this.checksumHolds(data, off, len, l4)) {
      this.stats.badChecksum++;
      return false;
    }
    return true;
  }

  /** The TCP checksum of the packet at data[off .. +len) (TCP at l4) holds: computed by the caller, or summed here. */
  private checksumHolds(data: Uint8Array, off: number, len: number, l4: number): boolean {
    if (this.ownChecksum?.(data, off) === true) {
      this.stats.ownChecksums++;
      return true;
    }
    return tcpChecksumOk(data, off, len, l4);
  }

  /** Second pass: every item into this.buf behind its header; returns the packet count. */
  private emit(data: Uint8Array, meta: Int32Array, count: number, items: number): number {
    const vlen = this.vnetHdrLen;
    let need = 0;
    for (let i = 0; i < count; i++) need += vlen + meta[i * META_STRIDE + META_LENGTH];
    if (this.buf.length < need) this.buf = new Uint8Array(Math.max(need, this.buf.length * 2));
    const buf = this.buf;
    const out = this.meta;
    let pos = 0;
    for (let j = 0; j < items; j++) {
      const first = this.itemFirst[j];
      const fOff = meta[first * META_STRIDE + META_OFFSET];
      const fLen = meta[first * META_STRIDE + META_LENGTH];
      const o = j * META_STRIDE;
      out[o + META_OFFSET] = pos;
      out[o + META_FAMILY] = META_FLAG_VNET_HDR;
      out[o + META_PORT] = 0;
      buf.fill(0, pos, pos + vlen);
      const pkt = pos + vlen;
      buf.set(data.subarray(fOff, fOff + fLen), pkt);
      if (this.itemSegs[j] === 1) {
        if (this.itemPartial[j] === 1) this.partialHeader(buf, pos, pkt, j);
        out[o + META_LENGTH] = vlen + fLen;
        pos = pkt + fLen;
        continue;
      }
      let end = pkt + fLen;
      for (let i = this.nextInItem[first]; i !== NONE; i = this.nextInItem[i]) {
        const off = meta[i * META_STRIDE + META_OFFSET];
        const len = meta[i * META_STRIDE + META_LENGTH];
        const from = this.inner[i] + this.hdrs[i];
        buf.set(data.subarray(from, off + len), end);
        end += off + len - from;
      }
      this.finish(buf, pos, pkt, this.inner[first] - fOff, end - pkt, j, data);
      out[o + META_LENGTH] = vlen + end - pkt;
      pos = end;
    }
    return items;
  }

  /** Every merged item's first segment has vnetHdrLen bytes in front of it in the array. */
  private roomInFront(meta: Int32Array, items: number): boolean {
    for (let j = 0; j < items; j++) {
      if ((this.itemSegs[j] > 1 || this.itemPartial[j] === 1) && meta[this.itemFirst[j] * META_STRIDE + META_OFFSET] < this.vnetHdrLen) return false;
    }
    return true;
  }

  /**
   * Second pass, in place: for each item, meta entries in this.spans (returns their count).
   * A single segment goes as it is (the writer puts a zero header in front); a merged item
   * is its first segment behind its header, then each further segment's payload flagged
   * META_FLAG_CONTINUES. An item with more segments than a scatter write takes (more than
   * MAX_GATHER_SPANS, which MAX_SEGMENTS stays under) cannot occur.
   */
  private gather(data: Uint8Array, meta: Int32Array, items: number): number {
    const vlen = this.vnetHdrLen;
    let need = 0;
    for (let j = 0; j < items; j++) need += this.itemSegs[j];
    if (this.spans.length < need * META_STRIDE) this.spans = new Int32Array(Math.max(need, this.spans.length / META_STRIDE * 2) * META_STRIDE);
    const out = this.spans;
    let n = 0;
    for (let j = 0; j < items; j++) {
      const first = this.itemFirst[j];
      const fOff = meta[first * META_STRIDE + META_OFFSET];
      const fLen = meta[first * META_STRIDE + META_LENGTH];
      let o = n++ * META_STRIDE;
      out[o + META_PORT] = 0;
      if (this.itemSegs[j] === 1 && this.itemPartial[j] === 0) {
        out[o + META_OFFSET] = fOff;
        out[o + META_LENGTH] = fLen;
        out[o + META_FAMILY] = 0;
        continue;
      }
      if (this.itemSegs[j] === 1 && this.itemPartial[j] === 1) {
        this.partialHeader(data, fOff - vlen, fOff, j);
        out[o + META_OFFSET] = fOff - vlen;
        out[o + META_LENGTH] = vlen + fLen;
        out[o + META_FAMILY] = META_FLAG_VNET_HDR;
        continue;
      }
      let total = fLen;
      for (let i = this.nextInItem[first]; i !== NONE; i = this.nextInItem[i]) {
        const off = meta[i * META_STRIDE + META_OFFSET];
        const len = meta[i * META_STRIDE + META_LENGTH];
        const from = this.inner[i] + this.hdrs[i];
        const c = n++ * META_STRIDE;
        out[c + META_OFFSET] = from;
        out[c + META_LENGTH] = off + len - from;
        out[c + META_FAMILY] = META_FLAG_CONTINUES;
        out[c + META_PORT] = 0;
        total += off + len - from;
      }
      this.finish(data, fOff - vlen, fOff, this.inner[first] - fOff, total, j, data);
      o = (n - this.itemSegs[j]) * META_STRIDE;
      out[o + META_OFFSET] = fOff - vlen;
      out[o + META_LENGTH] = vlen + fLen;
      out[o + META_FAMILY] = META_FLAG_VNET_HDR;
    }
    return n;
  }

  /**
   * Makes buf[frame ..) the header of merged item j, a frame of `frameLength` bytes whose IP
   * packet starts `prefix` bytes in (0 without a framing): IP length, the TCP checksum field
   * as CHECKSUM_PARTIAL wants it, the run's PSH, the outer headers (framing), and the
   * virtio-net header at buf[hdr .. +vnetHdrLen). `data` holds the item's original segments
   * (for the last's flags).
   */
  private finish(buf: Uint8Array, hdr: number, frame: number, prefix: number, frameLength: number, j: number, data: Uint8Array): void {
    const pkt = frame + prefix;
    const total = frameLength - prefix;
    const first = this.itemFirst[j];
    const hdrs = this.hdrs[first];
    const v6 = buf[pkt] >> 4 === 6;
    const ipLen = v6 ? 40 : 20; // parse() takes neither IPv4 options nor IPv6 extension headers
    const l4 = pkt + ipLen;
    let pseudo: number;
    if (v6) {
      buf[pkt + 4] = (total - 40) >>> 8;
      buf[pkt + 5] = total - 40;
      pseudo = pseudoHeaderSumV6At(buf, pkt + 8, pkt + 24, IPPROTO_TCP, total - ipLen);
    } else {
      rewriteIpv4TotalLength(buf, pkt, total);
      pseudo = pseudoHeaderSumV4At(buf, pkt + 12, pkt + 16, IPPROTO_TCP, total - ipLen);
    }
    // The run's PSH sits on its last segment; the merged packet carries it.
    buf[l4 + 13] |= data[this.l4[this.itemLast[j]] + 13] & TCP_PSH;
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
    const partial = foldSum(pseudo);
    buf[l4 + 16] = partial >>> 8;
    buf[l4 + 17] = partial;
    buf.fill(0, hdr, hdr + this.vnetHdrLen);
    buf[hdr] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    buf[hdr + 1] = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    buf[hdr + 2] = prefix + hdrs;
    buf[hdr + 3] = (prefix + hdrs) >>> 8;
    const gso = this.itemGso[j];
    buf[hdr + 4] = gso;
    buf[hdr + 5] = gso >>> 8;
    buf[hdr + 6] = prefix + ipLen;
    buf[hdr + 7] = (prefix + ipLen) >>> 8;
    buf[hdr + 8] = 16;
    buf[hdr + 9] = 0;
    this.framing?.finish(buf, hdr, frame, prefix, frameLength);
    this.stats.superPackets++;
    this.stats.mergedSegments += this.itemSegs[j];
  }

  /**
   * The virtio-net header at buf[hdr ..) for item j, one packet whose TCP checksum field holds
   * the pseudo-header sum (IP at buf[pkt ..)): NEEDS_CSUM over the field as it is; for a
   * kernel super-packet also a GSO type (its payload is always more than gso_size, since the
   * packet is longer than MAX_WIRE_PACKET).
   */
  private partialHeader(buf: Uint8Array, hdr: number, pkt: number, j: number): void {
    const v6 = buf[pkt] >> 4 === 6;
    buf.fill(0, hdr, hdr + this.vnetHdrLen);
    buf[hdr] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    buf[hdr + 6] = v6 ? 40 : 20;
    buf[hdr + 8] = 16;
    if (this.itemLen[j] <= MAX_WIRE_PACKET) {
      this.stats.partialSegments++;
      return;
    }
    const hdrs = this.hdrs[this.itemFirst[j]];
    const gso = this.itemGso[j];
    buf[hdr + 1] = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    buf[hdr + 4] = gso;
    buf[hdr + 5] = gso >>> 8;
    buf[hdr + 2] = hdrs;
    buf[hdr + 3] = hdrs >>> 8;
    this.stats.kernelSuperPackets++;
  }

  private ensure(count: number): void {
    if (count <= this.cap) return;
    const cap = Math.max(count, this.cap * 2, 64);
    this.cap = cap;
    this.partialCsum = new Uint8Array(cap);
    this.l4 = new Int32Array(cap);
    this.inner = new Int32Array(cap);
    this.hdrs = new Int32Array(cap);
    this.nextInItem = new Int32Array(cap);
    this.itemFirst = new Int32Array(cap);
    this.itemLast = new Int32Array(cap);
    this.itemSegs = new Int32Array(cap);
    this.itemLen = new Int32Array(cap);
    this.itemGso = new Int32Array(cap);
    this.itemNextSeq = new Uint32Array(cap);
    this.itemOpen = new Uint8Array(cap);
    this.itemChecked = new Uint8Array(cap);
    this.itemPartial = new Uint8Array(cap);
    this.meta = new Int32Array(cap * META_STRIDE);
  }
}

/** Hash of the addresses and ports of a TCP packet (IP at off, TCP at l4). */
function flowHash(data: Uint8Array, off: number, l4: number, v6: boolean): number {
  let h = 0x811c9dc5;
  const from = off + (v6 ? 8 : 12);
  const to = off + (v6 ? 40 : 20);
  for (let k = from; k < to; k++) h = Math.imul(h ^ data[k], 0x01000193);
  for (let k = l4; k < l4 + 4; k++) h = Math.imul(h ^ data[k], 0x01000193);
  return (h >>> 0) & (HASH_SIZE - 1);
}

/** Same version, addresses and ports (IP headers at a and b; no IPv4 options, see parse). */
function sameFlow(data: Uint8Array, a: number, b: number, v6: boolean): boolean {
  if (data[a] >> 4 !== data[b] >> 4) return false;
  const from = v6 ? 8 : 12;
  const to = v6 ? 44 : 24; // addresses, then the two ports right after a 20/40-byte header
  for (let k = from; k < to; k++) if (data[a + k] !== data[b + k]) return false;
  return true;
}

/**
 * The TCP checksum field holds the folded pseudo-header sum: the form CHECKSUM_PARTIAL leaves
 * for the receiver to complete. Not summing the payload: a complete checksum that happens to
 * equal it (1 in 65536) is passed on with NEEDS_CSUM all the same, which a correct packet
 * survives; a corrupt one would have to carry this exact value.
 */
function isChecksumPartial(data: Uint8Array, off: number, len: number, l4: number): boolean {
  const tcpLen = off + len - l4;
  const pseudo = data[off] >> 4 === 6 ? pseudoHeaderSumV6At(data, off + 8, off + 24, IPPROTO_TCP, tcpLen) : pseudoHeaderSumV4At(data, off + 12, off + 16, IPPROTO_TCP, tcpLen);
  return ((data[l4 + 16] << 8) | data[l4 + 17]) === foldSum(pseudo);
}

function tcpChecksumOk(data: Uint8Array, off: number, len: number, l4: number): boolean {
  const tcpLen = off + len - l4;
  const pseudo = data[off] >> 4 === 6 ? pseudoHeaderSumV6At(data, off + 8, off + 24, IPPROTO_TCP, tcpLen) : pseudoHeaderSumV4At(data, off + 12, off + 16, IPPROTO_TCP, tcpLen);
  return foldSum(payloadSum(data, l4, tcpLen, pseudo)) === 0xffff;
}
