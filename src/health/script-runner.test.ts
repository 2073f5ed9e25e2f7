import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessScriptRunner, type ScriptOutcome } from './script-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'vt-ti-scripts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function outcomes(runner: ProcessScriptRunner, jobs: Array<[string, Record<string, string>]>): Promise<ScriptOutcome[]> {
  return new Promise((resolve) => {
    const got: ScriptOutcome[] = [];
    for (const [line, env] of jobs) {
      runner.run(line, env, 'test', (o) => {
        got.push(o);
        if (got.length === jobs.length) resolve(got);
      });
    }
  });
}

describe('ProcessScriptRunner', () => {
  it('runs the program with its words as arguments (no shell) and the environment added', async () => {
    const out = join(dir, 'env.txt');
    const [o] = await outcomes(new ProcessScriptRunner(), [[`/bin/sh -c 'echo "$VSTUN_RS_ADDRESS $1" > ${out}' sh 'two words'`, { VSTUN_RS_ADDRESS: '10.1.0.1' }]]);
    expect(o).toMatchObject({ result: 'exit', code: 0 });
    expect(readFileSync(out, 'utf8')).toBe('10.1.0.1 two words\n');
  });

  it('kills a script that outlives its timeout, without blocking the caller', async () => {
    const runner = new ProcessScriptRunner({ timeoutMs: 100 });
    const before = performance.now();
    const p = outcomes(runner, [['sleep 30', {}]]);
    expect(performance.now() - before).toBeLessThan(1000); // run() returned at once (not a timing assertion on the script)
    expect((await p)[0]).toMatchObject({ result: 'timeout' });
    expect(runner.active).toBe(0);
  });

  it('bounds what runs and waits: the overflow is dropped and counted', async () => {
    const runner = new ProcessScriptRunner({ maxRunning: 1, maxQueued: 1, timeoutMs: 2000 });
    const got = await outcomes(runner, [
      ['sleep 0.2', {}],
      ['true', {}],
      ['true', {}],
    ]);
    expect(got.map((o) => o.result).sort()).toEqual(['dropped', 'exit', 'exit']);
    expect(runner.dropped).toBe(1);
  });

  it('reports a program that does not exist and a line that is not a command line', async () => {
    const got = await outcomes(new ProcessScriptRunner(), [
      ['/nonexistent/vt-ti-script', {}],
      ['"unterminated', {}],
    ]);
    expect(got.map((o) => o.result)).toEqual(['error', 'error'].slice(0, got.length));
  });
});
