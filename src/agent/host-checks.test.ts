import { describe, expect, it } from 'vitest';
import { checkHost, formatFindings, resolveUplinks, type CheckConfig } from './host-checks.js';
import type { HostFacts, LinkInfo } from './host-facts.js';

const VIP = '198.51.100.10';
const ALL_CAPS = (1n << 41n) - 1n;

function link(name: string, extra: Partial<LinkInfo> = {}): LinkInfo {
  return { name, up: true, loopback: false, mtu: 1500, kind: '', addresses: [], ...extra };
}

/** A host set up correctly for VS/TUN with VIP on lo and the TUN up. */
function goodHost(): HostFacts {
  return {
    links: [
      link('lo', { loopback: true, mtu: 65536, addresses: [{ family: 4, address: '127.0.0.1', prefixLength: 8 }, { family: 4, address: VIP, prefixLength: 32 }] }),
      link('eth0', { mtu: 9000, addresses: [{ family: 4, address: '192.0.2.50', prefixLength: 24 }] }),
      link('vstun-in', { kind: 'tun', mtu: 9000 }),
    ],
    sysctls: {
      'net/ipv4/conf/all/rp_filter': '0',
      'net/ipv4/conf/default/rp_filter': '0',
      'net/ipv4/conf/all/arp_ignore': '1',
      'net/ipv4/conf/all/arp_announce': '2',
      'net/ipv4/conf/eth0/arp_ignore': '0',
      'net/ipv4/conf/eth0/arp_announce': '0',
      'net/ipv4/conf/vstun-in/rp_filter': '0',
    },
    capEff: ALL_CAPS,
  };
}

const cfg: CheckConfig = { vips: [VIP], tun: 'vstun-in', mode: 'userspace', uplinks: [] };
const ids = (f: ReturnType<typeof checkHost>) => f.map((x) => x.id).sort();

