// The addon in worker threads, as the director's queue workers load it: each thread gets its
// own instance (NAPI instance data), a reader started in a thread delivers there, and a
// thread ended with its reader still polling (terminate: the env's cleanup hooks) leaves the
// process and the other threads' addon working.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon } from './addon.js';

const ADDON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'vstun_native.node');

/** A thread that opens a UDP socket and a reader on it, sends itself `count` datagrams, and reports what its reader saw. */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const addon = require(workerData.addon);
const fd = addon.udpSocketOpen(4, '127.0.0.1', 0, {});
const { port } = addon.socketAddress(fd);
const reader = addon.createReader({ fd, mode: 'recvmmsg', slots: 16 });
let got = 0;
reader.start((n) => {
  got += n;
  if (got >= workerData.count) {
    parentPort.postMessage({ got, sum: addon.checksumSum(new Uint8Array([1, 2, 3, 4]), 0, 4) });
    if (!workerData.leaveOpen) { reader.close(); addon.closeFd(fd); }
  }
});
const s = dgram.createSocket('udp4');
for (let i = 0; i < workerData.count; i++) s.send(Buffer.from('x' + i), port, '127.0.0.1');
s.unref();
`;

function runThread(count: number, leaveOpen: boolean): { worker: Worker; result: Promise<{ got: number; sum: number }> } {
  const worker = new Worker(THREAD, { eval: true, workerData: { addon: ADDON, count, leaveOpen } });
  const result = new Promise<{ got: number; sum: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, result };
}

describe('the native addon in worker threads', () => {
  it('loads in several threads at once; each reader delivers in its own thread', async () => {
    const threads = [runThread(5, false), runThread(7, false)];
    const results = await Promise.all(threads.map((t) => t.result));
    expect(results.map((r) => r.got)).toEqual([5, 7]);
    expect(results.every((r) => r.sum === 0x0406)).toBe(true);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  });

  it('a thread terminated while its reader polls is cleaned up, and the addon goes on working elsewhere', async () => {
    const t = runThread(3, true);
    expect((await t.result).got).toBe(3);
    expect(await t.worker.terminate()).toBe(1);
    const again = runThread(2, false);
    expect((await again.result).got).toBe(2);
    await again.worker.terminate();
    expect(loadAddon().checksumSum(new Uint8Array([1, 2, 3, 4]), 0, 4)).toBe(0x0406);
  });
});
