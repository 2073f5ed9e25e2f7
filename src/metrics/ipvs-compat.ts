// node_exporter's IPVS collector (collector/ipvs_linux.go), reproduced from vstun's own
// counters so that dashboards and alerts written for a kernel IPVS director work unchanged:
// the same names, HELP texts, types and labels. The totals are node_exporter's
// /proc/net/ip_vs_stats ones (summed over services here); the backend gauges are its
// /proc/net/ip_vs rows, one per real server, summed when two rows share a label set as
// node_exporter does. local_mark is "" because vstun has no fwmark services. Outgoing
// packets and bytes are 0: in VS/TUN the replies never pass the director.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Director } from '../director/director.js';

/** node_exporter's default backend label set, in its (sorted) exposition order. */
export const IPVS_BACKEND_LABELS = ['local_address', 'local_mark', 'local_port', 'proto', 'remote_address', 'remote_port'] as const;

interface BackendSums {
  labels: Record<(typeof IPVS_BACKEND_LABELS)[number], string>;
  active: number;
  inactive: number;
  weight: number;
}

/** One row per distinct label set, as node_exporter sums them. */
function backendRows(director: Director): BackendSums[] {
  const rows = new Map<string, BackendSums>();
  for (const svc of director.registry.list()) {
    for (const rs of svc.servers) {
      if (rs.removed) continue;
      const labels = {
        local_address: svc.vipText,
        local_mark: '',
        local_port: String(svc.port),
        proto: svc.protocolName.toUpperCase(),
        remote_address: rs.addressText,
        // VS/TUN never rewrites the port: the real server's port is the service's.
        remote_port: String(rs.port || svc.port),
      };
      const key = IPVS_BACKEND_LABELS.map((l) => labels[l]).join('-');
      const row = rows.get(key) ?? { labels, active: 0, inactive: 0, weight: 0 };
      row.active += rs.activeConns;
      row.inactive += rs.inactConns;
      row.weight += rs.weight;
      rows.set(key, row);
    }
  }
  return [...rows.values()];
}

/** Registers the eight node_ipvs_* families on `registry`, read from `director` at scrape time. */
export function registerIpvsCompatMetrics(registry: Registry, director: Director): void {
  // Outgoing: the replies VS/NAT rewrites (0 for TUN and DR, whose replies bypass the director).
  const totals: Array<[string, string, (s: { conns: number; inPkts: number; inBytes: number; outPkts: number; outBytes: number }) => number]> = [
    ['node_ipvs_connections_total', 'The total number of connections made.', (s) => s.conns],
    ['node_ipvs_incoming_packets_total', 'The total number of incoming packets.', (s) => s.inPkts],
    ['node_ipvs_outgoing_packets_total', 'The total number of outgoing packets.', (s) => s.outPkts],
    ['node_ipvs_incoming_bytes_total', 'The total amount of incoming data.', (s) => s.inBytes],
    ['node_ipvs_outgoing_bytes_total', 'The total amount of outgoing data.', (s) => s.outBytes],
  ];
  for (const [name, help, read] of totals) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        let sum = 0;
        for (const svc of director.registry.list()) sum += read(svc.stats);
        this.inc(sum);
      },
    });
  }
  const backends: Array<[string, string, (r: BackendSums) => number]> = [
    ['node_ipvs_backend_connections_active', 'The current active connections by local and remote address.', (r) => r.active],
    ['node_ipvs_backend_connections_inactive', 'The current inactive connections by local and remote address.', (r) => r.inactive],
    ['node_ipvs_backend_weight', 'The current backend weight by local and remote address.', (r) => r.weight],
  ];
  for (const [name, help, read] of backends) {
    new Gauge({
      name,
      help,
      labelNames: IPVS_BACKEND_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const row of backendRows(director)) this.set(row.labels, read(row));
      },
    });
  }
}
