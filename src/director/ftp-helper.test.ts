import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FTP_ACTIVE,
  FTP_PASSIVE,
  FtpExpectations,
  FtpSeqShifts,
  newFtpAddress,
  PASV_TEXT_MAX,
  parseEprtCommand,
  parseEpsvReply,
  parsePasvReply,
  parsePortCommand,
  writePasvText,
} from './ftp-helper.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('FTP address lines', () => {
  it('PASV: the six numbers and their span are found', () => {
    const line = bytes('227 Entering Passive Mode (10,0,0,7,195,80).\r\n');
    const a = newFtpAddress();
    expect(parsePasvReply(line, 0, line.length, a)).toBe(true);
    expect([a.address, a.port]).toEqual([0x0a000007, 195 * 256 + 80]);
    expect(text(line.subarray(a.start, a.end))).toBe('10,0,0,7,195,80');
  });

  it('PASV at an offset inside a larger buffer, and vsftpd\'s form without parentheses', () => {
    const buf = bytes('xxxx227 Entering Passive Mode 10,0,0,17,4,1\r\nyy');
    const a = newFtpAddress();
    expect(parsePasvReply(buf, 4, buf.length - 2, a)).toBe(true);
    expect(text(buf.subarray(a.start, a.end))).toBe('10,0,0,17,4,1');
    expect(a.port).toBe(1025);
  });

  it('PORT, EPRT and EPSV are parsed; bad lines are refused', () => {
    const a = newFtpAddress();
    const port = bytes('port 198,51,100,20,4,1\r\n');
    expect(parsePortCommand(port, 0, port.length, a)).toBe(true);
    expect([a.address, a.port]).toEqual([0xc6336414, 1025]);
    const eprt = bytes('EPRT |1|198.51.100.20|40001|\r\n');
    expect(parseEprtCommand(eprt, 0, eprt.length, a)).toBe(true);
    expect([a.address, a.port]).toEqual([0xc6336414, 40001]);
    const epsv = bytes('229 Entering Extended Passive Mode (|||50021|)\r\n');
    expect(parseEpsvReply(epsv, 0, epsv.length, a)).toBe(true);
    expect([a.address, a.port]).toEqual([0, 50021]);
    for (const bad of ['227 Entering Passive Mode (10,0,0,300,1,2)', 'PORT 1,2,3', 'EPRT |1|1.2.3|80|', 'EPRT |2|::1|80|', '229 (|||99999|)', '229 (|||123456|)', '230 Login ok', 'PORT a,b,c,d,e,f', '227 (1,2,3,4,5,6666)']) {
      const b = bytes(bad);
      expect([parsePasvReply(b, 0, b.length, a), parsePortCommand(b, 0, b.length, a), parseEprtCommand(b, 0, b.length, a), parseEpsvReply(b, 0, b.length, a)], bad).toEqual([false, false, false, false]);
    }
  });

  it('writePasvText matches the dotted numbers for any address and port (reference: template string)', () => {
    const out = new Uint8Array(PASV_TEXT_MAX);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }), (addr, port) => {
        const n = writePasvText(out, addr, port);
        const want = `${addr >>> 24},${(addr >>> 16) & 255},${(addr >>> 8) & 255},${addr & 255},${port >>> 8},${port & 255}`;
        expect(text(out.subarray(0, n))).toBe(want);
        // and it parses back
        const line = bytes(`227 Entering Passive Mode (${want}).`);
        const a = newFtpAddress();
        expect(parsePasvReply(line, 0, line.length, a)).toBe(true);
        expect([a.address, a.port]).toEqual([addr, port]);
      }),
    );
  });

  it('no parser reads outside [off, end) or throws on arbitrary bytes', () => {
    const a = newFtpAddress();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (body, cut) => {
        const buf = new Uint8Array(body.length + 8).fill(0x31); // digits around it: a read past end would extend a number
        buf.set(body, 4);
        const end = Math.max(4, 4 + body.length - cut);
        for (const p of [parsePasvReply, parsePortCommand, parseEprtCommand, parseEpsvReply]) {
          if (p(buf, 4, end, a)) {
            expect(a.start).toBeGreaterThanOrEqual(4);
            expect(a.end).toBeLessThanOrEqual(end);
          }
        }
      }),
    );
  });
});

describe('FtpSeqShifts: sequence numbers after a rewrite that changed the length', () => {
  it('later segments move by the delta, earlier ones (retransmissions) do not; acks map back', () => {
    const s = new FtpSeqShifts(2);
    s.reset(1);
    s.rewrote(1, 1000, 4); // a 227 line at seq 1000 grew by 4 bytes
    expect(s.mapSeq(1, 1000)).toBe(1000);
    expect(s.mapSeq(1, 1060)).toBe(1064);
    expect(s.unmapAck(1, 1064)).toBe(1060);
    // A retransmission of the rewritten segment is rewritten again but adds nothing.
    s.rewrote(1, 1000, 4);
    expect(s.mapSeq(1, 1060)).toBe(1064);
    s.rewrote(1, 2000, -2);
    expect(s.mapSeq(1, 2500)).toBe(2502);
    expect(s.mapSeq(1, 1500)).toBe(1504);
    expect(s.unmapAck(1, 2502)).toBe(2500);
    // Record 0 is untouched.
    s.reset(0);
    expect(s.mapSeq(0, 2500)).toBe(2500);
  });

  it('wraps in 32-bit sequence space', () => {
    const s = new FtpSeqShifts(1);
    s.rewrote(0, 0xfffffff0, 5);
    expect(s.mapSeq(0, 0x00000010)).toBe(0x15);
    expect(s.unmapAck(0, 0x15)).toBe(0x10);
  });
});

describe('FtpExpectations: the data connection goes to the control connection\'s server', () => {
  it('is taken once, by mode, expires, and is bounded', () => {
    const e = new FtpExpectations(2);
    e.expect(FTP_PASSIVE, 1, 50021, 3, 7, 100, 0);
    expect(e.take(FTP_ACTIVE, 1, 50021, 10)).toBe(-1);
    const i = e.take(FTP_PASSIVE, 1, 50021, 10);
    expect([e.serviceOf(i), e.serverOf(i)]).toEqual([3, 7]);
    expect(e.take(FTP_PASSIVE, 1, 50021, 10)).toBe(-1);
    e.expect(FTP_PASSIVE, 1, 1, 3, 7, 100, 0);
    expect(e.take(FTP_PASSIVE, 1, 1, 100)).toBe(-1);
    for (let p = 0; p < 5; p++) e.expect(FTP_ACTIVE, 2, p, 3, 9, 1000 + p, 0);
    expect(e.size).toBe(2);
    // The newest two are kept (the soonest-expiring went first).
    expect(e.take(FTP_ACTIVE, 2, 4, 10)).toBeGreaterThanOrEqual(0);
    expect(e.take(FTP_ACTIVE, 2, 0, 10)).toBe(-1);
  });
});
