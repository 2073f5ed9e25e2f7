// `vstunadm import-keepalived FILE [-o director.yaml]`: reads keepalived.conf (and its
// includes), writes director.yaml (stdout without -o) and prints every construct it did not
// carry, with its file:line, on stderr. The output is validated by the director's own
// config loader first, so what is written is a config the director accepts.
// Exit: 0 written; 1 unreadable input, nothing importable or output not writable; 2 usage.
import { writeFileSync } from 'node:fs';
import { ConfigError, parseDirectorConfig } from '../control/config-loader.js';
import { parseKeepalivedConf } from './conf-parser.js';
import { importKeepalived, type ImportResult } from './importer.js';
import { formatNote, importToYaml } from './yaml-output.js';

export interface ImportIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const IMPORT_USAGE = 'usage: vstunadm import-keepalived FILE [-o director.yaml] [--quiet]\n';

/** Imports `path` and returns the YAML text and the result; throws ConfigError if the director would refuse it. */
export function importKeepalivedFile(path: string): { yaml: string; result: ImportResult } {
  const result = importKeepalived(parseKeepalivedConf(path));
  const yaml = importToYaml(result, path);
  parseDirectorConfig(yaml, `the config imported from ${path}`);
  return { yaml, result };
}

/** Runs the subcommand with its arguments (after the word import-keepalived). */
export function runImportKeepalived(args: readonly string[], io: ImportIo): number {
  let input: string | undefined;
  let output: string | undefined;
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-o' || a === '--output') {
      if (args[i + 1] === undefined) return usage(io, `${a} needs a file name`);
      output = args[++i];
    } else if (a === '-q' || a === '--quiet') quiet = true;
    else if (a === '-h' || a === '--help') {
      io.stdout(IMPORT_USAGE);
      return 0;
    } else if (a.startsWith('-') && a !== '-') return usage(io, `unknown option '${a}'`);
    else if (input === undefined) input = a;
    else return usage(io, `unexpected argument '${a}'`);
  }
  if (input === undefined) return usage(io, 'no keepalived.conf given');
  let yaml: string;
  let result: ImportResult;
  try {
    ({ yaml, result } = importKeepalivedFile(input === '-' ? '/dev/stdin' : input));
  } catch (err) {
    const msg = err instanceof ConfigError ? `the imported config is not valid (please report this with your keepalived.conf):\n${err.message}` : `cannot read ${input}: ${(err as Error).message}`;
    io.stderr(`vstunadm import-keepalived: ${msg}\n`);
    return 1;
  }
  if (!quiet) for (const n of result.notes) io.stderr(`${formatNote(n)}\n`);
  if (result.config.services.length === 0) {
    io.stderr(`vstunadm import-keepalived: ${input} has no virtual_server vstun can carry; nothing written\n`);
    return 1;
  }
  if (output === undefined) io.stdout(yaml);
  else {
    try {
      writeFileSync(output, yaml, { mode: 0o644 });
    } catch (err) {
      io.stderr(`vstunadm import-keepalived: cannot write ${output}: ${(err as Error).message}\n`);
      return 1;
    }
    if (!quiet) io.stderr(`wrote ${output}: ${result.config.services.length} service(s), ${result.notes.length} note(s)\n`);
  }
  return 0;
}

function usage(io: ImportIo, why: string): number {
  io.stderr(`vstunadm import-keepalived: ${why}\n${IMPORT_USAGE}`);
  return 2;
}
