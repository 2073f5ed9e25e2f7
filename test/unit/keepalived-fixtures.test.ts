// The importer on real keepalived.conf files from keepalived's own documentation and from
// public projects (test/fixtures/keepalived/, each with its source in a header comment):
// every one imports to a config the director's real loader accepts, whose ipvsadm rules
// (-S) and YAML match the reviewed goldens in test/fixtures/keepalived/expected/.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDirectorConfig } from '../../src/control/config-loader.js';
import { formatRules } from '../../src/control/ipvsadm-dump.js';
import { definitionToRules } from '../../src/control/service-definitions.js';
import { importKeepalivedFile } from '../../src/keepalived/import-command.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const DIR = join(import.meta.dirname, '../fixtures/keepalived');
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.conf')).sort();
/** Files with nothing vstun can carry: they must say why and write nothing. */
const REFUSED = new Set(['keepalived-doc-fwmark.conf']);

describe('keepalived.conf fixtures', () => {
  it('has at least five real files, each naming its source', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
  });

  it.each(fixtures.filter((f) => !REFUSED.has(f)))('%s imports to a config the director accepts, as the goldens show', async (name) => {
    const { yaml, result } = importKeepalivedFile(join(DIR, name));
    // The real loader, from a file, as vstun-director --config reads it.
    const tmp = mkdtempSync(join(tmpdir(), 'vt-ti-fixture-'));
    try {
      writeFileSync(join(tmp, 'director.yaml'), yaml);
      const config = loadDirectorConfig(join(tmp, 'director.yaml'));
      expect(config.services.length).toBeGreaterThan(0);
      await expect(formatRules(config.services.map(definitionToRules))).toMatchFileSnapshot(`../fixtures/keepalived/expected/${basename(name, '.conf')}.rules`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    await expect(yaml.replace(DIR, '<fixtures>')).toMatchFileSnapshot(`../fixtures/keepalived/expected/${basename(name, '.conf')}.yaml`);
    for (const n of result.notes) expect(n.line).toBeGreaterThan(0);
  });

  it.each([...REFUSED])('%s is refused with the reason and its line', (name) => {
    const { result } = importKeepalivedFile(join(DIR, name));
    expect(result.config.services).toEqual([]);
    expect(result.notes.filter((n) => n.kind === 'refused').map((n) => `${n.line}: ${n.message}`)).toEqual([
      '9: virtual_server fwmark 1: refused: vstun has no firewall-mark services; define one virtual_server per VIP and port',
    ]);
  });
});
