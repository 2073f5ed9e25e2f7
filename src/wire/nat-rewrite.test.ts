import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { natGolden, type NatGoldenRow } from '../../test/fixtures/wire/nat-golden.js';
import { internetChecksum, pseudoHeaderSumV4At, pseudoHeaderSumV6At, verifyChecksum } from './checksum.js';
import { parseIpv4Text } from './address-text.js';
import { parseIpv6 } from './ipv6-address.js';
import {
  NAT_DST,
  NAT_ICMP_NOT_TCP_UDP,
  NAT_ICMP_OK,
  NAT_ICMP_TRUNCATED,
  NAT_SRC,
  natRewriteIcmpv4Error,
  natRewriteIcmpv6Error,
  natRewriteIpv4,
  natRewriteIpv6,
} from './nat-rewrite.js';

const fromHex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Applies one golden row at `at` bytes into a larger buffer (offsets must not matter). */
function apply(row: NatGoldenRow, at = 0): { out: Uint8Array; result: number } {
  const input = fromHex(row.input);
  const buf = new Uint8Array(at + input.length + 5).fill(0xee);
  buf.set(input, at);
  const side = row.side === 'src' ? NAT_SRC : NAT_DST;
  const l4Off = row.l4Off < 0 ? -1 : at + row.l4Off;
  let result = NAT_ICMP_OK;
  const end = at + input.length;
  switch (row.kind) {
    case 'v4':
      natRewriteIpv4(buf, at, l4Off, row.protocol, side, parseIpv4Text(row.addr)!, row.port);
      break;
    case 'v6':
      natRewriteIpv6(buf, at, l4Off, row.protocol, side, parseIpv6(row.addr)!, 0, row.port);
      break;
    case 'icmp4':
      result = natRewriteIcmpv4Error(buf, at, l4Off, end, side, parseIpv4Text(row.addr)!, row.port);
      break;
    case 'icmp6':
      result = natRewriteIcmpv6Error(buf, at, l4Off, end, side, parseIpv6(row.addr)!, 0, row.port);
      break;
  }
  expect(buf.subarray(0, at).every((b) => b === 0xee)).toBe(true);
  expect(buf.subarray(end).every((b) => b === 0xee)).toBe(true);
  return { out: buf.slice(at, end), result };
}

describe('VS/NAT rewrite golden table (packets built by test/fixtures/wire/nat-golden.py)', () => {
  it('covers both directions of SYN, data, FIN, RST, UDP, ICMP errors and port mapping', () => {
    const d = natGolden.map((r) => r.description).join('\n');
    for (const word of ['SYN', 'data', 'FIN', 'RST', 'UDP', 'ICMP', 'ICMPv6', 'port mapped', 'checksum 0', '0xffff']) expect(d).toContain(word);
    for (const kind of ['v4', 'v6', 'icmp4', 'icmp6']) {
      expect(natGolden.some((r) => r.kind === kind && r.side === 'src')).toBe(true);
      expect(natGolden.some((r) => r.kind === kind && r.side === 'dst')).toBe(true);
    }
  });

  it.each(natGolden)('$description', (row) => {
    for (const at of [0, 14, 3]) {
      const { out, result } = apply(row, at);
      expect(result).toBe(NAT_ICMP_OK);
      expect(toHex(out)).toBe(row.expected);
    }
  });

  it.each(natGolden)('reverse of: $description', (row) => {
    // Swapping input and expected and the side gives the other direction's translation,
    // with the original address and port (read back from the input).
    const input = fromHex(row.input);
    const v4 = row.kind === 'v4' || row.kind === 'icmp4';
    const addrOff = row.side === 'src' ? (v4 ? 12 : 8) : v4 ? 16 : 24;
    const addr = v4 ? [...input.subarray(addrOff, addrOff + 4)].join('.') : formatV6(input.subarray(addrOff, addrOff + 16));
    if (row.kind === 'icmp4' || row.kind === 'icmp6') {
      // The quoted ports are on the opposite side; the outer address is the same field.
      const q = row.l4Off + 8 + (v4 ? (input[row.l4Off + 8] & 0x0f) * 4 : 40);
      const port = (input[q + (row.side === 'src' ? 2 : 0)] << 8) | input[q + (row.side === 'src' ? 3 : 1)];
      const back = apply({ ...row, input: row.expected, expected: row.input, addr, port }, 0);
      expect(toHex(back.out)).toBe(row.input);
      return;
    }
    if (row.l4Off < 0) {
      expect(toHex(apply({ ...row, input: row.expected, addr }, 0).out)).toBe(row.input);
      return;
    }
    const portOff = row.l4Off + (row.side === 'src' ? 0 : 2);
    const port = (input[portOff] << 8) | input[portOff + 1];
    expect(toHex(apply({ ...row, input: row.expected, addr, port }, 0).out)).toBe(row.input);
  });
});

