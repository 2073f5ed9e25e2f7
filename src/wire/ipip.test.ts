import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturedFrame, type CapturedName } from '../../test/fixtures/wire/captured.js';
import { bytesHex, guardedBuffer, hexBytes, mutatedPacket } from '../../test/fixtures/wire/arbitraries.js';
import { IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP } from './ip-protocol.js';
import { IpipDecap, ipipProtocolFor, writeOuterIpv4, writeOuterIpv6, type OuterIpv4Params, type OuterIpv6Params } from './ipip.js';
import { parseIpv4 } from './ipv4-address.js';
import { Ipv4View } from './ipv4.js';
import { verifyChecksum } from './checksum.js';
import { parseIpv6 } from './ipv6-address.js';
import { WIRE_ERRORS, wireErrorName } from './errors.js';

const ETH = 14;
const v4 = (s: string) => parseIpv4(s)!;
const v6 = (s: string) => parseIpv6(s)!;
type Params = { outer: 4; params: OuterIpv4Params } | { outer: 6; params: OuterIpv6Params };

/** A captured IP-in-IP frame split into inner packet and whole packet (outer + inner). */
function capturedTunnel(name: CapturedName, outerLength: number) {
  const packet = capturedFrame(name).subarray(ETH);
  return { inner: bytesHex(packet.subarray(outerLength)), expected: bytesHex(packet) };
}

const synInner = bytesHex(capturedFrame('tcpSyn').subarray(ETH));
const syn6Inner = bytesHex(capturedFrame('tcp6Syn').subarray(ETH));

// Rows 1-4: the kernel's own outer headers (raw sockets in capture.sh's craft.py), fields
// from tshark: outer ip.id / ip.ttl / DF and ipv6.flow / hlim. Rows 5-8: our writer on the
// captured TCP SYNs; the expected bytes were decoded by
//   tshark -r ipip-golden.pcap -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE
// with every ip.checksum.status and tcp.checksum.status = 1 (good); the last test re-checks
// that live when tshark is installed.
const golden: { description: string; inner: string; p: Params; expected: string }[] = [
  { description: 'IPv4-in-IPv4, kernel raw socket (captured)', ...capturedTunnel('ipipIcmp', 20), p: { outer: 4, params: { src: v4('10.77.0.1'), dst: v4('10.78.0.2'), protocol: IPPROTO_IPIP, innerLength: 39, ttl: 64, dontFragment: true, id: 0xe94e } } },
  { description: 'IPv6-in-IPv4, kernel raw socket (captured)', ...capturedTunnel('ipv6InIpv4', 20), p: { outer: 4, params: { src: v4('10.77.0.1'), dst: v4('10.78.0.2'), protocol: IPPROTO_IPV6, innerLength: 60, ttl: 64, dontFragment: true, id: 0x04fe } } },
  { description: 'IPv4-in-IPv6, kernel raw socket (captured)', ...capturedTunnel('ipv4InIpv6', 40), p: { outer: 6, params: { src: v6('fd77::1'), dst: v6('fd78::2'), nextHeader: IPPROTO_IPIP, innerLength: 39, hopLimit: 64, flowLabel: 0x0f252c } } },
  { description: 'IPv6-in-IPv6, kernel raw socket (captured)', ...capturedTunnel('ipv6InIpv6', 40), p: { outer: 6, params: { src: v6('fd77::1'), dst: v6('fd78::2'), nextHeader: IPPROTO_IPV6, innerLength: 60, hopLimit: 64, flowLabel: 0x0b2a0b } } },
  {
    description: 'TCP SYN in IPv4, DIP->RIP, TTL 63, DF, inner TOS copied',
    inner: synInner,
    p: { outer: 4, params: { src: v4('172.16.0.1'), dst: v4('172.16.9.5'), protocol: IPPROTO_IPIP, innerLength: 60, ttl: 63, dontFragment: true, id: 0x1234, tos: 0 } },
    expected: '45000050123440003f04c84fac100001ac100905' + synInner,
  },
  {
    description: 'IPv6 TCP SYN in IPv4 (protocol 41), no DF',
    inner: syn6Inner,
    p: { outer: 4, params: { src: v4('172.16.0.1'), dst: v4('172.16.9.6'), protocol: IPPROTO_IPV6, innerLength: 80, ttl: 64, dontFragment: false, id: 0xbeef } },
    expected: '45000064beef000040295a5aac100001ac100906' + syn6Inner,
  },
  {
    description: 'TCP SYN in IPv6 (next header 4), flow label 0xabcde',
    inner: synInner,
    p: { outer: 6, params: { src: v6('2001:db8:d::1'), dst: v6('2001:db8:5::5'), nextHeader: IPPROTO_IPIP, innerLength: 60, hopLimit: 64, flowLabel: 0xabcde } },
    expected: '600abcde003c044020010db8000d0000000000000000000120010db8000500000000000000000005' + synInner,
  },
  {
    description: 'IPv6 TCP SYN in IPv6 (next header 41), hop limit 255',
    inner: syn6Inner,
    p: { outer: 6, params: { src: v6('2001:db8:d::1'), dst: v6('2001:db8:5::6'), nextHeader: IPPROTO_IPV6, innerLength: 80, hopLimit: 255 } },
    expected: '60000000005029ff20010db8000d0000000000000000000120010db8000500000000000000000006' + syn6Inner,
  },
];

