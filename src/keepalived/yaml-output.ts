// The imported config as director.yaml text: a header naming the source and every note
// (file:line: what was not carried and why), then the YAML itself.
import { basename } from 'node:path';
import { stringify } from 'yaml';
import type { ImportNote, ImportResult } from './importer.js';

/** "file:line: message", with the file shown relative to nothing (as given in the note). */
export function formatNote(n: ImportNote): string {
  return `${n.file}:${n.line}: ${n.message}`;
}

/** director.yaml text for `result`, imported from `sourcePath`. */
export function importToYaml(result: ImportResult, sourcePath: string): string {
  const head = [`# director.yaml imported from ${basename(sourcePath)} by vstunadm import-keepalived.`];
  if (result.notes.length === 0) head.push('# Everything in the LVS part was carried.');
  else {
    head.push(`# ${result.notes.length} construct(s) were not carried as written:`);
    for (const n of result.notes) head.push(`#   ${formatNote({ ...n, file: basename(n.file) })}`.replace(/\n/g, ' '));
  }
  return `${head.join('\n')}\n${stringify(result.config, { lineWidth: 0 })}`;
}
