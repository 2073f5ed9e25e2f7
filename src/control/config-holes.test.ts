// Issue 18 item 3: configs that were accepted (or crashed the loader) and must be refused,
// each with the path, the value and what would be valid. The same rules hold for tables
// built by vstunadm commands (-A/-a/-R), so the file and vstunadm agree.
import { closeSync, mkdtempSync, openSync, ftruncateSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { MAX_CONFIG_BYTES, MAX_SERVICES } from './config-checks.js';
import { ConfigError, loadDirectorConfig, parseDirectorConfig, validateDirectorConfig } from './config-loader.js';
import { isVstunadmError } from './errors.js';
import { formatRules, parseRestore, restoreRules } from './ipvsadm-dump.js';
import { parseVstunadmArgs, type RuleCommand } from './ipvsadm-args.js';
import { applyCommandsToDefinitions, definitionToRules } from './service-definitions.js';
import { startTestDirector } from '../../test/fixtures/control/test-director.js';

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be refused');
}

function problems(yaml: string): string[] {
  const err = refusal(() => parseDirectorConfig(yaml));
  return err.problems.length > 0 ? err.problems : [err.message];
}

const svc = (fields: string): string => `services:\n  - {protocol: tcp, port: 80, ${fields}}\n`;

describe('service addresses', () => {
  test('a service without vip is refused with its path, not a TypeError', () => {
    expect(problems('services:\n  - {protocol: tcp, port: 80}\n')).toEqual(['services[0].vip: is missing; give an IPv4 or IPv6 address, e.g. 10.0.0.1 or "2001:db8::1"']);
    expect(problems('services:\n  - {protocol: tcp, port: 80, realServers: [{address: 10.0.1.1}]}\n')[0]).toMatch(/^services\[0\]\.vip: is missing/);
  });

  test.each([
    ['0.0.0.0', 'the unspecified address'],
    ['224.0.0.1', 'a multicast address'],
    ['239.1.2.3', 'a multicast address'],
    ['255.255.255.255', 'the limited broadcast address'],
    ['127.0.0.1', 'a loopback address'],
    ['127.8.9.10', 'a loopback address'],
    ['0.1.2.3', 'a "this network" address (0.0.0.0/8)'],
    ['240.0.0.1', 'a reserved address (240.0.0.0/4)'],
    ['"::"', 'the unspecified address'],
    ['"::1"', 'a loopback address'],
    ['"ff02::1"', 'a multicast address'],
    ['"::ffff:127.0.0.1"', 'a loopback address'],
  ])('VIP %s is refused as %s', (vip, what) => {
    const text = vip.replaceAll('"', '');
    expect(problems(svc(`vip: ${vip}`))).toEqual([`services[0].vip: "${text}" is ${what}; a VIP must be a unicast address (not 0.0.0.0, loopback, multicast, broadcast, 0.0.0.0/8 or 240.0.0.0/4)`]);
  });

  test.each(['127.0.0.1', '0.0.0.0', '224.0.0.5', '255.255.255.255', '::1'])('real server %s is refused', (rs) => {
    const [p] = problems(svc(`vip: 10.0.0.1, realServers: [{address: 10.0.1.1}, {address: "${rs}"}]`));
    expect(p).toMatch(new RegExp(`^services\\[0\\]\\.realServers\\[1\\]\\.address: "${rs.replace(/\./g, '\\.')}" is .*; a real server must be a unicast address`));
  });

  test('ordinary unicast addresses of both families still load', () => {
    const c = parseDirectorConfig(svc('vip: 192.0.2.10, realServers: [{address: 10.0.1.1}, {address: "2001:db8::5"}]'));
    expect(c.services[0].realServers).toHaveLength(2);
  });
});

