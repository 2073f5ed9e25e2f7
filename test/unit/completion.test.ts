// The shell completions: bash's is sourced in a real bash and asked for completions the way
// bash asks (COMP_WORDS/COMP_CWORD, then the function); zsh's is syntax-checked by zsh.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'vt-ti-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A stand-in vstunadm on PATH: what -S -n would print for a running director.
writeFileSync(join(dir, 'vstunadm'), '#!/bin/sh\nprintf "%s\\n" "-A -t 192.0.2.1:80 -s wrr" "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i -w 1" "-A -u 192.0.2.1:53 -s rr" "-A -t [2001:db8::1]:443 -s mh"\n');
chmodSync(join(dir, 'vstunadm'), 0o755);
writeFileSync(join(dir, 'keepalived.conf'), '');

/** The completions bash would offer for the words (the last one is being completed). */
function complete(words: string[]): string[] {
  const script = `source ${JSON.stringify(join(ROOT, 'completion/vstunadm.bash'))}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_vstunadm; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { cwd: dir, encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}` }, timeout: 10_000 });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('bash completion', () => {
  it.each([
    { description: 'commands starting with -a', words: ['vstunadm', '-a'], expected: ['-a'] },
    { description: 'the subcommands starting with i', words: ['vstunadm', 'i'], expected: ['import-keepalived'] },
    { description: 'schedulers after -s', words: ['vstunadm', '-A', '-t', '192.0.2.1:80', '-s', 'w'], expected: ['wlc', 'wrr'] },
    { description: 'flags after -b', words: ['vstunadm', '-A', '-t', '192.0.2.1:80', '-s', 'mh', '-b', 'mh'], expected: ['mh-fallback', 'mh-port'] },
    { description: 'the running director`s TCP services after -t', words: ['vstunadm', '-a', '-t', ''], expected: ['192.0.2.1:80', '[2001:db8::1]:443'] },
    { description: 'UDP services after -u', words: ['vstunadm', '-L', '-u', ''], expected: ['192.0.2.1:53'] },
    { description: 'server options of -a, thresholds included', words: ['vstunadm', '-a', '-t', '192.0.2.1:80', '-'], expected: ['--control', '-i', '-r', '-t', '-u', '-w', '-x', '-y'] },
    { description: 'listing options starting with --t', words: ['vstunadm', '-L', '--t'], expected: ['--thresholds', '--timeout', '--tun-info'] },
    { description: 'files for import-keepalived', words: ['vstunadm', 'import-keepalived', 'keep'], expected: ['keepalived.conf'] },
    { description: 'options of import-keepalived', words: ['vstunadm', 'import-keepalived', 'x.conf', '-'], expected: ['--help', '--output', '--quiet', '-h', '-o', '-q'] },
    { description: 'nothing after -w (a number)', words: ['vstunadm', '-a', '-t', '192.0.2.1:80', '-w', ''], expected: [] },
  ])('$description', ({ words, expected }) => {
    expect(complete(words)).toEqual([...expected].sort());
  });
});

describe('zsh completion', () => {
  it('is valid zsh', () => {
    const r = spawnSync('zsh', ['-n', join(ROOT, 'completion/_vstunadm')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    expect([r.status, r.stderr]).toEqual([0, '']);
  });
});
