import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';
import type { ConnectionSnapshot, RealServerSnapshot, ServiceSnapshot, TrafficCounters, TrafficRates } from './admin-model.js';
import { tunnelFields, zeroCounters, zeroRates } from './admin-model.js';
import type { ListFormat } from './ipvsadm-args.js';
import {
  CONNECTIONS_JSON_SCHEMA,
  LIST_JSON_SCHEMA,
  formatConnections,
  formatConnectionsJson,
  formatExpire,
  formatLargeNumber,
  formatServiceList,
  formatServiceListJson,
  formatSingleService,
  formatTimeouts,
  formatTimeoutsJson,
} from './ipvsadm-format.js';
import { formatRules } from './ipvsadm-dump.js';

const FIXTURES = new URL('../../test/fixtures/ipvsadm/', import.meta.url);

/** The text after the fixture's `----8<----` header. */
function fixture(name: string): string {
  const text = readFileSync(new URL(name, FIXTURES), 'utf8');
  const marker = '\n----8<----\n';
  const at = text.indexOf(marker);
  if (at === -1) throw new Error(`${name}: no ----8<---- marker`);
  return text.slice(at + marker.length);
}

const trimLines = (text: string): string => text.replace(/[ \t]+$/gm, '');

const FORMAT: ListFormat = {
  numeric: true,
  stats: false,
  rate: false,
  thresholds: false,
  persistentConn: false,
  exact: false,
  sort: true,
  tunInfo: false,
  json: false,
};
const fmt = (over: Partial<ListFormat> = {}): ListFormat => ({ ...FORMAT, ...over });

const counters = (c: number[]): TrafficCounters => ({ conns: c[0], inpkts: c[1], outpkts: c[2], inbytes: c[3], outbytes: c[4] });
const rates = (r: number[]): TrafficRates => ({ cps: r[0], inpps: r[1], outpps: r[2], inbps: r[3], outbps: r[4] });

function server(
  address: string,
  port: number,
  o: { weight?: number; active?: number; inact?: number; persist?: number; stats?: number[]; rates?: number[]; gue?: number } = {},
): RealServerSnapshot {
  return {
    address,
    port,
    weight: o.weight ?? 1,
    forward: 'tunnel',
    ...(o.gue === undefined ? tunnelFields(address, 'ipip') : tunnelFields(address, 'gue', o.gue)),
    effectiveWeight: o.weight ?? 1,
    activeConns: o.active ?? 0,
    inactConns: o.inact ?? 0,
    persistConns: o.persist ?? 0,
    stats: o.stats ? counters(o.stats) : zeroCounters(),
    rates: o.rates ? rates(o.rates) : zeroRates(),
  };
}

function service(
  protocol: 'tcp' | 'udp',
  vip: string,
  port: number,
  servers: RealServerSnapshot[],
  o: Partial<Pick<ServiceSnapshot, 'scheduler' | 'flags' | 'persistence' | 'netmask' | 'onePacket'>> & { stats?: number[]; rates?: number[] } = {},
): ServiceSnapshot {
  const snap: ServiceSnapshot = {
    key: { protocol, vip, port },
    scheduler: o.scheduler ?? 'wlc',
    flags: o.flags ?? [],
    onePacket: o.onePacket ?? false,
    stats: o.stats ? counters(o.stats) : zeroCounters(),
    rates: o.rates ? rates(o.rates) : zeroRates(),
    servers,
  };
  if (o.persistence !== undefined) snap.persistence = o.persistence;
  if (o.netmask !== undefined) snap.netmask = o.netmask;
  return snap;
}

