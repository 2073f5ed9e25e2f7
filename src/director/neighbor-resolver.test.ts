import { describe, expect, it } from 'vitest';
import { NeighborResolver } from './neighbor-resolver.js';

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
