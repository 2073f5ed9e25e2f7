import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NeighborMemory, NeighborResolver } from './neighbor-resolver.js';

const RS = 0x0a000007;
const MAC = Uint8Array.from([2, 0, 0, 0, 0, 7]);

function resolver(capacity = 4) {
  return new NeighborResolver({ capacity, retryMs: 1000, failAfter: 3, ttlMs: 60_000 });
}

describe('NeighborResolver', () => {
  it('unknown: no MAC, one request per retry interval; the answer is learned and served', () => {
    const r = resolver();
    const out = new Uint8Array(8);
    const sent: number[] = [];
    expect(r.macOf(RS, out, 1, 0)).toBe(false);
    expect(r.macOf(RS, out, 1, 10)).toBe(false);
    r.takeRequests(10, (ip) => sent.push(ip));
    r.takeRequests(20, (ip) => sent.push(ip));
    expect(sent).toEqual([RS]);
    r.want(RS, 500);
    r.takeRequests(500, (ip) => sent.push(ip));
    expect(sent).toEqual([RS]);
    expect(r.learn(RS, MAC, 0, 600)).toBe(true);
    expect(r.macOf(RS, out, 1, 700)).toBe(true);
    expect([...out.subarray(1, 7)]).toEqual([...MAC]);
    expect(r.stats).toMatchObject({ requests: 1, replies: 1, failures: 0 });
  });

  it('ignores answers it did not ask for (no poisoning by unsolicited ARP)', () => {
    const r = resolver();
    expect(r.learn(RS, MAC, 0, 0)).toBe(false);
    r.want(RS, 0); // wanted but not asked yet
    expect(r.learn(RS, MAC, 0, 0)).toBe(false);
    expect(r.stats.unsolicited).toBe(2);
    expect(r.has(RS)).toBe(false);
  });

  it('counts a failure once failAfter requests go unanswered', () => {
    const r = resolver();
    let t = 0;
    for (let k = 0; k < 5; k++, t += 1000) {
      r.want(RS, t);
      r.takeRequests(t, () => {});
    }
    expect(r.stats).toMatchObject({ requests: 5, failures: 1 });
  });

  it('a learned MAC past its ttl is asked for again, and still served meanwhile', () => {
    const r = resolver();
    r.want(RS, 0);
    r.takeRequests(0, () => {});
    r.learn(RS, MAC, 0, 0);
    const out = new Uint8Array(6);
    const sent: number[] = [];
    expect(r.macOf(RS, out, 0, 61_000)).toBe(true);
    r.takeRequests(61_000, (ip) => sent.push(ip));
    expect(sent).toEqual([RS]);
  });

  it('is bounded: beyond capacity, addresses are refused and counted', () => {
    const r = resolver(2);
    for (let ip = 1; ip <= 5; ip++) r.want(ip, 0);
    expect(r.stats).toMatchObject({ entries: 2, full: 3 });
  });
});

