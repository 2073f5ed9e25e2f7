// The IPv6 address table against a Map model: acquire/release in any order keeps every
// live address findable under its id, frees slots with the last reference, and stays
// bounded; ids format back to the same text.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseIpv6 } from '../wire/ipv6-address.js';
import { findAddressId, formatAddressId, Ipv6AddressTable, IPV6_ID_BASE, parseAddressId } from './address-id.js';

const addr = (n: number) => parseIpv6(`fd00::${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}`)!;

describe('Ipv6AddressTable', () => {
  test('model check: random acquire/release sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 400 }), (ops) => {
        const t = new Ipv6AddressTable(64);
        const refs = new Map<number, number>();
        const ids = new Map<number, number>();
        for (const [take, n] of ops) {
          const a = addr(n);
          if (take) {
            const id = t.acquire(a, 0);
            expect(id).toBeGreaterThanOrEqual(IPV6_ID_BASE);
            if (ids.has(n)) expect(id).toBe(ids.get(n));
            ids.set(n, id);
            refs.set(n, (refs.get(n) ?? 0) + 1);
          } else if (refs.has(n)) {
            t.release(ids.get(n)!);
            const r = refs.get(n)! - 1;
            if (r === 0) {
              refs.delete(n);
              ids.delete(n);
            } else refs.set(n, r);
          }
          expect(t.size).toBe(refs.size);
        }
        for (let n = 0; n <= 40; n++) {
          const id = t.find(addr(n), 0);
          if (refs.has(n)) {
            expect(id).toBe(ids.get(n));
            const out = new Uint8Array(16);
            t.copyTo(id, out, 0);
            expect(out).toEqual(addr(n));
          } else expect(id).toBe(-1);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('copyTo of an id that is no slot (an IPv4 address, past the capacity) writes ::, not undefined bytes', () => {
    const t = new Ipv6AddressTable(4);
    const out = new Uint8Array(20).fill(0xee);
    for (const id of [0x0a4d0201, IPV6_ID_BASE + 4, -1]) {
      out.fill(0xee);
      t.copyTo(id, out, 2);
      expect(Array.from(out)).toEqual([0xee, 0xee, ...new Array(16).fill(0), 0xee, 0xee]);
    }
  });

  test('full: acquire returns -1, release makes room', () => {
    const t = new Ipv6AddressTable(4);
    const ids = [0, 1, 2, 3].map((n) => t.acquire(addr(n), 0));
    expect(t.acquire(addr(9), 0)).toBe(-1);
    t.release(ids[2]);
    expect(t.acquire(addr(9), 0)).toBeGreaterThanOrEqual(IPV6_ID_BASE);
  });

  test('text round trip through a table; IPv4 stays a plain uint32', () => {
    const t = new Ipv6AddressTable(16);
    const id = parseAddressId('2001:db8::a:1', t)!;
    expect(id).toBeGreaterThanOrEqual(IPV6_ID_BASE);
    expect(formatAddressId(id, t)).toBe('2001:db8::a:1');
    expect(findAddressId('2001:0db8:0::a:1', t)).toBe(id);
    expect(parseAddressId('10.0.0.1', t)).toBe(0x0a000001);
    expect(formatAddressId(0x0a000001, t)).toBe('10.0.0.1');
    expect(parseAddressId('not an address', t)).toBeNull();
  });

  test('each table is its own: an address in one is unknown to another (one per director)', () => {
    const a = new Ipv6AddressTable(16);
    const b = new Ipv6AddressTable(16);
    parseAddressId('2001:db8::a:2', a);
    expect(findAddressId('2001:db8::a:2', a)).not.toBeNull();
    expect(findAddressId('2001:db8::a:2', b)).toBeNull();
    expect(b.size).toBe(0);
  });
});
