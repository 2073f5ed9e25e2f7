import { describe, expect, it } from 'vitest';
import { AgentError } from './agent-error.js';
import { SourcePrefixSet, VipTable, parseAddressOrCidr } from './address-match.js';

const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));

describe('parseAddressOrCidr', () => {
  it('parses addresses and CIDRs, clearing host bits', () => {
    expect(parseAddressOrCidr('10.1.2.3', 'x', true)).toMatchObject({ family: 4, prefixLength: 32, text: '10.1.2.3' });
    expect(parseAddressOrCidr('10.1.2.3/16', 'x', true)).toMatchObject({ family: 4, prefixLength: 16, text: '10.1.0.0' });
    expect(parseAddressOrCidr('2001:db8::1', 'x', true)).toMatchObject({ family: 6, prefixLength: 128, text: '2001:db8::1' });
    expect(parseAddressOrCidr('2001:db8::ff/120', 'x', true).bytes[15]).toBe(0);
  });

  it.each(['', 'hello', '10.0.0', '10.0.0.256', '10.0.0.1/33', '2001:db8::1::2', '::ffff:1.2.3.4'])('rejects %j with a typed error', (s) => {
    expect(() => parseAddressOrCidr(s, '--director', true)).toThrow(AgentError);
  });

  it('rejects a prefix where only an address makes sense', () => {
    expect(() => parseAddressOrCidr('10.0.0.1/24', '--vip', false)).toThrow(/--vip .*without \/prefix/);
  });
});

describe('SourcePrefixSet', () => {
  const set = new SourcePrefixSet(['192.0.2.1', '10.8.0.0/14', '2001:db8:d::/48'].map((s) => parseAddressOrCidr(s, 'd', true)));

  it.each([
    ['192.0.2.1', true],
    ['192.0.2.2', false],
    ['10.8.0.0', true],
    ['10.11.255.255', true],
    ['10.12.0.0', false],
    ['255.255.255.255', false],
  ])('IPv4 %s → %s', (a, want) => {
    const buf = new Uint8Array(8);
    buf.set(v4(a), 3);
    expect(set.has4(buf, 3)).toBe(want);
  });

  it('matches IPv6 prefixes bit-exactly', () => {
    const a = parseAddressOrCidr('2001:db8:d:ffff::1', 'x', false).bytes;
    const b = parseAddressOrCidr('2001:db8:e::1', 'x', false).bytes;
    expect(set.has6(a, 0)).toBe(true);
    expect(set.has6(b, 0)).toBe(false);
    const odd = new SourcePrefixSet([parseAddressOrCidr('2001:db8::/33', 'x', true)]);
    expect(odd.has6(parseAddressOrCidr('2001:db8:7fff::1', 'x', false).bytes, 0)).toBe(true);
    expect(odd.has6(parseAddressOrCidr('2001:db8:8000::1', 'x', false).bytes, 0)).toBe(false);
  });

  it('a /0 matches everything of its family only', () => {
    const any4 = new SourcePrefixSet([parseAddressOrCidr('0.0.0.0/0', 'x', true)]);
    expect(any4.has4(v4('203.0.113.9'), 0)).toBe(true);
    expect(any4.has6(new Uint8Array(16), 0)).toBe(false);
  });
});

describe('VipTable', () => {
  it('indexes IPv4 VIPs first, then IPv6, and misses others', () => {
    const t = new VipTable(['2001:db8::10', '198.51.100.10', '198.51.100.11'].map((s) => parseAddressOrCidr(s, 'v', false)));
    expect(t.vips.map((v) => v.text)).toEqual(['198.51.100.10', '198.51.100.11', '2001:db8::10']);
    expect(t.index4(v4('198.51.100.11'), 0)).toBe(1);
    expect(t.index4(v4('198.51.100.12'), 0)).toBe(-1);
    expect(t.index6(parseAddressOrCidr('2001:db8::10', 'v', false).bytes, 0)).toBe(2);
    expect(t.index6(parseAddressOrCidr('2001:db8::11', 'v', false).bytes, 0)).toBe(-1);
  });
});
