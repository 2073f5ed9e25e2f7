import { mkdtempSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectorError } from '../director/errors.js';
import { ControlServer } from './control-server.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vstun-ctl-'));

function ask(sock: string, lines: string[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    const out: unknown[] = [];
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        out.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        if (out.length === lines.length) {
          c.end();
          resolve(out);
        }
      }
    });
    c.on('error', reject);
    c.write(lines.join('\n') + '\n');
  });
}

describe('ControlServer', () => {
  const server = new ControlServer(path.join(dir, 'd.sock'));
  afterAll(() => server.close());

  test('NDJSON requests answered in order; errors carry stable codes; socket is 0600', async () => {
    server.register('status', () => ({ running: true }));
    server.register('boom', () => {
      throw new DirectorError('BAD_ARGUMENT', 'weight must be 0..65535');
    });
    server.register('crash', () => {
      throw Object.assign(new Error('something unforeseen'), { code: 'EWHATEVER' });
    });
    await server.listen();
    expect(statSync(server.socketPath).mode & 0o777).toBe(0o600);
    const res = await ask(server.socketPath, ['{"v":1,"op":"status"}', '{"v":1,"op":"nope"}', 'not json', '{"v":2,"op":"status"}', '{"v":1,"op":"boom"}', '{"v":1,"op":"crash"}']);
    expect(res[0]).toEqual({ v: 1, ok: true, running: true });
    expect(res[1]).toMatchObject({ ok: false, error: { code: 'ERR_UNKNOWN_OP' } });
    expect(res[2]).toMatchObject({ ok: false, error: { code: 'ERR_BAD_REQUEST' } });
    expect(res[3]).toMatchObject({ ok: false, error: { code: 'ERR_BAD_VERSION' } });
    // A vstun error is answered with its control code; anything else is ERR_INTERNAL, never a code outside the catalogue.
    expect(res[4]).toEqual({ v: 1, ok: false, error: { code: 'ERR_BAD_SERVICE', message: 'weight must be 0..65535' } });
    expect(res[5]).toEqual({ v: 1, ok: false, error: { code: 'ERR_INTERNAL', message: 'something unforeseen' } });
  });

  test('a second server on a live socket is refused', async () => {
    const other = new ControlServer(server.socketPath);
    await expect(other.listen()).rejects.toMatchObject({ code: 'CONTROL_SOCKET_IN_USE' });
  });
});

