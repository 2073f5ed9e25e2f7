// Control-plane errors of the agent: a stable `code` for scripts and tests (listed with
// their meaning in src/errors.ts), and a message that says what to fix. The data path
// never throws; it counts (see decap-counters.ts).
import { VstunError, type AgentErrorCode } from '../errors.js';

export type { AgentErrorCode } from '../errors.js';

export class AgentError extends VstunError<AgentErrorCode> {
  override name = 'AgentError';
}
