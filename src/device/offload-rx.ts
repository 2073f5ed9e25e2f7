// Receive side of a TUN/TAP opened with a virtio-net header: turns a batch as read (each
// packet starting with the header) into a batch of plain packets for the data path.
//  - no offload: the packet is the bytes after the header;
//  - NEEDS_CSUM (CHECKSUM_PARTIAL): the L4 checksum is completed in place;
//  - GSO (TCPV4/TCPV6/UDP_L4): the super-packet is segmented in place (gso-segment.ts).
// A packet that cannot be handled is dropped and counted here, never passed on half-done.
import { META_FAMILY, META_LENGTH, META_OFFSET, META_PORT, META_STRIDE } from '../native/addon.js';
import { WIRE_OK } from '../wire/errors.js';
import { VIRTIO_NET_HDR_GSO_NONE, VirtioNetHdrView } from '../wire/virtio-net-hdr.js';
import { completeChecksum, GSO_MALFORMED, GSO_NEED_META, GSO_NO_ROOM, GSO_UNSUPPORTED, segmentGso } from './gso-segment.js';

export interface OffloadRxStats {
  /** Super-packets received and segmented. */
  gsoPackets: number;
  /** Segments they became. */
  gsoSegments: number;
  /** CHECKSUM_PARTIAL packets (not GSO) whose checksum we completed. */
  csumCompleted: number;
  /** Dropped: a gso_type, IP version or protocol we do not segment. */
  dropGsoUnsupported: number;
  /** Dropped: lengths in the header or packet that do not add up. */
  dropGsoMalformed: number;
  /** Dropped: the segments would not fit the ring slot (gso_size too small for the slot). */
  dropGsoNoRoom: number;
  /** Dropped: shorter than the virtio-net header, or csum_start/offset outside the packet. */
  dropBadVnetHeader: number;
  /** Written: GUE super-packets handed to the kernel's GSO over UDP tunnels (gue-tunnel-gso.ts); 0 without it. */
  tunnelGsoPackets: number;
  /** The GUE segments they joined. */
  tunnelGsoSegments: number;
  /** Of those, segments joined without summing their TCP checksum: this reader had just computed it (segments it cut). */
  tunnelGsoOwnChecksums: number;
}

/** Bytes of ring data per entry of the own-checksum record: at most one packet is recorded per block (see ownChecksumAt). */
const OWN_SUM_BLOCK_SHIFT = 7;

export class OffloadRx {
  readonly stats: OffloadRxStats = {
    gsoPackets: 0,
    gsoSegments: 0,
    csumCompleted: 0,
    dropGsoUnsupported: 0,
    dropGsoMalformed: 0,
    dropGsoNoRoom: 0,
    dropBadVnetHeader: 0,
    tunnelGsoPackets: 0,
    tunnelGsoSegments: 0,
    tunnelGsoOwnChecksums: 0,
  };
  /** Output meta; grows (rarely) when segments outnumber it. */
  meta: Int32Array;
  private readonly hdr = new VirtioNetHdrView();
  /**
   * Set by recordOwnChecksums(): per 128-byte block of the ring's data, the batch stamp and
   * the L3 offset of a segment this batch cut from a kernel super-packet, whose L4 checksum
   * segmentGso computed over bytes the kernel made or verified (GRO): the writer's tunnel GSO
   * need not sum them again before joining them.
   */
  private ownSumStamp: Int32Array | null = null;
  private ownSumOffset: Int32Array | null = null;
  private stamp = 0;
  private ownData: Uint8Array | null = null;
  private recording = false;

  constructor(
    /** Bytes of virtio-net header in front of each packet (10 or 12). */
    readonly vnetHdrLen: number,
    /** Offset of the IP header in a packet: 14 for a TAP (Ethernet), 0 for a TUN. */
    readonly l3Offset: number,
    /** Headroom the reader keeps in front of each packet (before the virtio-net header). */
    readonly headroom: number,
    readonly slotSize: number,
    slots: number,
  ) {
    this.meta = new Int32Array(Math.max(slots, 64) * 2 * META_STRIDE);
  }

  /** Starts recording the segments process() cuts, for ownChecksumAt (costs 8 bytes per 128 bytes of ring data, taken at the next batch). */
  recordOwnChecksums(): void {
    this.recording = true;
  }

