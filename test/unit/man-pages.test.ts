// The man pages are built from man/*.md by marked-man (npm run build:man); the committed
// roff must match its source, and package.json must install every page.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

describe('man pages', () => {
  it('the committed pages are what npm run build:man makes of man/*.md', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-man.mjs'), '--check'], { timeout: 60_000, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('cover the three programs and the config file, and package.json installs them', () => {
    const pages = readdirSync(join(ROOT, 'man')).filter((f) => /\.[15]$/.test(f)).sort();
    expect(pages).toEqual(['vstun-agent.1', 'vstun-director.1', 'vstun.yaml.5', 'vstunadm.1']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect([...pkg.man].sort()).toEqual(pages.map((p) => `man/${p}`));
    expect(pkg.files).toContain('man');
    expect(readFileSync(join(ROOT, 'man/vstunadm.1'), 'utf8')).toMatch(/^\.TH "VSTUNADM" "1" /);
  });

  it('vstunadm(1) names every command of vstunadm -h', () => {
    const page = readFileSync(join(ROOT, 'man/vstunadm.1.md'), 'utf8');
    for (const word of ['import-keepalived', 'explain', 'counters', 'reload', '--set', '-x', '-y', '--thresholds']) expect(page).toContain(`\`${word}`);
  });
});
