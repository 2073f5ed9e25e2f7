import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { OffloadRxStats } from '../device/offload-rx.js';
import { parseExposition } from './exposition-check.js';
import { registerOffloadMetrics } from './offload-metrics.js';

describe('TAP offload metrics', () => {
  it('exposes every counter under one family, read at scrape time', async () => {
    const stats: OffloadRxStats = { gsoPackets: 2, gsoSegments: 90, csumCompleted: 7, dropGsoUnsupported: 1, dropGsoMalformed: 0, dropGsoNoRoom: 3, dropBadVnetHeader: 0, tunnelGsoPackets: 4, tunnelGsoSegments: 170, tunnelGsoOwnChecksums: 160 };
    const registry = new Registry();
    registerOffloadMetrics(registry, () => stats);
    stats.gsoSegments = 91;
    const samples = parseExposition(await registry.metrics());
    const by = Object.fromEntries(samples.map((s) => [s.labels.what, s.value]));
    expect(by).toEqual({ 'gso-packets': 2, 'gso-segments': 91, 'csum-completed': 7, 'drop-gso-unsupported': 1, 'drop-gso-malformed': 0, 'drop-gso-no-room': 3, 'drop-bad-vnet-header': 0, 'tunnel-gso-packets': 4, 'tunnel-gso-segments': 170, 'tunnel-gso-own-checksums': 160 });
  });

  it('registers nothing when the TAP has no offloads', async () => {
    const registry = new Registry();
    registerOffloadMetrics(registry, () => null);
    expect(await registry.metrics()).toBe('\n');
  });
});
