// The director's Prometheus metrics. Everything is read from the director's own counters
// at scrape time (collect), so the data path pays nothing per packet; the batch-size
// histogram is observed once per batch through Director.batchObserver.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BATCH_SIZE_BUCKETS, type Director } from '../director/director.js';
import { formatIpv4 } from '../director/ipv4-text.js';
import { VERDICT_NAMES } from '../director/verdicts.js';
import { kernelDrops } from '../director/kernel-drops.js';
import { registerHealthGauge } from './health-gauge.js';
import { registerIpvsCompatMetrics } from './ipvs-compat.js';

type Labels = Record<string, string>;

/** A registry of its own (not prom-client's global one), so tests can run several. */
export function createDirectorMetrics(director: Director): Registry {
  const registry = new Registry();
  const svcLabels = ['protocol', 'vip', 'port'];
  // One scheme for every per-server series, vstun_real_server_up included.
  const rsLabels = [...svcLabels, 'server', 'server_port'];

  /** Walks services and servers once per metric; cheap next to a scrape's text rendering. */
  const eachService = (fn: (l: Labels, s: ReturnType<Director['registry']['list']>[number]) => void) => {
    for (const svc of director.registry.list()) fn({ protocol: svc.protocolName, vip: svc.vipText, port: String(svc.port) }, svc);
  };
  const eachServer = (fn: (l: Labels, rs: ReturnType<Director['registry']['list']>[number]['servers'][number]) => void) => {
    eachService((l, svc) => {
      // VS/TUN never rewrites the port: the server's port is the service's.
      for (const rs of svc.servers) if (!rs.removed) fn({ ...l, server: rs.addressText, server_port: String(rs.port || svc.port) }, rs);
    });
  };

  const traffic = (scope: 'service' | 'real_server') => {
    const labelNames = scope === 'service' ? svcLabels : rsLabels;
    const each = scope === 'service' ? eachService : eachServer;
    const what = scope === 'service' ? 'virtual service' : 'real server';
    new Counter({
      name: `vstun_${scope}_connections_total`,
      help: `Connections scheduled to this ${what}.`,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        each((l, o) => this.inc(l, o.stats.conns));
      },
    });
    new Counter({
      name: `vstun_${scope}_packets_total`,
      help: `Packets forwarded for this ${what} (client to server; replies bypass the director).`,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        each((l, o) => this.inc(l, o.stats.inPkts));
      },
    });
    new Counter({
      name: `vstun_${scope}_bytes_total`,
      help: `Bytes (inner IP packets) forwarded for this ${what}.`,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        each((l, o) => this.inc(l, o.stats.inBytes));
      },
    });
    for (const [key, unit] of [
      ['cps', 'connections'],
      ['inPps', 'packets'],
      ['inBps', 'bytes'],
    ] as const) {
      new Gauge({
        name: `vstun_${scope}_${unit}_per_second`,
        help: `Estimated ${unit} per second for this ${what} (2 s EWMA, as ipvsadm --rate).`,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          each((l, o) => this.set(l, Math.round(o.stats[key])));
        },
      });
    }
  };
  traffic('service');
  traffic('real_server');

  for (const [name, help, read] of [
    ['vstun_real_server_active_connections', 'Connections in ESTABLISHED (ipvsadm ActiveConn).', (rs: { activeConns: number }) => rs.activeConns],
    ['vstun_real_server_inactive_connections', 'Other connections, UDP included (ipvsadm InActConn).', (rs: { inactConns: number }) => rs.inactConns],
    ['vstun_real_server_persistent_templates', 'Persistence templates pointing at the server.', (rs: { persistConns: number }) => rs.persistConns],
    ['vstun_real_server_weight', 'Configured weight (0 = quiescent).', (rs: { weight: number }) => rs.weight],
    ['vstun_real_server_available', '1 when the scheduler may pick the server (weight > 0, not overloaded or down).', (rs: { available: boolean }) => (rs.available ? 1 : 0)],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: rsLabels,
      registers: [registry],
      collect() {
        this.reset();
        eachServer((l, rs) => this.set(l, read(rs as never)));
      },
    });
  }

  new Counter({
    name: 'vstun_frames_total',
    help: 'Frames read from the TAP.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(director.datapath.framesIn);
    },
  });
  new Counter({
    name: 'vstun_drops_total',
    help: 'Frames dropped, by reason (every drop has one). tap-* and guard-* are dropped by the kernel before the director reads them, so they are not in vstun_frames_total.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      VERDICT_NAMES.forEach((name, i) => {
        if (name.startsWith('drop-')) this.inc({ reason: name.slice(5) }, director.datapath.verdicts[i] ?? 0);
      });
      for (const [reason, n] of Object.entries(kernelDrops(director))) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'vstun_guard_dropped_total',
    help: 'New TCP SYNs (kind syn-flood) and new UDP flows (kind udp-flood) over the per-VIP rate, dropped by the nftables guard before the TAP.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(kernelDrops(director))) if (reason.startsWith('guard-')) this.inc({ kind: reason.slice(6) }, n);
    },
  });
  new Counter({
    name: 'vstun_verdicts_total',
    help: 'Frames by verdict (forward, replies, drops); frames in = the sum over verdicts other than drop-tx-failed.',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      this.reset();
      VERDICT_NAMES.forEach((name, i) => this.inc({ verdict: name }, director.datapath.verdicts[i] ?? 0));
    },
  });
  new Gauge({
    name: 'vstun_conn_table_entries',
    help: 'Entries in the connection table (connections and persistence templates).',
    registers: [registry],
    collect() {
      this.set(director.tableStats().entries);
    },
  });
  new Gauge({
    name: 'vstun_conn_table_capacity',
    help: 'Most entries the connection table holds (fixed at start).',
    registers: [registry],
    collect() {
      this.set(director.tableStats().capacity);
    },
  });
  new Gauge({
    name: 'vstun_conn_table_occupancy_ratio',
    help: 'Entries / capacity of the connection table.',
    registers: [registry],
    collect() {
      const t = director.tableStats();
      this.set(t.capacity > 0 ? t.entries / t.capacity : 0);
    },
  });
  new Counter({
    name: 'vstun_conn_table_evictions_total',
    help: 'Live entries evicted because the table was full, by kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const s = director.tableStats();
      this.inc({ kind: 'established' }, s.evictedEstablished);
      this.inc({ kind: 'other' }, s.evictedOther);
    },
  });
  new Gauge({
    name: 'vstun_services',
    help: 'Virtual services configured.',
    registers: [registry],
    collect() {
      this.set(director.registry.list().length);
    },
  });
  const batch = new Histogram({
    name: 'vstun_batch_packets',
    help: 'Packets per batch read from the TAP (one observation per batch, never per packet).',
    buckets: [...BATCH_SIZE_BUCKETS],
    registers: [registry],
  });
  director.batchObserver = (n) => batch.observe(n);
  registerHealthGauge(registry);
  registerIpvsCompatMetrics(registry, director);
  return registry;
}
