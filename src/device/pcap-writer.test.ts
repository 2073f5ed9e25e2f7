// The pcap writer's files must be what tcpdump reads: checked byte by byte against the
// libpcap layout, and end to end with `tcpdump -r`.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter } from './pcap-writer.js';
import { META_STRIDE, type PacketBatch } from './packet-device.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vstun-pcap-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
}

// ARP request: who-has 10.0.0.2 tell 10.0.0.1 (broadcast from 02:00:00:00:00:01).
const ARP_REQUEST = hex(`
  ffffffffffff 020000000001 0806
  0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002`);
// IPv4 ICMP echo request 10.0.0.1 -> 10.0.0.2, id 0x1234 seq 1, 4 bytes of data; checksums valid.
const ICMP_ECHO = hex(`
  4500 0020 0000 4000 4001 26db 0a000001 0a000002
  0800 2104 1234 0001 61626364`);
const ETH_ICMP = new Uint8Array([...hex('020000000002 020000000001 0800'), ...ICMP_ECHO]);

function tcpdump(file: string): string {
  return execFileSync('tcpdump', ['-r', file, '-nn', '-e', '-v'], { timeout: 60_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('PcapWriter', () => {
  it('writes the libpcap global header and record headers byte for byte', () => {
    const file = path.join(dir, 'layout.pcap');
    const w = PcapWriter.open(file, { linkType: LINKTYPE_RAW, snapLength: 16 });
    w.writePacket(ICMP_ECHO, 0, ICMP_ECHO.length, 1_700_000_000_123.456);
    w.close();
    const b = fs.readFileSync(file);
    expect(b.length).toBe(24 + 16 + 16);
    expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect([b.readUInt16LE(4), b.readUInt16LE(6)]).toEqual([2, 4]);
    expect(b.readUInt32LE(16)).toBe(16); // snaplen
    expect(b.readUInt32LE(20)).toBe(101); // linktype
    expect(b.readUInt32LE(24)).toBe(1_700_000_000); // ts_sec
    expect(b.readUInt32LE(28)).toBe(123456); // ts_usec
    expect(b.readUInt32LE(32)).toBe(16); // incl_len: cut at snaplen
    expect(b.readUInt32LE(36)).toBe(ICMP_ECHO.length); // orig_len
    expect(Array.from(b.subarray(40))).toEqual(Array.from(ICMP_ECHO.subarray(0, 16)));
  });

  it('tcpdump -r reads Ethernet frames written from a batch at their ring offsets', () => {
    const file = path.join(dir, 'eth.pcap');
    const slotSize = 256;
    const data = new Uint8Array(2 * slotSize);
    data.set(ARP_REQUEST, 64);
    data.set(ETH_ICMP, slotSize + 64);
    const meta = new Int32Array(2 * META_STRIDE);
    meta.set([64, ARP_REQUEST.length, 0, 0, slotSize + 64, ETH_ICMP.length, 0, 0]);
    const batch: PacketBatch = { data, meta, addr: new Uint8Array(32), count: 2, headroom: 64, slotSize };
    const w = PcapWriter.open(file, { linkType: LINKTYPE_ETHERNET, bufferSize: 64 }); // tiny buffer: forces flushes
    w.writeBatch(batch);
    w.close();
    w.writePacket(ARP_REQUEST, 0, ARP_REQUEST.length); // ignored after close
    expect(w.packets).toBe(2);
    const out = tcpdump(file);
    const lines = out.trim().split('\n').filter((l) => /^\d/.test(l));
    expect(lines).toHaveLength(2);
    expect(out).toContain('Request who-has 10.0.0.2 tell 10.0.0.1');
    expect(out).toContain('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff');
    expect(out).toContain('10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1');
    expect(out).not.toContain('bad cksum');
  });

  it('tcpdump -r reads raw IP packets (LINKTYPE_RAW)', () => {
    const file = path.join(dir, 'raw.pcap');
    const w = PcapWriter.open(file, { linkType: LINKTYPE_RAW });
    for (let i = 0; i < 3; i++) w.writePacket(ICMP_ECHO, 0, ICMP_ECHO.length);
    w.close();
    const out = tcpdump(file);
    expect(out.match(/ICMP echo request/g)).toHaveLength(3);
  });

  it('rejects a bad snap length with a RangeError', () => {
    expect(() => PcapWriter.open(path.join(dir, 'x.pcap'), { linkType: 1, snapLength: 0 })).toThrow(RangeError);
  });
});
