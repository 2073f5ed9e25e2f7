// The control client reads answers of any size: a listing of 10 000 services is one line of
// tens of MB, arriving in hundreds of chunks and taking longer than the time bound in total.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { controlRequest } from './control-client.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A socket that answers every request with `answer`, written in `pieces` parts `gapMs` apart. */
async function slowServer(answer: string, pieces: number, gapMs: number): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vstun-client-'));
  const sockPath = path.join(dir, 'c.sock');
  const server = net.createServer((sock) => {
    sock.once('data', async () => {
      const size = Math.ceil(answer.length / pieces);
      for (let i = 0; i < answer.length && !sock.destroyed; i += size) {
        sock.write(answer.slice(i, i + size));
        await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return sockPath;
}

describe('controlRequest', () => {
  test('an answer that keeps arriving is read to its end, even past the time bound in total', async () => {
    const services = Array.from({ length: 2000 }, (_, i) => ({ vip: `10.100.${i >> 8}.${i & 255}`, port: 80, servers: Array.from({ length: 10 }, (_, r) => `10.250.${r}.1`) }));
    const answer = `${JSON.stringify({ v: 1, ok: true, services })}\n`;
    // 40 pieces 25 ms apart: about a second in all, against a bound of 600 ms of silence.
    const sock = await slowServer(answer, 40, 25);
    const res = await controlRequest(sock, 'ipvs-list', {}, 600);
    expect((res.services as unknown[]).length).toBe(2000);
  });

  test('a director that goes silent is still reported within the bound', async () => {
    const sock = await slowServer('{"v":1,"ok":tr', 1, 10);
    await expect(controlRequest(sock, 'status', {}, 300)).rejects.toThrow(/did not answer within 300 ms/);
  });
});
