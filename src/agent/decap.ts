// User-space VS/TUN decapsulation. Each batch read from a decap socket is walked in place:
// every packet gets a verdict (accept, or drop with a counted reason), and the accepted
// inner packets, which already sit in the reader's ring, are written to the injection TUN
// in one batch by pointing a second meta array at them. Nothing is copied or allocated
// per packet, and nothing throws.
//
// Accept only when all hold: the outer source is a --director prefix; the encapsulation
// header is sane; the inner header is sane and its length is exactly what the outer
// carried; the inner destination is a configured VIP. A packet from any other source
// never reaches the TUN, so it never reaches an application (open decapsulators are a
// spoofing vector).
import { E_BAD_CHECKSUM, E_BAD_HEADER_LENGTH, E_BAD_TOTAL_LENGTH, E_BAD_VERSION, E_TRUNCATED, E_UNEXPECTED_PROTOCOL, WIRE_OK, type WireErrorCode } from '../wire/errors.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from '../wire/ip-protocol.js';
import { IpipDecap } from '../wire/tunnel-decap.js';
import { ADDR_STRIDE, META_FAMILY, META_LENGTH, META_OFFSET, META_PORT, META_STRIDE, type PacketBatch, type PacketDevice } from '../device/packet-device.js';
import type { SourcePrefixSet, VipTable } from './address-match.js';
import {
  DECAP_SOURCES,
  D_GUE_BAD_HEADER,
  D_GUE_UNSUPPORTED_PROTOCOL,
  D_INNER_BAD_CHECKSUM,
  D_INNER_BAD_HEADER_LENGTH,
  D_INNER_BAD_VERSION,
  D_INNER_LENGTH_MISMATCH,
  D_INNER_TRUNCATED,
  D_NON_DIRECTOR_SOURCE,
  D_NON_VIP_DESTINATION,
  D_OUTER_BAD_HEADER,
  D_OUTER_TRUNCATED,
  D_OUTER_UNEXPECTED_PROTOCOL,
  D_RX_TRUNCATED,
  D_SOCKET_OVERFLOW,
  D_TUN_WRITE_DROPPED,
  D_TUN_WRITE_ERROR,
  D_UNKNOWN_SOURCE_FAMILY,
  type DecapCounters,
  type DecapSource,
} from './decap-counters.js';
import type { TcpCoalescer } from './gro-coalesce.js';

/** True for ::ffff:0:0/96 at addr[off..off+16). */
function isV4Mapped(addr: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (addr[off + i] !== 0) return false;
  return addr[off + 10] === 0xff && addr[off + 11] === 0xff;
}

/** The verdict of classify(): ACCEPT, or a D_* drop reason index (>= 0). */
export const ACCEPT = -1;

export interface DecapOptions {
  directors: SourcePrefixSet;
  vips: VipTable;
  counters: DecapCounters;
  /** The injection TUN: accepted inner packets are written to it. */
  tun: PacketDevice;
  /** User-space GRO for a TUN opened with a virtio-net header (gro-coalesce.ts); absent: packets go one by one. */
  gro?: TcpCoalescer;
}

export class Decapsulator {
  private readonly directors: SourcePrefixSet;
  private readonly vips: VipTable;
  readonly counters: DecapCounters;
  private readonly tun: PacketDevice;
  readonly gro: TcpCoalescer | undefined;
  private outMeta = new Int32Array(256 * META_STRIDE);
  private readonly sources: { device: PacketDevice; kind: number; truncatedBase: number; overflowBase: number }[] = [];
  private readonly tunBase: { dropped: number; errors: number };
  private readonly tunnel = new IpipDecap();
  // Results of the last classify() call that returned ACCEPT.
  innerOffset = 0;
  innerLength = 0;
  vipIndex = -1;

  constructor(opts: DecapOptions) {
    this.directors = opts.directors;
    this.vips = opts.vips;
    this.counters = opts.counters;
    this.tun = opts.tun;
    this.gro = opts.gro;
    const s = this.tun.stats();
    this.tunBase = { dropped: s.txDropped, errors: s.txErrors };
  }

