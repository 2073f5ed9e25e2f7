import { describe, expect, it } from 'vitest';
import { splitCommandLine } from './command-line.js';

describe('splitCommandLine', () => {
  it.each([
    { description: 'plain words', line: '/usr/local/bin/script.sh arg1 arg2', words: ['/usr/local/bin/script.sh', 'arg1', 'arg2'] },
    { description: 'single quotes keep spaces', line: "/x ' a b ' c", words: ['/x', ' a b ', 'c'] },
    { description: 'double quotes inside a word', line: 'ab"c d"e', words: ['abc de'] },
    { description: 'escaped quote in double quotes', line: '"say \\"hi\\""', words: ['say "hi"'] },
    { description: 'backslash escapes a space', line: 'a\\ b c', words: ['a b', 'c'] },
    { description: 'no shell expansion', line: '/x $HOME `id` ;', words: ['/x', '$HOME', '`id`', ';'] },
    { description: 'empty quotes are an empty word', line: "/x ''", words: ['/x', ''] },
    { description: 'blank', line: '   ', words: [] },
    { description: 'unterminated quote', line: '/x "a', words: null },
    { description: 'trailing backslash', line: '/x a\\', words: null },
  ])('$description', ({ line, words }) => {
    expect(splitCommandLine(line)).toEqual(words);
  });
});
