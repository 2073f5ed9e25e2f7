// /metrics scraped over HTTP from a director that forwarded real frames, and checked line
// by line with a strict exposition reader (which is itself shown to reject bad input).
import { afterEach, describe, expect, test } from 'vitest';
import { ACK, SYN, tcpFrame } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { createDirectorMetrics } from './director-metrics.js';
import { parseExposition, type Sample } from './exposition-check.js';
import { resetServerHealth, setServerHealth } from './health-gauge.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { buildInfo } from './build-info.js';
import { registerRuntimeMetrics } from './runtime-metrics.js';
import { registerKernelDrops } from '../director/kernel-drops.js';
import { directorCounters } from '../control/director-ops.js';

let t: TestDirector | undefined;
let m: MetricsServer | undefined;
afterEach(async () => {
  await m?.close();
  await t?.close();
  resetServerHealth();
  m = t = undefined;
});

const VIP = '10.77.0.100';
const one = (samples: Sample[], name: string, labels: Record<string, string> = {}) => {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0].value;
};

describe('director /metrics', () => {
  test('is valid exposition and carries per-service/per-RS traffic, drops by reason, table occupancy, batch sizes and health', async () => {
    t = await startTestDirector({ services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2' }, { address: '10.77.4.2' }] }] });
    const registry = createDirectorMetrics(t.director);
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40000, flags: ACK }), tcpFrame({ sport: 40001, flags: ACK })]);
    t.device.inject([tcpFrame({ sport: 40002, flags: SYN, dst: '10.77.0.222' })]);
    // A label value that needs every escape the format has.
    setServerHealth('tcp:10.77.0.100:80', 'odd "name" \\ with\nnewline', false);
    setServerHealth('tcp:10.77.0.100:80', '10.77.3.2', true);
    m = await startMetricsServer(registry, '127.0.0.1:0');
    const res = await fetch(`http://${m.address}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    const s = parseExposition(text);
    const svc = { protocol: 'tcp', vip: VIP, port: '80' };
    expect(one(s, 'vstun_service_packets_total', svc)).toBe(2);
    expect(one(s, 'vstun_service_connections_total', svc)).toBe(1);
    expect(one(s, 'vstun_real_server_packets_total', { ...svc, server: '10.77.3.2' })).toBe(2);
    expect(one(s, 'vstun_real_server_active_connections', { ...svc, server: '10.77.3.2' })).toBe(1);
    expect(one(s, 'vstun_real_server_bytes_total', { ...svc, server: '10.77.4.2' })).toBe(0);
    expect(one(s, 'vstun_service_packets_per_second', svc)).toBe(0);
    expect(one(s, 'vstun_drops_total', { reason: 'tcp-not-syn' })).toBe(1);
    expect(one(s, 'vstun_drops_total', { reason: 'not-vip' })).toBe(1);
    expect(one(s, 'vstun_frames_total')).toBe(4);
    expect(one(s, 'vstun_conn_table_entries')).toBe(1);
    expect(one(s, 'vstun_conn_table_capacity')).toBe(1 << 20);
    expect(one(s, 'vstun_batch_packets_count')).toBe(2);
    expect(one(s, 'vstun_batch_packets_sum')).toBe(4);
    expect(one(s, 'vstun_batch_packets_bucket', { le: '2' })).toBe(1);
    expect(one(s, 'vstun_batch_packets_bucket', { le: '+Inf' })).toBe(2);
    expect(one(s, 'vstun_real_server_up', { server: 'odd "name" \\ with\nnewline' })).toBe(0);
    expect(one(s, 'vstun_real_server_up', { server: '10.77.3.2' })).toBe(1);
    expect(text).toContain('server="odd \\"name\\" \\\\ with\\nnewline"');
    // One label scheme: health and traffic series of a server carry the same labels.
    const rsLabels = { ...svc, server: '10.77.3.2', server_port: '80' };
    expect(s.find((x) => x.name === 'vstun_real_server_up' && x.labels.server === '10.77.3.2')!.labels).toEqual(rsLabels);
    expect(s.find((x) => x.name === 'vstun_real_server_packets_total' && x.labels.server === '10.77.3.2')!.labels).toEqual(rsLabels);
    expect((await fetch(`http://${m.address}/other`)).status).toBe(404);
    expect((await fetch(`http://${m.address}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  test('runtime series: process_*, nodejs_*, the event-loop delay histogram and vstun_build_info', async () => {
    t = await startTestDirector({});
    const registry = createDirectorMetrics(t.director);
    const loop = registerRuntimeMetrics(registry, 'vstun-director');
    try {
      await new Promise((r) => setTimeout(r, 200));
      const s = parseExposition(await registry.metrics());
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
        expect(s.some((x) => x.name === name), name).toBe(true);
      }
      expect(one(s, 'vstun_event_loop_delay_seconds_count')).toBeGreaterThan(0);
      expect(one(s, 'vstun_event_loop_delay_seconds_bucket', { le: '+Inf' })).toBe(one(s, 'vstun_event_loop_delay_seconds_count'));
      const info = s.find((x) => x.name === 'vstun_build_info')!;
      expect(info.value).toBe(1);
      expect(info.labels).toMatchObject({ daemon: 'vstun-director', version: buildInfo().version, node: process.version });
      expect(buildInfo().version).toMatch(/^\d+\.\d+\.\d+/);
      expect(loop.take().samples).toBeGreaterThan(0);
    } finally {
      loop.stop();
    }
  });

  test('a taken port is a clear startup error', async () => {
    t = await startTestDirector({});
    const registry = createDirectorMetrics(t.director);
    m = await startMetricsServer(registry, '127.0.0.1:0');
    await expect(startMetricsServer(registry, m.address)).rejects.toThrow(/the port is in use; pick another with --metrics/);
  });
});

describe('exposition reader rejects what Prometheus would', () => {
  const ok = '# HELP a_total A thing.\n# TYPE a_total counter\na_total{x="1"} 3\n';
  test('accepts a well-formed family', () => {
    expect(parseExposition(ok)).toEqual([{ name: 'a_total', labels: { x: '1' }, value: 3 }]);
  });
  test('reads NaN in any case, as Prometheus does (prom-client writes "Nan")', () => {
    const gauge = (v: string) => `# HELP g A gauge.\n# TYPE g gauge\ng ${v}\n`;
    for (const v of ['NaN', 'Nan', 'nan']) expect(parseExposition(gauge(v))[0]!.value).toBeNaN();
    expect(() => parseExposition(gauge('Nanx'))).toThrow('bad value');
  });
  test.each([
    ['a bad escape', ok.replace('x="1"', 'x="\\q"'), 'bad escape'],
    ['an unquoted label', ok.replace('x="1"', 'x=1'), 'quoted'],
    ['a sample without HELP/TYPE', 'b 1\n', 'outside its family'],
    ['TYPE without HELP', '# TYPE a counter\na 1\n', 'lacks a HELP/TYPE pair'],
    ['a second HELP', '# HELP a_total A.\n' + ok, 'second HELP'],
    ['HELP after the samples', ok + '# HELP a_total again\n', 'after its samples'],
    ['an unknown type', ok.replace('counter', 'countr'), 'unknown type'],
    ['a bad value', ok.replace('} 3', '} 3x'), 'bad value'],
    ['no final newline', ok.slice(0, -1), 'newline'],
    ['a sample of another family', ok + 'c_total 1\n', 'outside its family'],
  ])('%s', (_n, text, msg) => {
    expect(() => parseExposition(text)).toThrow(msg);
  });

  test('counts the kernel-side drops (TAP queue, guard) in vstun_drops_total and vstun_guard_dropped_total, and in vstunadm counters', async () => {
    t = await startTestDirector({ services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2' }] }] });
    registerKernelDrops(t.director, { read: () => ({ 'tap-queue-full': 12, 'guard-syn-flood': 30, 'guard-udp-flood': 4 }) });
    const registry = createDirectorMetrics(t.director);
    m = await startMetricsServer(registry, '127.0.0.1:0');
    const samples = parseExposition(await (await fetch(`http://${m.address}/metrics`)).text());
    expect(one(samples, 'vstun_drops_total', { reason: 'tap-queue-full' })).toBe(12);
    expect(one(samples, 'vstun_drops_total', { reason: 'guard-syn-flood' })).toBe(30);
    expect(one(samples, 'vstun_guard_dropped_total', { kind: 'syn-flood' })).toBe(30);
    expect(one(samples, 'vstun_guard_dropped_total', { kind: 'udp-flood' })).toBe(4);
    expect(directorCounters(t.director).kernelDrops).toEqual({ 'tap-queue-full': 12, 'guard-syn-flood': 30, 'guard-udp-flood': 4 });
  });
});
