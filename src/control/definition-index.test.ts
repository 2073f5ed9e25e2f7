// Definition look-ups by service key and by real server, as -L and the BGP announcer use them.
import { describe, expect, test } from 'vitest';
import type { ServiceConfig } from './config-schema.js';
import { definedWeight, definitionOf } from './definition-index.js';

const def = (vip: string, port: number, servers: { address: string; weight?: number }[], protocol: 'tcp' | 'udp' = 'tcp') => ({ protocol, vip, port, scheduler: 'wrr', realServers: servers }) as unknown as ServiceConfig;

describe('definition index', () => {
  test('finds a service by protocol, canonical VIP and port; the first of two spellings wins', () => {
    const a = def('2001:db8:0::10', 80, []);
    const b = def('2001:db8::10', 80, []);
    const c = def('10.0.0.1', 80, [], 'udp');
    const defs = [a, b, c, def('10.0.0.1', 443, [])];
    expect(definitionOf(defs, 'tcp', '2001:db8::10', 80)).toBe(a);
    expect(definitionOf(defs, 'udp', '10.0.0.1', 80)).toBe(c);
    expect(definitionOf(defs, 'tcp', '10.0.0.1', 80)).toBeUndefined();
  });

  test('a new definitions array (every change makes one), and one grown in place, are re-indexed', () => {
    const defs = [def('10.0.0.1', 80, [])];
    expect(definitionOf(defs, 'tcp', '10.0.0.2', 80)).toBeUndefined();
    const added = def('10.0.0.2', 80, []);
    defs.push(added);
    expect(definitionOf(defs, 'tcp', '10.0.0.2', 80)).toBe(added);
    const next = [def('10.0.0.3', 80, [])];
    expect(definitionOf(next, 'tcp', '10.0.0.3', 80)).toBe(next[0]);
  });

  test("a real server's configured weight by canonical address; undefined when it is not there or has none", () => {
    const d = def('10.0.0.1', 80, [{ address: '10.1.0.2', weight: 0 }, { address: '2001:db8:0:0::2', weight: 5 }, { address: '10.1.0.3' }]);
    expect(definedWeight(d, '10.1.0.2')).toBe(0);
    expect(definedWeight(d, '2001:db8::2')).toBe(5);
    expect(definedWeight(d, '10.1.0.3')).toBeUndefined();
    expect(definedWeight(d, '10.1.0.4')).toBeUndefined();
  });

  test("10 000 services x 10 servers: every server's weight is found", () => {
    const defs = Array.from({ length: 10_000 }, (_, s) => def(`10.${100 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`, 80, Array.from({ length: 10 }, (_, r) => ({ address: `10.250.${r}.${(s % 250) + 1}`, weight: r + 1 }))));
    let sum = 0;
    for (let s = 0; s < 10_000; s++) {
      const d = definitionOf(defs, 'tcp', `10.${100 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`, 80)!;
      for (let r = 0; r < 10; r++) sum += definedWeight(d, `10.250.${r}.${(s % 250) + 1}`)!;
    }
    expect(sum).toBe(10_000 * 55);
  });
});
