// Scale-out rests on this: every director given the same servers builds the same Maglev
// table, whatever order the servers were added or reloaded in, and whatever ids this
// process happened to give them (IPv6 ids are slots in a process-local table).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Ipv6AddressTable, parseAddressId } from '../address-id.js';
import { RealServer } from '../real-server.js';
import { MaglevScheduler } from './maglev.js';

interface ServerSpec {
  address: string;
  weight: number;
}

const TABLE = 1021;

/** A real server as a director builds it: its address id from that director's own table. */
function serverOf(table: Ipv6AddressTable, id: number, s: ServerSpec): RealServer {
  return new RealServer(id, 0, parseAddressId(s.address, table)!, 0, s.weight, 0, s.address);
}

/**
 * Builds a table from `specs` in the given order, as a director whose IPv6 address table is
 * `ids` would; returns each slot's owner as text ("" = empty).
 */
function tableOf(specs: readonly ServerSpec[], firstId: number, ids = new Ipv6AddressTable(1024)): string[] {
  const rs = specs.map((s, i) => serverOf(ids, firstId + i, s));
  const m = new MaglevScheduler(new Set(), TABLE);
  m.update(rs);
  return Array.from(m.lookup, (i) => (i < 0 ? '' : ownerText(m, i)));
}

/** Text of the member at `index` (the scheduler's private list, read for the test only). */
function ownerText(m: MaglevScheduler, index: number): string {
  const members = (m as unknown as { members: RealServer[] }).members;
  return members[index].addressText;
}

const v4 = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 })).map(([a, b, c]) => `10.${a}.${b}.${c}`);
const v6 = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([a, b]) => `fd00:${a.toString(16)}::${b.toString(16)}`);
const serverSet = (addr: fc.Arbitrary<string>) =>
  fc.uniqueArray(fc.record({ address: addr, weight: fc.integer({ min: 0, max: 20 }) }), { minLength: 1, maxLength: 12, selector: (s) => s.address });

describe('Maglev: the same table on every director', () => {
  test('IPv4: any insertion order and any ids give the identical table', () => {
    fc.assert(
      fc.property(serverSet(v4), fc.array(fc.nat()), fc.integer({ min: 0, max: 1000 }), (specs, shuffleKeys, idBase) => {
        const shuffled = shuffle(specs, shuffleKeys);
        expect(tableOf(shuffled, idBase)).toEqual(tableOf(specs, 0));
      }),
      { numRuns: 150 },
    );
  });

  test('IPv6: the table does not depend on the process-local address ids', () => {
    fc.assert(
      fc.property(serverSet(v6), fc.array(fc.nat()), fc.integer({ min: 0, max: 20 }), (specs, shuffleKeys, padding) => {
        const first = tableOf(specs, 0);
        // Another director: other addresses took the low ids of its table first, and the order differs.
        const other = new Ipv6AddressTable(1024);
        for (let i = 0; i < padding; i++) parseAddressId(`fe80:dead::${(i + 1).toString(16)}`, other);
        const second = tableOf(shuffle(specs, shuffleKeys), 7, other);
        expect(second).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });

  test('a reload that removes and re-adds a server rebuilds the table a fresh director builds', () => {
    const specs: ServerSpec[] = [
      { address: '10.71.1.2', weight: 1 },
      { address: '10.71.2.2', weight: 2 },
      { address: '10.71.3.2', weight: 1 },
    ];
    const ids = new Ipv6AddressTable(1024);
    const rs = specs.map((s, i) => serverOf(ids, i, s));
    const m = new MaglevScheduler(new Set(), TABLE);
    m.update(rs);
    m.update([rs[1], rs[2]]);
    const readded = serverOf(ids, 9, specs[0]);
    m.update([rs[1], rs[2], readded]);
    const after = Array.from(m.lookup, (i) => (i < 0 ? '' : ownerText(m, i)));
    expect(after).toEqual(tableOf(specs, 0));
  });
});

/** A deterministic permutation of `items` driven by `keys` (fast-check shrinks it). */
function shuffle<T>(items: readonly T[], keys: readonly number[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (keys[i % Math.max(1, keys.length)] ?? i) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
