import { describe, expect, test } from 'vitest';
import { describeChange, HostChanges, type HostSystem } from '../host/host-changes.js';
import { NatReplyRules, setupDirectorHost } from './host-setup.js';

function fakeHost() {
  const sysctls = new Map<string, string>([
    ['net/ipv4/ip_forward', '0'],
    ['net/ipv4/conf/vstun0/accept_local', '0'],
    ['net/ipv4/conf/vstun0/rp_filter', '1'],
    ['net/ipv4/conf/all/rp_filter', '1'],
    ['net/ipv6/conf/vstun0/disable_ipv6', '0'],
  ]);
  const ipCalls: string[] = [];
  const sys: HostSystem = {
    ip(args) {
      ipCalls.push(args.join(' '));
      if (args.includes('show')) return '';
      return '';
    },
    readSysctl: (p) => sysctls.get(p) ?? '0',
    writeSysctl: (p, v) => void sysctls.set(p, v),
  };
  return { sys, sysctls, ipCalls };
}

describe('director host setup', () => {
  test('sets address, routes and sysctls, and undoes every one', () => {
    const h = fakeHost();
    const changes = new HostChanges(null, h.sys);
    setupDirectorHost(changes, { tap: 'vstun0', kernelAddress: '169.254.77.1', linkAddress: '169.254.77.2', prefixLength: 30, vips: ['10.77.0.100', '10.77.0.100', '10.77.0.101'] }, (p) => h.sysctls.get(p)!);
    expect(h.ipCalls).toContain('addr add 169.254.77.1/30 dev vstun0');
    expect(h.ipCalls).toContain('route add 10.77.0.100/32 via 169.254.77.2 dev vstun0');
    expect(h.ipCalls).toContain('route add 10.77.0.101/32 via 169.254.77.2 dev vstun0');
    expect(h.sysctls.get('net/ipv4/ip_forward')).toBe('1');
    expect(h.sysctls.get('net/ipv4/conf/vstun0/accept_local')).toBe('1');
    expect(h.sysctls.get('net/ipv4/conf/vstun0/rp_filter')).toBe('0');
    expect(h.sysctls.get('net/ipv4/conf/all/rp_filter')).toBe('0');
    const report = changes.undoAll();
    expect(report.failed).toEqual([]);
    expect(h.sysctls.get('net/ipv4/ip_forward')).toBe('0');
    expect(h.sysctls.get('net/ipv4/conf/all/rp_filter')).toBe('1');
    expect(h.ipCalls).toContain('-4 route del 10.77.0.100/32 via 169.254.77.2 dev vstun0');
    expect(h.ipCalls).toContain('link del vstun0');
  });
});

describe('director host setup: tunnel probe source', () => {
  test('puts the probe source on the TAP as a /32 and takes it off again', () => {
    const h = fakeHost();
    const changes = new HostChanges(null, h.sys);
    setupDirectorHost(changes, { tap: 'vstun0', kernelAddress: '169.254.77.1', linkAddress: '169.254.77.2', prefixLength: 30, vips: ['10.77.0.100'], probeSource: '10.77.9.1' }, (p) => h.sysctls.get(p)!);
    expect(h.ipCalls).toContain('addr add 10.77.9.1/32 dev vstun0');
    expect(changes.applied.map(describeChange)).toContain('address 10.77.9.1/32 on vstun0'); // recorded, so undone on exit
  });
});

describe('director host setup: VS/DR bridge', () => {
  const setup = { tap: 'vstun0', kernelAddress: '169.254.77.1', linkAddress: '169.254.77.2', prefixLength: 30, vips: ['10.77.0.100'] };

  test('creates the bridge with its ports, makes the TAP a port, moves the L3 side to the bridge, and undoes all', () => {
    const h = fakeHost();
    const sys: HostSystem = {
      ...h.sys,
      ip(args) {
        h.ipCalls.push(args.join(' '));
        if (args.join(' ') === '-o link show dev br-rs' && !h.ipCalls.includes('link add br-rs type bridge')) throw new Error('Device "br-rs" does not exist.');
        return '';
      },
    };
    const changes = new HostChanges(null, sys);
    setupDirectorHost(changes, { ...setup, dr: { bridge: 'br-rs', ports: ['eth1'] } }, (p) => h.sysctls.get(p) ?? '0');
    const order = ['link add br-rs type bridge', 'link set eth1 master br-rs', 'link set vstun0 master br-rs', 'addr add 169.254.77.1/30 dev br-rs'];
    expect(order.map((c) => h.ipCalls.indexOf(c))).toEqual([...order.map((c) => h.ipCalls.indexOf(c))].sort((a, b) => a - b));
    for (const c of order) expect(h.ipCalls).toContain(c);
    expect(h.ipCalls).toContain('route add 10.77.0.100/32 via 169.254.77.2 dev br-rs');
    expect(h.sysctls.get('net/ipv4/conf/br-rs/accept_local')).toBe('1');
    expect(changes.undoAll().failed).toEqual([]);
    for (const c of ['link set vstun0 nomaster', 'link set eth1 nomaster', 'link del br-rs']) expect(h.ipCalls).toContain(c);
  });

  test('an existing bridge is joined, not created, and not deleted on exit', () => {
    const h = fakeHost();
    const changes = new HostChanges(null, h.sys);
    setupDirectorHost(changes, { ...setup, dr: { bridge: 'br0', ports: ['eth9'] } }, (p) => h.sysctls.get(p) ?? '0');
    expect(h.ipCalls).toContain('link set vstun0 master br0');
    expect(h.ipCalls.some((c) => c.startsWith('link add br0') || c.includes('eth9'))).toBe(false);
    changes.undoAll();
    expect(h.ipCalls).not.toContain('link del br0');
  });
});

describe('director host setup: VS/NAT reply rules', () => {
  test('one rule per NAT server into a table whose default route is the director; follows the table; undone on exit', () => {
    const h = fakeHost();
    const changes = new HostChanges(null, h.sys);
    const rules = new NatReplyRules(changes, { device: 'vstun0', linkAddress: '169.254.77.2' });
    rules.sync(['10.0.0.7', '10.0.0.17']);
    expect(h.ipCalls).toContain('-4 route add 0.0.0.0/0 via 169.254.77.2 dev vstun0 table 7377');
    expect(h.ipCalls).toContain('-4 rule add from 10.0.0.7/32 lookup 7377 priority 7377');
    expect(h.ipCalls).toContain('-4 rule add from 10.0.0.17/32 lookup 7377 priority 7377');
    rules.sync(['10.0.0.17', 'fd00::7']);
    expect(h.ipCalls).toContain('-4 rule del from 10.0.0.7/32 lookup 7377 priority 7377');
    expect(h.ipCalls).toContain('-6 route add ::/0 via fe80::2 dev vstun0 table 7377');
    expect(h.ipCalls).toContain('-6 rule add from fd00::7/128 lookup 7377 priority 7377');
    expect([...rules.servers].sort()).toEqual(['10.0.0.17', 'fd00::7']);
    expect(changes.applied.map(describeChange).filter((d) => d.startsWith('rule'))).toEqual(['rule from 10.0.0.17/32 lookup 7377 priority 7377', 'rule from fd00::7/128 lookup 7377 priority 7377']);
    const calls = h.ipCalls.length;
    expect(changes.undoAll().failed).toEqual([]);
    const undo = h.ipCalls.slice(calls);
    expect(undo).toContain('-6 rule del from fd00::7/128 lookup 7377 priority 7377');
    expect(undo).toContain('-4 route del 0.0.0.0/0 via 169.254.77.2 dev vstun0 table 7377');
  });
});
