// vstunadm end to end in one process: the CLI logic → the real Unix control socket → the
// ops → a Director over FakeDevice. Outputs are compared with ipvsadm's formats; -S → -R
// must round-trip exactly; bad input must fail with a clear message, a non-zero exit and
// no change.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ACK, CLIENT, SYN, tcpFrame, udpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { definitionsOf } from './service-definitions.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const RS3 = '10.77.5.2';

const BASE = {
  services: [
    { protocol: 'tcp', vip: VIP, port: 80, scheduler: 'wrr', realServers: [{ address: RS1, weight: 1 }, { address: RS2, weight: 2 }] },
    { protocol: 'udp', vip: VIP, port: 53, scheduler: 'rr', onePacket: true, realServers: [{ address: RS1 }] },
    { protocol: 'tcp', vip: VIP, port: 443, scheduler: 'mh', flags: ['mh-fallback'], persistence: 300, netmask: '255.255.255.0', realServers: [{ address: RS1 }, { address: RS2 }] },
  ],
};

let open: TestDirector[] = [];
async function director(config: unknown = BASE, configPath?: string): Promise<TestDirector> {
  const t = await startTestDirector(config, configPath);
  open.push(t);
  return t;
}
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

/** The exact bytes an operator would see. */
async function out(t: TestDirector, argv: string[], stdin?: string): Promise<string> {
  const r = await t.vstunadm(argv, stdin);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('vstunadm listings in ipvsadm formats', () => {
  test('-L -n: version line, both titles, Tunnel rows, counts from real traffic', async () => {
    const t = await director();
    // One established connection (SYN, ACK) and one half-open (SYN) through the data path.
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40000, flags: ACK }), tcpFrame({ sport: 40001, flags: SYN })]);
    expect(await out(t, ['-L', '-n'])).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=1048576)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  10.77.0.100:80 wrr',
        '  -> 10.77.3.2:80                 Tunnel  1      0          1         ',
        '  -> 10.77.4.2:80                 Tunnel  2      1          0         ',
        'TCP  10.77.0.100:443 mh (mh-fallback) persistent 300 mask 255.255.255.0',
        '  -> 10.77.3.2:443                Tunnel  1      0          0         ',
        '  -> 10.77.4.2:443                Tunnel  1      0          0         ',
        'UDP  10.77.0.100:53 rr ops',
        '  -> 10.77.3.2:53                 Tunnel  1      0          0         ',
        '',
      ].join('\n'),
    );
    // Bundled short options work as in ipvsadm.
    expect(await out(t, ['-Ln'])).toBe(await out(t, ['-L', '-n']));
  });

  test('-L -n --stats and --exact count the packets forwarded (OutPkts 0: replies bypass the director)', async () => {
    const t = await director({ services: [BASE.services[0]] });
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40000, flags: ACK })]);
    const frameLen = tcpFrame({ sport: 40000, flags: SYN }).length - 14;
    const stats = await out(t, ['-L', '-n', '--stats']);
    expect(stats).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=1048576)',
        'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
        '  -> RemoteAddress:Port',
        `TCP  10.77.0.100:80                      1        2        0${String(2 * frameLen).padStart(9)}        0`,
        '  -> 10.77.3.2:80                        0        0        0        0        0',
        `  -> 10.77.4.2:80                        1        2        0${String(2 * frameLen).padStart(9)}        0`,
        '',
      ].join('\n'),
    );
    expect(await out(t, ['-L', '-n', '--stats', '--exact'])).toBe(stats);
    expect(await out(t, ['-L', '-n', '--rate'])).toContain('Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS');
  });

  test('-L -c lists entries as ipvsadm -Lnc; --timeout and --set', async () => {
    const t = await director({ services: [BASE.services[0]] });
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40000, flags: ACK })]);
    expect(await out(t, ['-L', '-n', '-c'])).toBe(
      ['IPVS connection entries', 'pro expire state       source             virtual            destination', `TCP 15:00  ESTABLISHED ${CLIENT}:40000    ${VIP}:80     ${RS2}:80`, ''].join('\n'),
    );
    expect(await out(t, ['-L', '--timeout'])).toBe('Timeout (tcp tcpfin udp): 900 120 300\n');
    expect(await out(t, ['--set', '60', '0', '30'])).toBe('');
    expect(await out(t, ['-L', '--timeout'])).toBe('Timeout (tcp tcpfin udp): 60 120 30\n');
    expect(JSON.parse(await out(t, ['-L', '--timeout', '--json']))).toEqual({ schema: 'vstun.ipvs.timeouts/1', tcp: 60, tcpfin: 120, udp: 30 });
  });

  test('-L -t VIP:PORT lists one service without the version line; --json has every field', async () => {
    const t = await director();
    expect(await out(t, ['-L', '-n', '-u', `${VIP}:53`])).toBe(
      ['Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn', 'UDP  10.77.0.100:53 rr ops', '  -> 10.77.3.2:53                 Tunnel  1      0          0         ', ''].join('\n'),
    );
    const j = JSON.parse(await out(t, ['-L', '-n', '--json']));
    expect(j.schema).toBe('vstun.ipvs.list/1');
    expect(j.services.map((s: { port: number }) => s.port)).toEqual([80, 443, 53]);
    expect(j.services[1]).toMatchObject({ scheduler: 'mh', flags: ['mh-fallback'], persistence: 300, netmask: '255.255.255.0' });
    expect(j.services[0].servers[1]).toMatchObject({ address: RS2, port: 80, forward: 'tunnel', weight: 2 });
    expect(JSON.parse(await out(t, ['-L', '-c', '--json'])).schema).toBe('vstun.ipvs.connections/1');
    const r = await t.vstunadm(['-L', '-n', '-t', `${VIP}:8080`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such service -t 10.77.0.100:8080');
  });
});

