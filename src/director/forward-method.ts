// The forwarding method of a real server as the data path stores it (a small integer on
// RealServer, read per packet), and its names in the control plane (admin-model.ts).
//   FORWARD_TUNNEL  -i  IPIP/GUE to the server; the agent decapsulates (VS/TUN)
//   FORWARD_NAT     -m  destination rewritten to RIP:rport, replies rewritten back (VS/NAT)
//   FORWARD_DR      -g  the unchanged IP packet in a frame to the server's MAC (VS/DR)
export const FORWARD_TUNNEL = 0;
export const FORWARD_NAT = 1;
export const FORWARD_DR = 2;
export type ForwardCode = typeof FORWARD_TUNNEL | typeof FORWARD_NAT | typeof FORWARD_DR;

/** Control-plane name → code. */
export const FORWARD_CODES = { tunnel: FORWARD_TUNNEL, masq: FORWARD_NAT, route: FORWARD_DR } as const;

/** Code → control-plane name (index = code). */
export const FORWARD_CODE_NAMES = ['tunnel', 'masq', 'route'] as const;

/**
 * True when the director sees both directions of this server's connections: IPVS keeps
 * the full TCP state table for NAT and the input-only one for TUN and DR.
 */
export function seesReplies(code: number): boolean {
  return code === FORWARD_NAT;
}
