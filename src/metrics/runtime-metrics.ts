// What every vstun daemon exposes about itself, next to its own series: prom-client's
// default process_* and nodejs_* metrics, the sampled event-loop delay histogram and
// vstun_build_info. The director and the agent call this once at startup.
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { buildInfo } from './build-info.js';
import { startEventLoopDelay, type EventLoopDelaySampler } from './event-loop-delay.js';

/**
 * prom-client's nodejs_eventloop_lag_* come from monitorEventLoopDelay, a libuv timer that
 * wakes the loop every `eventLoopMonitoringPrecision` ms (10 by default: 100 wake-ups a second
 * of the agent's data-path thread and of the director's main thread, for a series that
 * vstun_event_loop_delay_seconds measures better). Once a second keeps the series, coarser.
 */
export const NODEJS_LAG_RESOLUTION_MS = 1000;

/** Registers the runtime series on `registry`; stop the returned sampler on exit. */
export function registerRuntimeMetrics(registry: Registry, daemon: 'vstun-director' | 'vstun-agent'): EventLoopDelaySampler {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: NODEJS_LAG_RESOLUTION_MS });
  const b = buildInfo();
  const labels: Record<string, string> = { daemon, version: b.version, node: b.node };
  if (b.commit !== undefined) labels.commit = b.commit;
  new Gauge({
    name: 'vstun_build_info',
    help: 'Constant 1, labelled with the daemon, the vstun version, the Node.js version and (from a git checkout) the commit.',
    labelNames: Object.keys(labels),
    registers: [registry],
  }).set(labels, 1);
  return startEventLoopDelay(registry);
}