describe('-S and -R', () => {
  const DUMP = [
    '-A -t 10.77.0.100:80 -s wrr',
    '-a -t 10.77.0.100:80 -r 10.77.3.2:80 -i -w 1 --tun-type ipip',
    '-a -t 10.77.0.100:80 -r 10.77.4.2:80 -i -w 2 --tun-type ipip',
    '-A -t 10.77.0.100:443 -s mh -p 300 -M 255.255.255.0 -b mh-fallback',
    '-a -t 10.77.0.100:443 -r 10.77.3.2:443 -i -w 1 --tun-type ipip',
    '-a -t 10.77.0.100:443 -r 10.77.4.2:443 -i -w 1 --tun-type ipip',
    '-A -u 10.77.0.100:53 -s rr -o',
    '-a -u 10.77.0.100:53 -r 10.77.3.2:53 -i -w 1 --tun-type ipip',
    '',
  ].join('\n');

  test('-S prints ipvsadm rules; -R of that dump into an empty director gives the same dump, byte for byte', async () => {
    const a = await director();
    const dump = await out(a, ['-S', '-n']);
    expect(dump).toBe(DUMP);
    const b = await director({});
    expect(await out(b, ['-S', '-n'])).toBe('');
    expect(await out(b, ['-R'], dump)).toBe('');
    expect(await out(b, ['-S', '-n'])).toBe(dump);
    expect(await out(b, ['-L', '-n'])).toBe(await out(a, ['-L', '-n']));
    // -C then -R on the same director also restores exactly.
    expect(await out(b, ['-C'])).toBe('');
    expect(await out(b, ['-L', '-n'])).toBe('IP Virtual Server version 1.2.1 (size=1048576)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n');
    await out(b, ['-R'], dump);
    expect(await out(b, ['-S'])).toBe(dump);
    expect(JSON.parse(await out(b, ['-S', '--json'])).services).toHaveLength(3);
  });

  test('-R is all or nothing: an error on line 3 (duplicate service) applies none of lines 1..2', async () => {
    const t = await director({ services: [BASE.services[1]] });
    const before = await out(t, ['-S']);
    const r = await t.vstunadm(['-R'], ['-A -t 10.77.0.200:80 -s rr', '-a -t 10.77.0.200:80 -r 10.77.3.2 -w 5', '-A -u 10.77.0.100:53 -s rr', ''].join('\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('vstunadm: line 3: service -u 10.77.0.100:53 already exists; change it with -E\n');
    expect(await out(t, ['-S'])).toBe(before);
    // A syntax error is reported with its line, too, and nothing is applied.
    const s = await t.vstunadm(['-R'], '-A -t 10.77.0.200:80 -s rr\n-a -t 10.77.0.200:80 -r 10.77.3.2 -w 70000\n');
    expect(s.code).not.toBe(0);
    expect(s.stderr).toMatch(/^vstunadm: line 2: .*weight/);
    expect(await out(t, ['-S'])).toBe(before);
  });
});

describe('rule changes', () => {
  test('-A/-E/-D and -a/-e/-d change the table as ipvsadm would', async () => {
    const t = await director({});
    await out(t, ['-A', '-t', `${VIP}:80`, '-s', 'rr']);
    await out(t, ['-a', '-t', `${VIP}:80`, '-r', RS1, '-i', '-w', '3']);
    await out(t, ['-a', '-t', `${VIP}:80`, '-r', `${RS2}:80`]);
    await out(t, ['-E', '-t', `${VIP}:80`, '-s', 'wlc', '-p', '60']);
    await out(t, ['-e', '-t', `${VIP}:80`, '-r', RS2, '-w', '0']);
    await out(t, ['-d', '-t', `${VIP}:80`, '-r', RS1]);
    expect(await out(t, ['-S'])).toBe('-A -t 10.77.0.100:80 -s wlc -p 60\n-a -t 10.77.0.100:80 -r 10.77.4.2:80 -i -w 0 --tun-type ipip\n');
    await out(t, ['-D', '-t', `${VIP}:80`]);
    expect(await out(t, ['-S'])).toBe('');
  });

  test('-Z zeroes counters (all, or one service)', async () => {
    const t = await director();
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), udpFrame({ sport: 5000 })]);
    await out(t, ['-Z', '-t', `${VIP}:80`]);
    const j = JSON.parse(await out(t, ['-L', '-n', '--stats', '--json']));
    expect(j.services.find((s: { port: number }) => s.port === 80).stats.inpkts).toBe(0);
    expect(j.services.find((s: { port: number }) => s.port === 53).stats.inpkts).toBe(1);
    await out(t, ['-Z']);
    expect(JSON.parse(await out(t, ['-L', '-n', '--stats', '--json'])).services.every((s: { stats: { inpkts: number } }) => s.stats.inpkts === 0)).toBe(true);
  });

  test('ipvsadm edits keep the config-only fields (MTU, MSS clamp) of a service and its servers; -e gives the whole ipvsadm view', async () => {
    const t = await director({ services: [{ protocol: 'tcp', vip: VIP, port: 80, tunnelMtu: 1400, mssClamp: false, realServers: [{ address: RS1, tunnel: 'gue', guePort: 6080, tunnelMtu: 1300 }] }] });
    expect(await out(t, ['-S'])).toBe(`-A -t ${VIP}:80 -s wlc\n-a -t ${VIP}:80 -r ${RS1}:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n`);
    await out(t, ['-E', '-t', `${VIP}:80`, '-s', 'rr']);
    await out(t, ['-e', '-t', `${VIP}:80`, '-r', RS1, '-w', '7', '--tun-type', 'gue', '--tun-port', '7000']);
    await out(t, ['-a', '-t', `${VIP}:80`, '-r', RS2]);
    const def = definitionsOf(t.director)[0];
    expect(def).toMatchObject({ scheduler: 'rr', tunnelMtu: 1400, mssClamp: false });
    expect(def.realServers).toEqual([
      expect.objectContaining({ address: RS1, weight: 7, tunnel: 'gue', guePort: 7000, tunnelMtu: 1300 }),
      expect.objectContaining({ address: RS2, weight: 1, tunnel: 'ipip' }),
    ]);
    expect(await out(t, ['-L', '-n', '--tun-info'])).toContain(`  -> ${RS1}:80                 Tunnel  gue:7000:-c   7      0          0         \n`);
    // As IPVS's edit: what -e does not give takes ipvsadm's default (ipip, weight 1).
    await out(t, ['-e', '-t', `${VIP}:80`, '-r', RS1]);
    expect(definitionsOf(t.director)[0].realServers[0]).toEqual({ address: RS1, weight: 1, forward: 'tunnel', tunnel: 'ipip', tunnelMtu: 1300 });
    expect(t.director.registry.list()[0].servers.find((rs) => rs.addressText === RS1)!.tunnel).toBe(0);
  });

  test('IPv6 services and GUE servers through vstunadm, in ipvsadm 1.31 text', async () => {
    const t = await director({});
    const input = [
      '-A -t [2001:DB8::1]:80 -s rr',
      '-a -t [2001:db8::1]:80 -r [2001:db8::a0a0]:80 -i -w 2 --tun-type gue --tun-port 6080',
      '-a -t [2001:db8::1]:80 -r 10.77.3.2',
      '-E -t [2001:db8::1]:80 -s wrr -p 60 -M 128',
      '',
    ].join('\n');
    await out(t, ['-R'], input);
    const dump = await out(t, ['-S', '-n']);
    expect(dump).toContain('-A -t [2001:db8::1]:80 -s wrr -p 60\n-a -t [2001:db8::1]:80 -r 10.77.3.2:80 -i -w 1 --tun-type ipip\n-a -t [2001:db8::1]:80 -r [2001:db8::a0a0]:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum\n');
    expect(await out(t, ['-L', '-n', '--tun-info'])).toContain('TCP  [2001:db8::1]:80 wrr persistent 60\n  -> 10.77.3.2:80                 Tunnel  ipip          1      0          0         \n  -> [2001:db8::a0a0]:80          Tunnel  gue:6080:+c   2      0          0         \n');
    // -R of that dump into an empty director gives the same dump.
    const b = await director({});
    await out(b, ['-R'], dump);
    expect(await out(b, ['-S', '-n'])).toBe(dump);
  });

  test('with an IPv6 service in the table, every later change still works (issue 11, item 1)', async () => {
    const t = await director();
    await out(t, ['-A', '-t', '[2001:db8::1]:80', '-s', 'rr']);
    await out(t, ['-a', '-t', '[2001:db8::1]:80', '-r', '[2001:db8::a0a0]', '--tun-type', 'gue', '--tun-port', '6080']);
    await out(t, ['-a', '-t', '[2001:db8::1]:80', '-r', RS1, '-w', '3']);
    await out(t, ['-A', '-u', `${VIP}:5353`, '-s', 'rr']);
    await out(t, ['-E', '-t', '[2001:db8::1]:80', '-s', 'wrr', '-p', '60', '-M', '128']);
    await out(t, ['-e', '-t', '[2001:db8::1]:80', '-r', RS1, '-w', '5']);
    await out(t, ['-Z']);
    await out(t, ['-Z', '-t', '[2001:db8::1]:80']);
    await out(t, ['--set', '900', '120', '300']);
    const dump = await out(t, ['-S', '-n']);
    expect(dump).toContain('-A -t [2001:db8::1]:80 -s wrr -p 60\n-a -t [2001:db8::1]:80 -r 10.77.3.2:80 -i -w 5 --tun-type ipip\n-a -t [2001:db8::1]:80 -r [2001:db8::a0a0]:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n');
    await out(t, ['-R'], '-D -u 10.77.0.100:5353\n');
    await out(t, ['-d', '-t', '[2001:db8::1]:80', '-r', '[2001:db8::a0a0]']);
    await out(t, ['-D', '-t', '[2001:db8::1]:80']);
    expect(await out(t, ['-S', '-n'])).toBe(await out(await director(), ['-S', '-n']));
  });

  test('-M with an IPv6 prefix shorter than /128 is refused, saying what the data path serves', async () => {
    const t = await director({});
    const r = await t.vstunadm(['-A', '-t', '[2001:db8::1]:80', '-s', 'rr', '-p', '60', '-M', '64']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'vstunadm: -t [2001:db8::1]:80: netmask (-M) "64" cannot be served for an IPv6 VIP: vstun keeps IPv6 persistence per client address (/128) and does not group IPv6 clients by prefix; give 128 or leave netmask out (vstunadm: -M 128 or no -M)\n',
    );
    expect(await out(t, ['-S'])).toBe('');
  });

  test('config-only fields reach the live service and server objects the data path reads', async () => {
    const t = await director({ services: [{ protocol: 'tcp', vip: VIP, port: 80, tunnelMtu: 1400, mssClamp: false, sloppy: true, realServers: [{ address: RS1, tunnel: 'gue', guePort: 7000, tunnelMtu: 1300 }] }] });
    const svc = t.director.registry.services.find((s) => s !== undefined && s.port === 80)!;
    expect({ tunnelMtu: svc.tunnelMtu, mssClamp: svc.mssClamp, sloppy: svc.sloppy }).toEqual({ tunnelMtu: 1400, mssClamp: false, sloppy: true });
    expect({ tunnel: svc.servers[0].tunnel, guePort: svc.servers[0].guePort, tunnelMtu: svc.servers[0].tunnelMtu }).toEqual({ tunnel: 1, guePort: 7000, tunnelMtu: 1300 });
  });
});

