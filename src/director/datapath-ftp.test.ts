// FTP through VS/NAT at the packet level: a service on port 21 with a NAT server, driven
// through the whole data path over the in-memory device. Every expected frame is built from
// scratch with the fixtures' frame builder (frames.ts: fields, lengths and checksums written
// from the RFCs), with the text and sequence numbers the rewrite should produce, never with
// the FTP helper's code.
import { afterEach, describe, expect, it } from 'vitest';
import { ACK, CLIENT, DIRECTOR_MAC, KERNEL_MAC, PSH, RST, SYN, ethernet, hex, ipv4, tcp, VIP } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { FtpExpectations } from './ftp-helper.js';
import { FtpControl } from './pipeline/ftp-control.js';
import { PacketRecord } from './pipeline/packet-record.js';
import { Timeouts } from './timeouts.js';
import { Verdict } from './verdicts.js';
import { VirtualService } from './virtual-service.js';
import type { RealServer } from './real-server.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { finalizeChecksum, pseudoHeaderSumV4, sumBytes } from '../wire/checksum.js';

const RS = '10.77.3.7';
const ascii = (s: string) => new TextEncoder().encode(s);

let open: TestDirector[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

async function ftpDirector(rs = RS, port = 21): Promise<TestDirector> {
  const t = await startTestDirector({ services: [{ protocol: 'tcp', vip: VIP, port, scheduler: 'rr', realServers: [{ address: rs, forward: 'masq' }] }] });
  open.push(t);
  return t;
}

/** Injects one frame; what the director wrote, as hex. */
function send(t: TestDirector, frame: Uint8Array): string[] {
  t.device.takeWritten();
  t.device.inject([frame]);
  return t.device.takeWritten().map((w) => hex(w.bytes));
}

interface Seg {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack?: number;
  text?: string;
}
/** The frame of a TCP segment as the kernel hands it to the TAP (to the director's MAC). */
const inFrame = (s: Seg) => ethernet(ipv4(tcp({ ...s, payload: ascii(s.text ?? '') }), { src: s.src, dst: s.dst, protocol: 6 }));
/** The frame the director sends back to the kernel. */
const outFrame = (s: Seg) => hex(ethernet(ipv4(tcp({ ...s, payload: ascii(s.text ?? '') }), { src: s.src, dst: s.dst, protocol: 6 }), { dst: KERNEL_MAC, src: DIRECTOR_MAC }));
const verdict = (t: TestDirector, v: Verdict) => t.director.datapath.verdicts[v];

// Client 10.77.1.2:50000 ↔ VIP:21 ↔ RS:21. Client sequence numbers from 100, server's from 7000.
const C = { src: CLIENT, dst: VIP, sport: 50000, dport: 21 };
const toRs = { src: CLIENT, dst: RS, sport: 50000, dport: 21 };
const fromRs = { src: RS, dst: CLIENT, sport: 21, dport: 50000 };
const fromVip = { src: VIP, dst: CLIENT, sport: 21, dport: 50000 };

/** Opens the control connection (SYN, SYN-ACK, ACK), each checked. */
function handshake(t: TestDirector): void {
  expect(send(t, inFrame({ ...C, flags: SYN, seq: 99 }))).toEqual([outFrame({ ...toRs, flags: SYN, seq: 99 })]);
  expect(send(t, inFrame({ ...fromRs, flags: SYN | ACK, seq: 6999, ack: 100 }))).toEqual([outFrame({ ...fromVip, flags: SYN | ACK, seq: 6999, ack: 100 })]);
  expect(send(t, inFrame({ ...C, flags: ACK, seq: 100, ack: 7000 }))).toEqual([outFrame({ ...toRs, flags: ACK, seq: 100, ack: 7000 })]);
}

describe('FTP through VS/NAT: the control connection', () => {
  it('a 227 line gets the VIP (2 bytes longer): later server sequence numbers move by +2, client acks by -2, a retransmission moves nothing twice', async () => {
    const t = await ftpDirector();
    handshake(t);
    const banner = '220 ready\r\n';
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: 7000, ack: 100, text: banner }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: 7000, ack: 100, text: banner })]);
    const pasvSeq = 7000 + banner.length;
    const pasv = '227 Entering Passive Mode (10,77,3,7,156,64).\r\n';
    const pasvOut = '227 Entering Passive Mode (10,77,0,100,156,64).\r\n';
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: pasvSeq, ack: 106, text: pasv }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: pasvSeq, ack: 106, text: pasvOut })]);
    // The next server segment starts 2 bytes later in the client's view.
    const nextSeq = pasvSeq + pasv.length;
    const opening = '150 Opening BINARY mode data connection.\r\n';
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: nextSeq, ack: 120, text: opening }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: nextSeq + 2, ack: 120, text: opening })]);
    // The client acknowledges everything it saw; the server hears its own numbering.
    const clientAck = nextSeq + 2 + opening.length;
    expect(send(t, inFrame({ ...C, flags: ACK, seq: 120, ack: clientAck }))).toEqual([outFrame({ ...toRs, flags: ACK, seq: 120, ack: clientAck - 2 })]);
    // An ack of the banner only (before the rewrite) is left alone.
    expect(send(t, inFrame({ ...C, flags: ACK, seq: 120, ack: pasvSeq }))).toEqual([outFrame({ ...toRs, flags: ACK, seq: 120, ack: pasvSeq })]);
    // The server retransmits the 227: rewritten again, same sequence number, and the shift stays +2.
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: pasvSeq, ack: 106, text: pasv }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: pasvSeq, ack: 106, text: pasvOut })]);
    const done = '226 Transfer complete.\r\n';
    const doneSeq = nextSeq + opening.length;
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: doneSeq, ack: 120, text: done }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: doneSeq + 2, ack: 120, text: done })]);
    // SYN-ACK, banner, 227, 150, the 227 again, 226.
    expect(verdict(t, Verdict.ForwardNatReply)).toBe(6);
  });

  it('a 227 line that gets shorter (server 10.77.133.117, VIP 10.77.0.100): -2, both ways', async () => {
    const rs = '10.77.133.117';
    const t = await ftpDirector(rs);
    const c = { src: CLIENT, dst: VIP, sport: 50001, dport: 21 };
    expect(send(t, inFrame({ ...c, flags: SYN, seq: 1 }))).toHaveLength(1);
    const pasv = '227 Entering Passive Mode (10,77,133,117,200,1)\r\n';
    const pasvOut = '227 Entering Passive Mode (10,77,0,100,200,1)\r\n';
    // Sequence numbers near the wrap: 0xfffffff0 + the line's length wraps past zero.
    const seq = 0xfffffff0;
    expect(send(t, inFrame({ src: rs, dst: CLIENT, sport: 21, dport: 50001, flags: PSH | ACK, seq, ack: 2, text: pasv }))).toEqual([
      outFrame({ src: VIP, dst: CLIENT, sport: 21, dport: 50001, flags: PSH | ACK, seq, ack: 2, text: pasvOut }),
    ]);
    const next = (seq + pasv.length) >>> 0;
    expect(send(t, inFrame({ src: rs, dst: CLIENT, sport: 21, dport: 50001, flags: PSH | ACK, seq: next, ack: 2, text: '150 ok\r\n' }))).toEqual([
      outFrame({ src: VIP, dst: CLIENT, sport: 21, dport: 50001, flags: PSH | ACK, seq: (next - 2) >>> 0, ack: 2, text: '150 ok\r\n' }),
    ]);
    const seen = (next - 2 + 8) >>> 0;
    expect(send(t, inFrame({ ...c, flags: ACK, seq: 2, ack: seen }))).toEqual([outFrame({ src: CLIENT, dst: rs, sport: 50001, dport: 21, flags: ACK, seq: 2, ack: (seen + 2) >>> 0 })]);
  });

  it('229 and the client\'s PORT/EPRT pass unchanged (EPSV names no address; the client\'s address is its own)', async () => {
    const t = await ftpDirector();
    handshake(t);
    const epsv = '229 Entering Extended Passive Mode (|||40000|)\r\n';
    expect(send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: 7000, ack: 100, text: epsv }))).toEqual([outFrame({ ...fromVip, flags: PSH | ACK, seq: 7000, ack: 100, text: epsv })]);
    const port = 'PORT 10,77,1,2,156,65\r\n';
    expect(send(t, inFrame({ ...C, flags: PSH | ACK, seq: 100, ack: 7000 + epsv.length, text: port }))).toEqual([outFrame({ ...toRs, flags: PSH | ACK, seq: 100, ack: 7000 + epsv.length, text: port })]);
    const eprt = 'EPRT |1|10.77.1.2|40002|\r\n';
    expect(send(t, inFrame({ ...C, flags: PSH | ACK, seq: 100 + port.length, ack: 7000 + epsv.length, text: eprt }))).toEqual([
      outFrame({ ...toRs, flags: PSH | ACK, seq: 100 + port.length, ack: 7000 + epsv.length, text: eprt }),
    ]);
  });

  it('no helper on another port: a 227 on a port-80 service passes as it is', async () => {
    const t = await ftpDirector(RS, 80);
    const c = { src: CLIENT, dst: VIP, sport: 50002, dport: 80 };
    send(t, inFrame({ ...c, flags: SYN, seq: 1 }));
    const pasv = '227 Entering Passive Mode (10,77,3,7,156,64).\r\n';
    expect(send(t, inFrame({ src: RS, dst: CLIENT, sport: 80, dport: 50002, flags: PSH | ACK, seq: 9, ack: 2, text: pasv }))).toEqual([
      outFrame({ src: VIP, dst: CLIENT, sport: 80, dport: 50002, flags: PSH | ACK, seq: 9, ack: 2, text: pasv }),
    ]);
    expect(send(t, inFrame({ src: CLIENT, dst: VIP, sport: 50003, dport: 40000, flags: SYN, seq: 1 }))).toEqual([]);
    expect(verdict(t, Verdict.DropNoService)).toBe(1);
  });
});

