import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { copyIpv6, ipv6Equals, ipv6InPrefix, ipv6ToString, parseIpv6, parseIpv6Cidr, parseIpv6Into } from './ipv6-address.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

describe('IPv6 address text', () => {
  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fd77::1', 'fd770000000000000000000000000001'],
    ['2001:db8::99', '20010db8000000000000000000000099'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001'], // a single zero word stays
    ['2001:0:0:1::1', '20010000000000010000000000000001'], // longest run compressed
    ['1:0:0:2::', '00010000000000020000000000000000'],
    ['::ffff:10.77.0.1', '00000000000000000000ffff0a4d0001'],
    ['fe80::ff:fe77:1', 'fe80000000000000000000fffe770001'],
  ])('%s <-> %s (RFC 5952)', (text, bytes) => {
    expect(Buffer.from(parseIpv6(text)!).toString('hex')).toBe(bytes);
    expect(ipv6ToString(hex(bytes))).toBe(text);
  });

  it.each(['1:2:3:4:5:6:7:8:9', ':1::', '1:::2', 'g::1', '12345::', '1:2:3:4:5:6:7', '::1.2.3', '1::2::3', '::256.1.1.1', '', ':', '1:2:3:4:5:6:7:8::'])('rejects %j', (text) => {
    expect(parseIpv6(text)).toBeNull();
    const out = new Uint8Array(16).fill(7);
    expect(parseIpv6Into(text, out)).toBe(false);
    expect(out.every((b) => b === 7)).toBe(true);
  });

  it('accepts non-canonical forms: leading zeros, upper case, full form, dotted tail', () => {
    expect(ipv6ToString(parseIpv6('2001:0DB8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(ipv6ToString(parseIpv6('1:2:3:4:5:6:1.2.3.4')!)).toBe('1:2:3:4:5:6:102:304');
    expect(ipv6ToString(parseIpv6('::1.2.3.4')!)).toBe('::102:304');
  });

  it('agrees with the WHATWG URL serializer and round-trips for random addresses', () => {
    const words = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(words, (w) => {
        const bytes = new Uint8Array(16);
        w.forEach((x, i) => { bytes[2 * i] = x >> 8; bytes[2 * i + 1] = x & 255; });
        const text = ipv6ToString(bytes);
        expect(parseIpv6(text)).toEqual(bytes);
        // IPv4-mapped addresses are written in RFC 5952's mixed notation (::ffff:1.2.3.4),
        // which the WHATWG serializer never uses: compare only the pure-hex forms.
        if (!text.includes('.')) {
          expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('IPv6 prefixes and byte helpers', () => {
  it('matches prefixes at every length and clears host bits', () => {
    const a = parseIpv6('2001:db8:1234:5678::1')!;
    expect(ipv6InPrefix(a, 0, parseIpv6('2001:db8::')!, 0, 32)).toBe(true);
    expect(ipv6InPrefix(a, 0, parseIpv6('2001:db9::')!, 0, 32)).toBe(false);
    expect(ipv6InPrefix(a, 0, parseIpv6('2001:db8:1200::')!, 0, 42)).toBe(true); // 0x34 = 0011 0100: differs from 0x00 at bit 42
    expect(ipv6InPrefix(a, 0, parseIpv6('2001:db8:1200::')!, 0, 43)).toBe(false);
    expect(ipv6InPrefix(a, 0, parseIpv6('::')!, 0, 0)).toBe(true);
    const c = parseIpv6Cidr('2001:db8:1234:5678::1/36')!;
    expect(ipv6ToString(c.network)).toBe('2001:db8:1000::');
    expect(parseIpv6Cidr('::1/129')).toBeNull();
    expect(parseIpv6Cidr('fd00::7')!.prefixLength).toBe(128);
  });

  it('equals and copy work at offsets', () => {
    const buf = new Uint8Array(40);
    const a = parseIpv6('fd78::2')!;
    copyIpv6(a, 0, buf, 5);
    expect(ipv6Equals(buf, 5, a, 0)).toBe(true);
    expect(ipv6Equals(buf, 4, a, 0)).toBe(false);
  });
});

describe('IPv6 address text: the IPv4-mapped corner', () => {
  it('writes ::ffff:0.0.0.0 in mixed notation and reads it back (a counterexample fast-check found)', () => {
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    expect(ipv6ToString(bytes)).toBe('::ffff:0.0.0.0');
    expect(parseIpv6('::ffff:0.0.0.0')).toEqual(bytes);
  });
});
