import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, parseDirectorConfig } from './config-loader.js';

function problems(yaml: string): string[] {
  try {
    parseDirectorConfig(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.length ? (err as ConfigError).problems : [(err as Error).message];
  }
  throw new Error('expected the config to be rejected');
}

describe('director config', () => {
  test('the example config at the repo root is valid, with defaults filled in', () => {
    const c = parseDirectorConfig(readFileSync('director.example.yaml', 'utf8'));
    expect(c.services.length).toBeGreaterThan(0);
    expect(c.director.mhTableSize).toBe(65537);
  });

  test('minimal config gets IPVS-like defaults', () => {
    const c = parseDirectorConfig('services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, realServers: [{address: 10.0.1.1}]}\n');
    expect(c.services[0]).toMatchObject({ scheduler: 'wlc', persistence: 0, onePacket: false, netmask: '255.255.255.255' });
    expect(c.services[0].realServers[0].weight).toBe(1);
    expect(c.director.connTableSize).toBe(1 << 20);
  });

  test.each([
    ['a bad RS address names its path and value', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80}\n  - {protocol: tcp, vip: 10.0.0.1, port: 81, realServers: [{address: 10.0.0.300}]}\n', 'services[1].realServers[0].address: "10.0.0.300" is not an IPv4 or IPv6 address'],
    ['guePort without gue', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, realServers: [{address: 10.0.0.2, guePort: 6080}]}\n', 'services[0].realServers[0].guePort: 6080 is only allowed with tunnel: gue'],
    ['unknown tunnel type', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, realServers: [{address: 10.0.0.2, tunnel: gre}]}\n', 'services[0].realServers[0].tunnel: "gre" is not a tunnel type'],
    ['bad expire_nodest_conn policy', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, expireNodestConn: drop}\n', 'services[0].expireNodestConn: "drop" is not an expire_nodest_conn policy'],
    ['tunnel MTU too small', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, tunnelMtu: 100}\n', 'services[0].tunnelMtu: 100 is not a tunnel MTU'],
    ['sorry server in two places', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, sorryServer: {address: 10.0.0.9}, healthCheck: {sorryServer: {address: 10.0.0.8}}}\n', 'services[0].sorryServer: is also given as healthCheck.sorryServer'],
    ['bad health check field', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, healthCheck: {kind: bfd}}\n', 'services[0].healthCheck.kind'],
    ['bad log level', 'director: {logLevel: loud}\n', 'director.logLevel: "loud" is not a log level'],
    ['unknown scheduler', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, scheduler: rrr}\n', 'services[0].scheduler: "rrr" is not a scheduler'],
    ['port out of range', 'services:\n  - {protocol: udp, vip: 10.0.0.1, port: 70000}\n', 'services[0].port: 70000 is not a port'],
    ['one-packet on TCP', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, onePacket: true}\n', 'services[0].onePacket: true is only allowed for udp'],
    ['duplicate service', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80}\n  - {protocol: tcp, vip: 10.0.0.1, port: 80}\n', 'services[1]: service tcp:10.0.0.1:80 is defined twice'],
    ['Maglev size not prime', 'director: {mhTableSize: 65536}\n', 'director.mhTableSize: 65536 is not a prime'],
    ['typo in a key', 'director: {tapp: x}\n', 'director: unknown key(s) "tapp"'],
    ['bad netmask', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, persistence: 60, netmask: 255.0.255.0}\n', 'services[0].netmask: "255.0.255.0" is not a netmask'],
    ['weight out of range', 'services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, realServers: [{address: 10.0.0.2, weight: -1}]}\n', 'services[0].realServers[0].weight: -1 is not a weight'],
  ])('%s', (_name, yaml, expected) => {
    expect(problems(yaml).join('\n')).toContain(expected);
  });

  test('per-service and per-server tunnel, MSS, sloppy, expire_nodest_conn and health fields get defaults', () => {
    const c = parseDirectorConfig('services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 80, realServers: [{address: 10.0.1.1}, {address: 10.0.1.2, tunnel: gue, guePort: 6080, tunnelMtu: 1400}]}\n');
    const s = c.services[0];
    expect(s).toMatchObject({ mssClamp: true, sloppy: false });
    expect(s.expireNodestConn).toBeUndefined();
    expect(c.director.expireNodestConn).toBe('keep');
    expect(s.realServers[0]).toMatchObject({ tunnel: 'ipip' });
    expect(s.realServers[1]).toMatchObject({ tunnel: 'gue', guePort: 6080, tunnelMtu: 1400 });
  });

  test('service-level sorryServer/quorum/hysteresis fold into healthCheck, and RS feedback into its healthCheck', () => {
    const c = parseDirectorConfig(
      'services:\n  - protocol: tcp\n    vip: 10.0.0.1\n    port: 80\n    quorum: 2\n    sorryServer: {address: 10.0.0.9}\n    healthCheck: {kind: http, path: /health}\n    realServers: [{address: 10.0.1.1, healthCheck: {port: 8080}, feedback: {enabled: true}}]\n',
    );
    const s = c.services[0];
    expect(s.healthCheck).toMatchObject({ kind: 'http', quorum: 2, sorryServer: { address: '10.0.0.9', weight: 1 }, hysteresis: 0, onFailure: 'keep' });
    expect(s.quorum).toBe(2);
    expect(s.realServers[0].healthCheck).toMatchObject({ port: 8080, feedback: { enabled: true } });
  });

  test('an IPv6 VIP and real server are valid config text', () => {
    const c = parseDirectorConfig('services:\n  - {protocol: tcp, vip: "2001:db8::1", port: 80, realServers: [{address: "2001:db8::10"}]}\n');
    expect(c.services[0].vip).toBe('2001:db8::1');
  });

  test('YAML syntax errors give the line', () => {
    expect(problems('services:\n  - {protocol: tcp\n')[0]).toMatch(/YAML syntax error at line \d+/);
  });
});
