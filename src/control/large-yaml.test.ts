// The fast YAML path (js-yaml, for large files) against the `yaml` package it stands in for:
// the same value for every text js-yaml accepts, a refusal wherever `yaml` refuses, and
// through parseDirectorConfig the same config, or the same message with the line or path.
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { describe, expect, test } from 'vitest';
import { largeConfigYaml } from '../lab/large-config.js';
import { ConfigError, parseDirectorConfig } from './config-loader.js';
import { LARGE_YAML_CHARS, loadFastYaml, parseLargeYaml } from './large-yaml.js';

/** What the `yaml` package makes of `text`, as the loader asks it: the value, or 'refused'. */
function slowYaml(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return 'refused';
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch {
    return 'refused';
  }
}

// Plain, quoted and block scalars of the core schema, where YAML 1.1 and 1.2 differ too.
const SCALARS = [
  '80', '-7', '+12', '012', '0o17', '0x1F', '0b101', '1_000', '1e3', '1.5', '-.5', '.inf', '-.Inf', '.NaN', '1.', '6.8523015e+5',
  'true', 'True', 'TRUE', 'false', 'yes', 'no', 'on', 'off', 'y', 'n',
  'null', 'Null', '~', '', '10.0.0.1', '2001:db8::1', '"2001:db8::1"', "'it''s'", '"a\\tb\\u00e9"', '"\\x41"', '12:30', '2026-12-02',
  'a b  c', 'wrr', 'tcp', '"80"', "'80'", '!!str 80', '!!int "80"', '0.', '-0', '+.inf', '1e', '0o8', '0x', '—dash',
];

describe('the fast YAML path gives what the yaml package gives', () => {
  test.each(SCALARS)('scalar %s, as a value, in a flow sequence and in a flow mapping', (s) => {
    let compared = 0;
    for (const text of [`k: ${s}\n`, `k: [${s}, x]\n`, `k: {a: ${s}, b: 1}\n`, `- ${s}\n- ${s}\n`]) {
      const fast = loadFastYaml(text);
      const slow = slowYaml(text);
      if (fast === undefined) continue; // refused: the yaml package reads it
      expect(fast.value, text).toEqual(slow);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(3);
  });

  test.each([
    ['block scalars', 'a: |\n  one\n  two\nb: >-\n  three\n  four\n\nc: |+\n  x\n\nd: end\n'],
    ['comments and blank lines', '# top\nservices: # list\n  - a   # item\n\n  - b\n'],
    ['CRLF line ends', 'director:\r\n  dip: 10.77.2.1\r\nservices: []\r\n'],
    ['a byte-order mark', '\ufeffdirector: {}\n'],
    ['nested block and flow', 'services:\n  - protocol: tcp\n    realServers:\n      - { address: 10.0.0.1, weight: 2 }\n      - address: 10.0.0.2\n'],
    ['a merge key is an ordinary key in 1.2', 'base: {a: 1}\nx:\n  <<: {a: 2}\n'],
    ['the document markers', '%YAML 1.2\n---\na: 1\n...\n'],
    ['quoted keys and unicode', '"a b": 1\n\'c\': é\n'],
  ])('%s', (_name, text) => {
    const fast = loadFastYaml(text);
    expect(fast).toBeDefined();
    expect(fast!.value).toEqual(slowYaml(text));
  });

  test.each([
    ['a repeated key', 'a: 1\na: 2\n'],
    ['a repeated key in a flow mapping', 'a: {b: 1, b: 2}\n'],
    ['an unclosed flow mapping', 'services:\n  - {protocol: tcp\n'],
    ['an unclosed quote', 'a: "abc\n'],
    ['a tab as indentation', 'a:\n\tb: 1\n'],
    ['bad indentation', 'a:\n  b: 1\n c: 2\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['an alias (refused here, read by yaml with its bound)', 'a: &x [1, 2]\nb: *x\n'],
    ['an undefined alias', 'a: *nope\n'],
    ['a billion laughs', 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'],
    ['an unknown tag', 'a: !!timestamp 2026-12-02\n'],
    ['a tag on the wrong value', 'a: !!int abc\n'],
  ])('refused: %s', (_name, text) => {
    expect(loadFastYaml(text)).toBeUndefined();
  });

  test('any mapping of generated keys and scalars: the same value, or refused', () => {
    const key = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,6}$/);
    const scalar = fc.oneof(fc.constantFrom(...SCALARS), fc.integer().map(String), fc.double({ noNaN: true }).map(String), fc.stringMatching(/^[ -~]{0,12}$/));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, scalar), { maxLength: 8 }), fc.boolean(), (pairs, flow) => {
        const text = flow ? `{${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')}}\n` : pairs.map(([k, v]) => `${k}: ${v}\n`).join('');
        const fast = loadFastYaml(text);
        if (fast !== undefined) expect(fast.value).toEqual(slowYaml(text));
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseDirectorConfig on a large YAML file', () => {
  const big = largeConfigYaml({ services: 1300, perService: 3 });

  test('the file is large enough to take the fast path, and gives the config the yaml package gives', () => {
    expect(big.length).toBeGreaterThanOrEqual(LARGE_YAML_CHARS);
    expect(parseLargeYaml(big)).toBeDefined();
    expect(parseLargeYaml('services: []\n')).toBeUndefined();
    const fromSlow = parseDirectorConfig(JSON.stringify(parseDocument(big).toJS()));
    expect(parseDirectorConfig(big)).toEqual(fromSlow);
  });

  test('a syntax error still names its line', () => {
    const lines = big.split('\n');
    lines.splice(5000, 0, '  - {protocol: tcp');
    const text = lines.join('\n');
    expect(() => parseDirectorConfig(text, 'big.yaml')).toThrow(ConfigError);
    expect(() => parseDirectorConfig(text, 'big.yaml')).toThrow(/^big\.yaml: YAML syntax error at line 50[0-9]{2},/);
  });

  test('a repeated key still names its line', () => {
    const text = `${big}services: []\n`;
    expect(() => parseDirectorConfig(text, 'big.yaml')).toThrow(/big\.yaml: YAML syntax error at line \d+, column \d+: Map keys must be unique/);
  });

  test('a bad value still names its path', () => {
    const text = big.replace('    port: 80\n', '    port: 80000\n');
    expect(() => parseDirectorConfig(text, 'big.yaml')).toThrow(/services\[0\]\.port: /);
  });

  test('aliases are read by the yaml package, with its bound on expansion', () => {
    const withAlias = big.replace('    scheduler: wrr\n', '    scheduler: &s wrr\n').replace('    scheduler: wrr\n    realServers', '    scheduler: *s\n    realServers');
    expect(loadFastYaml(withAlias)).toBeUndefined();
    expect(parseDirectorConfig(withAlias).services).toHaveLength(1300);
    const bomb = `${big}x: &a [1,1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nw: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`;
    expect(() => parseDirectorConfig(bomb, 'big.yaml')).toThrow(/big\.yaml: YAML refused: .*expand the aliases/);
  });
});
