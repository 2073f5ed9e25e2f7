// The native writer's scatter write (META_FLAG_CONTINUES) in 'write' mode with a virtio-net
// header, over a FIFO: a byte stream, so what each writev put in is read back in order.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAddon, MAX_GATHER_SPANS, META_FLAG_CONTINUES, META_FLAG_VNET_HDR, META_STRIDE, type NativeWriter } from './addon.js';

const VLEN = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** meta for entries [offset, length, family]. */
function metaOf(entries: [number, number, number][]): Int32Array {
  const m = new Int32Array(entries.length * META_STRIDE);
  entries.forEach(([o, l, f], i) => m.set([o, l, f, 0], i * META_STRIDE));
  return m;
}

describe('writer scatter write (TUN/TAP mode)', () => {
  let dir: string;
  let rfd: number;
  let wfd: number;
  let writer: NativeWriter;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vstun-gather-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo], { timeout: 10_000 });
    rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    wfd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    writer = loadAddon().createWriter({ fd: wfd, mode: 'write', vnetHdr: VLEN, backlog: 8 });
  });

  afterEach(() => {
    writer.close();
    fs.closeSync(wfd);
    fs.closeSync(rfd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const readAll = (max = 1 << 20): Uint8Array => {
    const buf = Buffer.alloc(max);
    let n = 0;
    for (;;) {
      try {
        const k = fs.readSync(rfd, buf, n, max - n, null);
        if (k <= 0) break;
        n += k;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
    }
    return new Uint8Array(buf.subarray(0, n));
  };

  it('one packet per head: its spans concatenated, behind its own header or a zero one', () => {
    const data = new Uint8Array(64).map((_, i) => i);
    const meta = metaOf([
      [0, 16, META_FLAG_VNET_HDR], // a header of its own (bytes 0..11) and 4 bytes of packet
      [20, 3, META_FLAG_CONTINUES],
      [40, 5, META_FLAG_CONTINUES],
      [50, 4, 0], // a plain packet: the writer prepends a zero header
      [30, 2, 0],
      [33, 2, META_FLAG_CONTINUES],
    ]);
    expect(writer.writeBatch(data, meta, 6)).toBe(3);
    const want = [...data.subarray(0, 16), ...data.subarray(20, 23), ...data.subarray(40, 45), ...new Uint8Array(VLEN), ...data.subarray(50, 54), ...new Uint8Array(VLEN), ...data.subarray(30, 32), ...data.subarray(33, 35)];
    expect([...readAll()]).toEqual(want);
    expect(writer.stats()).toMatchObject({ written: 3, bytes: 16 + 3 + 5 + 4 + 2 + 2, errors: 0 });
  });

  it('a continuation with no packet before it, a bad span or too many spans: the whole packet is an error, nothing of it is sent', () => {
    const data = new Uint8Array(4096).fill(7);
    const tooMany: [number, number, number][] = [[0, 1, 0]];
    for (let i = 0; i < MAX_GATHER_SPANS; i++) tooMany.push([i + 1, 1, META_FLAG_CONTINUES]);
    const entries: [number, number, number][] = [
      [0, 4, META_FLAG_CONTINUES], // orphan
      [0, 4, 0],
      [5000, 4, META_FLAG_CONTINUES], // outside data: the packet it belongs to goes nowhere
      ...tooMany,
      [8, 2, 0], // fine
    ];
    expect(writer.writeBatch(data, metaOf(entries), entries.length)).toBe(1);
    expect(readAll().length).toBe(VLEN + 2);
    expect(writer.stats()).toMatchObject({ written: 1, errors: 3 });
  });

  it('when the fd pushes back, a gathered packet is queued whole and later sent whole, in order', async () => {
    // Fill the FIFO (64 KiB by default) with plain packets until the writer starts queuing.
    const big = new Uint8Array(8192).fill(1);
    let queued = 0;
    for (let i = 0; i < 64 && queued === 0; i++) {
      writer.writeBatch(big, metaOf([[0, 8192, 0]]), 1);
      queued = writer.stats().queued;
    }
    expect(queued).toBeGreaterThan(0);
    const data = new Uint8Array(32).map((_, i) => 100 + i);
    expect(writer.writeBatch(data, metaOf([[0, 4, 0], [10, 4, META_FLAG_CONTINUES], [20, 4, META_FLAG_CONTINUES]]), 3)).toBe(0);
    expect(writer.stats().backlogDepth).toBe(queued + 1);
    // Drain the FIFO while the writer's poll sends its backlog; the gathered packet comes last.
    let got = new Uint8Array(0);
    for (let t = 0; t < 200 && writer.stats().backlogDepth > 0; t++) {
      const chunk = readAll();
      got = Uint8Array.from([...got.subarray(Math.max(0, got.length - 64)), ...chunk]);
      await sleep(5);
    }
    got = Uint8Array.from([...got, ...readAll()]);
    expect(writer.stats().backlogDepth).toBe(0);
    const tail = [...new Uint8Array(VLEN), ...data.subarray(0, 4), ...data.subarray(10, 14), ...data.subarray(20, 24)];
    expect([...got.subarray(got.length - tail.length)]).toEqual(tail);
  });
});
