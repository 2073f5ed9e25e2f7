// The reconciler as vstunadm drives it (control socket → ops → reconcile), with a fake host
// that records the VIP routes: IPv6 services do not break later changes (issue 11 bug 1),
// a change is all-or-nothing across the data path, the listing and the host (bug 2, item
// "run-time changes reach the host"), and tunnel sources are looked up in one asynchronous
// batch instead of a blocking child per server (bug 6).
import { afterEach, describe, expect, test } from 'vitest';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { classify } from '../../test/fixtures/director/classify.js';
import { fakeHost, type FakeHost } from '../../test/fixtures/director/fake-host.js';
import { validateDirectorConfig } from './config-loader.js';
import { applyConfig } from './config-reload.js';
import { TunnelSources } from '../director/tunnel-source.js';
import { Ipv6AddressTable, parseAddressId } from '../director/address-id.js';

const VIP4 = '10.77.0.100';
const VIP6 = 'fd77::100';
const CONFIG = {
  services: [
    { protocol: 'tcp', vip: VIP4, port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2' }] },
    { protocol: 'tcp', vip: VIP6, port: 80, scheduler: 'rr', realServers: [{ address: 'fd77:3::2' }] },
  ],
};

let open: TestDirector[] = [];
async function plainDirector(config: unknown = CONFIG): Promise<TestDirector> {
  const t = await startTestDirector(config);
  open.push(t);
  return t;
}

async function director(config: unknown = CONFIG): Promise<{ t: TestDirector; host: FakeHost }> {
  const t = await plainDirector(config);
  const host = fakeHost();
  t.director.vipRoutes = host.routes;
  // Route what the config already holds, as host setup does at start.
  await t.vstunadm(['-Z']);
  return { t, host };
}
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

async function ok(t: TestDirector, argv: string[], stdin?: string): Promise<string> {
  const r = await t.vstunadm(argv, stdin);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('IPv6 services next to IPv4 ones (bug 1)', () => {
  test('a reload of the unchanged config and later -A/-e/-Z/--set all succeed', async () => {
    const t = await plainDirector();
    await applyConfig(t.director, t.state, validateDirectorConfig(CONFIG));
    await ok(t, ['-A', '-t', '10.77.0.101:80', '-s', 'wrr']);
    await ok(t, ['-e', '-t', `${VIP4}:80`, '-r', '10.77.3.2', '-i', '-w', '3']);
    await ok(t, ['-Z']);
    await ok(t, ['--set', '900', '120', '300']);
    expect(classify(t.director, t.device, 'tcp', VIP6, 80)).toBe('service');
    expect(classify(t.director, t.device, 'tcp', VIP4, 80)).toBe('service');
  });
});

describe('all or nothing (bug 2)', () => {
  test('-C with an IPv6 service present clears both, and the data path agrees with -S', async () => {
    const t = await plainDirector();
    await ok(t, ['-C']);
    expect(await ok(t, ['-S', '-n'])).toBe('');
    expect(classify(t.director, t.device, 'tcp', VIP4, 80)).toBe('not-vip');
    expect(classify(t.director, t.device, 'tcp', VIP6, 80)).toBe('not-vip');
  });

  test('-C takes the VIP routes off the host', async () => {
    const { t, host } = await director();
    expect([...host.table].sort()).toEqual([`${VIP4}/32`, `${VIP6}/128`]);
    await ok(t, ['-C']);
    expect(host.table.size).toBe(0);
  });

  test('a route the host refuses fails the whole -R: services, data path and routes stay as they were', async () => {
    const { t, host } = await director();
    const before = await ok(t, ['-S', '-n']);
    const routes = [...host.table].sort();
    host.refuse.add('10.77.0.200');
    // Deletes the IPv4 service and adds one whose VIP cannot be routed: neither may happen.
    const r = await t.vstunadm(['-R'], `-D -t ${VIP4}:80\n-A -t 10.77.0.200:80 -s rr\n-a -t 10.77.0.200:80 -r 10.77.3.9 -i -w 1\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot route a VIP.*10\.77\.0\.200.*nothing was changed/s);
    expect(await ok(t, ['-S', '-n'])).toBe(before);
    expect(classify(t.director, t.device, 'tcp', VIP4, 80)).toBe('service');
    expect(classify(t.director, t.device, 'tcp', '10.77.0.200', 80)).toBe('not-vip');
    expect([...host.table].sort()).toEqual(routes);
  });
});

describe('run-time VIPs reach the host', () => {
  test('-A routes a new IPv4 or IPv6 VIP into the TAP, -D of its last service removes it', async () => {
    const { t, host } = await director({ services: [] });
    await ok(t, ['-A', '-t', '10.77.0.7:80', '-s', 'rr']);
    await ok(t, ['-A', '-u', '10.77.0.7:53', '-s', 'rr']);
    await ok(t, ['-A', '-t', '[fd77::7]:443', '-s', 'rr']);
    expect([...host.table].sort()).toEqual(['10.77.0.7/32', 'fd77::7/128']);
    expect(host.log).toContain('route add 10.77.0.7/32 via 169.254.77.2 dev vstun0');
    expect(host.log).toContain('route add fd77::7/128 via fe80::2 dev vstun0');
    await ok(t, ['-D', '-t', '10.77.0.7:80']);
    expect(host.table.has('10.77.0.7/32')).toBe(true); // the UDP service still needs it
    await ok(t, ['-D', '-u', '10.77.0.7:53']);
    await ok(t, ['-D', '-t', '[fd77::7]:443']);
    expect(host.table.size).toBe(0);
    // Removed routes leave no undo record behind; the exit undo has nothing left to do.
    expect(host.changes.applied.filter((c) => c.kind === 'route')).toEqual([]);
  });

  test('concurrent changes are serialized: none is lost', async () => {
    const { t, host } = await director({ services: [] });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.vstunadm(['-A', '-t', `10.77.1.${i + 1}:80`, '-s', 'rr'])));
    expect(results.map((r) => r.code)).toEqual(results.map(() => 0));
    expect(host.table.size).toBe(20);
    expect((await ok(t, ['-S', '-n'])).trim().split('\n')).toHaveLength(20);
  });
});

describe('tunnel sources (bug 6)', () => {
  test('one asynchronous batch per change finds the source of every new server; none runs on the event loop', async () => {
    const batches: string[][] = [];
    const table = new Ipv6AddressTable(64);
    const id = (text: string) => parseAddressId(text, table)!;
    const sources = new TunnelSources(undefined, table, async (lines) => {
      batches.push(lines);
      return {
        stdout: lines
          .filter((l) => !l.endsWith('10.9.9.9'))
          .map((l) => (l.includes(':') ? `${l.split(' ')[2]} from :: via fe80::1 dev eth0 src fd77:2::1 metric 1024 pref medium` : `${l.split(' ')[2]} via 10.0.0.1 dev eth0 src 10.77.2.1 uid 0 \\    cache `))
          .join('\n'),
        stderr: lines.some((l) => l.endsWith('10.9.9.9')) ? 'RTNETLINK answers: Network is unreachable\nCommand failed -:3\n' : '',
      };
    });
    const rs = Array.from({ length: 100 }, (_, i) => `10.77.${3 + (i >> 8)}.${(i & 255) + 1}`);
    expect(() => sources.dipFor(id(rs[0]))).toThrow(/not looked up yet/);
    await sources.prepare([...rs, 'fd77:3::2']);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(101);
    expect(sources.dipFor(id(rs[99]))).toBe(id('10.77.2.1'));
    expect(sources.dipFor(id('fd77:3::2'))).toBe(id('fd77:2::1'));
    await sources.prepare(rs); // cached: no second child
    expect(batches).toHaveLength(1);
    await expect(sources.prepare(['10.9.9.9'])).rejects.toThrow(/no route to real server 10\.9\.9\.9 \(RTNETLINK answers: Network is unreachable\)/);
  });
});
