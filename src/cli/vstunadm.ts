#!/usr/bin/env node
// vstunadm: ipvsadm's syntax and output against vstun-director's control socket
// (the logic is in src/control/vstunadm-run.ts, so tests can run it in-process).
import { runVstunadm } from '../control/vstunadm-run.js';

function readAllStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (text += c));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

process.exitCode = await runVstunadm(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin: readAllStdin,
  env: process.env,
});
