import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ConnTable, homeSlot, KIND_TCP, KIND_UDP } from './conn-table.js';
import { TcpState } from './tcp-state.js';

function recorder() {
  const released: Array<[number, number, number]> = [];
  return { released, accounting: { released: (rs: number, kind: number, state: number) => void released.push([rs, kind, state]) } };
}

describe('ConnTable', () => {
  test('insert, lookup, remove; keys differ by every field', () => {
    const t = new ConnTable(16, undefined, 7);
    const s = t.insert({ kind: KIND_TCP, caddr: 0x0a000001, cport: 1234, vaddr: 0x0a000064, vport: 80, svcId: 3, rsId: 9, state: TcpState.SynRecv, expires: 5000 }, 0);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(t.lookup(KIND_TCP, 0x0a000001, 1234, 0x0a000064, 80, 1)).toBe(s);
    expect(t.rsAt(s)).toBe(9);
    expect(t.serviceAt(s)).toBe(3);
    expect(t.stateAt(s)).toBe(TcpState.SynRecv);
    expect(t.lookup(KIND_UDP, 0x0a000001, 1234, 0x0a000064, 80, 1)).toBe(-1);
    expect(t.lookup(KIND_TCP, 0x0a000002, 1234, 0x0a000064, 80, 1)).toBe(-1);
    expect(t.lookup(KIND_TCP, 0x0a000001, 1235, 0x0a000064, 80, 1)).toBe(-1);
    expect(t.lookup(KIND_TCP, 0x0a000001, 1234, 0x0a000065, 80, 1)).toBe(-1);
    expect(t.lookup(KIND_TCP, 0x0a000001, 1234, 0x0a000064, 81, 1)).toBe(-1);
    t.remove(s);
    expect(t.lookup(KIND_TCP, 0x0a000001, 1234, 0x0a000064, 80, 1)).toBe(-1);
    expect(t.size).toBe(0);
  });

  test('an expired entry is a miss on lookup and is reported once', () => {
    const r = recorder();
    const t = new ConnTable(16, r.accounting, 1);
    t.insert({ kind: KIND_UDP, caddr: 1, cport: 2, vaddr: 3, vport: 4, svcId: 0, rsId: 5, state: 12, expires: 100 }, 0);
    expect(t.lookup(KIND_UDP, 1, 2, 3, 4, 99)).toBeGreaterThanOrEqual(0);
    expect(t.lookup(KIND_UDP, 1, 2, 3, 4, 100)).toBe(-1);
    expect(r.released).toEqual([[5, KIND_UDP, 12]]);
    expect(t.size).toBe(0);
  });

  test('sweep is bounded per call and eventually expires everything', () => {
    const t = new ConnTable(1000, undefined, 3);
    for (let i = 0; i < 1000; i++) t.insert({ kind: KIND_TCP, caddr: i, cport: 1, vaddr: 2, vport: 3, svcId: 0, rsId: 0, state: 1, expires: 10 }, 0);
    const removed = t.sweep(20, 100);
    expect(removed).toBeLessThanOrEqual(100);
    let calls = 0;
    while (t.size > 0 && calls < 1000) {
      t.sweep(20, 100);
      calls++;
    }
    expect(t.size).toBe(0);
  });

  test('when full, evicts an expired entry, then non-established before established, and never grows', () => {
    const r = recorder();
    const t = new ConnTable(4, r.accounting, 11);
    t.insert({ kind: KIND_TCP, caddr: 1, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 1, state: TcpState.Established, expires: 1000 }, 0);
    t.insert({ kind: KIND_TCP, caddr: 2, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 2, state: TcpState.Established, expires: 1000 }, 0);
    t.insert({ kind: KIND_TCP, caddr: 3, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 3, state: TcpState.SynRecv, expires: 2000 }, 0);
    t.insert({ kind: KIND_TCP, caddr: 4, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 4, state: TcpState.Established, expires: 1000 }, 0);
    expect(t.insert({ kind: KIND_TCP, caddr: 5, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 5, state: TcpState.SynRecv, expires: 1000 }, 10)).toBeGreaterThanOrEqual(0);
    expect(r.released).toEqual([[3, KIND_TCP, TcpState.SynRecv]]);
    expect(t.size).toBe(4);
    // Now only established + one SYN_RECV: the SYN_RECV goes first again.
    t.insert({ kind: KIND_TCP, caddr: 6, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 6, state: TcpState.Established, expires: 1000 }, 10);
    expect(r.released[1]).toEqual([5, KIND_TCP, TcpState.SynRecv]);
    // All established: the soonest to expire goes.
    t.insert({ kind: KIND_TCP, caddr: 7, cport: 1, vaddr: 9, vport: 80, svcId: 0, rsId: 7, state: TcpState.Established, expires: 1000 }, 10);
    expect(r.released[2][2]).toBe(TcpState.Established);
    expect(t.stats().evictedEstablished).toBe(1);
    expect(t.stats().evictedOther).toBe(2);
    expect(t.size).toBe(4);
  });

  test('property: behaves like a Map under random insert/lookup/remove (backward-shift deletion keeps chains intact)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('ins', 'del', 'get'), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
        fc.integer(),
        (ops, seed) => {
          const t = new ConnTable(48, undefined, seed >>> 0);
          const model = new Map<number, number>();
          for (const [op, k] of ops) {
            const slot = t.lookup(KIND_TCP, k, k & 7, 100, 80, 0);
            expect(slot >= 0).toBe(model.has(k));
            if (slot >= 0) expect(t.rsAt(slot)).toBe(model.get(k));
            if (op === 'ins' && slot < 0) {
              t.insert({ kind: KIND_TCP, caddr: k, cport: k & 7, vaddr: 100, vport: 80, svcId: 0, rsId: k * 3, state: 1, expires: 1e12 }, 0);
              model.set(k, k * 3);
            } else if (op === 'del' && slot >= 0) {
              t.remove(slot);
              model.delete(k);
            }
          }
          expect(t.size).toBe(model.size);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('memory: bytes per entry at 1 M entries is at most 64', () => {
    const t = new ConnTable(1 << 20);
    const perEntry = t.byteLength / t.capacity;
    console.log(`conn table: ${t.capacity} entries, ${t.slots} slots, ${t.byteLength} bytes, ${perEntry.toFixed(2)} bytes/entry`);
    expect(perEntry).toBeLessThanOrEqual(64);
  });

  test('homeSlot: every uint32 hash lands in 0..slots-1, in order, for table sizes up to the largest', () => {
    // The largest capacity (64 Mi entries) needs ceil(2^26 / 0.75) + 1 slots.
    for (const slots of [1, 2, 3, 7, 87382, 1398103, 89478487]) {
      const scale = slots / 0x100000000;
      expect(homeSlot(0, scale)).toBe(0);
      expect(homeSlot(0xffffffff, scale)).toBe(slots - 1);
      expect(homeSlot(0xfffffffe, scale)).toBeLessThan(slots);
    }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 89478487 }), fc.nat(0xffffffff), fc.nat(0xffffffff), (slots, a, b) => {
        const scale = slots / 0x100000000;
        const ha = homeSlot(a, scale);
        expect(Number.isInteger(ha) && ha >= 0 && ha < slots).toBe(true);
        // Monotonic in the hash: the top bits choose the slot, so a run of slots is a hash range.
        if (a <= b) expect(ha).toBeLessThanOrEqual(homeSlot(b, scale));
      }),
    );
  });
});