describe('the director link and its MAC', () => {
  test('linkAddress == kernelAddress is refused', () => {
    expect(problems('director: {linkAddress: 169.254.77.2, kernelAddress: 169.254.77.2}\n')).toEqual([
      'director.kernelAddress: "169.254.77.2" is also director.linkAddress; the kernel\'s and the director\'s ends of the TAP link need two addresses',
    ]);
  });

  test('kernelAddress outside the link prefix is refused', () => {
    expect(problems('director: {linkAddress: 169.254.77.2, kernelAddress: 169.254.78.1}\n')[0]).toMatch(/^director\.kernelAddress: "169\.254\.78\.1" is not in 169\.254\.77\.2\/30/);
  });

  test.each(['linkAddress', 'kernelAddress'])('a VIP equal to director.%s is refused', (field) => {
    const address = field === 'linkAddress' ? '169.254.77.2' : '169.254.77.1';
    expect(problems(`director: {linkAddress: 169.254.77.2, kernelAddress: 169.254.77.1}\n${svc(`vip: ${address}, persistence: 0`)}`)).toEqual([
      `services[0].vip: "${address}" is also director.${field}; a VIP must not be one of the director's own addresses`,
    ]);
  });

  test('a VIP equal to director.probeSource is refused', () => {
    expect(problems(`director: {probeSource: 10.9.9.9}\n${svc('vip: 10.9.9.9')}`)).toEqual([`services[0].vip: "10.9.9.9" is also director.probeSource; a VIP must not be one of the director's own addresses`]);
  });

  test.each([
    ['ff:ff:ff:ff:ff:ff', 'the broadcast'],
    ['01:00:5e:00:00:01', 'a multicast'],
    ['33:33:00:00:00:01', 'a multicast'],
    ['00:00:00:00:00:00', 'the zero'],
  ])('director MAC %s is refused', (mac, kind) => {
    expect(problems(`director: {mac: "${mac}"}\n`)).toEqual([`director.mac: "${mac}" is ${kind} MAC; give a unicast MAC (first octet even), e.g. 02:56:53:54:00:02`]);
  });
});

describe('file size, YAML bombs and table size', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vt-oa-holes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test(`a file over ${MAX_CONFIG_BYTES} bytes is refused before it is read`, () => {
    const file = path.join(dir, 'huge.yaml');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, MAX_CONFIG_BYTES + 1); // sparse: no memory or disk used
    closeSync(fd);
    const err = refusal(() => loadDirectorConfig(file));
    expect(err.code).toBe('CONFIG_UNREADABLE');
    expect(err.message).toBe(`config ${file} is ${MAX_CONFIG_BYTES + 1} bytes; config files may be at most 16777216 bytes (16 MiB)`);
  });

  test('a file of exactly the limit is read (and judged on its content)', () => {
    const file = path.join(dir, 'limit.yaml');
    writeFileSync(file, `services: []\n${'#'.repeat(MAX_CONFIG_BYTES - 14)}\n`);
    expect(loadDirectorConfig(file).services).toEqual([]);
  });

  test('a YAML alias bomb is a CONFIG_YAML error, not an internal one', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const file = path.join(dir, 'bomb.yaml');
    writeFileSync(file, `${levels.join('\n')}\n`);
    const err = refusal(() => loadDirectorConfig(file));
    expect(err.code).toBe('CONFIG_YAML');
    expect(err.message).toMatch(/YAML refused: .*alias.*; expand the aliases/i);
  });

  test('on reload, a bomb, a service without vip and an oversized file are refused with their reason; nothing changes', async () => {
    const file = path.join(dir, 'reload.yaml');
    const good = 'services:\n  - {protocol: tcp, vip: 10.77.0.100, port: 80, realServers: [{address: 10.77.3.2}]}\n';
    writeFileSync(file, good);
    const t = await startTestDirector(parseDirectorConfig(good), file);
    try {
      const before = (await t.vstunadm(['-S'])).stdout;
      const levels = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'];
      const cases: Array<[string, () => void]> = [
        [`YAML refused: `, () => writeFileSync(file, `${levels.join('\n')}\n`)],
        ['services[0].vip: is missing', () => writeFileSync(file, 'services:\n  - {protocol: tcp, port: 80}\n')],
        ['config files may be at most 16777216 bytes', () => {
          const fd = openSync(file, 'w');
          ftruncateSync(fd, MAX_CONFIG_BYTES + 1);
          closeSync(fd);
        }],
      ];
      for (const [reason, write] of cases) {
        write();
        const r = await t.vstunadm(['reload']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(reason);
        expect(r.stderr).not.toMatch(/INTERNAL|TypeError/);
        expect((await t.vstunadm(['-S'])).stdout).toBe(before);
      }
    } finally {
      await t.close();
    }
  });

  test(`more than ${MAX_SERVICES} services are refused before each is validated`, () => {
    const services = Array.from({ length: MAX_SERVICES + 1 }, (_, i) => ({ protocol: 'tcp', vip: '10.0.0.1', port: (i % 65535) + 1 }));
    const err = refusal(() => validateDirectorConfig({ services }));
    expect(err.problems).toEqual([`services: has ${MAX_SERVICES + 1} services; at most ${MAX_SERVICES} are allowed`]);
  });
});

