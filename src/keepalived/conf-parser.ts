// keepalived.conf's syntax, read into a tree of statements that keep their file and line:
// words separated by whitespace, `{` … `}` blocks, comments from `#` or `!` to the end of
// the line, "…" and '…' quoted strings (quotes removed, escapes as keepalived takes them),
// and `include FILE` (and its includer/includem/includew/includeb/includea variants) with
// shell wildcards, relative to the including file's directory. Nothing here knows what a
// keyword means; src/keepalived/importer.ts does.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** Where a statement came from, for "file:line" in every message. */
export interface Source {
  file: string;
  line: number;
}

export interface Statement extends Source {
  keyword: string;
  args: string[];
  /** The `{ … }` block that follows the words on the same statement, if any. */
  block?: Statement[];
}

/** Something the reader could not take (an unreadable include, a stray brace); never fatal on its own. */
export interface ParseNote extends Source {
  message: string;
}

export interface ParsedConf {
  statements: Statement[];
  notes: ParseNote[];
  /** Every file read, the main one first. */
  files: string[];
}

const INCLUDE_KEYWORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);
/** Includes deeper than this are refused (a file including itself would never end). */
const MAX_INCLUDE_DEPTH = 8;
/** Files read in total, and bytes per file: a config is small; a glob over /usr is not. */
const MAX_FILES = 256;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

interface Token extends Source {
  text: string;
  /** `{` or `}` as punctuation (a quoted "{" is a word). */
  brace: boolean;
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Splits one line into tokens; a comment ends it. Returns null on an unterminated quote. */
function tokenizeLine(text: string, src: Source): Token[] | null {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#' || c === '!') break;
    if (c === '{' || c === '}') {
      out.push({ ...src, text: c, brace: true });
      i++;
      continue;
    }
    let word = '';
    let quote: string | null = null;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (quote !== null) {
        if (ch === quote) quote = null;
        else if (ch === '\\' && i + 1 < text.length) {
          const e = text[++i];
          word += ESCAPES[e] ?? e;
        } else word += ch;
        continue;
      }
      if (ch === '"' || ch === "'") quote = ch;
      else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '{' || ch === '}' || ch === '#' || ch === '!') break;
      else word += ch;
    }
    if (quote !== null) return null;
    out.push({ ...src, text: word, brace: false });
  }
  return out;
}

