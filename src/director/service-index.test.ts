import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceIndex, type ServiceIndexEntry } from './service-index.js';

const V6 = 2 ** 32;

describe('ServiceIndex', () => {
  it('finds exact (protocol, address, port) keys, and nothing else', () => {
    const idx = new ServiceIndex();
    idx.rebuild([
      { protocol: 6, address: 0x0a000001, port: 80, value: 0 },
      { protocol: 17, address: 0x0a000001, port: 80, value: 1 },
      { protocol: 6, address: 0xcb007109, port: 443, value: 2 }, // above 2^31
      { protocol: 6, address: V6 + 5, port: 80, value: 3 }, // an IPv6 id
      { protocol: 0, address: 0x0a000001, port: 0, value: 9 },
    ]);
    expect(idx.get(6, 0x0a000001, 80)).toBe(0);
    expect(idx.get(17, 0x0a000001, 80)).toBe(1);
    expect(idx.get(6, 0xcb007109, 443)).toBe(2);
    expect(idx.get(6, V6 + 5, 80)).toBe(3);
    expect(idx.get(0, 0x0a000001, 0)).toBe(9);
    // IPv6 id 2^32+5 must not alias IPv4 address 5, nor a different port/protocol match.
    expect(idx.get(6, 5, 80)).toBe(-1);
    expect(idx.get(6, 0x0a000001, 81)).toBe(-1);
    expect(idx.get(17, 0xcb007109, 443)).toBe(-1);
  });

  it('agrees with a Map for arbitrary key sets, across rebuilds', () => {
    const key = fc.record({
      protocol: fc.constantFrom(0, 6, 17),
      address: fc.oneof(fc.nat({ max: 0xffffffff }), fc.nat({ max: 1 << 18 }).map((n) => V6 + n)),
      port: fc.nat({ max: 65535 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 300, selector: (k) => `${k.protocol}/${k.address}/${k.port}` }), fc.array(key, { maxLength: 50 }), (keys, probes) => {
        const entries: ServiceIndexEntry[] = keys.map((k, i) => ({ ...k, value: i }));
        const idx = new ServiceIndex();
        idx.rebuild(entries);
        const model = new Map(entries.map((e) => [`${e.protocol}/${e.address}/${e.port}`, e.value]));
        for (const k of [...keys, ...probes]) expect(idx.get(k.protocol, k.address, k.port)).toBe(model.get(`${k.protocol}/${k.address}/${k.port}`) ?? -1);
        idx.rebuild(entries.slice(0, entries.length >> 1));
        for (const e of entries.slice(entries.length >> 1)) expect(idx.get(e.protocol, e.address, e.port)).toBe(-1);
      }),
    );
  });
});