// The same configuration as make-golden.py's SERVICES, deliberately unsorted.
const GOLDEN_SERVICES: ServiceSnapshot[] = [
  service('udp', '10.0.0.1', 53, [server('10.0.1.2', 53, { inact: 3, stats: [5, 7, 0, 420, 0], rates: [1, 2, 0, 120, 0] })], {
    scheduler: 'mh',
    flags: ['mh-fallback', 'mh-port'],
    onePacket: true,
    stats: [5, 7, 0, 420, 0],
    rates: [1, 2, 0, 120, 0],
  }),
  service(
    'tcp',
    '10.0.0.1',
    443,
    [
      server('10.0.1.3', 443, { weight: 3, active: 7, inact: 1, persist: 2, stats: [99999999, 100000000, 0, 1000000000, 0], rates: [100000000, 3, 0, 99999999999, 0] }),
      server('10.0.1.2', 443, { weight: 2, persist: 1, stats: [1, 999999999, 0, 100000000000, 0], rates: [0, 2, 0, 100000000000000, 0] }),
    ],
    {
      scheduler: 'wrr',
      persistence: 600,
      netmask: '255.255.255.0',
      stats: [100000000, 999999999, 0, 123456789012, 0],
      rates: [123456789, 5, 0, 1000000000000000, 0],
    },
  ),
  service(
    'tcp',
    '10.0.0.1',
    80,
    [
      server('10.0.1.10', 80, { gue: 6080, active: 12, inact: 345, stats: [1000, 50000, 0, 6000000, 0], rates: [2, 30, 0, 4000, 0] }),
      server('10.0.1.9', 80, { weight: 0, inact: 6789, stats: [234, 6789, 0, 543210, 0], rates: [1, 10, 0, 1000, 0] }),
    ],
    { stats: [1234, 56789, 0, 6543210, 0], rates: [3, 40, 0, 5000, 0] },
  ),
  service(
    'tcp',
    '2001:db8::1',
    80,
    [
      server('2001:db8::a0a0', 80, { gue: 5555, weight: 65535, active: 1, persist: 1, stats: [1, 10, 0, 1000, 0] }),
      server('10.0.1.2', 80, { weight: 5, inact: 1, stats: [1, 10, 0, 1000, 0] }),
    ],
    { scheduler: 'sh', flags: ['sh-port'], persistence: 300, netmask: 64, stats: [2, 20, 0, 2000, 0] },
  ),
];

const GOLDEN_CONNECTIONS: ConnectionSnapshot[] = [
  { protocol: 'tcp', expires: 899, state: 'ESTABLISHED', client: { address: '198.51.100.7', port: 51922 }, virtual: { address: '10.0.0.1', port: 80 }, server: { address: '10.0.1.10', port: 80 } },
  { protocol: 'tcp', expires: 10803, state: 'NONE', client: { address: '198.51.100.9', port: 0 }, virtual: { address: '10.0.0.1', port: 443 }, server: { address: '10.0.1.3', port: 443 } },
  { protocol: 'udp', expires: 5, state: 'UDP', client: { address: '2001:db8:ffff::1234', port: 40000 }, virtual: { address: '2001:db8::1', port: 53 }, server: { address: '2001:db8::a0a0', port: 53 } },
];

const listing = { connTableSize: 4096, services: GOLDEN_SERVICES };

describe('golden: exact text from ipvsadm.c formats (trailing blanks included)', () => {
  test.each([
    { file: 'list.golden.txt', format: fmt() },
    { file: 'list-stats.golden.txt', format: fmt({ stats: true }) },
    { file: 'list-stats-exact.golden.txt', format: fmt({ stats: true, exact: true }) },
    { file: 'list-rate.golden.txt', format: fmt({ rate: true }) },
    { file: 'list-rate-exact.golden.txt', format: fmt({ rate: true, exact: true }) },
    { file: 'list-persistent-conn.golden.txt', format: fmt({ persistentConn: true }) },
    { file: 'list-tun-info.golden.txt', format: fmt({ tunInfo: true }) },
  ])('$file', ({ file, format }) => {
    expect(formatServiceList(listing, format)).toBe(fixture(file));
  });

  it('save.golden.txt: -S from the same snapshots', () => {
    expect(formatRules(GOLDEN_SERVICES)).toBe(fixture('save.golden.txt'));
  });

  it('connections.golden.txt and connections-persistent.golden.txt', () => {
    expect(formatConnections(GOLDEN_CONNECTIONS, { persistentConn: false })).toBe(fixture('connections.golden.txt'));
    expect(formatConnections(GOLDEN_CONNECTIONS, { persistentConn: true })).toBe(fixture('connections-persistent.golden.txt'));
  });
});