/** Puts the inner packet behind `headroom` bytes and writes the outer header in front. */
function encap(row: (typeof golden)[number], headroom: number): { buf: Uint8Array; start: number; written: number } {
  const inner = hexBytes(row.inner);
  const buf = new Uint8Array(headroom + inner.length + 7).fill(0xcc);
  buf.set(inner, headroom);
  const written = row.p.outer === 4 ? writeOuterIpv4(buf, headroom, row.p.params) : writeOuterIpv6(buf, headroom, row.p.params);
  return { buf, start: headroom - written, written };
}

describe('IP-in-IP writers (golden table)', () => {
  it.each(golden)('$description', (row) => {
    const inner = hexBytes(row.inner);
    expect(row.p.params.innerLength).toBe(inner.length);
    for (const headroom of [row.p.outer === 4 ? 20 : 40, 64]) {
      const { buf, start, written } = encap(row, headroom);
      expect(written).toBe(row.p.outer === 4 ? 20 : 40);
      expect(bytesHex(buf.subarray(start, headroom + inner.length))).toBe(row.expected);
      expect(buf[start - 1] ?? 0xcc).toBe(0xcc); // nothing written in front of the outer header
      expect(buf[headroom + inner.length]).toBe(0xcc);
    }
  });

  it('the outer IPv4 checksum, computed from the field values, verifies over the written bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          src: fc.nat(0xffffffff),
          dst: fc.nat(0xffffffff),
          protocol: fc.constantFrom(IPPROTO_IPIP, IPPROTO_IPV6),
          innerLength: fc.integer({ min: 0, max: 0xffff - 20 }),
          ttl: fc.nat(255),
          dontFragment: fc.boolean(),
          id: fc.nat(0xffff),
          tos: fc.nat(255),
        }),
        (params: OuterIpv4Params) => {
          const buf = new Uint8Array(20 + params.innerLength);
          expect(writeOuterIpv4(buf, 20, params)).toBe(20);
          // The receiver's check (RFC 1071) over the 20 bytes, by the reference summer.
          expect(verifyChecksum(buf, 0, 20)).toBe(true);
          expect(new Ipv4View().bind(buf, 0, buf.length)).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes nothing and returns 0 without headroom', () => {
    const row = golden[4];
    const buf = new Uint8Array(19 + 60).fill(0xcc);
    expect(writeOuterIpv4(buf, 19, (row.p as { params: OuterIpv4Params }).params)).toBe(0);
    expect(writeOuterIpv6(buf, 19, (golden[6].p as { params: OuterIpv6Params }).params)).toBe(0);
    expect(buf.every((b) => b === 0xcc)).toBe(true);
    expect(ipipProtocolFor(4)).toBe(4);
    expect(ipipProtocolFor(6)).toBe(41);
    expect(ipipProtocolFor(5)).toBe(-1);
  });

  const hasTshark = (() => {
    try {
      execFileSync('tshark', ['--version'], { timeout: 60_000, stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasTshark)('tshark decodes every writer output with IP and TCP checksum validation on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vstun-ipip-'));
    try {
      const records: Buffer[] = [];
      const head = Buffer.alloc(24);
      head.writeUInt32LE(0xa1b2c3d4, 0);
      head.writeUInt16LE(2, 4);
      head.writeUInt16LE(4, 6);
      head.writeUInt32LE(65535, 16);
      head.writeUInt32LE(101, 20); // LINKTYPE_RAW: packets start at the IP header
      records.push(head);
      for (const row of golden.slice(4)) {
        const { buf, start } = encap(row, 64);
        const pkt = Buffer.from(buf.subarray(start, 64 + hexBytes(row.inner).length));
        const rec = Buffer.alloc(16);
        rec.writeUInt32LE(pkt.length, 8);
        rec.writeUInt32LE(pkt.length, 12);
        records.push(rec, pkt);
      }
      const file = join(dir, 'ipip.pcap');
      writeFileSync(file, Buffer.concat(records));
      const out = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=;', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.options.mss_val'], { timeout: 60_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      // One line per packet: IPv4 checksum statuses (outer, inner where IPv4), then TCP status 1 = good.
      expect(out.trim().split('\n')).toEqual(['1,1;1;960', '1;1;1220', '1;1;960', ';1;1220']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('IP-in-IP decap', () => {
  it.each([
    { name: 'ipipIcmp' as const, outerVersion: 4, outerHeaderLength: 20, innerVersion: 4, innerLength: 39 },
    { name: 'ipv6InIpv4' as const, outerVersion: 4, outerHeaderLength: 20, innerVersion: 6, innerLength: 60 },
    { name: 'ipv4InIpv6' as const, outerVersion: 6, outerHeaderLength: 40, innerVersion: 4, innerLength: 39 },
    { name: 'ipv6InIpv6' as const, outerVersion: 6, outerHeaderLength: 40, innerVersion: 6, innerLength: 60 },
  ])('decaps the captured $name', (g) => {
    const frame = capturedFrame(g.name);
    const d = new IpipDecap();
    expect(d.decap(frame, ETH, frame.length - ETH)).toBe(0);
    expect([d.outerVersion, d.outerHeaderLength, d.innerVersion, d.innerOffset, d.innerLength]).toEqual([g.outerVersion, g.outerHeaderLength, g.innerVersion, ETH + g.outerHeaderLength, g.innerLength]);
    expect(d.outerSourceOffset).toBe(ETH + (g.outerVersion === 4 ? 12 : 8));
  });

  it('validates a bare inner packet (IPv6 raw sockets strip the outer header)', () => {
    const frame = capturedFrame('ipv4InIpv6');
    const d = new IpipDecap();
    expect(d.checkInnerOnly(frame, ETH + 40, frame.length - ETH - 40, IPPROTO_IPIP)).toBe(0);
    expect(d.innerLength).toBe(39);
    expect(wireErrorName(d.checkInnerOnly(frame, ETH + 40, frame.length - ETH - 40, IPPROTO_IPV6))).toBe('bad-inner-packet');
    expect(wireErrorName(d.checkInnerOnly(frame, ETH + 40, frame.length - ETH - 40, IPPROTO_UDP))).toBe('unexpected-protocol');
  });

  /** The captured IPv4-in-IPv4 packet with an edit, outer checksum refreshed unless asked not to. */
  function edited(edit: (p: Uint8Array) => void, refresh = true): Uint8Array {
    const p = capturedFrame('ipipIcmp').slice(ETH);
    edit(p);
    if (refresh) (Ipv4View.checked(p, 0, 20 + 39) as Ipv4View).fillChecksum();
    return p;
  }

  it.each([
    { description: 'outer checksum wrong', packet: () => edited((p) => (p[8] = 1), false), error: 'bad-checksum' },
    { description: 'outer protocol UDP', packet: () => edited((p) => (p[9] = IPPROTO_UDP)), error: 'unexpected-protocol' },
    { description: 'outer protocol 41 over an IPv4 inner', packet: () => edited((p) => (p[9] = IPPROTO_IPV6)), error: 'bad-inner-packet' },
    { description: 'outer is a first fragment (MF)', packet: () => edited((p) => (p[6] = 0x20)), error: 'fragmented' },
    { description: 'inner checksum wrong', packet: () => edited((p) => (p[28] ^= 1)), error: 'bad-inner-packet' },
    { description: 'inner total length beyond the outer payload', packet: () => edited((p) => (p[23] = 40)), error: 'bad-inner-packet' },
    { description: 'outer version 5', packet: () => edited((p) => (p[0] = 0x55), false), error: 'bad-version' },
    { description: 'outer truncated', packet: () => capturedFrame('ipipIcmp').slice(ETH, ETH + 30), error: 'truncated' },
  ])('$description -> $error', ({ packet, error }) => {
    const p = packet();
    expect(wireErrorName(new IpipDecap().decap(p, 0, p.length))).toBe(error);
  });

  it.each(['ipipIcmp', 'ipv6InIpv4', 'ipv4InIpv6', 'ipv6InIpv6'] as const)('mutations of %s never throw or read outside; success means the inner fits', (name) => {
    const base = capturedFrame(name).slice(ETH);
    const d = new IpipDecap();
    fc.assert(
      fc.property(mutatedPacket(base, [0, 2, 3, 4, 5, 6, 9, 20, 22, 23, 40, 44, 45]), (bytes) => {
        const g = guardedBuffer(bytes);
        const code = d.decap(g.buf, g.off, g.len);
        expect(code).toBeGreaterThanOrEqual(0);
        expect(code).toBeLessThanOrEqual(WIRE_ERRORS.length);
        if (code === 0) expect(d.innerOffset + d.innerLength).toBeLessThanOrEqual(g.off + g.len);
        expect(g.outside()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('encap then decap returns the inner packet unchanged (property)', () => {
    const inners = [hexBytes(synInner), hexBytes(syn6Inner)];
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 255 }), (which, outer6, addr, id, ttl) => {
        const inner = inners[which];
        const headroom = 48;
        const buf = new Uint8Array(headroom + inner.length);
        buf.set(inner, headroom);
        const protocol = ipipProtocolFor(which === 0 ? 4 : 6);
        const n = outer6
          ? writeOuterIpv6(buf, headroom, { src: v6('2001:db8::1'), dst: v6('2001:db8::2'), nextHeader: protocol, innerLength: inner.length, hopLimit: ttl })
          : writeOuterIpv4(buf, headroom, { src: addr, dst: addr ^ 1, protocol, innerLength: inner.length, ttl, dontFragment: true, id });
        const d = new IpipDecap();
        expect(d.decap(buf, headroom - n, n + inner.length)).toBe(0);
        expect(buf.subarray(d.innerOffset, d.innerOffset + d.innerLength)).toEqual(inner);
      }),
    );
  });
});
