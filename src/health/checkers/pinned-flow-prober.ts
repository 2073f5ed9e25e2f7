// The tunnel prober that runs on the director host: an ordinary TCP connect (or UDP
// exchange) from the probe source address, with the flow pinned to one RS in the director
// first. See tunnel.ts for the routing and the PinFlowHook contract.
import { abortDetail, describeError, type CheckResult } from '../check-result.js';
import { tcpConnect } from './tcp.js';
import type { PinFlowHook, ProbeFlow, TunnelProbeRequest, TunnelProber, Unpin } from './tunnel.js';
import { udpExchange } from './udp.js';

export interface PinnedFlowProberOptions {
  /** The probe source address P (owned by the director host, routed back to it, never a VIP). */
  probeSource: string;
  pinFlow: PinFlowHook;
  /**
   * Source ports to use, inclusive. Default 61000..64999: above Linux's default ephemeral
   * range (32768..60999), so the kernel never hands one of them to another socket.
   */
  portRange?: readonly [number, number];
  /** How long a pin outlives its probe, so the closing packets follow it (ms, default 2000). */
  unpinLingerMs?: number;
}

// Bind failures that mean "try another source port", not "the RS is down".
const PORT_BUSY = /EADDRINUSE|EADDRNOTAVAIL/;
const MAX_PORT_TRIES = 4;

export class PinnedFlowProber implements TunnelProber {
  private readonly low: number;
  private readonly high: number;
  private next: number;
  /** "proto/port" of every flow still pinned (probe running or lingering). */
  private readonly pinned = new Set<string>();

  constructor(private readonly options: PinnedFlowProberOptions) {
    const [low, high] = options.portRange ?? [61000, 64999];
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < 1 || high > 65535 || low > high) {
      throw new RangeError(`probe port range ${low}..${high} must be integers within 1..65535, low <= high`);
    }
    this.low = low;
    this.high = high;
    this.next = low;
  }

  /** Flows currently pinned (for tests and the listing). */
  get pinnedCount(): number {
    return this.pinned.size;
  }

  async probe(request: TunnelProbeRequest, signal: AbortSignal): Promise<CheckResult> {
    const what = `tunnel ${request.proto} ${request.vip}:${request.port} via ${request.rsId} (${request.rsAddress})`;
    let last: CheckResult = { ok: false, detail: `${what}: no free probe source port`, latencyMs: 0 };
    for (let attempt = 0; attempt < MAX_PORT_TRIES; attempt++) {
      if (signal.aborted) return { ok: false, detail: `${what}: ${abortDetail(signal)}`, latencyMs: last.latencyMs };
      const srcPort = this.allocatePort(request.proto);
      if (srcPort === null) return last;
      const key = `${request.proto}/${srcPort}`;
      const flow: ProbeFlow = { proto: request.proto, src: this.options.probeSource, srcPort, vip: request.vip, vipPort: request.port };
      let unpin: Unpin;
      try {
        unpin = await this.options.pinFlow(flow, request.rsId);
      } catch (err) {
        this.pinned.delete(key);
        return { ok: false, detail: `${what}: pinning the probe flow failed: ${describeError(err)}`, latencyMs: 0 };
      }
      const result =
        request.proto === 'tcp'
          ? await tcpConnect(request.vip, request.port, signal, { localAddress: flow.src, localPort: srcPort })
          : await udpExchange(
              { host: request.vip, port: request.port, payload: request.payload ?? new Uint8Array(0), expectPattern: request.expectPattern, bindAddress: flow.src, bindPort: srcPort },
              signal,
            );
      this.releaseLater(key, unpin);
      last = { ok: result.ok, detail: `${what} from ${flow.src}:${srcPort}: ${result.detail}`, latencyMs: result.latencyMs };
      if (result.ok || !PORT_BUSY.test(result.detail)) return last;
    }
    return last;
  }

  /** Next source port not pinned right now, round-robin over the range; null if all are. */
  private allocatePort(proto: string): number | null {
    const size = this.high - this.low + 1;
    for (let i = 0; i < size; i++) {
      const port = this.next;
      this.next = port === this.high ? this.low : port + 1;
      const key = `${proto}/${port}`;
      if (!this.pinned.has(key)) {
        this.pinned.add(key);
        return port;
      }
    }
    return null;
  }

  private releaseLater(key: string, unpin: Unpin): void {
    const release = (): void => {
      this.pinned.delete(key);
      try {
        unpin();
      } catch {
        // the director already forgot the pin (e.g. it was reconfigured); nothing to undo
      }
    };
    const linger = this.options.unpinLingerMs ?? 2000;
    if (linger <= 0) release();
    else setTimeout(release, linger).unref();
  }
}
