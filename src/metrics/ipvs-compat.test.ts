// The node_exporter-compatible IPVS series: a director holding the table of node_exporter's
// own IPVS test data is scraped over HTTP, and every node_ipvs_* family is compared with
// node_exporter's recorded output (test/fixtures/metrics/node-exporter-ipvs.prom, see the
// README beside it): HELP, TYPE, series names, label sets and weights.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { SYN, tcpFrame } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { createDirectorMetrics } from './director-metrics.js';
import { parseExposition, type Sample } from './exposition-check.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

const FIXTURE = new URL('../../test/fixtures/metrics/node-exporter-ipvs.prom', import.meta.url);

/** node_exporter's fixture table: VIP → [RS, weight]; every port 3306, TCP. */
const TABLE: Array<[string, Array<[string, number]>]> = [
  ['192.168.0.22', [['192.168.82.22', 100], ['192.168.83.21', 100], ['192.168.83.24', 100]]],
  ['192.168.0.55', [['192.168.49.32', 100], ['192.168.50.26', 0]]],
  ['192.168.0.57', [['192.168.50.21', 100], ['192.168.82.21', 100], ['192.168.84.22', 0]]],
];

const ipvsOnly = (samples: Sample[]) => samples.filter((s) => s.name.startsWith('node_ipvs_'));
const seriesKey = (s: Sample) => `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;
/** HELP and TYPE lines of the node_ipvs_* families, sorted. */
const metaLines = (text: string) => text.split('\n').filter((l) => /^# (HELP|TYPE) node_ipvs_/.test(l)).sort();

let t: TestDirector | undefined;
let m: MetricsServer | undefined;
afterEach(async () => {
  await m?.close();
  await t?.close();
  m = t = undefined;
});

describe('node_exporter IPVS compatibility', () => {
  test('every node_ipvs_* family, series and label set matches node_exporter for the same table', async () => {
    t = await startTestDirector({
      services: TABLE.map(([vip, servers]) => ({ protocol: 'tcp', vip, port: 3306, scheduler: 'wrr', realServers: servers.map(([address, weight]) => ({ address, weight })) })),
    });
    m = await startMetricsServer(createDirectorMetrics(t.director), '127.0.0.1:0');
    const text = await (await fetch(`http://${m.address}/metrics`)).text();
    const expectedText = readFileSync(FIXTURE, 'utf8');
    const got = ipvsOnly(parseExposition(text));
    const want = ipvsOnly(parseExposition(expectedText));

    expect(metaLines(text)).toEqual(metaLines(expectedText));
    expect(got.map(seriesKey).sort()).toEqual(want.map(seriesKey).sort());
    // Label names in node_exporter's order too (it sorts them), so even a text diff is clean.
    const backendLine = text.split('\n').find((l) => l.startsWith('node_ipvs_backend_weight{'))!;
    expect(backendLine).toMatch(/^node_ipvs_backend_weight\{local_address="[^"]+",local_mark="",local_port="3306",proto="TCP",remote_address="[^"]+",remote_port="3306"\} \d+$/);
    const weights = (ss: Sample[]) => ss.filter((s) => s.name === 'node_ipvs_backend_weight').map((s) => `${seriesKey(s)} ${s.value}`).sort();
    expect(weights(got)).toEqual(weights(want));
    // No traffic yet: every counter and connection gauge is 0 (node_exporter's fixture has its host's traffic).
    for (const s of got) if (s.name !== 'node_ipvs_backend_weight') expect(s.value, seriesKey(s)).toBe(0);
  });

  test('the totals and backend gauges follow the traffic, as IPVS counts it', async () => {
    t = await startTestDirector({ services: [{ protocol: 'tcp', vip: '10.77.0.100', port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2' }] }] });
    m = await startMetricsServer(createDirectorMetrics(t.director), '127.0.0.1:0');
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40001, flags: SYN })]);
    const s = ipvsOnly(parseExposition(await (await fetch(`http://${m.address}/metrics`)).text()));
    const value = (name: string) => s.find((x) => x.name === name)!.value;
    expect(value('node_ipvs_connections_total')).toBe(2);
    expect(value('node_ipvs_incoming_packets_total')).toBe(2);
    expect(value('node_ipvs_incoming_bytes_total')).toBeGreaterThan(0);
    expect(value('node_ipvs_outgoing_packets_total')).toBe(0);
    const rs = { local_address: '10.77.0.100', local_mark: '', local_port: '80', proto: 'TCP', remote_address: '10.77.3.2', remote_port: '80' };
    const backend = s.find((x) => x.name === 'node_ipvs_backend_connections_inactive')!;
    expect(backend.labels).toEqual(rs);
    expect(backend.value).toBe(2); // SYN_RECV is InActConn in IPVS
  });
});
