// Connection timeouts per state, in milliseconds, with IPVS's defaults. `ipvsadm --set
// tcp tcpfin udp` changes ESTABLISHED, FIN_WAIT and UDP (in seconds; 0 keeps the value).
import { TCP_STATE_COUNT, TcpState, UDP_STATE } from './tcp-state.js';

const S = 1000;

export interface TimeoutSettings {
  /** Seconds. */
  tcp: number;
  tcpfin: number;
  udp: number;
}

export class Timeouts {
  /** Index = stored state (TCP states, then UDP_STATE). */
  readonly byState = new Float64Array(UDP_STATE + 1);

  constructor() {
    const t = this.byState;
    t[TcpState.None] = 2 * S;
    t[TcpState.Established] = 15 * 60 * S;
    t[TcpState.SynSent] = 2 * 60 * S;
    t[TcpState.SynRecv] = 60 * S;
    t[TcpState.FinWait] = 2 * 60 * S;
    t[TcpState.TimeWait] = 2 * 60 * S;
    t[TcpState.Close] = 10 * S;
    t[TcpState.CloseWait] = 60 * S;
    t[TcpState.LastAck] = 30 * S;
    t[TcpState.Listen] = 2 * 60 * S;
    t[TcpState.SynAck] = 2 * 60 * S;
    t[TCP_STATE_COUNT] = 2 * S; // unused slot
    t[UDP_STATE] = 5 * 60 * S;
  }

  /** Timeout in ms for a stored state. */
  forState(state: number): number {
    return this.byState[state];
  }

  /**
   * Sets the ipvsadm trio in whole seconds; 0 leaves a value unchanged (as ipvsadm does).
   * Throws RangeError on a negative or non-integer value (a control-plane call).
   */
  set(settings: Partial<TimeoutSettings>): void {
    const apply = (name: string, v: number | undefined, state: number) => {
      if (v === undefined || v === 0) return;
      if (!Number.isInteger(v) || v < 0 || v > 31_536_000) throw new RangeError(`${name} timeout must be whole seconds between 0 and 31536000, got ${v}`);
      this.byState[state] = v * S;
    };
    apply('tcp', settings.tcp, TcpState.Established);
    apply('tcpfin', settings.tcpfin, TcpState.FinWait);
    apply('udp', settings.udp, UDP_STATE);
  }

  /** The ipvsadm trio in seconds (`ipvsadm -L --timeout`). */
  get(): TimeoutSettings {
    return {
      tcp: this.byState[TcpState.Established] / S,
      tcpfin: this.byState[TcpState.FinWait] / S,
      udp: this.byState[UDP_STATE] / S,
    };
  }
}