describe('tunnel health checks need a probe source', () => {
  test('refused at validation without director.probeSource or director.dip', () => {
    expect(problems(svc('vip: 10.0.0.1, healthCheck: {kind: tunnel}'))).toEqual([
      'services[0].healthCheck.kind: "tunnel" checks need a probe source: set director.probeSource (a /32 routed back to this host) or director.dip',
    ]);
    expect(problems(svc('vip: 10.0.0.1, realServers: [{address: 10.0.1.1, healthCheck: {kind: tunnel}}]'))[0]).toMatch(/"tunnel" checks need a probe source/);
  });

  test.each(['probeSource: 10.9.9.9', 'dip: 10.0.0.254'])('accepted with %s', (field) => {
    expect(parseDirectorConfig(`director: {${field}}\n${svc('vip: 10.0.0.1, healthCheck: {kind: tunnel}')}`).services).toHaveLength(1);
  });
});

// ---- One rule for the YAML file, vstunadm and -R -------------------------------------------

function vstunadmRefusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (err) {
    if (isVstunadmError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected vstunadm to refuse');
}

const commands = (...lines: string[]): RuleCommand[] => lines.map((l) => parseVstunadmArgs(l.split(' ')) as RuleCommand);

describe('port 0 (every port): persistent only, in YAML, vstunadm and -R alike', () => {
  test('YAML refuses a non-persistent port-0 service', () => {
    expect(problems('services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 0}\n')).toEqual([
      'services[0].port: 0 (every port) is only allowed for a persistent service, as in ipvsadm; give a port 1..65535, or set persistence (vstunadm: -p)',
    ]);
  });

  test('vstunadm -A and -R refuse it the same way', () => {
    expect(vstunadmRefusal(() => parseVstunadmArgs(['-A', '-t', '10.0.0.1:0', '-s', 'rr'])).message).toMatch(/zero port specified for a non-persistent service/);
    expect(vstunadmRefusal(() => parseRestore('-A -t 10.0.0.1:0 -s rr\n')).message).toMatch(/^line 1: zero port specified for a non-persistent service/);
  });

  test('a persistent port-0 service round-trips YAML -> -S -> -R -> the same rules', () => {
    const config = parseDirectorConfig('services:\n  - {protocol: tcp, vip: 10.0.0.1, port: 0, persistence: 600, netmask: 24, realServers: [{address: 10.0.1.1, weight: 3}]}\n');
    const saved = formatRules(config.services.map(definitionToRules));
    expect(saved).toBe('-A -t 10.0.0.1:0 -s wlc -p 600 -M 255.255.255.0\n-a -t 10.0.0.1:0 -r 10.0.1.1:0 -i -w 3 --tun-type ipip\n');
    const restored = applyCommandsToDefinitions([], parseRestore(saved));
    expect(formatRules(restored.map(definitionToRules))).toBe(saved);
    expect(formatRules(restoreRules(saved))).toBe(saved);
  });
});

describe('vstunadm tables meet the file rules', () => {
  const director = { linkAddress: '169.254.77.2', kernelAddress: '169.254.77.1', linkPrefixLength: 30, mac: '02:56:53:54:00:02' };

  test.each([
    ['-A -t 0.0.0.0:80 -s rr', '-t 0.0.0.0:80: VIP "0.0.0.0" is the unspecified address'],
    ['-A -u 224.0.0.1:53 -s rr', '-u 224.0.0.1:53: VIP "224.0.0.1" is a multicast address'],
    ['-A -t 169.254.77.2:80', '-t 169.254.77.2:80: VIP "169.254.77.2" is also director.linkAddress'],
  ])('%s is refused', (line, message) => {
    const err = vstunadmRefusal(() => applyCommandsToDefinitions([], commands(line), director));
    expect(err.code).toBe('ERR_BAD_SERVICE');
    expect(err.message.startsWith(message)).toBe(true);
  });

  test('a loopback real server is refused by -a', () => {
    const err = vstunadmRefusal(() => applyCommandsToDefinitions([], commands('-A -t 10.0.0.1:80', '-a -t 10.0.0.1:80 -r 127.0.0.1 -i'), director));
    expect(err).toEqual({ code: 'ERR_BAD_SERVICE', message: expect.stringMatching(/^-t 10\.0\.0\.1:80: real server "127\.0\.0\.1" is a loopback address; a real server must be a unicast address/) });
  });
});
