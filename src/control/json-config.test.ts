// A director.yaml written as JSON (JSON is YAML 1.2) takes the JSON fast path: the same config
// as through the YAML parser, the same refusal of repeated keys, and YAML that only looks like
// JSON still goes to the YAML parser.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { afterEach, describe, expect, test } from 'vitest';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { largeConfigYaml } from '../lab/large-config.js';
import { ConfigError, parseDirectorConfig } from './config-loader.js';
import { reloadConfig } from './config-reload.js';
import { duplicateKey, parseJsonConfig } from './json-config.js';

describe('config files in JSON', () => {
  test('a JSON file gives the config its YAML twin gives', () => {
    const yaml = largeConfigYaml({ services: 50, perService: 3 });
    const json = JSON.stringify(parseDocument(yaml).toJS(), null, 2);
    expect(parseJsonConfig(json)).toBeDefined();
    expect(parseDirectorConfig(json)).toEqual(parseDirectorConfig(yaml));
  });

  test('a repeated key is refused with its line, as the YAML parser refuses it', () => {
    const text = '{\n  "director": { "dip": "10.77.2.1" },\n  "services": [],\n  "services": []\n}\n';
    expect(() => parseDirectorConfig(text, 'd.yaml')).toThrow(ConfigError);
    expect(() => parseDirectorConfig(text, 'd.yaml')).toThrow(/d\.yaml: key "services" appears twice in one object \(line 4\)/);
  });

  test('duplicateKey: per object, nested, escaped, and not fooled by strings or arrays', () => {
    expect(duplicateKey('{"a":{"b":1},"c":{"b":2}}')).toBeUndefined();
    expect(duplicateKey('{"a":{"b":1,"b":2}}')).toEqual({ key: 'b', line: 1 });
    expect(duplicateKey('{"a":["a","a",{"a":1}],"b":"a,\\"a\\":"}')).toBeUndefined();
    expect(duplicateKey('{"a\\u0062":1,\n"ab":2}')).toEqual({ key: 'ab', line: 2 });
    expect(duplicateKey('{"s":[{"x":1,"y":2},{"x":1,"y":2}]}')).toBeUndefined();
  });

  test('YAML that is not JSON goes to the YAML parser (with its messages)', () => {
    expect(parseJsonConfig('director: {}\nservices: []\n')).toBeUndefined();
    expect(parseJsonConfig('{ director: {}, services: [] }')).toBeUndefined(); // a YAML flow mapping
    expect(parseDirectorConfig('{ director: {}, services: [] }').services).toEqual([]);
    expect(() => parseDirectorConfig('{ "services": [ }', 'f')).toThrow(/f: YAML syntax error at line 1/);
  });
});

describe('reload of an unchanged file', () => {
  let t: TestDirector | undefined;
  let dir = '';
  afterEach(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('reuses the parsed config (same object) but still reconciles; a changed file is parsed again', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vstun-reload-'));
    const file = path.join(dir, 'director.yaml');
    writeFileSync(file, largeConfigYaml({ services: 3, perService: 2 }));
    t = await startTestDirector({}, file);
    t.state.configPath = file;
    await reloadConfig(t.director, t.state);
    const first = t.state.config;
    expect(t.director.registry.list()).toHaveLength(3);
    // A run-time change, then a reload of the unchanged file: the file's table comes back.
    const del = await t.vstunadm(['-D', '-t', '10.100.0.1:80']);
    expect(del.code).toBe(0);
    expect(t.director.registry.list()).toHaveLength(2);
    const r = await reloadConfig(t.director, t.state);
    expect(t.state.config).toBe(first);
    expect(r.servicesAdded).toEqual(['tcp:10.100.0.1:80']);
    expect(t.director.registry.list()).toHaveLength(3);
    writeFileSync(file, largeConfigYaml({ services: 4, perService: 2 }));
    await reloadConfig(t.director, t.state);
    expect(t.state.config).not.toBe(first);
    expect(t.director.registry.list()).toHaveLength(4);
  });
});
