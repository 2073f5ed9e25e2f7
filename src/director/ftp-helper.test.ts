import { describe, expect, it } from 'vitest';
import { FtpExpectations, FtpSeqShift, formatPasvAddress, parseEprtCommand, parseEpsvReply, parsePasvReply, parsePortCommand, replaceSpan } from './ftp-helper.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const VIP = 0xcb00710a; // 203.0.113.10

describe('FTP address lines', () => {
  it('PASV: the server private address becomes the VIP, the length change is returned', () => {
    const line = bytes('227 Entering Passive Mode (10,0,0,7,195,80).\r\n');
    const a = parsePasvReply(line, 0, line.length)!;
    expect([a.address, a.port]).toEqual([0x0a000007, 195 * 256 + 80]);
    const r = replaceSpan(line, 0, line.length, a, formatPasvAddress(VIP, a.port));
    expect(text(r.payload)).toBe('227 Entering Passive Mode (203,0,113,10,195,80).\r\n');
    expect(r.delta).toBe('203,0,113,10'.length - '10,0,0,7'.length);
  });

  it('PORT, EPRT and EPSV are parsed; bad lines are refused', () => {
    const port = bytes('port 198,51,100,20,4,1\r\n');
    expect(parsePortCommand(port, 0, port.length)).toMatchObject({ address: 0xc6336414, port: 1025 });
    const eprt = bytes('EPRT |1|198.51.100.20|40001|\r\n');
    expect(parseEprtCommand(eprt, 0, eprt.length)).toMatchObject({ address: 0xc6336414, port: 40001 });
    const epsv = bytes('229 Entering Extended Passive Mode (|||50021|)\r\n');
    expect(parseEpsvReply(epsv, 0, epsv.length)).toMatchObject({ port: 50021, address: 0 });
    for (const bad of ['227 Entering Passive Mode (10,0,0,300,1,2)', 'PORT 1,2,3', 'EPRT |1|1.2.3|80|', '229 (|||99999|)', '230 Login ok', 'PORT a,b,c,d,e,f']) {
      const b = bytes(bad);
      expect([parsePasvReply(b, 0, b.length), parsePortCommand(b, 0, b.length), parseEprtCommand(b, 0, b.length), parseEpsvReply(b, 0, b.length)], bad).toEqual([null, null, null, null]);
    }
  });
});

describe('FtpSeqShift: sequence numbers after a rewrite that changed the length', () => {
  it('later segments move by the delta, earlier ones (retransmissions) do not; acks map back', () => {
    const s = new FtpSeqShift();
    s.rewrote(1000, 4); // a 227 line at seq 1000 grew by 4 bytes
    expect(s.mapSeq(1000)).toBe(1000);
    expect(s.mapSeq(1060)).toBe(1064);
    expect(s.unmapAck(1064)).toBe(1060);
    s.rewrote(2000, -2);
    expect(s.mapSeq(2500)).toBe(2502);
    expect(s.mapSeq(1500)).toBe(1504);
  });

  it('wraps in 32-bit sequence space', () => {
    const s = new FtpSeqShift();
    s.rewrote(0xfffffff0, 5);
    expect(s.mapSeq(0x00000010)).toBe(0x15);
  });
});

describe('FtpExpectations: the data connection goes to the control connection\'s server', () => {
  it('is taken once, expires, and is bounded', () => {
    const e = new FtpExpectations(2);
    e.expect(1, 50021, 7, 100);
    expect(e.take(1, 50021, 10)).toBe(7);
    expect(e.take(1, 50021, 10)).toBe(-1);
    e.expect(1, 1, 7, 100);
    expect(e.take(1, 1, 100)).toBe(-1);
    for (let p = 0; p < 5; p++) e.expect(2, p, 9, 1000);
    expect(e.size).toBe(2);
  });
});