/**
 * A TCP ACK from src to dst with NOP, NOP, SACK (one block left..right): header built here,
 * its checksum from the pseudo-header (RFC 793, RFC 2018 option layout).
 */
function sackAck(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, left: number, right: number): Uint8Array {
  const seg = new Uint8Array(32);
  const v = new DataView(seg.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, seq);
  v.setUint32(8, ack);
  seg[12] = 8 << 4;
  seg[13] = ACK;
  v.setUint16(14, 64240);
  seg.set([1, 1, 5, 10], 20);
  v.setUint32(24, left);
  v.setUint32(28, right);
  const a = parseIpv4(src)!;
  const b = parseIpv4(dst)!;
  v.setUint16(16, finalizeChecksum(sumBytes(seg, 0, 32, pseudoHeaderSumV4(a, b, 6, 32))));
  return ipv4(seg, { src, dst, protocol: 6 });
}

describe('FTP control: SACK blocks follow the acknowledgement', () => {
  it('after a 227 grew by 2, a client SACK block beyond it moves back by 2', async () => {
    const t = await ftpDirector();
    handshake(t);
    const pasv = '227 Entering Passive Mode (10,77,3,7,156,64).\r\n';
    send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: 7000, ack: 100, text: pasv }));
    // The client got the 227 and a later segment, not the one between (seen at client numbers).
    const ack = 7000 + pasv.length + 2;
    const left = ack + 10;
    const right = ack + 30;
    expect(send(t, ethernet(sackAck(CLIENT, VIP, 50000, 21, 100, ack, left, right)))).toEqual([
      hex(ethernet(sackAck(CLIENT, RS, 50000, 21, 100, ack - 2, left - 2, right - 2), { dst: KERNEL_MAC, src: DIRECTOR_MAC })),
    ]);
  });
});