describe('forwarding methods per real server (-m, -g, -i) as ipvsadm shows them', () => {
  const WITH_DR = { director: { dr: { bridge: 'br-test' } } };
  const MIXED = {
    ...WITH_DR,
    services: [
      {
        protocol: 'tcp',
        vip: VIP,
        port: 80,
        scheduler: 'wrr',
        realServers: [
          { address: RS1, weight: 2, forward: 'masq', port: 8080 },
          { address: RS2, weight: 1, forward: 'route' },
          { address: RS3, weight: 1 },
        ],
      },
    ],
  };

  test('-L -n shows Masq (with the mapped port), Route and Tunnel; --tun-info gives n/a for the untunnelled', async () => {
    const t = await director(MIXED);
    const head = ['IP Virtual Server version 1.2.1 (size=1048576)', 'Prot LocalAddress:Port Scheduler Flags'];
    expect(await out(t, ['-L', '-n'])).toBe(
      [
        ...head,
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  10.77.0.100:80 wrr',
        '  -> 10.77.3.2:8080               Masq    2      0          0         ',
        '  -> 10.77.4.2:80                 Route   1      0          0         ',
        '  -> 10.77.5.2:80                 Tunnel  1      0          0         ',
        '',
      ].join('\n'),
    );
    expect(await out(t, ['-L', '-n', '--tun-info'])).toBe(
      [
        ...head,
        '  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn',
        'TCP  10.77.0.100:80 wrr',
        '  -> 10.77.3.2:8080               Masq    n/a           2      0          0         ',
        '  -> 10.77.4.2:80                 Route   n/a           1      0          0         ',
        '  -> 10.77.5.2:80                 Tunnel  ipip          1      0          0         ',
        '',
      ].join('\n'),
    );
  });

  test('-S writes -m/-g/-i as ipvsadm does, -R of it gives the same table, --json names the method', async () => {
    const t = await director(MIXED);
    const saved = await out(t, ['-S', '-n']);
    expect(saved).toBe(
      [
        '-A -t 10.77.0.100:80 -s wrr',
        '-a -t 10.77.0.100:80 -r 10.77.3.2:8080 -m -w 2',
        '-a -t 10.77.0.100:80 -r 10.77.4.2:80 -g -w 1',
        '-a -t 10.77.0.100:80 -r 10.77.5.2:80 -i -w 1 --tun-type ipip',
        '',
      ].join('\n'),
    );
    await out(t, ['-C']);
    await out(t, ['-R'], saved);
    expect(await out(t, ['-S', '-n'])).toBe(saved);
    expect(definitionsOf(t.director)[0].realServers[0]).toMatchObject({ address: RS1, forward: 'masq', port: 8080 });
    const j = JSON.parse(await out(t, ['-L', '-n', '--json']));
    expect(j.services[0].servers.map((s: { port: number; forward: string }) => [s.port, s.forward])).toEqual([
      [8080, 'masq'],
      [80, 'route'],
      [80, 'tunnel'],
    ]);
  });

  test('-g needs director.dr; without it the change is refused and nothing changes', async () => {
    const t = await director();
    const r = await t.vstunadm(['-a', '-t', `${VIP}:80`, '-r', RS3, '-g']);
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining('needs director.dr')]);
  });

  test('-a -m maps the port; as in IPVS a server is named by address and port, so -e -g cannot unmap it', async () => {
    const t = await director({ ...BASE, ...WITH_DR });
    await out(t, ['-a', '-t', `${VIP}:80`, '-r', `${RS3}:8080`, '-m', '-w', '3']);
    const rs = () => t.director.registry.list()[0].servers.find((r) => r.addressText === RS3)!;
    expect([rs().forward, rs().natPort]).toEqual([1, 8080]);
    // -g takes the service's port: 10.77.5.2:80, which is not in the service.
    const r = await t.vstunadm(['-e', '-t', `${VIP}:80`, '-r', `${RS3}:8080`, '-g']);
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining('real server 10.77.5.2:80 is not in -t 10.77.0.100:80')]);
    await out(t, ['-d', '-t', `${VIP}:80`, '-r', `${RS3}:8080`]);
    await out(t, ['-a', '-t', `${VIP}:80`, '-r', RS3, '-g', '-w', '3']);
    expect([rs().forward, rs().natPort]).toEqual([2, 0]);
    expect(await out(t, ['-S', '-n'])).toContain('-a -t 10.77.0.100:80 -r 10.77.5.2:80 -g -w 3\n');
  });
});

