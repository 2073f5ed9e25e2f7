// Splits a script line (keepalived notify_up "/path/x.sh arg 'two words'", vstun's notifyUp)
// into a program and its arguments, the way a shell splits words but without running one:
// no variables, globs or redirections, so a config value can never inject a command.

/**
 * Words of `line`: whitespace separates them; '…' and "…" quote (the quotes are removed,
 * the whitespace inside kept); a backslash outside single quotes escapes the next character.
 * Returns null for an unterminated quote or a trailing backslash.
 */
export function splitCommandLine(line: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\') {
      if (i + 1 >= line.length) return null;
      word += line[++i];
    } else word += c;
  }
  if (quote !== null) return null;
  if (inWord) words.push(word);
  return words;
}