describe('FTP through VS/NAT: data connections', () => {
  it('passive: the client\'s SYN to VIP:40000 goes to the control connection\'s server, once; the server\'s answers leave as VIP:40000', async () => {
    const t = await ftpDirector();
    handshake(t);
    // Before any 227/229 nothing is expected: no service on VIP:40000.
    const d = { src: CLIENT, dst: VIP, sport: 50010, dport: 40000 };
    expect(send(t, inFrame({ ...d, flags: SYN, seq: 1 }))).toEqual([]);
    expect(verdict(t, Verdict.DropNoService)).toBe(1);
    send(t, inFrame({ ...fromRs, flags: PSH | ACK, seq: 7000, ack: 100, text: '227 Entering Passive Mode (10,77,3,7,156,64).\r\n' }));
    expect(send(t, inFrame({ ...d, flags: SYN, seq: 1 }))).toEqual([outFrame({ ...d, dst: RS, flags: SYN, seq: 1 })]);
    const back = { src: RS, dst: CLIENT, sport: 40000, dport: 50010 };
    expect(send(t, inFrame({ ...back, flags: SYN | ACK, seq: 500, ack: 2 }))).toEqual([outFrame({ ...back, src: VIP, flags: SYN | ACK, seq: 500, ack: 2 })]);
    expect(send(t, inFrame({ ...d, flags: ACK, seq: 2, ack: 501 }))).toEqual([outFrame({ ...d, dst: RS, flags: ACK, seq: 2, ack: 501 })]);
    expect(send(t, inFrame({ ...back, flags: PSH | ACK, seq: 501, ack: 2, text: 'file bytes' }))).toEqual([outFrame({ ...back, src: VIP, flags: PSH | ACK, seq: 501, ack: 2, text: 'file bytes' })]);
    // The expectation was used: a second client port gets nothing.
    expect(send(t, inFrame({ ...d, sport: 50011, flags: SYN, seq: 1 }))).toEqual([]);
    expect(verdict(t, Verdict.DropNoService)).toBe(2);
    // Data counts as the service's traffic.
    const svc = t.director.registry.list()[0];
    expect(svc.stats.outPkts).toBeGreaterThanOrEqual(3);
  });

  it('active: after PORT, the server\'s SYN from RIP:20 leaves as VIP:20, the client\'s answers go back to RIP:20', async () => {
    const t = await ftpDirector();
    handshake(t);
    send(t, inFrame({ ...C, flags: PSH | ACK, seq: 100, ack: 7000, text: 'PORT 10,77,1,2,156,65\r\n' }));
    const s = { src: RS, dst: CLIENT, sport: 20, dport: 40001 };
    expect(send(t, inFrame({ ...s, flags: SYN, seq: 900 }))).toEqual([outFrame({ ...s, src: VIP, flags: SYN, seq: 900 })]);
    const c = { src: CLIENT, dst: VIP, sport: 40001, dport: 20 };
    expect(send(t, inFrame({ ...c, flags: SYN | ACK, seq: 30, ack: 901 }))).toEqual([outFrame({ ...c, dst: RS, flags: SYN | ACK, seq: 30, ack: 901 })]);
    expect(send(t, inFrame({ ...s, flags: PSH | ACK, seq: 901, ack: 31, text: 'data' }))).toEqual([outFrame({ ...s, src: VIP, flags: PSH | ACK, seq: 901, ack: 31, text: 'data' })]);
    // A second SYN from the server to that port is no new expectation (already open: it is the same connection's).
    // Another client port was never announced: not ours.
    expect(send(t, inFrame({ ...s, dport: 40009, flags: SYN, seq: 1 }))).toEqual([]);
    expect(verdict(t, Verdict.DropNotVip)).toBe(1);
  });

  it('active: a PORT naming another host (FTP bounce) opens nothing; EPRT for the client does', async () => {
    const t = await ftpDirector();
    handshake(t);
    send(t, inFrame({ ...C, flags: PSH | ACK, seq: 100, ack: 7000, text: 'PORT 10,77,1,99,156,65\r\n' }));
    expect(send(t, inFrame({ src: RS, dst: '10.77.1.99', sport: 20, dport: 40001, flags: SYN, seq: 1 }))).toEqual([]);
    expect(verdict(t, Verdict.DropNotVip)).toBe(1);
    send(t, inFrame({ ...C, flags: PSH | ACK, seq: 124, ack: 7000, text: 'EPRT |1|10.77.1.2|40002|\r\n' }));
    const s = { src: RS, dst: CLIENT, sport: 20, dport: 40002 };
    expect(send(t, inFrame({ ...s, flags: SYN, seq: 1 }))).toEqual([outFrame({ ...s, src: VIP, flags: SYN, seq: 1 })]);
  });
});

