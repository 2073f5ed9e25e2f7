import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ipv4CidrToString, ipv4InPrefix, ipv4PrefixMask, ipv4ToString, parseIpv4, parseIpv4Cidr, readIpv4, writeIpv4 } from './ipv4-address.js';

describe('IPv4 addresses as u32', () => {
  it.each([
    ['0.0.0.0', 0],
    ['10.77.0.1', 0x0a4d0001],
    ['255.255.255.255', 0xffffffff],
    ['192.168.1.200', 0xc0a801c8],
  ])('%s <-> %i', (text, n) => {
    expect(parseIpv4(text)).toBe(n);
    expect(ipv4ToString(n)).toBe(text);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1..3.4', ' 1.2.3.4', '1.2.3.4x', '0x1.2.3.4'])('rejects %j', (text) => {
    expect(parseIpv4(text)).toBeNull();
  });

  it('string and byte forms round-trip for every u32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat({ max: 8 }), (n, off) => {
        expect(parseIpv4(ipv4ToString(n))).toBe(n);
        const buf = new Uint8Array(off + 4);
        writeIpv4(buf, off, n);
        expect(readIpv4(buf, off)).toBe(n);
        expect(ipv4ToString(n)).toBe(Array.from(buf.subarray(off)).join('.'));
      }),
    );
  });
});

describe('IPv4 prefixes', () => {
  it('masks and parses CIDRs, clearing host bits', () => {
    expect(ipv4PrefixMask(0)).toBe(0);
    expect(ipv4PrefixMask(8)).toBe(0xff000000);
    expect(ipv4PrefixMask(31)).toBe(0xfffffffe);
    expect(ipv4PrefixMask(32)).toBe(0xffffffff);
    expect(parseIpv4Cidr('10.1.2.3/8')).toEqual({ network: 0x0a000000, prefixLength: 8 });
    expect(parseIpv4Cidr('10.99.0.1')).toEqual({ network: 0x0a630001, prefixLength: 32 });
    expect(ipv4CidrToString(parseIpv4Cidr('192.168.7.9/20')!)).toBe('192.168.0.0/20');
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0/8', '10.0.0.0/-1']) expect(parseIpv4Cidr(bad)).toBeNull();
  });

  it('ipv4InPrefix agrees with a string-prefix reference for octet-aligned prefixes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 8, 16, 24, 32), (a, n, len) => {
        const octets = len / 8;
        const same = ipv4ToString(a).split('.').slice(0, octets).join('.') === ipv4ToString(n).split('.').slice(0, octets).join('.');
        expect(ipv4InPrefix(a, n, len)).toBe(same);
      }),
    );
    expect(ipv4InPrefix(parseIpv4('10.99.0.200')!, parseIpv4('10.99.0.128')!, 25)).toBe(true);
    expect(ipv4InPrefix(parseIpv4('10.99.0.127')!, parseIpv4('10.99.0.128')!, 25)).toBe(false);
  });
});
