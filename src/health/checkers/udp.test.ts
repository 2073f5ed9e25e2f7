import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { decodePayload } from './payload.js';
import { UdpChecker } from './udp.js';

function bound(onMessage: (msg: Buffer, rinfo: { address: string; port: number }, send: (b: Buffer) => void) => void) {
  const s = createSocket('udp4');
  s.on('message', (msg, rinfo) => onMessage(msg, rinfo, (b) => s.send(b, rinfo.port, rinfo.address)));
  return new Promise<{ port: number; close: () => Promise<void> }>((resolve) =>
    s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => new Promise((r) => s.close(() => r())) })),
  );
}

describe('UdpChecker on loopback', () => {
  let echo: Awaited<ReturnType<typeof bound>>;
  let mute: Awaited<ReturnType<typeof bound>>;
  const muteSeen: Buffer[] = [];
  beforeAll(async () => {
    echo = await bound((msg, _r, send) => send(Buffer.concat([Buffer.from('echo:'), msg])));
    mute = await bound((msg) => muteSeen.push(msg));
  });
  afterAll(async () => {
    await echo.close();
    await mute.close();
  });

  it('is up when the payload is answered', async () => {
    const r = await runCheck(new UdpChecker({ host: '127.0.0.1', port: echo.port, payload: decodePayload('ping')! }), 2000);
    expect(r).toMatchObject({ ok: true, detail: `udp 127.0.0.1:${echo.port}: reply of 9 bytes` });
  });

  it('matches the reply against a pattern, binary payloads included', async () => {
    const payload = decodePayload('hex:00ff10')!;
    expect(await runCheck(new UdpChecker({ host: '127.0.0.1', port: echo.port, payload, expectPattern: /^echo:\x00\xff\x10$/ }), 2000)).toMatchObject({ ok: true });
    const r = await runCheck(new UdpChecker({ host: '127.0.0.1', port: echo.port, payload, expectPattern: /pong/ }), 2000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/does not match/);
  });

  it('times out when the server stays silent', async () => {
    muteSeen.length = 0;
    const r = await runCheck(new UdpChecker({ host: '127.0.0.1', port: mute.port, payload: Buffer.from('hello') }), 300);
    expect(r).toMatchObject({ ok: false, detail: `udp 127.0.0.1:${mute.port}: no reply (timeout)` });
    expect(muteSeen.map(String)).toEqual(['hello']);
  });

  it('fails fast on ICMP port unreachable', async () => {
    const gone = await bound(() => {});
    await gone.close();
    const r = await runCheck(new UdpChecker({ host: '127.0.0.1', port: gone.port, payload: Buffer.from('x') }), 3000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('decodes payload specs', () => {
    expect(decodePayload('hex:de ad:be ef')).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(decodePayload('hex:abc')).toBeNull();
    expect(decodePayload('hex:zz')).toBeNull();
    expect(decodePayload('plain')).toEqual(Buffer.from('plain'));
  });
});
