// DNS, SMTP and PING checks against real local servers (a dgram DNS responder, a net SMTP
// dialogue) and the system's ping on the loopback.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { AllOfChecker } from './all-of.js';
import { DnsChecker, encodeDnsQuery, judgeDnsReply } from './dns.js';
import { PingChecker, pingArguments } from './ping.js';
import { parseSmtpReplies, SmtpChecker } from './smtp.js';

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

function dnsResponder(rcode: number, opts: { wrongIdFirst?: boolean } = {}): Promise<number> {
  const sock: UdpSocket = createSocket('udp4');
  closers.push(() => sock.close());
  sock.on('message', (msg, rinfo) => {
    const reply = Buffer.from(msg);
    reply[2] = 0x81; // QR, RD
    reply[3] = 0x80 | rcode; // RA + rcode
    if (opts.wrongIdFirst) {
      const stale = Buffer.from(reply);
      stale[0] ^= 0xff;
      sock.send(stale, rinfo.port, rinfo.address);
    }
    sock.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve(sock.address().port)));
}

function smtpServer(lines: { greeting: string; helo: string; quit: string }): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((c) => {
    c.setEncoding('latin1');
    c.write(lines.greeting);
    let buf = '';
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        seen.push(line);
        if (line.startsWith('HELO')) c.write(lines.helo);
        else if (line === 'QUIT') c.end(lines.quit);
      }
    });
    c.on('error', () => {});
  });
  closers.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, seen })));
}

describe('dns wire', () => {
  it('encodes a root SOA query and a named A query as RFC 1035 lays them out', () => {
    expect(Buffer.from(encodeDnsQuery(0x1234, '.', 'SOA')).toString('hex')).toBe('123401000001000000000000' + '00' + '0006' + '0001');
    expect(Buffer.from(encodeDnsQuery(1, 'a.bc', 'A')).toString('hex')).toBe('000101000001000000000000' + '0161' + '026263' + '00' + '0001' + '0001');
    expect(() => encodeDnsQuery(1, `${'x'.repeat(64)}.com`, 'A')).toThrow(RangeError);
  });

  it('judges replies: other ids and queries are ignored, RCODE decides', () => {
    const q = encodeDnsQuery(7, '.', 'SOA');
    expect(judgeDnsReply(q, 7)).toBeNull(); // a query, not a response
    const r = Uint8Array.from(q);
    r[2] = 0x81;
    expect(judgeDnsReply(r, 8)).toBeNull();
    expect(judgeDnsReply(r, 7)).toEqual({ ok: true, detail: 'answer NOERROR, 0 record(s)' });
    r[3] = 0x83;
    expect(judgeDnsReply(r, 7)).toMatchObject({ ok: false, detail: 'answer NXDOMAIN' });
    expect(judgeDnsReply(r.subarray(0, 5), 7)).toBeNull();
  });
});

describe('DnsChecker', () => {
  it('passes on NOERROR after ignoring a reply with another id', async () => {
    const port = await dnsResponder(0, { wrongIdFirst: true });
    const r = await runCheck(new DnsChecker({ host: '127.0.0.1', port, name: 'example.org', type: 'A' }), 2000);
    expect(r).toMatchObject({ ok: true });
    expect(r.detail).toMatch(/^dns A example.org @127.0.0.1/);
  });

  it('fails on SERVFAIL', async () => {
    const port = await dnsResponder(2);
    expect(await runCheck(new DnsChecker({ host: '127.0.0.1', port, name: '.', type: 'SOA' }), 2000)).toMatchObject({ ok: false, detail: expect.stringMatching(/SERVFAIL/) });
  });
});

