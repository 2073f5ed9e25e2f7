import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createDaemonLogger } from './daemon-logger.js';
import { openLogSink } from './log-sink.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vstun-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The open-file flags of `fd` (octal in /proc/self/fdinfo). */
const fdFlags = (fd: number) => parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);

/** Reads what is in the pipe now (the read end is non-blocking). */
function drain(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return text;
      throw err;
    }
    if (n === 0) return text;
    text += buf.toString('utf8', 0, n);
  }
}

describe('log sink over a pipe whose reader stalls', () => {
  test('writes never block; the overflow is dropped whole and counted; the report comes once the reader is back; the shared description stays blocking', async () => {
    const fifo = path.join(dir, 'stdout.fifo');
    execFileSync('mkfifo', [fifo], { timeout: 10_000 });
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    // Like an inherited stdout: a blocking description (shared with a parent in real life).
    const stdout = openSync(fifo, constants.O_WRONLY);
    try {
      const { log, sink } = createDaemonLogger('t', 'info', openLogSink(stdout, { maxQueuedBytes: 32 * 1024, retryMs: 10 }));
      const total = 5000;
      const started = performance.now();
      for (let k = 0; k < total; k++) log.info({ k, pad: 'p'.repeat(200) }, 'line');
      // A blocked write would never get here (the pipe holds 64 KiB, we wrote about 1.3 MB).
      expect(performance.now() - started).toBeLessThan(20_000);
      expect(sink.dropped).toBeGreaterThan(0);
      expect(fdFlags(stdout) & constants.O_NONBLOCK).toBe(0);
      const dropped = sink.dropped;
      // The reader comes back: read until the report arrives.
      let text = '';
      for (let t = 0; t < 200 && !text.includes('log lines'); t++) {
        text += drain(reader);
        await new Promise((r) => setTimeout(r, 10));
      }
      text += drain(reader);
      const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { k?: number; msg: string; dropped?: number });
      const data = lines.filter((l) => l.msg === 'line');
      const report = lines.filter((l) => l.msg.startsWith('dropped '));
      expect(report).toEqual([expect.objectContaining({ msg: `dropped ${dropped} log lines`, dropped })]);
      // Every line arrived whole or not at all, in order, and none went missing uncounted.
      expect(data.length + dropped).toBe(total);
      for (let i = 1; i < data.length; i++) expect(data[i].k!).toBeGreaterThan(data[i - 1].k!);
    } finally {
      closeSync(stdout);
      closeSync(reader);
    }
  }, 60_000);

  test('a regular file gets every line', () => {
    const file = path.join(dir, 'out.log');
    const fd = openSync(file, 'w');
    const { log, sink } = createDaemonLogger('t', 'info', openLogSink(fd));
    for (let k = 0; k < 100; k++) log.info({ k }, 'line');
    closeSync(fd);
    expect(sink.dropped).toBe(0);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(100);
  });

  test('a pipe nobody reads any more (EPIPE): lines are dropped and counted, nothing throws', () => {
    const fifo = path.join(dir, 'gone.fifo');
    execFileSync('mkfifo', [fifo], { timeout: 10_000 });
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const stdout = openSync(fifo, constants.O_WRONLY);
    const sink = openLogSink(stdout);
    closeSync(reader);
    const { log } = createDaemonLogger('t', 'info', sink);
    for (let k = 0; k < 10; k++) log.info('x');
    closeSync(stdout);
    expect(sink.dropped).toBe(10);
  });
});
