// Control-plane errors of the agent: a stable `code` for scripts and tests, and a message
// that says what to fix. The data path never throws; it counts (see drop-reasons.ts).

export type AgentErrorCode =
  | 'AGENT_BAD_ARGUMENT' // a flag's value cannot be parsed or is out of range
  | 'AGENT_KERNEL_MODE_UNAVAILABLE' // --mode kernel on a kernel without the ipip module
  | 'AGENT_NO_RAW_SOCKET' // no permission (CAP_NET_RAW) to open the decap sockets
  | 'AGENT_SETUP_FAILED' // a host change failed; everything done so far was undone
  | 'AGENT_LISTEN_FAILED'; // the HTTP endpoint cannot bind

export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