describe('bad input: clear message, non-zero exit, nothing applied', () => {
  test.each([
    ['malformed real-server address', ['-a', '-t', `${VIP}:80`, '-r', '10.0.0.300'], 2, "'10.0.0.300' is not a numeric IPv4 or IPv6 address"],
    ['malformed VIP', ['-A', '-t', '10.77.0:80', '-s', 'rr'], 2, 'is not a numeric IPv4 or IPv6 address'],
    ['unknown scheduler', ['-A', '-t', '10.77.0.200:80', '-s', 'rrr'], 2, "unknown scheduler 'rrr'"],
    ['weight out of range', ['-a', '-t', `${VIP}:80`, '-r', RS3, '-w', '65536'], 2, 'weight'],
    ['duplicate service', ['-A', '-t', `${VIP}:80`, '-s', 'rr'], 1, 'service -t 10.77.0.100:80 already exists; change it with -E'],
    ['duplicate real server', ['-a', '-t', `${VIP}:80`, '-r', RS1], 1, 'real server 10.77.3.2:80 is already in -t 10.77.0.100:80; change it with -e'],
    ['server of a missing service', ['-a', '-t', '10.77.0.9:80', '-r', RS1], 1, 'service -t 10.77.0.9:80 does not exist'],
    ['tunnel options on a direct-routing server', ['-a', '-t', `${VIP}:80`, '-r', RS3, '-g', '--tun-type', 'ipip'], 2, 'conflicts with -g'],
    ['masquerading across address families', ['-a', '-t', `${VIP}:80`, '-r', '[2001:db8::7]:80', '-m'], 2, 'only for tunnelling servers'],
    ['flag the director does not implement', ['-A', '-t', '10.77.0.200:80', '-s', 'wlc', '-b', 'flag-3'], 1, "scheduler flag 'flag-3' is not implemented"],
  ])('%s', async (_name, argv, code, message) => {
    const t = await director();
    const before = await out(t, ['-S']);
    const r = await t.vstunadm(argv);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^vstunadm: /);
    expect(r.stderr).toContain(message);
    expect(await out(t, ['-S'])).toBe(before);
  });

  test('an unreachable socket says so and how to fix it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vstun-none-'));
    const t = await director();
    const before = await out(t, ['-S']);
    const { runVstunadm } = await import('./vstunadm-run.js');
    let stderr = '';
    const code = await runVstunadm(['--control', path.join(dir, 'missing.sock'), '-A', '-t', '10.77.0.200:80'], { stdout: () => {}, stderr: (s) => (stderr += s), readStdin: async () => '', env: {} });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot reach the director's control socket ${path.join(dir, 'missing.sock')}: no such socket; is vstun-director running?`);
    expect(stderr).toContain('--control PATH');
    // VSTUN_CONTROL is honoured when --control is absent.
    stderr = '';
    await runVstunadm(['-L'], { stdout: () => {}, stderr: (s) => (stderr += s), readStdin: async () => '', env: { VSTUN_CONTROL: '/nonexistent/vstun.sock' } });
    expect(stderr).toContain('/nonexistent/vstun.sock');
    expect(await out(t, ['-S'])).toBe(before);
  });
});

