import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressUse, canonicalAddressText, formatAddressPortText, formatIpv4Netmask, parseAddressText, parseIpv4Text, parseNetmaskText } from './address-text.js';

describe('address text', () => {
  // Expected texts are glibc inet_ntop's (what ipvsadm -n prints), as documented in its
  // inet_ntop6: longest run of >= 2 zero groups, first on a tie, dotted tail for ::a.b.c.d
  // and ::ffff:a.b.c.d.
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['::ffff:a01:203', '::ffff:10.1.2.3'],
    ['::10.1.2.3', '::10.1.2.3'],
    ['fe80::', 'fe80::'],
  ])('%s prints as %s', (text, canonical) => {
    expect(canonicalAddressText(text)).toBe(canonical);
  });

  it.each(['', '10.0.0', '010.0.0.1', '10.0.0.1/32', '10.0.0.256', 'fe80::1%eth0', '[::1]', ' 10.0.0.1', 'host.example', '1:2:3:4:5:6:7:8:9', '2001:db8::1/64'])(
    'refuses %j',
    (text) => {
      expect(parseAddressText(text)).toBeNull();
    },
  );

  it('IPv4 text round-trips for every u32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const text = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
        expect(parseIpv4Text(text)).toBe(n);
        expect(canonicalAddressText(text)).toBe(text);
      }),
    );
  });

  it('IPv6 canonical text is a fixed point and parses to the same value', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const once = canonicalAddressText(text);
        expect(once).not.toBeNull();
        expect(canonicalAddressText(once!)).toBe(once);
        expect(parseAddressText(once!)!.value).toBe(parseAddressText(text)!.value);
      }),
    );
  });

  it('writes ports the ipvsadm way', () => {
    expect(formatAddressPortText('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(formatAddressPortText('2001:db8::1', 80)).toBe('[2001:db8::1]:80');
  });
});

describe('parseIpv4Text', () => {
  // Its character loop for plain dotted quads must agree with ip-address's parse (through
  // parseAddressText) on every text: plain, leading zeros, too many digits, dots or octets.
  const slow = (text: string) => {
    const a = parseAddressText(text);
    return a !== null && a.family === 4 ? Number(a.value) : null;
  };
  it.each(['0.0.0.0', '255.255.255.255', '10.250.9.250', '01.2.3.4', '1.2.3.04', '1.2.3.256', '1.2.3', '1.2.3.4.5', '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.4 ', '1.2.3.0004', '001.2.3.4', '::1'])('%s', (text) => {
    expect(parseIpv4Text(text)).toBe(slow(text));
  });

  it('agrees with the full parser on any text of digits and dots, and on any quad', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.integer({ min: 0, max: 99 }).map((n) => `0${n}`));
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[0-9.]{0,17}$/), fc.array(octet, { minLength: 3, maxLength: 5 }).map((o) => o.join('.'))), (text) => {
        expect(parseIpv4Text(text)).toBe(slow(text));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('netmask text', () => {
  it.each([
    ['255.255.255.0', 4, 24],
    ['255.255.255.255', 4, 32],
    ['0.0.0.0', 4, 0],
    ['255.255.128.0', 4, 17],
    ['24', 4, 24],
    ['32', 4, 32],
    ['64', 6, 64],
    ['128', 6, 128],
  ] as const)('%s (IPv%i) is /%i', (text, family, bits) => {
    expect(parseNetmaskText(text, family)).toBe(bits);
  });

  it.each([
    ['255.0.255.0', 4],
    ['255.255.255.1', 4],
    ['33', 4],
    ['129', 6],
    ['255.255.255.0', 6],
    ['ffff::', 6],
    ['/24', 4],
  ] as const)('refuses %s for IPv%i', (text, family) => {
    expect(parseNetmaskText(text, family)).toBeNull();
  });

  it('every prefix length prints as a dotted mask that parses back to it', () => {
    for (let bits = 0; bits <= 32; bits++) expect(parseNetmaskText(formatIpv4Netmask(bits), 4)).toBe(bits);
    expect(formatIpv4Netmask(24)).toBe('255.255.255.0');
  });
});

describe('special-purpose addresses', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this-network'],
    ['127.0.0.1', 'loopback'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['169.254.77.2', 'link-local'],
    ['10.0.0.1', 'unicast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['ff02::1', 'multicast'],
    ['fe80::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['2001:db8::1', 'unicast'],
  ])('%s is %s', (text, use) => {
    expect(addressUse(parseAddressText(text)!)).toBe(use);
  });
});
