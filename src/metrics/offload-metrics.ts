// Prometheus view of the TAP's offload work (src/device/offload-rx.ts): super-packets
// segmented, segments made, checksums completed, and every drop reason. Read at scrape
// time; nothing is registered when the TAP has no virtio-net header.
import { Counter, type Registry } from 'prom-client';
import type { OffloadRxStats } from '../device/offload-rx.js';

/** Registers vstun_tap_offload_total{what} on `registry`; `stats` returns null when offloads are off. */
export function registerOffloadMetrics(registry: Registry, stats: () => OffloadRxStats | null): void {
  if (stats() === null) return;
  new Counter({
    name: 'vstun_tap_offload_total',
    help: 'TAP offloads: gso-packets (super-packets received), gso-segments (what they became), csum-completed, drop-* reasons, tunnel-gso-packets (GUE super-packets written for the kernel to cut) and tunnel-gso-segments (the segments they joined).',
    labelNames: ['what'],
    registers: [registry],
    collect() {
      this.reset();
      const s = stats();
      if (s === null) return;
      this.inc({ what: 'gso-packets' }, s.gsoPackets);
      this.inc({ what: 'gso-segments' }, s.gsoSegments);
      this.inc({ what: 'csum-completed' }, s.csumCompleted);
      this.inc({ what: 'drop-gso-unsupported' }, s.dropGsoUnsupported);
      this.inc({ what: 'drop-gso-malformed' }, s.dropGsoMalformed);
      this.inc({ what: 'drop-gso-no-room' }, s.dropGsoNoRoom);
      this.inc({ what: 'drop-bad-vnet-header' }, s.dropBadVnetHeader);
      this.inc({ what: 'tunnel-gso-packets' }, s.tunnelGsoPackets);
      this.inc({ what: 'tunnel-gso-segments' }, s.tunnelGsoSegments);
      this.inc({ what: 'tunnel-gso-own-checksums' }, s.tunnelGsoOwnChecksums);
    },
  });
}