describe('checkHost', () => {
  it('finds nothing on a correctly set up host', () => {
    expect(checkHost(cfg, goodHost())).toEqual([]);
    expect(formatFindings([])).toMatch(/^OK/);
  });

  const cases: { description: string; mutate: (h: HostFacts) => void; expected: string[]; config?: Partial<CheckConfig> }[] = [
    { description: 'VIP missing from lo (DSR blackhole)', mutate: (h) => (h.links[0].addresses = h.links[0].addresses.slice(0, 1)), expected: ['vip-missing'] },
    { description: 'VIP on lo with a wide prefix', mutate: (h) => (h.links[0].addresses[1].prefixLength = 24), expected: ['vip-prefix'] },
    { description: 'VIP on the uplink answers ARP', mutate: (h) => h.links[1].addresses.push({ family: 4, address: VIP, prefixLength: 32 }), expected: ['vip-on-uplink'] },
    { description: 'arp_ignore 0 everywhere', mutate: (h) => (h.sysctls['net/ipv4/conf/all/arp_ignore'] = '0'), expected: ['arp-ignore'] },
    { description: 'arp_ignore set on the uplink only is enough (max of all and dev)', mutate: (h) => ((h.sysctls['net/ipv4/conf/all/arp_ignore'] = '0'), (h.sysctls['net/ipv4/conf/eth0/arp_ignore'] = '1')), expected: [] },
    { description: 'arp_ignore 4..7 (reserved) counts as answering', mutate: (h) => (h.sysctls['net/ipv4/conf/all/arp_ignore'] = '5'), expected: ['arp-ignore'] },
    { description: 'arp_announce 1', mutate: (h) => (h.sysctls['net/ipv4/conf/all/arp_announce'] = '1'), expected: ['arp-announce'] },
    { description: 'rp_filter strict on all', mutate: (h) => (h.sysctls['net/ipv4/conf/all/rp_filter'] = '1'), expected: ['rp-filter-strict'] },
    { description: 'rp_filter strict on the TUN', mutate: (h) => (h.sysctls['net/ipv4/conf/vstun-in/rp_filter'] = '1'), expected: ['rp-filter-strict'] },
    { description: 'rp_filter loose (2) is fine', mutate: (h) => (h.sysctls['net/ipv4/conf/all/rp_filter'] = '2'), expected: [] },
    { description: 'rp_filter loose on all with strict on the TUN is loose (max)', mutate: (h) => ((h.sysctls['net/ipv4/conf/all/rp_filter'] = '2'), (h.sysctls['net/ipv4/conf/vstun-in/rp_filter'] = '1')), expected: [] },
    { description: 'TUN missing, and new links would be strict', mutate: (h) => ((h.links = h.links.slice(0, 2)), (h.sysctls['net/ipv4/conf/default/rp_filter'] = '1')), expected: ['rp-filter-strict', 'tun-missing'] },
    { description: 'TUN down', mutate: (h) => (h.links[2].up = false), expected: ['tun-down'] },
    { description: 'uplink MTU too small for a full packet plus IPIP', mutate: (h) => ((h.links[1].mtu = 1500), (h.links[2].mtu = 1500)), expected: ['mtu-encap'] },
    { description: 'TUN MTU below what the uplink can carry inside IPIP', mutate: (h) => (h.links[2].mtu = 1500), expected: ['tun-mtu'] },
    { description: 'no CAP_NET_RAW', mutate: (h) => (h.capEff = ALL_CAPS & ~(1n << 13n)), expected: ['no-cap-net-raw'] },
    { description: 'no CAP_NET_ADMIN', mutate: (h) => (h.capEff = ALL_CAPS & ~(1n << 12n)), expected: ['no-cap-net-admin'] },
    { description: 'no uplink up', mutate: (h) => (h.links[1].up = false), expected: ['no-uplink'] },
    { description: 'named uplink does not exist', mutate: () => {}, config: { uplinks: ['eth9'] }, expected: ['uplink-missing'] },
    { description: 'kernel mode without tunl0', mutate: () => {}, config: { mode: 'kernel', tun: 'tunl0' }, expected: ['tunl0-missing'] },
    { description: 'dr mode: no TUN and a small uplink MTU are fine (nothing is encapsulated)', mutate: (h) => ((h.links = h.links.slice(0, 2)), (h.links[1].mtu = 1500)), config: { mode: 'dr' }, expected: [] },
    { description: 'dr mode still needs the VIP on lo and ARP suppressed', mutate: (h) => ((h.links[0].addresses = h.links[0].addresses.slice(0, 1)), (h.sysctls['net/ipv4/conf/all/arp_ignore'] = '0')), config: { mode: 'dr' }, expected: ['arp-ignore', 'vip-missing'] },
    { description: 'IPv6 VIP with IPv6 disabled on lo', mutate: (h) => ((h.sysctls['net/ipv6/conf/lo/disable_ipv6'] = '1'), h.links[0].addresses.push({ family: 6, address: '2001:db8::10', prefixLength: 128 })), config: { vips: [VIP, '2001:db8::10'] }, expected: ['ipv6-disabled'] },
  ];

  it.each(cases)('$description → $expected', ({ mutate, expected, config }) => {
    const h = goodHost();
    mutate(h);
    const findings = checkHost({ ...cfg, ...config }, h);
    expect(ids(findings)).toEqual([...expected].sort());
    for (const f of findings) {
      expect(f.message.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(5);
    }
  });

  it('formats problems with their fixes', () => {
    const h = goodHost();
    h.links[0].addresses = [];
    const text = formatFindings(checkHost(cfg, h));
    expect(text).toContain('PROBLEM [vip-missing]');
    expect(text).toContain(`fix: ip addr add ${VIP}/32 dev lo`);
  });
});

describe('resolveUplinks', () => {
  it('defaults to every up, non-loopback link except the TUN', () => {
    const links = [link('lo', { loopback: true }), link('eth0'), link('eth1', { up: false }), link('vstun-in'), link('eth2')];
    expect(resolveUplinks(links, [], 'vstun-in')).toEqual(['eth0', 'eth2']);
    expect(resolveUplinks(links, ['eth1'], 'vstun-in')).toEqual(['eth1']);
  });
});