/** `*`, `?` and `[…]` of one path segment as a RegExp. */
function segmentPattern(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Expands a wildcard path (absolute) into the existing files it names, sorted, as the shell does. */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split('/').filter((p, i) => p !== '' || i === 0);
  let paths = [parts[0] === '' ? '/' : parts[0]];
  for (const part of parts.slice(1)) {
    const next: string[] = [];
    for (const base of paths) {
      if (!/[*?[]/.test(part)) {
        next.push(join(base, part));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const re = segmentPattern(part);
      for (const n of names.sort()) if (re.test(n) && !(n.startsWith('.') && !part.startsWith('.'))) next.push(join(base, n));
    }
    paths = next;
  }
  return paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** Reads a config file, refusing one too large to be a config. */
function readConfigFile(file: string): string {
  if (statSync(file).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
  return readFileSync(file, 'utf8');
}

class Reader {
  readonly notes: ParseNote[] = [];
  readonly files: string[] = [];

  constructor(private readonly readFile: (file: string) => string = readConfigFile) {}

  /** The tokens of `file`, includes expanded in place. */
  tokens(file: string, depth: number, from: Source | undefined): Token[] {
    if (this.files.length >= MAX_FILES) {
      this.notes.push({ ...(from ?? { file, line: 0 }), message: `more than ${MAX_FILES} files included; ${file} and later ones are not read` });
      return [];
    }
    let text: string;
    try {
      text = this.readFile(file);
    } catch (err) {
      if (from === undefined) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      this.notes.push({ ...from, message: `cannot read included file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}` });
      return [];
    }
    this.files.push(file);
    const out: Token[] = [];
    const lines = text.split('\n');
    for (let n = 0; n < lines.length; n++) {
      const src = { file, line: n + 1 };
      const toks = tokenizeLine(lines[n], src);
      if (toks === null) {
        this.notes.push({ ...src, message: 'unterminated quote; the line is not read' });
        continue;
      }
      if (toks.length === 0) continue;
      if (!toks[0].brace && INCLUDE_KEYWORDS.has(toks[0].text)) {
        this.include(toks, file, depth, out);
        continue;
      }
      out.push(...toks, { ...src, text: '\n', brace: false });
    }
    return out;
  }

  private include(toks: Token[], file: string, depth: number, out: Token[]): void {
    const at = { file: toks[0].file, line: toks[0].line };
    if (toks.length < 2) {
      this.notes.push({ ...at, message: `${toks[0].text} without a file name` });
      return;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
      this.notes.push({ ...at, message: `includes nested deeper than ${MAX_INCLUDE_DEPTH}; ${toks[1].text} is not read` });
      return;
    }
    const pattern = isAbsolute(toks[1].text) ? toks[1].text : resolve(dirname(file), toks[1].text);
    const matches = /[*?[]/.test(pattern) ? expandGlob(pattern) : [pattern];
    if (matches.length === 0) this.notes.push({ ...at, message: `${toks[0].text} ${toks[1].text}: no file matches` });
    for (const m of matches) out.push(...this.tokens(m, depth + 1, at));
  }
}

/** Groups tokens into statements: words up to a newline, `{` (opens a block) or `}` (closes one). */
function buildTree(tokens: Token[], notes: ParseNote[]): Statement[] {
  const root: Statement[] = [];
  const stack: Statement[][] = [root];
  let words: Token[] = [];
  const flush = (opensBlock: boolean, at: Source): void => {
    if (words.length === 0) {
      if (opensBlock) {
        notes.push({ ...at, message: 'a block with no keyword before it; its contents are not read' });
        const orphan: Statement[] = [];
        stack.push(orphan);
      }
      return;
    }
    const st: Statement = { file: words[0].file, line: words[0].line, keyword: words[0].text, args: words.slice(1).map((w) => w.text) };
    stack[stack.length - 1].push(st);
    if (opensBlock) {
      st.block = [];
      stack.push(st.block);
    }
    words = [];
  };
  for (const t of tokens) {
    if (t.brace && t.text === '{') flush(true, t);
    else if (t.brace) {
      flush(false, t);
      if (stack.length === 1) notes.push({ ...t, message: 'a "}" with no block open; ignored' });
      else stack.pop();
    } else if (t.text === '\n') flush(false, t);
    else words.push(t);
  }
  if (words.length > 0) flush(false, words[0]);
  if (stack.length > 1) notes.push({ file: tokens.at(-1)?.file ?? '', line: tokens.at(-1)?.line ?? 0, message: `${stack.length - 1} block(s) not closed at the end of the file` });
  return root;
}

/**
 * Reads keepalived.conf at `path` (and what it includes). Throws only when the main file
 * cannot be read; everything else is a note with its file and line.
 */
export function parseKeepalivedConf(path: string): ParsedConf {
  const reader = new Reader();
  const tokens = reader.tokens(resolve(path), 0, undefined);
  const statements = buildTree(tokens, reader.notes);
  return { statements, notes: reader.notes, files: reader.files };
}

/** Parses keepalived.conf text as if read from `file` (an include of any other file is a note). For tests. */
export function parseKeepalivedText(text: string, file = '/keepalived.conf'): ParsedConf {
  const reader = new Reader((f) => {
    if (f !== file) throw new Error('only the given text is read');
    return text;
  });
  const statements = buildTree(reader.tokens(file, 0, undefined), reader.notes);
  return { statements, notes: reader.notes, files: reader.files };
}