describe('ControlServer limits: memory stays bounded whatever a client does', () => {
  const reply = 'x'.repeat(1024);

  /** A client that writes `lines` and reads nothing until told to. */
  function pipeliner(sock: string, count: number) {
    const c = net.connect(sock);
    c.pause();
    const line = '{"v":1,"op":"big"}\n';
    c.write(line.repeat(count));
    return c;
  }

  test('a client that pipelines requests and never reads stops being read; once it reads, every answer arrives in order', async () => {
    const server = new ControlServer(path.join(dir, 'bp.sock'), { maxPendingReplyBytes: 64 * 1024 });
    let served = 0;
    server.register('big', () => ({ n: ++served, reply }));
    await server.listen();
    try {
      const total = 20_000;
      const c = pipeliner(server.socketPath, total);
      // Give the server ample time to answer everything if nothing pushed back.
      let last = -1;
      for (let k = 0; k < 50 && served !== last; k++) {
        last = served;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Bounded by the reply bound plus the kernel's socket buffers, not by what was sent.
      expect(served).toBeLessThan(2000);
      const got = await new Promise<number>((resolve, reject) => {
        let buf = '';
        let n = 0;
        c.setEncoding('utf8');
        c.on('data', (d: string) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const r = JSON.parse(buf.slice(0, nl)) as { n: number };
            buf = buf.slice(nl + 1);
            if (r.n !== ++n) reject(new Error(`answer ${r.n} arrived as number ${n}`));
            if (n === total) resolve(n);
          }
        });
        c.on('error', reject);
        c.resume();
      });
      c.destroy();
      expect(got).toBe(total);
    } finally {
      await server.close();
    }
  }, 60_000);

  test('a client that sends its requests and shuts down its side still gets every answer', async () => {
    const server = new ControlServer(path.join(dir, 'half.sock'));
    let served = 0;
    server.register('n', () => ({ n: ++served }));
    await server.listen();
    try {
      const answers = await new Promise<number>((resolve, reject) => {
        const c = net.connect(server.socketPath);
        let text = '';
        c.setEncoding('utf8');
        c.on('data', (d: string) => (text += d));
        c.on('error', reject);
        c.on('close', () => resolve(text.trimEnd().split('\n').length));
        c.end('{"v":1,"op":"n"}\n'.repeat(500));
      });
      expect(answers).toBe(500);
    } finally {
      await server.close();
    }
  });

  test('a client that never reads its replies is disconnected after the stall timeout', async () => {
    const server = new ControlServer(path.join(dir, 'stall.sock'), { maxPendingReplyBytes: 16 * 1024, stallTimeoutMs: 300 });
    server.register('big', () => ({ reply }));
    await server.listen();
    try {
      const c = pipeliner(server.socketPath, 5000);
      // Well past the stall timeout, start reading: what was sent before the cut arrives, then the end.
      await new Promise((r) => setTimeout(r, 1500));
      const closed = await new Promise<{ closed: boolean; answers: number }>((resolve) => {
        let answers = 0;
        c.on('data', (d: Buffer) => (answers += d.toString().split('\n').length - 1));
        c.on('close', () => resolve({ closed: true, answers }));
        c.on('error', () => {});
        c.resume();
        setTimeout(() => resolve({ closed: false, answers }), 10_000);
      });
      expect(closed.closed).toBe(true);
      expect(closed.answers).toBeLessThan(5000);
    } finally {
      await server.close();
    }
  }, 20_000);

  test('one client too many is answered ERR_TOO_MANY_CLIENTS and closed; the others keep working', async () => {
    const server = new ControlServer(path.join(dir, 'max.sock'), { maxClients: 2 });
    server.register('status', () => ({ running: true }));
    await server.listen();
    const held: net.Socket[] = [];
    try {
      for (let k = 0; k < 2; k++) {
        const c = net.connect(server.socketPath);
        await new Promise((r) => c.once('connect', r));
        held.push(c);
      }
      await new Promise((r) => setTimeout(r, 50));
      const [third] = await ask(server.socketPath, ['{"v":1,"op":"status"}']);
      expect(third).toMatchObject({ ok: false, error: { code: 'ERR_TOO_MANY_CLIENTS' } });
      expect((third as { error: { message: string } }).error.message).toContain('2 clients');
      held.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(await ask(server.socketPath, ['{"v":1,"op":"status"}'])).toEqual([{ v: 1, ok: true, running: true }]);
    } finally {
      for (const c of held) c.destroy();
      await server.close();
    }
  });

  test('an idle client is disconnected after the idle timeout, freeing its slot', async () => {
    const server = new ControlServer(path.join(dir, 'idle.sock'), { maxClients: 1, idleTimeoutMs: 200 });
    server.register('status', () => ({ running: true }));
    await server.listen();
    try {
      const idle = net.connect(server.socketPath);
      idle.on('error', () => {});
      const closed = await new Promise<boolean>((resolve) => {
        idle.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 5000);
      });
      expect(closed).toBe(true);
      expect(await ask(server.socketPath, ['{"v":1,"op":"status"}'])).toEqual([{ v: 1, ok: true, running: true }]);
    } finally {
      await server.close();
    }
  });

  test.each([
    { description: 'a line over the limit in one write', payload: `{"v":1,"op":"status","pad":"${'a'.repeat(5000)}"}\n` },
    { description: 'an endless line without a newline', payload: 'b'.repeat(5000) },
  ])('$description: ERR_REQUEST_TOO_LARGE, then closed', async ({ payload }) => {
    const server = new ControlServer(path.join(dir, 'long.sock'), { maxRequestBytes: 1000 });
    server.register('status', () => ({ running: true }));
    await server.listen();
    try {
      const answer = await new Promise<{ text: string; closed: boolean }>((resolve) => {
        const c = net.connect(server.socketPath);
        let text = '';
        c.setEncoding('utf8');
        c.on('data', (d: string) => (text += d));
        c.on('error', () => {});
        c.on('close', () => resolve({ text, closed: true }));
        c.write(payload);
      });
      expect(JSON.parse(answer.text)).toMatchObject({ ok: false, error: { code: 'ERR_REQUEST_TOO_LARGE' } });
      expect(answer.closed).toBe(true);
    } finally {
      await server.close();
    }
  });
});