describe('NeighborResolver over one NeighborMemory (the queues of a multi-queue director)', () => {
  const OTHER_MAC = Uint8Array.from([2, 0, 0, 0, 0, 8]);
  const shared = (capacity = 4) => {
    const memory = NeighborMemory.create(capacity);
    const opts = { capacity, retryMs: 1000, failAfter: 3, ttlMs: 60_000 };
    // As a worker does: each thread attaches the buffer it was handed.
    return [0, 1, 2].map(() => new NeighborResolver(opts, NeighborMemory.attach(memory.buffer)));
  };

  it('an answer to one queue\'s request, received on another queue, is learned and serves every queue', () => {
    const [q0, q1, main] = shared();
    const out = new Uint8Array(6);
    // Queue 1 forwards to the server first: it wants the MAC and asks.
    expect(q1.macOf(RS, out, 0, 0)).toBe(false);
    const sent: number[] = [];
    q1.takeRequests(0, (ip) => sent.push(ip));
    expect(sent).toEqual([RS]);
    // The answer lands on queue 0 (ARP is steered there), which never asked itself.
    expect(q0.learn(RS, MAC, 0, 5)).toBe(true);
    for (const r of [q0, q1, main]) {
      out.fill(0);
      expect(r.macOf(RS, out, 0, 10)).toBe(true);
      expect([...out]).toEqual([...MAC]);
      expect(r.has(RS)).toBe(true);
    }
    // Nobody asks again while the entry is fresh.
    for (const r of [q0, q1, main]) expect(r.wanting).toBe(false);
    expect(q0.stats).toMatchObject({ requests: 0, replies: 1, unsolicited: 0 });
  });

  it('validation is the table\'s: an answer nobody asked for is ignored on every queue', () => {
    const [q0, q1] = shared();
    // Wanted by queue 1 but not asked yet: still unsolicited for queue 0.
    q1.want(RS, 0);
    expect(q0.learn(RS, MAC, 0, 0)).toBe(false);
    expect(q0.learn(0x0a000099, MAC, 0, 0)).toBe(false);
    expect(q0.stats.unsolicited).toBe(2);
    expect(q1.has(RS)).toBe(false);
    expect(q1.macOf(RS, new Uint8Array(6), 0, 1)).toBe(false);
  });

  it('a new answer (the server changed its MAC) replaces the old one on every queue; a stale one serves while asked for', () => {
    const [q0, q1] = shared();
    q1.want(RS, 0);
    q1.takeRequests(0, () => {});
    q0.learn(RS, MAC, 0, 0);
    const out = new Uint8Array(6);
    expect(q1.macOf(RS, out, 0, 1)).toBe(true);
    // Past its ttl on queue 1: still served, and asked for again from there.
    expect(q1.macOf(RS, out, 0, 61_000)).toBe(true);
    const sent: number[] = [];
    q1.takeRequests(61_000, (ip) => sent.push(ip));
    expect(sent).toEqual([RS]);
    expect(q0.learn(RS, OTHER_MAC, 0, 61_001)).toBe(true);
    expect(q1.macOf(RS, out, 0, 61_002)).toBe(true);
    expect([...out]).toEqual([...OTHER_MAC]);
    expect(q1.wanting).toBe(false);
  });

  it('is bounded for all queues together: the capacity counts every queue\'s addresses, once each', () => {
    const [q0, q1, main] = shared(3);
    q0.want(1, 0);
    q1.want(1, 0); // the same address: no second slot
    q1.want(2, 0);
    main.want(3, 0);
    for (const ip of [4, 5]) q0.want(ip, 0);
    main.want(6, 0);
    expect(q0.stats.full + q1.stats.full + main.stats.full).toBe(3);
    expect(main.stats.entries).toBe(3);
    // Addresses in the table still work from any queue.
    main.takeRequests(0, () => {});
    expect(q1.learn(3, MAC, 0, 0)).toBe(true);
    expect(q0.has(3)).toBe(true);
  });

  it('fills to exactly its capacity from interleaved queues, and every address finds its own MAC (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 40 }), fc.array(fc.nat(2), { minLength: 40, maxLength: 40 }), (ips, who) => {
        const rs = shared(16);
        const asked: number[] = [];
        ips.forEach((ip, k) => {
          rs[who[k]].want(ip, 0);
          rs[who[k]].takeRequests(0, (a) => asked.push(a));
        });
        expect(asked.length).toBe(Math.min(16, ips.length));
        // Each asked address answers on a queue that may not be the asker's, with a MAC of its own.
        asked.forEach((ip, k) => expect(rs[(k + 1) % 3].learn(ip, Uint8Array.from([2, 0, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255]), 0, 1)).toBe(true));
        const out = new Uint8Array(6);
        for (const ip of asked) {
          for (const r of rs) {
            expect(r.macOf(ip, out, 0, 2)).toBe(true);
            expect([...out]).toEqual([2, 0, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255]);
          }
        }
        expect(rs[0].stats.entries).toBeLessThanOrEqual(16);
      }),
      { numRuns: 200 },
    );
  });

  it('a MAC that another queue rewrites while this queue copies it is never used torn: the packet gets the last whole MAC, the next one the new MAC', () => {
    const memory = NeighborMemory.create(4);
    const opts = { capacity: 4, retryMs: 1000, failAfter: 3, ttlMs: 60_000 };
    const writer = new NeighborResolver(opts, NeighborMemory.attach(memory.buffer));
    const readerMemory = NeighborMemory.attach(memory.buffer);
    const reader = new NeighborResolver(opts, readerMemory);
    const A = Uint8Array.from([2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    const B = Uint8Array.from([2, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb]);
    const C = Uint8Array.from([2, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc]);
    reader.want(RS, 0);
    reader.takeRequests(0, () => {});
    expect(writer.learn(RS, A, 0, 0)).toBe(true);
    const out = new Uint8Array(6);
    expect(reader.macOf(RS, out, 0, 1)).toBe(true);
    expect([...out]).toEqual([...A]);
    // The server's MAC changes twice; the second write lands while the reader is half-way
    // through copying the first (another thread, interleaved here at that exact byte).
    expect(writer.learn(RS, B, 0, 2)).toBe(true);
    const macs = readerMemory.macs;
    let reads = 0;
    Object.defineProperty(readerMemory, 'macs', {
      value: new Proxy(macs, {
        get(target, key) {
          if (typeof key === 'string' && /^[0-9]+$/.test(key) && ++reads === 4) writer.learn(RS, C, 0, 3);
          return Reflect.get(target, key, target);
        },
      }),
    });
    expect(reader.macOf(RS, out, 0, 4)).toBe(true);
    expect(reads).toBeGreaterThanOrEqual(4);
    // Whole: A (the copy it had; B was overtaken mid-read), never three bytes of B and three of C.
    expect([...out]).toEqual([...A]);
    expect(reader.macOf(RS, out, 0, 5)).toBe(true);
    expect([...out]).toEqual([...C]);
  });
});
