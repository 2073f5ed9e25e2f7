import { describe, expect, test } from 'vitest';
import { describeChange, HostChanges, type HostSystem } from '../host/host-changes.js';
import { setupDirectorHost } from './host-setup.js';

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
