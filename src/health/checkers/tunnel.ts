// Tunnel check: the data path itself. A probe to VIP:port is sent THROUGH the director's
// IPIP tunnel to one chosen RS, and only an answer from the VIP counts. This catches the
// "DSR blackhole" a TCP check to the RIP cannot: the RS is alive on its own address but
// the VIP is missing from its lo (or the decap agent is down), so real clients get nothing.
//
// How a probe travels (see pinned-flow-prober.ts for the implementation):
//   1. The director host's kernel owns a dedicated probe source address P (a /32 on lo or on
//      the TAP). The prober opens an ordinary socket from P:sport to VIP:port.
//   2. The kernel routes VIP via the TAP, so the probe enters the director process, which
//      sees src == P and forwards it to the RS the prober pinned for (P, sport) — see
//      PinFlowHook — encapsulated exactly like client traffic.
//   3. The RS decapsulates, its VIP socket answers from VIP to P over the RS's normal route.
//   4. P must route back to THIS director host, whose kernel completes the handshake.
//
// Routing the probe source in a geo-distributed deployment:
//   - Give every director its own P: a /32 (or /128) that is never a VIP and never used by
//     anything else. Announce or route it to that director's site only (e.g. a static /32
//     or a BGP /32 from that site's BIRD), so replies from every RS site come back to the
//     director that sent the probe. With several directors behind ECMP, a shared P would
//     deliver replies to the wrong director.
//   - P must never be a VIP: an RS has the VIPs on its lo, so it would answer itself.
//   - The RS replies from the VIP, like to any client, so the path RS -> P must pass the same
//     anti-spoofing (BCP 38) exceptions that DSR replies to clients already need.
//   - On the director host the reply arrives on the uplink with source VIP, while VIP is
//     routed into the TAP: strict rp_filter would drop it. Use rp_filter 0 or 2 (loose) on the
//     uplink and on `all`.
//   - Firewalls at RS sites must let VIP:port -> P through, and P must not be NATed.
import type { Checker, CheckResult } from '../check-result.js';

export type TunnelProto = 'tcp' | 'udp';

/** One probe: which RS to pin, and what to send to the VIP. */
export interface TunnelProbeRequest {
  /** The director's id for the RS; passed to PinFlowHook unchanged. */
  rsId: string;
  /** The RS's address, for details and logs only. */
  rsAddress: string;
  vip: string;
  port: number;
  proto: TunnelProto;
  /** UDP only: datagram to send (default: empty). */
  payload?: Uint8Array;
  /** UDP only: the reply must match this (latin1-decoded); any reply counts when unset. */
  expectPattern?: RegExp;
}

/** Sends a probe through the tunnel to one RS and reports whether the VIP answered. */
export interface TunnelProber {
  probe(request: TunnelProbeRequest, signal: AbortSignal): Promise<CheckResult>;
}

/** The flow of one probe, as the director sees it on the TAP (all addresses as text). */
export interface ProbeFlow {
  proto: TunnelProto;
  /** The probe source address P. */
  src: string;
  srcPort: number;
  vip: string;
  vipPort: number;
}

/** Undoes one pin. Idempotent. */
export type Unpin = () => void;

/**
 * The director's pinned-flow hook. CONTRACT (the director implements it):
 *
 * - `pinFlow(flow, rsId)` is called before the probe's first packet (SYN, or the UDP
 *   datagram) leaves the prober, and must be in effect when it returns (or when its
 *   promise resolves).
 * - Every packet the director reads from the TAP whose source address is a configured probe
 *   source, and whose source port is in the prober's range (61000..64999 by default, so the
 *   probe source may be the DIP), bypasses the connection table and the scheduler: if its 5-tuple (proto, src,
 *   srcPort, dst=vip, dstPort=vipPort) is pinned, it is encapsulated to rsId — even when that
 *   RS is down, has weight 0 or has been replaced by the sorry server (probing a down RS is
 *   how it recovers). If it is not pinned, it is dropped with its own drop reason
 *   ("probe_unpinned"); it must never be scheduled to an arbitrary RS.
 * - A pin lasts until `Unpin` is called. The prober unpins a short linger after the probe
 *   ends, so the closing RST/ACK of the same flow still reach the same RS. The prober never
 *   reuses a (proto, srcPort) that is still pinned.
 * - Probe packets create no connection-table entries and are not counted as client traffic
 *   (they may have their own counters).
 * - pinFlow may throw (e.g. unknown rsId, P is not a configured probe source); the probe then
 *   fails with that message and nothing is sent.
 */
export type PinFlowHook = (flow: ProbeFlow, rsId: string) => Unpin | Promise<Unpin>;

export interface TunnelCheckOptions {
  rsId: string;
  rsAddress: string;
  vip: string;
  port: number;
  proto: TunnelProto;
  payload?: Uint8Array;
  expectPattern?: RegExp;
}

export class TunnelChecker implements Checker {
  readonly kind = 'tunnel' as const;

  constructor(
    readonly options: TunnelCheckOptions,
    private readonly prober: TunnelProber,
  ) {}

  check(signal: AbortSignal): Promise<CheckResult> {
    const o = this.options;
    return this.prober.probe(
      { rsId: o.rsId, rsAddress: o.rsAddress, vip: o.vip, port: o.port, proto: o.proto, payload: o.payload, expectPattern: o.expectPattern },
      signal,
    );
  }
}