describe('FTP data connections after -C: ids reused by a new service', () => {
  it('an open active data connection whose service was cleared does not pass to (or count for) the new service that got its ids', async () => {
    const t = await ftpDirector();
    handshake(t);
    send(t, inFrame({ ...C, flags: PSH | ACK, seq: 100, ack: 7000, text: 'PORT 10,77,1,2,156,65\r\n' }));
    const s = { src: RS, dst: CLIENT, sport: 20, dport: 40001 };
    const c = { src: CLIENT, dst: VIP, sport: 40001, dport: 20 };
    expect(send(t, inFrame({ ...s, flags: SYN, seq: 900 }))).toEqual([outFrame({ ...s, src: VIP, flags: SYN, seq: 900 })]);
    expect(send(t, inFrame({ ...c, flags: SYN | ACK, seq: 30, ack: 901 }))).toHaveLength(1);
    expect(send(t, inFrame({ ...s, flags: ACK, seq: 901, ack: 31 }))).toHaveLength(1);
    // The control connection ends (client RST) and expires; -C then frees the ids at once.
    send(t, inFrame({ ...C, flags: RST | ACK, seq: 124, ack: 7000 }));
    t.clock.now += 300_000;
    t.director.table.sweep(t.clock.now, t.director.table.stats().slots);
    expect(t.director.table.size).toBe(0);
    expect((await t.vstunadm(['-C'])).code).toBe(0);
    // A new service on another VIP, with the same server address: it gets ids 0 and 0 again.
    expect((await t.vstunadm(['-A', '-t', '10.77.0.101:80', '-s', 'rr'])).code).toBe(0);
    expect((await t.vstunadm(['-a', '-t', '10.77.0.101:80', '-r', RS, '-m'])).code).toBe(0);
    const [svc] = t.director.registry.list();
    const rs = t.director.registry.servers.find((r) => r !== undefined)!;
    expect([svc.id, rs.id]).toEqual([0, 0]);
    const before = verdict(t, Verdict.DropNatReplyNoFlow);
    expect(send(t, inFrame({ ...s, flags: PSH | ACK, seq: 901, ack: 31, text: 'data' }))).toEqual([]);
    expect(verdict(t, Verdict.DropNatReplyNoFlow)).toBe(before + 1);
    expect(send(t, inFrame({ ...c, flags: ACK, seq: 31, ack: 905 }))).toEqual([]);
    expect([rs.stats.inPkts, rs.stats.outPkts, svc.stats.inPkts, svc.stats.outPkts]).toEqual([0, 0, 0, 0]);
  });
});

