import { describe, expect, test } from 'vitest';
import { capList, capLists } from './log-lists.js';

describe('lists in log lines', () => {
  test('a short list stays whole; a long one keeps its first entries and says how many more', () => {
    expect(capList(['a', 'b'], 3)).toEqual(['a', 'b']);
    expect(capList(['a', 'b', 'c', 'd', 'e'], 3)).toEqual(['a', 'b', 'c', '… and 2 more']);
  });

  test('a reload of 10 000 changed services makes a line of a few KB, not a megabyte', () => {
    const changed = Array.from({ length: 10_000 }, (_, i) => `TCP 10.100.${i >> 8}.${i & 255}:80 10.250.0.${(i % 250) + 1}`);
    const r = { servicesAdded: [], serversChanged: changed, expired: 0, timeouts: { tcp: 900 } };
    const capped = capLists(r);
    expect(capped.serversChanged).toHaveLength(21);
    expect(capped.serversChanged[20]).toBe('… and 9980 more');
    expect(capped).toMatchObject({ servicesAdded: [], expired: 0, timeouts: { tcp: 900 } });
    expect(JSON.stringify(capped).length).toBeLessThan(4096);
    expect(JSON.stringify(r).length).toBeGreaterThan(128 * 1024); // more than the log sink holds for a slow reader
  });
});