function formatV6(b: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] << 8) | b[i + 1]).toString(16));
  return words.join(':');
}

describe('ICMP error translation refuses what it cannot map', () => {
  const row = natGolden.find((r) => r.kind === 'icmp4' && r.description.includes('UDP'))!;
  it('a quote shorter than IP header + 8 bytes is left unchanged', () => {
    const input = fromHex(row.input);
    const end = 20 + 8 + 20 + 7;
    const buf = input.slice(0, end);
    const before = toHex(buf);
    expect(natRewriteIcmpv4Error(buf, 0, 20, end, NAT_SRC, 1, 1)).toBe(NAT_ICMP_TRUNCATED);
    expect(toHex(buf)).toBe(before);
    const row6 = natGolden.find((r) => r.kind === 'icmp6')!;
    const b6 = fromHex(row6.input).slice(0, 40 + 8 + 40 + 4);
    expect(natRewriteIcmpv6Error(b6, 0, 40, b6.length, NAT_SRC, new Uint8Array(16), 0, 1)).toBe(NAT_ICMP_TRUNCATED);
  });
  it('a quoted packet that is not TCP or UDP is left unchanged', () => {
    const buf = fromHex(row.input);
    buf[28 + 9] = 1; // quoted protocol: ICMP
    const before = toHex(buf);
    expect(natRewriteIcmpv4Error(buf, 0, 20, buf.length, NAT_SRC, 1, 1)).toBe(NAT_ICMP_NOT_TCP_UDP);
    expect(toHex(buf)).toBe(before);
  });
});

describe('property: any address/port rewrite keeps every checksum valid', () => {
  const tcpRows = natGolden.filter((r) => r.kind === 'v4' && r.l4Off >= 0);
  it('IPv4 TCP/UDP: header and L4 checksums verify after arbitrary rewrites of either side', () => {
    fc.assert(
      fc.property(fc.constantFrom(...tcpRows), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), (row, src, addr, port) => {
        const buf = fromHex(row.expected);
        const udpZero = row.protocol === 17 && buf[row.l4Off + 6] === 0 && buf[row.l4Off + 7] === 0;
        natRewriteIpv4(buf, 0, row.l4Off, row.protocol, src ? NAT_SRC : NAT_DST, addr, port);
        expect(verifyChecksum(buf, 0, row.l4Off)).toBe(true);
        const l4Len = buf.length - row.l4Off;
        if (udpZero) {
          expect(buf[row.l4Off + 6] | buf[row.l4Off + 7]).toBe(0);
        } else {
          expect(verifyChecksum(buf, row.l4Off, l4Len, pseudoHeaderSumV4At(buf, 12, 16, row.protocol, l4Len))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('IPv6 TCP/UDP: L4 checksum verifies after arbitrary rewrites', () => {
    const rows = natGolden.filter((r) => r.kind === 'v6');
    fc.assert(
      fc.property(fc.constantFrom(...rows), fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 0xffff }), (row, src, addr, port) => {
        const buf = fromHex(row.expected);
        natRewriteIpv6(buf, 0, 40, row.protocol, src ? NAT_SRC : NAT_DST, addr, 0, port);
        const l4Len = buf.length - 40;
        expect(verifyChecksum(buf, 40, l4Len, pseudoHeaderSumV6At(buf, 8, 24, row.protocol, l4Len))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it('ICMPv4 errors: outer, quoted IP and ICMP checksums verify after arbitrary rewrites', () => {
    const rows = natGolden.filter((r) => r.kind === 'icmp4');
    fc.assert(
      fc.property(fc.constantFrom(...rows), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), (row, src, addr, port) => {
        const buf = fromHex(row.expected);
        expect(natRewriteIcmpv4Error(buf, 0, 20, buf.length, src ? NAT_SRC : NAT_DST, addr, port)).toBe(NAT_ICMP_OK);
        expect(verifyChecksum(buf, 0, 20)).toBe(true);
        expect(verifyChecksum(buf, 28, 20)).toBe(true);
        expect(internetChecksum(buf, 20, buf.length - 20)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