describe('FTP control: what cannot be rewritten is a counted drop, the frame untouched', () => {
  it('a 227 that grows by 2 with 1 byte of headroom: drop-no-headroom', () => {
    const frame = inFrame({ src: VIP, dst: CLIENT, sport: 21, dport: 50000, flags: PSH | ACK, seq: 5, ack: 1, text: '227 Entering Passive Mode (10,77,3,7,156,64).\r\n' });
    const data = new Uint8Array(frame.length + 1);
    data.set(frame, 1);
    const before = data.slice();
    const rec = new PacketRecord();
    rec.data = data;
    rec.headroom = 1;
    rec.frameOffset = 1;
    rec.frameLength = frame.length;
    rec.ipOffset = 15;
    rec.total = frame.length - 14;
    rec.l4Offset = 35;
    rec.l4Length = rec.total - 20;
    rec.vaddr = parseIpv4(CLIENT)!;
    rec.vport = 50000;
    const svc = new VirtualService(0, 6, parseIpv4(VIP)!, 21, null as never, 'rr', [], 0, 0xffffffff, false);
    const ftp = new FtpControl(new FtpExpectations(), new Timeouts(), 4);
    expect(ftp.fromServer(rec, svc, { id: 0 } as RealServer)).toBe(Verdict.DropNoHeadroom);
    expect(data).toEqual(before);
    expect(ftp.size).toBe(0);
  });
});