describe('explain and counters', () => {
  test('explain: scheduler decision without side effects, then the existing entry, then a persistence template', async () => {
    const t = await director();
    const ex = async (port: number, client: string) => JSON.parse(await out(t, ['explain', '-t', `${VIP}:${port}`, '--client', client, '--json']));
    const first = await ex(80, `${CLIENT}:40000`);
    expect(first).toMatchObject({ schema: 'vstun.explain/1', reason: 'scheduler', scheduler: 'wrr' });
    // Asking again gives the same answer (wrr's position did not move) ...
    expect((await ex(80, `${CLIENT}:40000`)).server).toBe(first.server);
    // ... and the real SYN goes exactly there.
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN })]);
    const conn = await ex(80, `${CLIENT}:40000`);
    expect(conn).toMatchObject({ reason: 'connection', server: first.server, connection: { state: 'SYN_RECV' } });
    const text = await out(t, ['explain', '-t', `${VIP}:80`, '--client', `${CLIENT}:40000`]);
    expect(text).toContain(`goes to:   ${first.server}`);
    expect(text).toContain('because:   connection: existing connection entry (SYN_RECV');
    // Persistence: after one connection, another client port of the same /24 follows the template.
    t.device.inject([tcpFrame({ sport: 41000, dport: 443, flags: SYN })]);
    const tpl = await ex(443, '10.77.1.99:42000');
    expect(tpl).toMatchObject({ reason: 'template', template: { network: '10.77.1.0/255.255.255.0' } });
    expect(await ex(8080, `${CLIENT}:1`)).toMatchObject({ reason: 'no-service', server: null });
  });

  test('counters lists every drop reason with its value', async () => {
    const t = await director();
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN, dst: '10.77.0.222' }), tcpFrame({ sport: 40001, flags: ACK })]);
    const text = await out(t, ['counters']);
    expect(text).toMatch(/^drop-not-vip\s+1$/m);
    expect(text).toMatch(/^drop-tcp-not-syn\s+1$/m);
    expect(text).toMatch(/^drop-table-full\s+0$/m);
    const j = JSON.parse(await out(t, ['counters', '--json']));
    expect(j.verdicts['drop-not-vip']).toBe(1);
    expect(j.batches.count).toBe(1);
    expect(j.batches.packets).toBe(2);
  });
});

