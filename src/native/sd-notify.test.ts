// sd_notify datagrams from the addon, received by a real AF_UNIX datagram socket (python3's,
// as Node has none) bound to a path and to an abstract name, as systemd's notify socket is.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { notifyText, sdNotify } from './sd-notify.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vstun-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Binds `name` ("@x" abstract, else a path), prints "bound", then the first datagram and
// CLOCK_MONOTONIC in µs as JSON, and exits; gives up after 10 s.
const RECEIVER = `
import json, socket, sys, time
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + name[1:] if name.startswith("@") else name)
s.settimeout(10)
print("bound", flush=True)
data = s.recv(4096)
print(json.dumps({"text": data.decode(), "now": time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6}), flush=True)
`;

/** Starts a receiver on `name`, calls `send` once it is bound, resolves with what arrived. */
function receive(name: string, send: () => void): Promise<{ text: string; now: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', RECEIVER, name], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      if (!before.includes('bound\n') && out.includes('bound\n')) {
        try {
          send();
        } catch (e) {
          child.kill();
          reject(e);
        }
      }
    });
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`receiver exited ${code}: ${err}${out}`));
    });
  });
}

describe('sdNotify', () => {
  test('does nothing without NOTIFY_SOCKET', () => {
    expect(sdNotify('ready', {})).toBe(false);
    expect(sdNotify('ready', { NOTIFY_SOCKET: '' })).toBe(false);
  });

  test('READY=1 to a path socket', async () => {
    const sock = path.join(dir, 'notify.sock');
    const got = await receive(sock, () => expect(sdNotify('ready', { NOTIFY_SOCKET: sock })).toBe(true));
    expect(got.text).toBe('READY=1\nSTATUS=serving\n');
  });

  test('RELOADING=1 with MONOTONIC_USEC to an abstract socket, then STOPPING=1', async () => {
    const name = `@vstun-notify-test-${process.pid}-${Date.now()}`;
    const got = await receive(name, () => sdNotify('reloading', { NOTIFY_SOCKET: name }));
    const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=.*\n$/.exec(got.text);
    expect(m, got.text).not.toBeNull();
    // Same clock as the receiver's CLOCK_MONOTONIC: sent before it was read, and not long before.
    expect(Number(m![1])).toBeLessThanOrEqual(got.now);
    expect(got.now - Number(m![1])).toBeLessThan(60e6);
    const stop = await receive(name, () => sdNotify('stopping', { NOTIFY_SOCKET: name }));
    expect(stop.text).toMatch(/^STOPPING=1\n/);
  });

  test('a socket that is not there, or a relative name, is a typed error', () => {
    expect(() => sdNotify('ready', { NOTIFY_SOCKET: path.join(dir, 'absent.sock') })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => sdNotify('ready', { NOTIFY_SOCKET: 'relative.sock' })).toThrow(/absolute path or an @abstract name/);
    expect(() => sdNotify('ready', { NOTIFY_SOCKET: `/${'x'.repeat(200)}` })).toThrow(RangeError);
  });

  test('the texts systemd expects', () => {
    expect(notifyText('ready', () => 0)).toBe('READY=1\nSTATUS=serving\n');
    expect(notifyText('reloading', () => 12345.6)).toMatch(/^RELOADING=1\nMONOTONIC_USEC=12346\n/);
    expect(notifyText('stopping', () => 0)).toMatch(/^STOPPING=1\n/);
  });
});