  /** Starts decapsulating whatever `device` delivers, interpreted as `source`. */
  attach(device: PacketDevice, source: DecapSource): void {
    const kind = DECAP_SOURCES.indexOf(source);
    const s = device.stats();
    this.sources.push({ device, kind, truncatedBase: s.rxTruncated, overflowBase: s.rxOverflow });
    device.onBatch((batch) => this.handleBatch(batch, kind));
  }

  /**
   * Classifies every packet of `batch` (from a source of DECAP_SOURCES index `kind`),
   * writes the accepted inner packets to the TUN in one call and returns how many were
   * accepted.
   */
  handleBatch(batch: PacketBatch, kind: number): number {
    const { data, meta, addr, count } = batch;
    const c = this.counters;
    if (this.outMeta.length < count * META_STRIDE) this.outMeta = new Int32Array(count * META_STRIDE);
    const out = this.outMeta;
    let accepted = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = meta[m + META_OFFSET];
      const len = meta[m + META_LENGTH];
      c.rxPackets[kind]++;
      c.rxBytes[kind] += len;
      const verdict = this.classify(data, off, len, kind, meta[m + META_FAMILY], addr, i * ADDR_STRIDE);
      if (verdict !== ACCEPT) {
        c.drops[verdict]++;
        continue;
      }
      const o = accepted * META_STRIDE;
      out[o + META_OFFSET] = this.innerOffset;
      out[o + META_LENGTH] = this.innerLength;
      out[o + META_FAMILY] = 0;
      out[o + META_PORT] = 0;
      c.vipPackets[this.vipIndex]++;
      c.vipBytes[this.vipIndex] += this.innerLength;
      c.acceptedBytes += this.innerLength;
      accepted++;
    }
    if (accepted > 0) {
      c.accepted += accepted;
      c.lastAcceptMs = Date.now();
      if (this.gro) this.gro.writeTo(this.tun, data, out, accepted);
      else this.tun.writeBatch(data, out, accepted);
    }
    return accepted;
  }

  /**
   * The verdict for one received packet at data[off..off+len). `kind` is the
   * DECAP_SOURCES index; `family`/`addr[addrOff..]` the peer address from recvmmsg (the
   * outer source where the socket does not deliver the outer header: IPv6 raw, GUE).
   * On ACCEPT, innerOffset/innerLength/vipIndex describe the inner packet.
   */
  classify(data: Uint8Array, off: number, len: number, kind: number, family: number, addr: Uint8Array, addrOff: number): number {
    switch (kind) {
      case 0: // ipv4-ipip: the raw IPv4 socket delivers the outer header
        return this.classifyOuterV4(data, off, len, IPPROTO_IPIP);
      case 1: // ipv4-6in4
        return this.classifyOuterV4(data, off, len, IPPROTO_IPV6);
      case 2: // ipv6-ipip: IPv6 raw sockets deliver only the payload; source from recvmmsg
        if (family !== 6) return D_UNKNOWN_SOURCE_FAMILY;
        if (!this.directors.has6(addr, addrOff)) return D_NON_DIRECTOR_SOURCE;
        return this.classifyInner(data, off, len, 4);
      case 3: // ipv6-ip6ip6
        if (family !== 6) return D_UNKNOWN_SOURCE_FAMILY;
        if (!this.directors.has6(addr, addrOff)) return D_NON_DIRECTOR_SOURCE;
        return this.classifyInner(data, off, len, 6);
      default: // gue
        if (family === 4) {
          if (!this.directors.has4(addr, addrOff)) return D_NON_DIRECTOR_SOURCE;
        } else if (family === 6) {
          // A dual-stack UDP socket reports IPv4 peers as ::ffff:a.b.c.d.
          const ok = isV4Mapped(addr, addrOff) ? this.directors.has4(addr, addrOff + 12) : this.directors.has6(addr, addrOff);
          if (!ok) return D_NON_DIRECTOR_SOURCE;
        } else {
          return D_UNKNOWN_SOURCE_FAMILY;
        }
        return this.classifyGue(data, off, len);
    }
  }

  // Every header is checked by the wire decapsulator (wire/tunnel-decap.ts), one layer at
  // a time, so that the outer source is checked before the inner packet and each failure
  // counts under the layer it happened in.
  private classifyOuterV4(data: Uint8Array, off: number, len: number, protocol: number): number {
    const t = this.tunnel;
    const code = t.outerIpv4(data, off, len, protocol);
    if (code !== WIRE_OK) return code === E_TRUNCATED ? D_OUTER_TRUNCATED : code === E_UNEXPECTED_PROTOCOL ? D_OUTER_UNEXPECTED_PROTOCOL : D_OUTER_BAD_HEADER;
    if (!this.directors.has4(data, t.outerSourceOffset)) return D_NON_DIRECTOR_SOURCE;
    return this.classifyInner(data, t.innerOffset, t.innerLength, protocol === IPPROTO_IPIP ? 4 : 6);
  }

  // GUE (draft-ietf-intarea-gue): variant 0 has a 4-byte header (ver:2 C:1 hlen:5
  // proto:8 flags:16) plus hlen words of optional fields; variant 1 is the IP packet itself,
  // recognised by its version nibble (0100 or 0110 begin with the bits 01).
  private classifyGue(data: Uint8Array, off: number, len: number): number {
    const t = this.tunnel;
    const code = t.gue(data, off, len);
    if (code !== WIRE_OK) return code === E_TRUNCATED ? D_OUTER_TRUNCATED : code === E_UNEXPECTED_PROTOCOL ? D_GUE_UNSUPPORTED_PROTOCOL : D_GUE_BAD_HEADER;
    return this.classifyInner(data, t.innerOffset, t.innerLength, t.innerVersion);
  }

  /** The inner packet of IP `version` at data[off .. off+avail): sane, exactly avail bytes, to a VIP. */
  private classifyInner(data: Uint8Array, off: number, avail: number, version: number): number {
    const t = this.tunnel;
    const code = t.innerExact(data, off, avail, version);
    if (code !== WIRE_OK) return innerFailure(code);
    const vip = version === 4 ? this.vips.index4(data, t.innerDestinationOffset) : this.vips.index6(data, t.innerDestinationOffset);
    if (vip < 0) return D_NON_VIP_DESTINATION;
    this.innerOffset = off;
    this.innerLength = avail;
    this.vipIndex = vip;
    return ACCEPT;
  }

  /**
   * Folds the devices' own drop counts (reader truncation, TUN writer backlog overflow and
   * kernel refusals) into the counters. Called by readers of the counters, not per batch.
   */
  syncDeviceCounters(): void {
    let truncated = 0;
    let overflow = 0;
    for (const s of this.sources) {
      const st = s.device.stats();
      truncated += st.rxTruncated - s.truncatedBase;
      overflow += st.rxOverflow - s.overflowBase;
    }
    this.counters.drops[D_RX_TRUNCATED] = truncated;
    this.counters.drops[D_SOCKET_OVERFLOW] = overflow;
    const t = this.tun.stats();
    const base = this.tunBase;
    this.counters.drops[D_TUN_WRITE_DROPPED] = t.txDropped - base.dropped;
    this.counters.drops[D_TUN_WRITE_ERROR] = t.txErrors - base.errors;
  }
}

/** The drop reason for a failed inner packet (IpipDecap.innerExact's codes). */
function innerFailure(code: WireErrorCode): number {
  if (code === E_TRUNCATED) return D_INNER_TRUNCATED;
  if (code === E_BAD_VERSION) return D_INNER_BAD_VERSION;
  if (code === E_BAD_HEADER_LENGTH) return D_INNER_BAD_HEADER_LENGTH;
  if (code === E_BAD_TOTAL_LENGTH) return D_INNER_LENGTH_MISMATCH;
  if (code === E_BAD_CHECKSUM) return D_INNER_BAD_CHECKSUM;
  return D_INNER_BAD_HEADER_LENGTH;
}