describe('expire_nodest_conn when a server leaves', () => {
  async function withConnections(policy: 'keep' | 'expire' | 'reschedule') {
    const t = await director({ services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'mh', expireNodestConn: policy, realServers: [{ address: RS1 }, { address: RS2 }] }] });
    const frames = [];
    for (let i = 10; i < 50; i++) frames.push(tcpFrame({ src: `10.77.1.${i}`, flags: SYN }), tcpFrame({ src: `10.77.1.${i}`, flags: ACK }));
    t.device.inject(frames);
    const onRs1 = t.director.connections().filter((c) => c.realServer === RS1).length;
    expect(onRs1).toBeGreaterThan(0);
    await out(t, ['-d', '-t', `${VIP}:80`, '-r', RS1]);
    return { t, onRs1, conns: t.director.connections() };
  }

  test('keep: the removed server keeps its connections until they end', async () => {
    const { conns, onRs1 } = await withConnections('keep');
    expect(conns.filter((c) => c.realServer === RS1)).toHaveLength(onRs1);
  });

  test('expire: its entries are deleted at once', async () => {
    const { conns, onRs1 } = await withConnections('expire');
    expect(conns.filter((c) => c.realServer === RS1)).toHaveLength(0);
    expect(conns).toHaveLength(40 - onRs1);
  });

  test('reschedule: its connections move to the server mh picks now, still ESTABLISHED', async () => {
    const { t, conns, onRs1 } = await withConnections('reschedule');
    expect(conns).toHaveLength(40);
    expect(conns.every((c) => c.realServer === RS2 && c.state === 'ESTABLISHED')).toBe(true);
    const rs2 = JSON.parse(await out(t, ['-L', '-n', '--json'])).services[0].servers[0];
    expect(rs2).toMatchObject({ address: RS2, activeConns: 40 });
    expect(onRs1).toBeGreaterThan(0);
  });
});

