// Counters of the decapsulation path: one slot per drop reason, per-VIP accepted
// packets/bytes, and received packets per source. Plain typed arrays: the data path bumps
// them with an index, /metrics and /healthz read them.

/**
 * Why a received packet was not written to the TUN. Append-only; the index is the
 * counter slot. Every reason has a counter, and every packet ends in accept or one of these.
 */
export const DROP_REASONS = [
  'outer-truncated', //          shorter than the outer IPv4 header (or GUE's UDP payload than the GUE header)
  'outer-bad-header', //         outer IPv4 version/IHL/total length inconsistent with the bytes received
  'outer-unexpected-protocol', // outer protocol is not the one the socket was opened for
  'non-director-source', //      outer source is not a --director address: the spoofing vector
  'gue-bad-header', //           GUE version/control bit/header length not acceptable
  'gue-unsupported-protocol', // GUE carries something other than IPv4 or IPv6
  'inner-truncated', //          fewer bytes than the inner IP header needs
  'inner-bad-version', //        inner version nibble does not match what the outer announced
  'inner-bad-header-length', //  inner IPv4 IHL < 5 or beyond the packet
  'inner-length-mismatch', //    inner total/payload length differs from what the outer carried
  'inner-bad-checksum', //       inner IPv4 header checksum wrong (the kernel would drop it silently)
  'non-vip-destination', //      inner destination is not a configured VIP
  'unknown-source-family', //    a socket reported a peer family we cannot check (never expected)
  'rx-truncated', //             the reader cut a packet longer than its ring slot
  'tun-write-dropped', //        the TUN writer's backlog was full
  'tun-write-error', //          the kernel refused the TUN write
  'socket-overflow', //          the kernel dropped it: a decap socket's receive buffer was full (SO_RXQ_OVFL)
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export const D_OUTER_TRUNCATED = 0;
export const D_OUTER_BAD_HEADER = 1;
export const D_OUTER_UNEXPECTED_PROTOCOL = 2;
export const D_NON_DIRECTOR_SOURCE = 3;
export const D_GUE_BAD_HEADER = 4;
export const D_GUE_UNSUPPORTED_PROTOCOL = 5;
export const D_INNER_TRUNCATED = 6;
export const D_INNER_BAD_VERSION = 7;
export const D_INNER_BAD_HEADER_LENGTH = 8;
export const D_INNER_LENGTH_MISMATCH = 9;
export const D_INNER_BAD_CHECKSUM = 10;
export const D_NON_VIP_DESTINATION = 11;
export const D_UNKNOWN_SOURCE_FAMILY = 12;
export const D_RX_TRUNCATED = 13;
export const D_TUN_WRITE_DROPPED = 14;
export const D_TUN_WRITE_ERROR = 15;
export const D_SOCKET_OVERFLOW = 16;

/** Where encapsulated packets come from; each has its own receive counter. */
export const DECAP_SOURCES = ['ipv4-ipip', 'ipv4-6in4', 'ipv6-ipip', 'ipv6-ip6ip6', 'gue'] as const;
export type DecapSource = (typeof DECAP_SOURCES)[number];

export class DecapCounters {
  /** Indexed by the D_* constants. */
  readonly drops = new Float64Array(DROP_REASONS.length);
  /** Indexed by VIP index (VipTable order): packets/bytes written to the TUN. */
  readonly vipPackets: Float64Array;
  readonly vipBytes: Float64Array;
  /** Indexed by DECAP_SOURCES position: packets/bytes received (before any check). */
  readonly rxPackets = new Float64Array(DECAP_SOURCES.length);
  readonly rxBytes = new Float64Array(DECAP_SOURCES.length);
  /** Inner packets handed to the TUN writer and bytes of those. */
  accepted = 0;
  acceptedBytes = 0;
  /** Date.now() of the last batch that had an accepted packet (0: never). */
  lastAcceptMs = 0;

  constructor(vipCount: number) {
    this.vipPackets = new Float64Array(vipCount);
    this.vipBytes = new Float64Array(vipCount);
  }

  /** Total of every drop reason. */
  totalDrops(): number {
    let t = 0;
    for (let i = 0; i < this.drops.length; i++) t += this.drops[i];
    return t;
  }

  /** Drops by reason name, for JSON and tests. */
  dropsByReason(): Record<DropReason, number> {
    const out = {} as Record<DropReason, number>;
    DROP_REASONS.forEach((r, i) => (out[r] = this.drops[i]));
    return out;
  }
}
