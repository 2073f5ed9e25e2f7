#!/usr/bin/env node
// Builds the man pages man/NAME.SECTION from their markdown sources man/NAME.SECTION.md with
// marked-man (ronn's header format: "# name(section) -- description"). The date and version
// in each page are fixed (package version, MAN_DATE) so the output is reproducible and the
// unit test can check that the committed pages match their sources.
//   node scripts/build-man.mjs           write man/*.1 and man/*.5
//   node scripts/build-man.mjs --check   exit 1 if a committed page differs from its source
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The date printed in every page's footer; change it when the pages change. */
export const MAN_DATE = '2026-12-02';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manDir = join(root, 'man');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const require = createRequire(import.meta.url);
const markedMan = join(dirname(require.resolve('marked-man/package.json')), 'bin', 'marked-man.js');

/** roff text of one page. */
export function renderPage(source) {
  return execFileSync(process.execPath, [markedMan, '--no-breaks', '--version', `vstun ${version}`, '--manual', 'vstun manual', '--date', MAN_DATE, source], { encoding: 'utf8' });
}

const check = process.argv.includes('--check');
let stale = 0;
for (const md of readdirSync(manDir).filter((f) => /\.[158]\.md$/.test(f)).sort()) {
  const out = join(manDir, md.slice(0, -3));
  const roff = renderPage(join(manDir, md));
  if (check) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== roff) {
      console.error(`man/${md.slice(0, -3)} is not built from man/${md}; run npm run build:man`);
      stale++;
    }
  } else {
    writeFileSync(out, roff);
    console.log(`man/${md.slice(0, -3)}`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