describe('public ipvsadm output, every column (trailing blanks not kept by web copies)', () => {
  it('list-tunnel.public.txt: -Ln with two Tunnel servers', () => {
    const snaps = [service('tcp', '10.0.0.10', 80, [server('10.0.0.202', 80), server('10.0.0.201', 80)], { scheduler: 'rr' })];
    const out = formatServiceList({ connTableSize: 4096, services: snaps }, fmt());
    expect(trimLines(out)).toBe(trimLines(fixture('list-tunnel.public.txt')));
    // The real ipvsadm pads InActConn to 10 columns; the first public row kept its blanks.
    expect(out.split('\n')[4]).toBe(fixture('list-tunnel.public.txt').split('\n')[4]);
  });

  it('stats-scaled.public.txt: K and M scaling', () => {
    const snaps = [
      service(
        'tcp',
        '20.20.20.1',
        2020,
        [
          server('17.17.17.1', 5001, { stats: [134, 3026088, 3031335, 281255123, 384268999] }),
          server('32.32.32.1', 5001, { stats: [134, 2953608, 2958191, 274518000, 375034500] }),
        ],
        { stats: [401, 8939187, 8953980, 830843001, 1135999999] },
      ),
    ];
    const out = formatServiceList({ connTableSize: 4096, services: snaps }, fmt({ stats: true }));
    expect(trimLines(out)).toBe(trimLines(fixture('stats-scaled.public.txt')));
  });

  it('stats-tcp-udp.public.txt: TCP sorted before UDP, version and size as given', () => {
    const snaps = [
      service('udp', '192.168.88.3', 6000, [server('192.168.88.215', 6000, { stats: [1, 1020420, 0, 1528000000, 0] })], {
        stats: [1, 1020420, 0, 1528999999, 0],
      }),
      service('tcp', '192.168.88.2', 22, [server('192.168.88.215', 22, { stats: [142, 142, 142, 7384, 5680] })], {
        stats: [142, 142, 142, 7384, 5680],
      }),
      service('tcp', '192.168.88.1', 80, [server('192.168.88.215', 80, { stats: [1, 1969674, 103645, 2938123456, 4218283] })], {
        stats: [1, 1969674, 103645, 2938000000, 4218283],
      }),
    ];
    const out = formatServiceList({ connTableSize: 0, version: '0.0.0', services: snaps }, fmt({ stats: true }));
    expect(trimLines(out)).toBe(trimLines(fixture('stats-tcp-udp.public.txt')));
  });

  it('rate.public.txt and stats.public.txt (--stats wins over --rate)', () => {
    const snaps = [
      service(
        'tcp',
        '192.168.1.100',
        80,
        [
          server('172.17.0.3', 80, { stats: [17, 119, 85, 7633, 8721], rates: [0, 0, 0, 27, 30] }),
          server('172.17.0.2', 80, { stats: [12, 84, 60, 5388, 6156], rates: [0, 0, 0, 6, 7] }),
        ],
        { stats: [29, 203, 145, 13021, 14877], rates: [0, 1, 0, 33, 38] },
      ),
    ];
    const input = { connTableSize: 4096, services: snaps };
    expect(trimLines(formatServiceList(input, fmt({ rate: true })))).toBe(trimLines(fixture('rate.public.txt')));
    expect(trimLines(formatServiceList(input, fmt({ stats: true, rate: true })))).toBe(trimLines(fixture('stats.public.txt')));
  });

  it('connections.public.txt: -Lnc, long addresses push columns, minutes past 99', () => {
    const conns: ConnectionSnapshot[] = [
      { protocol: 'tcp', expires: 114, state: 'TIME_WAIT', client: { address: '192.168.123.248', port: 35672 }, virtual: { address: '10.254.66.97', port: 8080 }, server: { address: '172.20.135.6', port: 8080 } },
      { protocol: 'tcp', expires: 180 * 60 + 3, state: 'NONE', client: { address: '192.168.123.248', port: 0 }, virtual: { address: '10.254.66.97', port: 8080 }, server: { address: '172.20.135.6', port: 8080 } },
    ];
    expect(trimLines(formatConnections(conns, { persistentConn: false }))).toBe(trimLines(fixture('connections.public.txt')));
  });

  it('timeout.public.txt', () => {
    expect(formatTimeouts({ tcp: 900, tcpfin: 120, udp: 300 })).toBe(fixture('timeout.public.txt'));
  });
});

describe('formatLargeNumber (print_largenum)', () => {
  test.each([
    { value: 0, exact: false, out: '        0' },
    { value: 99_999_999, exact: false, out: ' 99999999' },
    { value: 100_000_000, exact: false, out: '  100000K' },
    { value: 999_999_999, exact: false, out: '  999999K' },
    { value: 1_000_000_000, exact: false, out: '    1000M' },
    { value: 99_999_999_999, exact: false, out: '   99999M' },
    { value: 100_000_000_000, exact: false, out: '     100G' },
    { value: 99_999_999_999_999, exact: false, out: '   99999G' },
    { value: 100_000_000_000_000, exact: false, out: '     100T' },
    { value: 12_345_678, exact: true, out: ' 12345678' },
    { value: 123_456_789, exact: true, out: ' 123456789' },
    { value: 1_000_000_000_000, exact: true, out: ' 1000000000000' },
  ])('$value exact=$exact', ({ value, exact, out }) => {
    expect(formatLargeNumber(value, exact)).toBe(out);
  });
});

