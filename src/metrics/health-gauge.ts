// Health state as Prometheus sees it. The health binding (src/director/health-binding.ts)
// reports every transition through setServerHealth/clearServerHealth; the director's
// registry includes this gauge. One process-wide gauge, because there is one director per
// process. Its labels are the ones of every vstun_real_server_* series:
// protocol, vip, port, server, server_port.
import { Gauge, type Registry } from 'prom-client';

const gauge = new Gauge({
  name: 'vstun_real_server_up',
  help: 'Health-check state of a real server: 1 up, 0 down (absent when the service has no health check).',
  labelNames: ['protocol', 'vip', 'port', 'server', 'server_port'],
  registers: [],
});

/** `service` "tcp:VIP:PORT" → the per-service labels; a server's port is the service's (VS/TUN). */
function labelsOf(service: string, server: string): Record<string, string> {
  const m = /^(tcp|udp):(.+):(\d+)$/.exec(service);
  if (m === null) return { protocol: '', vip: service, port: '', server, server_port: '' };
  return { protocol: m[1], vip: m[2], port: m[3], server, server_port: m[3] };
}

/** `service` as "tcp:VIP:PORT", `server` as the RS address; up = passes its checks. */
export function setServerHealth(service: string, server: string, up: boolean): void {
  gauge.set(labelsOf(service, server), up ? 1 : 0);
}

/** Forgets a server (removed from its service). */
export function clearServerHealth(service: string, server: string): void {
  gauge.remove(labelsOf(service, server));
}

/** Drops every series (tests, or a director restarting in-process). */
export function resetServerHealth(): void {
  gauge.reset();
}

export function registerHealthGauge(registry: Registry): void {
  registry.registerMetric(gauge);
}