  /**
   * True when the IP packet at data[l3] is a segment of the latest batch process() returned,
   * cut here from a super-packet with its L4 checksum computed (never true without recordOwnChecksums()).
   * Any other array or offset, or a packet of an earlier batch, is false.
   */
  ownChecksumAt(data: Uint8Array, l3: number): boolean {
    const stamps = this.ownSumStamp;
    if (stamps === null || data !== this.ownData) return false;
    const b = l3 >>> OWN_SUM_BLOCK_SHIFT;
    return b < stamps.length && stamps[b] === this.stamp && this.ownSumOffset![b] === l3;
  }

  private markOwn(l3: number): void {
    const b = l3 >>> OWN_SUM_BLOCK_SHIFT;
    if (b >= this.ownSumStamp!.length) return;
    this.ownSumStamp![b] = this.stamp;
    this.ownSumOffset![b] = l3;
  }

  /** Rewrites packets 0..count-1 of `inMeta` into this.meta; returns the new count. */
  process(data: Uint8Array, inMeta: Int32Array, count: number): number {
    const hdr = this.hdr;
    const vlen = this.vnetHdrLen;
    const st = this.stats;
    const own = this.recording;
    if (own) {
      if (this.ownData !== data) {
        // The reader's data array: once, at its first batch.
        const blocks = (data.length >>> OWN_SUM_BLOCK_SHIFT) + 1;
        this.ownSumStamp = new Int32Array(blocks);
        this.ownSumOffset = new Int32Array(blocks);
        this.ownData = data;
      }
      if (++this.stamp === 0x7fffffff) {
        this.ownSumStamp!.fill(0);
        this.stamp = 1;
      }
    }
    let n = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = inMeta[m + META_OFFSET];
      const len = inMeta[m + META_LENGTH] - vlen;
      if (len <= 0 || hdr.bind(data, off, vlen) !== WIRE_OK) {
        st.dropBadVnetHeader++;
        continue;
      }
      const frame = off + vlen;
      const gsoType = hdr.gsoType;
      if (gsoType === VIRTIO_NET_HDR_GSO_NONE) {
        if (hdr.needsCsum) {
          if (!completeChecksum(data, frame, len, hdr.csumStart, hdr.csumOffset)) {
            st.dropBadVnetHeader++;
            continue;
          }
          st.csumCompleted++;
        }
        if ((n + 1) * META_STRIDE > this.meta.length) this.grow(n + 1);
        this.put(n++, frame, len, inMeta, m);
        continue;
      }
      const limit = (Math.floor(off / this.slotSize) + 1) * this.slotSize;
      let k = segmentGso(data, frame, len, this.l3Offset, gsoType, hdr.gsoSize, this.headroom, limit, this.meta, n);
      if (k === GSO_NEED_META) {
        this.grow(n + Math.ceil(len / Math.max(1, hdr.gsoSize)) + 1);
        k = segmentGso(data, frame, len, this.l3Offset, gsoType, hdr.gsoSize, this.headroom, limit, this.meta, n);
      }
      if (k > 0) {
        for (let j = n; j < n + k; j++) {
          this.meta[j * META_STRIDE + META_FAMILY] = inMeta[m + META_FAMILY];
          this.meta[j * META_STRIDE + META_PORT] = inMeta[m + META_PORT];
          if (own) this.markOwn(this.meta[j * META_STRIDE + META_OFFSET] + this.l3Offset);
        }
        n += k;
        st.gsoPackets++;
        st.gsoSegments += k;
      } else if (k === GSO_UNSUPPORTED) st.dropGsoUnsupported++;
      else if (k === GSO_NO_ROOM) st.dropGsoNoRoom++;
      else if (k === GSO_MALFORMED) st.dropGsoMalformed++;
    }
    return n;
  }

  private put(j: number, off: number, len: number, inMeta: Int32Array, m: number): void {
    const t = j * META_STRIDE;
    this.meta[t + META_OFFSET] = off;
    this.meta[t + META_LENGTH] = len;
    this.meta[t + META_FAMILY] = inMeta[m + META_FAMILY];
    this.meta[t + META_PORT] = inMeta[m + META_PORT];
  }

  private grow(entries: number): void {
    let size = this.meta.length;
    while (size < entries * META_STRIDE) size *= 2;
    const next = new Int32Array(size);
    next.set(this.meta);
    this.meta = next;
  }
}