describe('service line details', () => {
  it('-L -t VIP:PORT prints the title and the one service, no version line', () => {
    const out = formatSingleService(GOLDEN_SERVICES[2], fmt());
    expect(out).toBe(fixture('list.golden.txt').split('\n').slice(1, 6).join('\n') + '\n');
  });

  it('--nosort keeps the order given', () => {
    const out = formatServiceList(listing, fmt({ sort: false }));
    const serviceLines = out.split('\n').filter((l) => /^(TCP|UDP) /.test(l));
    expect(serviceLines.map((l) => l.split(' ')[2])).toEqual(['10.0.0.1:53', '10.0.0.1:443', '10.0.0.1:80', '[2001:db8::1]:80']);
  });

  it('prints the effective weight (what the scheduler uses) in -L, the configured weight in -S', () => {
    const s = service('tcp', '10.0.0.1', 80, [{ ...server('10.0.1.2', 80, { weight: 5 }), effectiveWeight: 0 }]);
    expect(formatServiceList({ connTableSize: 4096, services: [s] }, fmt()).split('\n')[4]).toBe(
      '  -> 10.0.1.2:80                  Tunnel  0      0          0         ',
    );
    expect(formatRules([s])).toContain('-r 10.0.1.2:80 -i -w 5');
  });

  it('--tun-info adds the TunnelInfo column', () => {
    const s = service('tcp', '10.0.0.1', 80, [server('10.0.1.2', 80)]);
    const lines = formatServiceList({ connTableSize: 4096, services: [s] }, fmt({ tunInfo: true })).split('\n');
    expect(lines[2]).toBe('  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn');
    expect(lines[4]).toBe('  -> 10.0.1.2:80                  Tunnel  ipip          1      0          0         ');
  });

  it('--thresholds shows both thresholds as 0 (not set)', () => {
    const s = service('tcp', '10.0.0.1', 80, [server('10.0.1.2', 80, { active: 4, inact: 2 })]);
    const lines = formatServiceList({ connTableSize: 4096, services: [s] }, fmt({ thresholds: true })).split('\n');
    expect(lines[1]).toBe('Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ');
    expect(lines[4]).toBe('  -> 10.0.1.2:80                  0          0          4          2         ');
  });

  it('formatExpire', () => {
    expect(formatExpire(0)).toBe('00:00');
    expect(formatExpire(59)).toBe('00:59');
    expect(formatExpire(900)).toBe('15:00');
    expect(formatExpire(6000)).toBe('100:00');
  });
});

describe('--json', () => {
  it('list: stable schema, every key present, sorted like the text', () => {
    const parsed = JSON.parse(formatServiceListJson(listing, { sort: true }));
    expect(parsed.schema).toBe(LIST_JSON_SCHEMA);
    expect(parsed.connTableSize).toBe(4096);
    expect(parsed.version).toBe('1.2.1');
    expect(parsed.services.map((s: { vip: string; port: number }) => `${s.vip}:${s.port}`)).toEqual([
      '10.0.0.1:80',
      '10.0.0.1:443',
      '10.0.0.1:53',
      '2001:db8::1:80',
    ]);
    expect(parsed.services[0]).toEqual({
      protocol: 'tcp',
      vip: '10.0.0.1',
      port: 80,
      scheduler: 'wlc',
      flags: [],
      persistence: null,
      netmask: null,
      onePacket: false,
      stats: { conns: 1234, inpkts: 56789, outpkts: 0, inbytes: 6543210, outbytes: 0 },
      rates: { cps: 3, inpps: 40, outpps: 0, inbps: 5000, outbps: 0 },
      servers: [
        {
          address: '10.0.1.9',
          port: 80,
          forward: 'tunnel',
          tunType: 'ipip',
          tunPort: 0,
          tunChecksum: 'nocsum',
          weight: 0,
          effectiveWeight: 0,
          activeConns: 0,
          inactConns: 6789,
          persistConns: 0,
          stats: { conns: 234, inpkts: 6789, outpkts: 0, inbytes: 543210, outbytes: 0 },
          rates: { cps: 1, inpps: 10, outpps: 0, inbps: 1000, outbps: 0 },
        },
        expect.objectContaining({ address: '10.0.1.10', activeConns: 12, tunType: 'gue', tunPort: 6080, tunChecksum: 'nocsum' }),
      ],
    });
    expect(parsed.services[1]).toMatchObject({ persistence: 600, netmask: '255.255.255.0' });
  });

  it('connections and timeouts', () => {
    const conns = JSON.parse(formatConnectionsJson(GOLDEN_CONNECTIONS));
    expect(conns.schema).toBe(CONNECTIONS_JSON_SCHEMA);
    expect(conns.connections[2]).toEqual({
      protocol: 'udp',
      expires: 5,
      state: 'UDP',
      client: { address: '2001:db8:ffff::1234', port: 40000 },
      virtual: { address: '2001:db8::1', port: 53 },
      server: { address: '2001:db8::a0a0', port: 53 },
    });
    expect(JSON.parse(formatTimeoutsJson({ tcp: 900, tcpfin: 120, udp: 300 }))).toEqual({
      schema: 'vstun.ipvs.timeouts/1',
      tcp: 900,
      tcpfin: 120,
      udp: 300,
    });
  });
});
