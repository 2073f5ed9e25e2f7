// IPVS's TCP state machines (net/netfilter/ipvs/ip_vs_proto_tcp.c), with its flag
// precedence (RST, SYN, FIN, ACK):
// - input-only, for TUN/DR, where the director sees only the client's half of the
//   conversation (its INPUT-ONLY rows);
// - bidirectional, for NAT, where the replies pass through the director too: client
//   packets take the INPUT rows, server packets the OUTPUT rows.
// One deliberate choice: NONE + ACK from the client goes to ESTABLISHED (as IPVS's original
// table did), so a flow picked up mid-stream (mh failover, sloppy_tcp) counts as an active
// connection.

export const enum TcpState {
  None = 0,
  Established,
  SynSent,
  SynRecv,
  FinWait,
  TimeWait,
  Close,
  CloseWait,
  LastAck,
  Listen,
  SynAck,
}

export const TCP_STATE_COUNT = 11;

/** ipvsadm -c names, index = TcpState. */
export const TCP_STATE_NAMES = [
  'NONE',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'SYNACK',
] as const;

/** The single UDP state, stored in the same field (distinct from every TCP state). */
export const UDP_STATE = 12;

// Event rows: 0 syn, 1 fin, 2 ack, 3 rst; columns: current state.
const sNO = 0, sES = 1, sSS = 2, sSR = 3, sFW = 4, sTW = 5, sCL = 6, sCW = 7, sLA = 8, sLI = 9, sSA = 10;
// prettier-ignore
const INPUT_ONLY = new Uint8Array([
  /* syn */ sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  /* fin */ sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW,
  /* ack */ sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES,
  /* rst */ sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL,
]);

// prettier-ignore
const NAT_INPUT = new Uint8Array([
  /* syn */ sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  /* fin */ sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW,
  /* ack */ sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES,
  /* rst */ sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR,
]);
// prettier-ignore
const NAT_OUTPUT = new Uint8Array([
  /* syn */ sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR,
  /* fin */ sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW,
  /* ack */ sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES,
  /* rst */ sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL,
]);

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** Event row for a TCP flags byte, or -1 when the flags change nothing (no SYN/FIN/ACK/RST). */
export function tcpEvent(flags: number): number {
  if (flags & TCP_RST) return 3;
  if (flags & TCP_SYN) return 0;
  if (flags & TCP_FIN) return 1;
  if (flags & TCP_ACK) return 2;
  return -1;
}

/** Next state after a packet with `flags` arrives from the client in state `state`. */
export function nextTcpState(state: number, flags: number): number {
  const ev = tcpEvent(flags);
  if (ev < 0 || state >= TCP_STATE_COUNT) return state;
  return INPUT_ONLY[ev * TCP_STATE_COUNT + state];
}

/**
 * Next state of a NAT connection (both directions seen): `fromServer` false for a client
 * packet (IPVS's INPUT rows), true for a real server's reply (its OUTPUT rows).
 */
export function nextTcpStateNat(state: number, flags: number, fromServer: boolean): number {
  const ev = tcpEvent(flags);
  if (ev < 0 || state >= TCP_STATE_COUNT) return state;
  return (fromServer ? NAT_OUTPUT : NAT_INPUT)[ev * TCP_STATE_COUNT + state];
}

/** Name of a stored state (TCP or UDP) for listings. */
export function connStateName(state: number): string {
  if (state === UDP_STATE) return 'UDP';
  return TCP_STATE_NAMES[state] ?? 'ERR!';
}
