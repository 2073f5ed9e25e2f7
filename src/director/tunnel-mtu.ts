// How big an inner packet may be toward one real server. The tunnel MTU comes from config
// (the server's, else its service's, else the director's default = the TAP MTU) and is
// lowered by path-MTU discovery; the outer headers come off it:
//   IPIP over IPv4 20, over IPv6 40; GUE over IPv4 20+8+4, over IPv6 40+8+4.
import type { RealServer } from './real-server.js';
import type { VirtualService } from './virtual-service.js';

export const TUNNEL_IPIP = 0;
export const TUNNEL_GUE = 1;

export const OUTER_IPV4_OVERHEAD = 20;
export const OUTER_IPV6_OVERHEAD = 40;
export const GUE_UDP_OVERHEAD = 8 + 4;

/** IPv4's smallest MTU every link must carry (RFC 791); below it we never go. */
export const MIN_TUNNEL_MTU_V4 = 576;
/** IPv6's minimum link MTU (RFC 8200). */
export const MIN_TUNNEL_MTU_V6 = 1280;

/** Bytes of outer header for a tunnel kind over an outer IPv4 (false) or IPv6 (true) header. */
export function tunnelOverhead(tunnel: number, outerV6: boolean): number {
  const ip = outerV6 ? OUTER_IPV6_OVERHEAD : OUTER_IPV4_OVERHEAD;
  return tunnel === TUNNEL_GUE ? ip + GUE_UDP_OVERHEAD : ip;
}

/** The configured tunnel MTU toward `rs` (bytes): server, else service, else `defaultMtu`. */
export function configuredTunnelMtu(rs: RealServer, svc: VirtualService | null, defaultMtu: number): number {
  if (rs.tunnelMtu > 0) return rs.tunnelMtu;
  if (svc !== null && svc.tunnelMtu > 0) return svc.tunnelMtu;
  return defaultMtu;
}

/** The effective tunnel MTU: the configured one, lowered by what discovery learned. */
export function effectiveTunnelMtu(rs: RealServer, svc: VirtualService | null, defaultMtu: number): number {
  const mtu = configuredTunnelMtu(rs, svc, defaultMtu);
  return rs.pathMtu > 0 && rs.pathMtu < mtu ? rs.pathMtu : mtu;
}

/** Largest inner packet (bytes) that fits the tunnel to `rs` without fragmenting. */
export function usableInnerMtu(rs: RealServer, svc: VirtualService | null, defaultMtu: number, outerV6: boolean): number {
  return effectiveTunnelMtu(rs, svc, defaultMtu) - tunnelOverhead(rs.tunnel, outerV6);
}
