// The YAML's per-server forwarding method: the same rules as vstunadm's -m/-g/-i.
import { describe, expect, it } from 'vitest';
import { validateDirectorConfig } from './config-loader.js';
import { definitionToRules } from './service-definitions.js';

const service = (realServers: unknown[], extra: object = {}) => ({ director: { dr: { bridge: 'br-rs' } }, services: [{ protocol: 'tcp', vip: '203.0.113.10', port: 80, realServers, ...extra }] });

describe('realServers[].forward and port', () => {
  it('defaults to tunnel; masq may map the port; the rules view carries both', () => {
    const cfg = validateDirectorConfig(service([{ address: '10.0.0.7', forward: 'masq', port: 8080 }, { address: '10.0.0.17', forward: 'route' }, { address: '10.0.0.27' }]));
    const rules = definitionToRules(cfg.services[0]);
    expect(rules.servers.map((s) => [s.address, s.port, s.forward])).toEqual([
      ['10.0.0.7', 8080, 'masq'],
      ['10.0.0.17', 80, 'route'],
      ['10.0.0.27', 80, 'tunnel'],
    ]);
  });

  it.each([
    [{ address: '10.0.0.7', forward: 'nat' }, /"nat" is not a forwarding method \(tunnel, masq or route\)/],
    [{ address: '10.0.0.7', forward: 'route', port: 8080 }, /port: 8080 is only allowed with forward: masq/],
    [{ address: '10.0.0.7', port: 8080 }, /port: 8080 is only allowed with forward: masq/],
    [{ address: '10.0.0.7', forward: 'masq', tunnel: 'gue' }, /tunnel: is a tunnel setting; forward: masq does not tunnel/],
    [{ address: '10.0.0.7', forward: 'route', tunnelMtu: 1400 }, /tunnelMtu: is a tunnel setting; forward: route does not tunnel/],
    [{ address: '2001:db8::7', forward: 'masq' }, /"2001:db8::7" is IPv6 and the VIP IPv4; forward: masq needs both of one family/],
    [{ address: '10.0.0.7', forward: 'masq', port: 0 }, /port: 0 is not a port/],
  ])('refuses %j', (rs, message) => {
    expect(() => validateDirectorConfig(service([rs]))).toThrow(message);
  });

  it('a direct-routing server needs director.dr (the bridge on its LAN)', () => {
    const { director: _dr, ...noBridge } = service([{ address: '10.0.0.7', forward: 'route' }]);
    expect(() => validateDirectorConfig(noBridge)).toThrow(/services\[0\]\.realServers\[0\]\.forward: "route" \(direct routing, -g\) needs director\.dr/);
    expect(validateDirectorConfig(service([{ address: '10.0.0.7', forward: 'route' }])).director.dr).toEqual({ bridge: 'br-rs', ports: [] });
  });

  it('masq is refused in a port-0 service (a reply could not be mapped back to its port)', () => {
    expect(() => validateDirectorConfig(service([{ address: '10.0.0.7', forward: 'masq', port: 8080 }], { port: 0, persistence: 300 }))).toThrow(/forward: "masq" is not supported in a port-0/);
  });
});
