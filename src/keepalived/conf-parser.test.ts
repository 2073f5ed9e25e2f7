import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandGlob, parseKeepalivedConf, parseKeepalivedText, type Statement } from './conf-parser.js';

/** keyword args… { … } as compact text, with lines, for assertions. */
function show(sts: Statement[]): string[] {
  return sts.map((s) => `${s.line}:${[s.keyword, ...s.args].join('|')}${s.block ? ` {${show(s.block).join(' ')}}` : ''}`);
}

describe('keepalived.conf reader', () => {
  it.each([
    { description: 'comments with # and ! anywhere in a line', text: '! head\nvirtual_server 10.0.0.1 80 { # open\n  delay_loop 6 ! six\n}\n', expected: ['2:virtual_server|10.0.0.1|80 {3:delay_loop|6}'] },
    { description: 'quoted strings keep spaces and lose their quotes', text: `misc_path "/bin/x a  b"\nnotify_up '/bin/y "q"'\n`, expected: ['1:misc_path|/bin/x a  b', '2:notify_up|/bin/y "q"'] },
    { description: 'a # inside quotes is not a comment', text: 'regex "a#b!c"\n', expected: ['1:regex|a#b!c'] },
    { description: 'escapes inside quotes', text: 'x "a\\tb\\"c"\n', expected: ['1:x|a\tb"c'] },
    { description: 'a block opened and closed on one line', text: 'url { path / }\n', expected: ['1:url {1:path|/}'] },
    { description: 'a block opened at the end of its keyword`s line', text: 'real_server 1.2.3.4 80 {\nweight 2\n}\n', expected: ['1:real_server|1.2.3.4|80 {2:weight|2}'] },
    { description: 'nested blocks keep their lines', text: 'a {\n b {\n  c {\n   d 1\n  }\n }\n}\n', expected: ['1:a {2:b {3:c {4:d|1}}}'] },
    { description: 'a quoted brace is a word', text: 'x "{"\n', expected: ['1:x|{'] },
  ])('$description', ({ text, expected }) => {
    const r = parseKeepalivedText(text);
    expect(show(r.statements)).toEqual(expected);
    expect(r.notes).toEqual([]);
  });

  it.each([
    { description: 'an unterminated quote skips the line', text: 'a 1\nb "oops\nc 2\n', notes: ['2: unterminated quote; the line is not read'], statements: ['1:a|1', '3:c|2'] },
    { description: 'a stray closing brace', text: 'a 1\n}\n', notes: ['2: a "}" with no block open; ignored'], statements: ['1:a|1'] },
    { description: 'an unclosed block', text: 'a {\n b 1\n', notes: ['2: 1 block(s) not closed at the end of the file'], statements: ['1:a {2:b|1}'] },
    { description: 'include of another file from text input', text: 'include other.conf\n', notes: ['1: cannot read included file /other.conf: only the given text is read'], statements: [] },
  ])('notes $description with its line', ({ text, notes, statements }) => {
    const r = parseKeepalivedText(text);
    expect(r.notes.map((n) => `${n.line}: ${n.message}`)).toEqual(notes);
    expect(show(r.statements)).toEqual(statements);
  });
});

describe('include', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-ti-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'conf.d'));
  mkdirSync(join(dir, 'conf.d', 'sub'));
  writeFileSync(join(dir, 'keepalived.conf'), 'global_defs {\n}\ninclude conf.d/*.conf\nincluder missing/*.conf\ninclude nope.conf\n');
  writeFileSync(join(dir, 'conf.d', 'b.conf'), '\nvirtual_server 10.0.0.2 80 {\n}\n');
  writeFileSync(join(dir, 'conf.d', 'a.conf'), 'virtual_server 10.0.0.1 80 {\n  include sub/rs.inc\n}\n');
  writeFileSync(join(dir, 'conf.d', 'sub', 'rs.inc'), 'real_server 10.1.0.1 80 {\n}\n');
  writeFileSync(join(dir, 'conf.d', 'c.txt'), 'not matched\n');
  writeFileSync(join(dir, 'loop.conf'), 'include loop.conf\n');

  it('expands globs relative to the including file, in sorted order, with each file`s own lines', () => {
    const r = parseKeepalivedConf(join(dir, 'keepalived.conf'));
    expect(r.statements.map((s) => `${s.file.slice(dir.length)}:${s.line}:${s.keyword} ${s.args.join(' ')}`)).toEqual([
      '/keepalived.conf:1:global_defs ',
      '/conf.d/a.conf:1:virtual_server 10.0.0.1 80',
      '/conf.d/b.conf:2:virtual_server 10.0.0.2 80',
    ]);
    // the nested include is relative to conf.d/a.conf, and keeps its file and line
    const rs = r.statements[1].block![0];
    expect([rs.file.slice(dir.length), rs.line, rs.keyword]).toEqual(['/conf.d/sub/rs.inc', 1, 'real_server']);
    expect(r.notes.map((n) => `${n.file.slice(dir.length)}:${n.line}: ${n.message.replace(dir, '')}`)).toEqual([
      '/keepalived.conf:4: includer missing/*.conf: no file matches',
      '/keepalived.conf:5: cannot read included file /nope.conf: no such file',
    ]);
  });

  it('stops an include loop at the depth limit', () => {
    const r = parseKeepalivedConf(join(dir, 'loop.conf'));
    expect(r.notes.at(-1)?.message).toMatch(/nested deeper than 8/);
    expect(r.files.length).toBe(9);
  });

  it('throws only when the main file cannot be read', () => {
    expect(() => parseKeepalivedConf(join(dir, 'absent.conf'))).toThrow(/ENOENT/);
  });

  it('glob: *, ? and [..] match within one segment, dot files only when asked', () => {
    writeFileSync(join(dir, 'conf.d', '.hidden.conf'), '');
    expect(expandGlob(join(dir, 'conf.d', '?.conf')).map((p) => p.slice(dir.length))).toEqual(['/conf.d/a.conf', '/conf.d/b.conf']);
    expect(expandGlob(join(dir, 'conf.d', '[b-c].*')).map((p) => p.slice(dir.length))).toEqual(['/conf.d/b.conf', '/conf.d/c.txt']);
    expect(expandGlob(join(dir, '*', 'sub', '*.inc')).map((p) => p.slice(dir.length))).toEqual(['/conf.d/sub/rs.inc']);
  });
});