describe('SmtpChecker', () => {
  it('passes on 220 / 250 / 221, multi-line replies included, and sends the HELO name', async () => {
    const s = await smtpServer({ greeting: '220-mx ESMTP\r\n220 ready\r\n', helo: '250 mx Hello\r\n', quit: '221 bye\r\n' });
    const r = await runCheck(new SmtpChecker({ host: '127.0.0.1', port: s.port, heloName: 'foo.bar.com' }), 2000);
    expect(r).toMatchObject({ ok: true, detail: expect.stringMatching(/greeting 220, HELO 250, QUIT 221/) });
    expect(s.seen).toEqual(['HELO foo.bar.com', 'QUIT']);
  });

  it('fails with the step and code when the greeting is 554', async () => {
    const s = await smtpServer({ greeting: '554 go away\r\n', helo: '', quit: '' });
    expect(await runCheck(new SmtpChecker({ host: '127.0.0.1', port: s.port }), 2000)).toMatchObject({ ok: false, detail: expect.stringMatching(/greeting reply 554, expected 220/) });
  });

  it('fails on a refused connection and on a server that never answers (timeout)', async () => {
    const s = await smtpServer({ greeting: '', helo: '', quit: '' });
    expect((await runCheck(new SmtpChecker({ host: '127.0.0.1', port: s.port }), 300)).detail).toMatch(/timeout waiting for the greeting/);
    const closed = await smtpServer({ greeting: '', helo: '', quit: '' });
    closers.pop()!();
    expect((await runCheck(new SmtpChecker({ host: '127.0.0.1', port: closed.port }), 2000)).ok).toBe(false);
  });

  it('parses reply lines', () => {
    expect(parseSmtpReplies('250-a\r\n250-b\r\n250 c\r\n22')).toEqual({ codes: [250], rest: '22' });
    expect(parseSmtpReplies('hello\n').codes).toEqual([0]);
  });
});

describe('PingChecker', () => {
  it('builds ping arguments', () => {
    expect(pingArguments({ host: '10.0.0.1', bindAddress: '10.0.0.2' }, 2.5)).toEqual(['-n', '-q', '-c', '1', '-W', '3', '-I', '10.0.0.2', '10.0.0.1']);
  });

  it('passes for the loopback and fails for a program that exits 1', async () => {
    expect(await runCheck(new PingChecker({ host: '127.0.0.1' }, 2), 5000)).toMatchObject({ ok: true, detail: 'ping 127.0.0.1: echo reply' });
    expect(await runCheck(new PingChecker({ host: '127.0.0.1', command: 'false' }), 5000)).toMatchObject({ ok: false });
  });

  it('is killed by the timeout', async () => {
    // A stand-in for a ping that never hears back.
    const dir = mkdtempSync(join(tmpdir(), 'vt-ti-ping-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const slow = join(dir, 'slow-ping');
    writeFileSync(slow, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const r = await runCheck(new PingChecker({ host: '127.0.0.1', command: slow }, 30), 200);
    expect(r).toMatchObject({ ok: false, detail: expect.stringMatching(/timeout/) });
  });
});

describe('AllOfChecker', () => {
  const fixed = (ok: boolean, detail: string) => ({ kind: 'tcp' as const, check: () => Promise.resolve({ ok, detail, latencyMs: 0 }) });
  const hang = { kind: 'tcp' as const, check: (s: AbortSignal) => new Promise<{ ok: boolean; detail: string; latencyMs: number }>((r) => s.addEventListener('abort', () => r({ ok: false, detail: 'hung', latencyMs: 0 }))) };
  it('passes only when every member passes, each bounded by its own timeout', async () => {
    expect(await runCheck(new AllOfChecker([{ checker: fixed(true, 'a'), timeoutMs: 100 }, { checker: fixed(true, 'b'), timeoutMs: 100 }]), 1000)).toMatchObject({ ok: true, detail: 'all 2 checks pass: a; b' });
    expect(await runCheck(new AllOfChecker([{ checker: fixed(true, 'a'), timeoutMs: 100 }, { checker: hang, timeoutMs: 50 }]), 5000)).toMatchObject({ ok: false, detail: '1 of 2 checks fail: hung' });
  });
});