describe('reload', () => {
  test('applies only the difference; a bad file changes nothing; connections to kept servers stay', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vstun-reload-'));
    const file = path.join(dir, 'director.yaml');
    const yaml = (servers: string[], extra = '') =>
      `services:\n  - protocol: tcp\n    vip: ${VIP}\n    port: 80\n    scheduler: mh\n    realServers:\n${servers.map((s) => `      - {address: ${s}}\n`).join('')}${extra}`;
    writeFileSync(file, yaml([RS1, RS2]));
    const t = await director({ services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'mh', realServers: [{ address: RS1 }, { address: RS2 }] }] }, file);
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN }), tcpFrame({ sport: 40000, flags: ACK })]);
    const kept = t.director.connections()[0].realServer;
    const gone = kept === RS1 ? RS2 : RS1;
    const keptRs = t.director.registry.servers.find((s) => s?.addressText === kept);

    writeFileSync(file, yaml([kept, RS3], `  - {protocol: udp, vip: ${VIP}, port: 53, realServers: [{address: ${RS3}}]}\n`));
    const r = await out(t, ['reload']);
    expect(r).toBe('reloaded: servicesAdded 1, servicesRemoved 0, servicesChanged 0, serversAdded 2, serversRemoved 1, serversChanged 0\n');
    expect(await out(t, ['-S'])).toBe(`-A -t ${VIP}:80 -s mh\n-a -t ${VIP}:80 -r ${kept}:80 -i -w 1 --tun-type ipip\n-a -t ${VIP}:80 -r ${RS3}:80 -i -w 1 --tun-type ipip\n-A -u ${VIP}:53 -s wlc\n-a -u ${VIP}:53 -r ${RS3}:53 -i -w 1 --tun-type ipip\n`);
    // The kept server is the same object, and its connection still forwards to it.
    expect(t.director.registry.servers.find((s) => s?.addressText === kept && !s.removed)).toBe(keptRs);
    t.device.takeWritten();
    t.device.inject([tcpFrame({ sport: 40000, flags: ACK })]);
    expect(t.device.takeWritten()).toHaveLength(1);
    expect(t.director.connections().find((c) => c.clientPort === 40000)?.realServer).toBe(kept);
    expect(gone).not.toBe(kept);

    // A broken file: error with the path, nothing changed.
    const before = await out(t, ['-S']);
    writeFileSync(file, yaml([kept, '10.0.0.300']));
    const bad = await t.vstunadm(['reload']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('services[0].realServers[1].address: "10.0.0.300" is not an IPv4 or IPv6 address');
    expect(bad.stderr).toContain('nothing was changed');
    expect(await out(t, ['-S'])).toBe(before);
  });

  test('a director started without --config says reload has nothing to read', async () => {
    const t = await director();
    const r = await t.vstunadm(['reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('started without --config');
  });
});
