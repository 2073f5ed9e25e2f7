// Prometheus view of the decap counters. The data path only bumps typed arrays; these
// metrics copy them at scrape time (collect), so scraping costs nothing per packet.
import { Counter, Gauge, Registry } from 'prom-client';
import { DECAP_SOURCES, DROP_REASONS, type DecapCounters } from './decap-counters.js';
import type { GroStats } from './gro-coalesce.js';

export interface AgentMetricsOptions {
  counters: DecapCounters;
  /** VIP texts in VipTable index order. */
  vips: readonly string[];
  /** Called before each scrape (folds device counters in). */
  beforeScrape?: () => void;
  mode: string;
  /** User-space GRO counters (gro-coalesce.ts) when the TUN has offloads; read at scrape time. */
  gro?: () => GroStats | undefined;
}

/** A registry of its own (not the global one), so several agents in one process do not clash. */
export function createAgentMetrics(opts: AgentMetricsOptions): Registry {
  const registry = new Registry();
  const c = opts.counters;
  const sync = opts.beforeScrape ?? (() => {});
  new Counter({
    name: 'vstun_agent_decap_received_packets_total',
    help: 'Encapsulated packets received, by source socket, before any check.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      sync();
      this.reset();
      DECAP_SOURCES.forEach((s, i) => this.inc({ source: s }, c.rxPackets[i]));
    },
  });
  new Counter({
    name: 'vstun_agent_decap_received_bytes_total',
    help: 'Bytes of encapsulated packets received, by source socket.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      DECAP_SOURCES.forEach((s, i) => this.inc({ source: s }, c.rxBytes[i]));
    },
  });
  new Counter({
    name: 'vstun_agent_decap_packets_total',
    help: 'Inner packets written to the injection TUN, by VIP.',
    labelNames: ['vip'],
    registers: [registry],
    collect() {
      this.reset();
      opts.vips.forEach((v, i) => this.inc({ vip: v }, c.vipPackets[i]));
    },
  });
  new Counter({
    name: 'vstun_agent_decap_bytes_total',
    help: 'Bytes of inner packets written to the injection TUN, by VIP.',
    labelNames: ['vip'],
    registers: [registry],
    collect() {
      this.reset();
      opts.vips.forEach((v, i) => this.inc({ vip: v }, c.vipBytes[i]));
    },
  });
  new Counter({
    name: 'vstun_agent_decap_drops_total',
    help: 'Packets not injected, by reason (non-director-source is the spoofing counter).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      sync();
      this.reset();
      DROP_REASONS.forEach((r, i) => this.inc({ reason: r }, c.drops[i]));
    },
  });
  new Counter({
    name: 'vstun_agent_gro_total',
    help: 'User-space GRO into the TUN: super-packets written, segments merged into them, segments not merged for a bad TCP checksum, super-packets the kernel had merged before the decap socket (passed on with NEEDS_CSUM), segments left with a partial checksum (passed on alone with NEEDS_CSUM).',
    labelNames: ['what'],
    registers: [registry],
    collect() {
      this.reset();
      const g = opts.gro?.();
      if (!g) return;
      this.inc({ what: 'super-packets' }, g.superPackets);
      this.inc({ what: 'merged-segments' }, g.mergedSegments);
      this.inc({ what: 'bad-checksum' }, g.badChecksum);
      this.inc({ what: 'kernel-super-packets' }, g.kernelSuperPackets);
      this.inc({ what: 'partial-segments' }, g.partialSegments);
    },
  });
  new Gauge({
    name: 'vstun_agent_info',
    help: 'Constant 1, labelled with the decap mode.',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ mode: opts.mode }, 1);
    },
  });
  return registry;
}
