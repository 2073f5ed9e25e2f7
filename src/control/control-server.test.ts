import { mkdtempSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
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
      throw Object.assign(new Error('weight must be 0..65535'), { code: 'BAD_ARGUMENT' });
    });
    await server.listen();
    expect(statSync(server.socketPath).mode & 0o777).toBe(0o600);
    const res = await ask(server.socketPath, ['{"v":1,"op":"status"}', '{"v":1,"op":"nope"}', 'not json', '{"v":2,"op":"status"}', '{"v":1,"op":"boom"}']);
    expect(res[0]).toEqual({ v: 1, ok: true, running: true });
    expect(res[1]).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
    expect(res[2]).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(res[3]).toMatchObject({ ok: false, error: { code: 'BAD_VERSION' } });
    expect(res[4]).toEqual({ v: 1, ok: false, error: { code: 'BAD_ARGUMENT', message: 'weight must be 0..65535' } });
  });

  test('a second server on a live socket is refused', async () => {
    const other = new ControlServer(server.socketPath);
    await expect(other.listen()).rejects.toMatchObject({ code: 'CONTROL_SOCKET_IN_USE' });
  });
});
