// Health state as Prometheus sees it. The health binding (src/director/health-binding.ts)
// calls setServerHealth/clearServerHealth on every transition; the director's registry
// includes this gauge. One process-wide gauge, because there is one director per process.
import { Gauge, type Registry } from 'prom-client';

const gauge = new Gauge({
  name: 'vstun_real_server_up',
  help: 'Health-check state of a real server: 1 up, 0 down (absent when the service has no health check).',
  labelNames: ['service', 'server'],
  registers: [],
});

/** `service` as "tcp:VIP:PORT", `server` as the RS address; up = passes its checks. */
export function setServerHealth(service: string, server: string, up: boolean): void {
  gauge.set({ service, server }, up ? 1 : 0);
}

/** Forgets a server (removed from its service). */
export function clearServerHealth(service: string, server: string): void {
  gauge.remove({ service, server });
}

/** Drops every series (tests, or a director restarting in-process). */
export function resetServerHealth(): void {
  gauge.reset();
}

export function registerHealthGauge(registry: Registry): void {
  registry.registerMetric(gauge);
}
