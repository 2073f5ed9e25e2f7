import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostChanges, type HostSystem } from '../host/host-changes.js';
import { parseAddressOrCidr } from './address-match.js';
import { applyHostSetup, relaxRpFilter } from './host-setup.js';

function simHost(sysctls: Record<string, string>): HostSystem & { sysctls: Map<string, string>; addrs: Set<string> } {
  const map = new Map(Object.entries(sysctls));
  const addrs = new Set<string>();
  return {
    sysctls: map,
    addrs,
    readSysctl: (p) => {
      const v = map.get(p);
      if (v === undefined) throw new Error(`ENOENT ${p}`);
      return v;
    },
    writeSysctl: (p, v) => void map.set(p, v),
    ip: (args) => {
      const a = args.filter((x) => !['-4', '-6', '-o'].includes(x));
      if (a[0] === 'addr' && a[1] === 'show') return [...addrs].filter((x) => x.endsWith(`@${a[3]}`)).map((x) => `1: ${a[3]} inet ${x.split('@')[0]} scope host`).join('\n');
      if (a[0] === 'addr' && a[1] === 'add') return void addrs.add(`${a[2]}@${a[4]}`), '';
      if (a[0] === 'addr' && a[1] === 'del') return void addrs.delete(`${a[2]}@${a[4]}`), '';
      throw new Error(`unexpected ip ${args.join(' ')}`);
    },
  };
}

const initial = {
  'net/ipv4/conf/all/arp_ignore': '0',
  'net/ipv4/conf/all/arp_announce': '0',
  'net/ipv4/conf/eth0/arp_ignore': '2',
  'net/ipv4/conf/eth0/arp_announce': '1',
  'net/ipv4/conf/all/rp_filter': '1',
  'net/ipv4/conf/default/rp_filter': '2',
  'net/ipv4/conf/vstun-in/rp_filter': '1',
};
const vips = [parseAddressOrCidr('198.51.100.10', 'v', false), parseAddressOrCidr('2001:db8::10', 'v', false)];

describe('applyHostSetup', () => {
  it('sets what VS/TUN needs, leaves acceptable values alone, and undo restores every value exactly', () => {
    const sys = simHost(initial);
    const changes = new HostChanges(path.join(mkdtempSync(path.join(tmpdir(), 'vstun-agent-')), 'state.json'), sys);
    const read = (k: string) => sys.readSysctl(k);
    applyHostSetup(changes, { vips, uplinks: ['eth0'] }, read);
    relaxRpFilter(changes, ['vstun-in'], read);
    expect([...sys.addrs].sort()).toEqual(['198.51.100.10/32@lo', '2001:db8::10/128@lo']);
    expect(Object.fromEntries(sys.sysctls)).toEqual({
      'net/ipv4/conf/all/arp_ignore': '1',
      'net/ipv4/conf/all/arp_announce': '2',
      'net/ipv4/conf/eth0/arp_ignore': '2', // already acceptable: untouched
      'net/ipv4/conf/eth0/arp_announce': '2',
      'net/ipv4/conf/all/rp_filter': '0',
      'net/ipv4/conf/default/rp_filter': '2', // loose is fine
      'net/ipv4/conf/vstun-in/rp_filter': '0',
    });
    // Idempotent: a second application records nothing new.
    const before = changes.applied.length;
    applyHostSetup(changes, { vips, uplinks: ['eth0'] }, read);
    expect(changes.applied.length).toBe(before);
    expect(changes.undoAll().failed).toEqual([]);
    expect(Object.fromEntries(sys.sysctls)).toEqual(initial);
    expect(sys.addrs.size).toBe(0);
  });

  it('a crashed run is undone by the next start from the state file', () => {
    const sys = simHost(initial);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'vstun-agent-')), 'state.json');
    applyHostSetup(new HostChanges(file, sys), { vips, uplinks: ['eth0'] }, (k) => sys.readSysctl(k));
    // (no undo: the process "died") — the next run recovers.
    const report = new HostChanges(file, sys).recover();
    expect(report.failed).toEqual([]);
    expect(Object.fromEntries(sys.sysctls)).toEqual(initial);
    expect(sys.addrs.size).toBe(0);
  });

  it('IPv6-only VIPs change no ARP sysctl', () => {
    const sys = simHost(initial);
    const changes = new HostChanges(null, sys);
    applyHostSetup(changes, { vips: [vips[1]], uplinks: ['eth0'] }, (k) => sys.readSysctl(k));
    expect(changes.applied.map((c) => c.kind)).toEqual(['address']);
  });
});
