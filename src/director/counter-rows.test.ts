// Counter rows between queue workers and the main thread: a report carries only the services
// and servers whose counts moved, and after any sequence of traffic, table changes (with the
// main thread reusing ids) and reports, the main registry holds the sum over the queues of
// every service's and server's counts.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { CounterRowSums, CounterRowWriter, ROW_SERVER, ROW_SERVICE, ROW_WIDTH } from './counter-rows.js';
import type { Director } from './director.js';
import { applyProjection, MainIds, ProjectionSender } from './registry-projection.js';

const VIP = '10.77.0.100';
const RIPS = ['10.77.3.2', '10.77.3.3', '10.77.3.4'];
const director = (): Director => fixtureDirector(new FakeDevice({ headroom: 128 }), { hashSeed: 1 });

/** A main Director and `queues` workers kept equal to it by projections. */
function setup(queues: number) {
  const main = director();
  const sender = new ProjectionSender();
  const workers = Array.from({ length: queues }, () => ({ d: director(), ids: new MainIds(), rows: new CounterRowWriter() }));
  const sync = () => {
    const { projection } = sender.next(main);
    for (const w of workers) applyProjection(w.d, projection, queues, [], 0, w.ids);
  };
  return { main, workers, sync, sums: new CounterRowSums(queues) };
}

/** Rows as [kind, main id, counts…] tuples. */
const tuples = (rows: Float64Array) => Array.from({ length: rows.length / ROW_WIDTH }, (_, i) => Array.from(rows.subarray(i * ROW_WIDTH, (i + 1) * ROW_WIDTH)));

describe('counter rows', () => {
  test('a report carries every row the first time, then only what moved, then every row again after sendAllNext', () => {
    const t = setup(1);
    const svc = t.main.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'wlc' });
    for (const a of RIPS) t.main.registry.addRealServer(svc, { address: a });
    t.sync();
    const w = t.workers[0];
    expect(tuples(w.rows.rows(w.d.registry, w.ids)).map((r) => r[0])).toEqual([ROW_SERVICE, ROW_SERVER, ROW_SERVER, ROW_SERVER]);
    expect(w.rows.rows(w.d.registry, w.ids).length).toBe(0);
    const rs = w.d.registry.list()[0].servers[1];
    rs.stats.inPkts += 3;
    rs.activeConns = 2;
    expect(tuples(w.rows.rows(w.d.registry, w.ids))).toEqual([[ROW_SERVER, svc.servers[1].id, 0, 3, 0, 0, 0, 2, 0, 0]]);
    // VS/NAT replies (outPkts, outBytes) are counts of their own.
    rs.stats.outPkts += 2;
    rs.stats.outBytes += 120;
    expect(tuples(w.rows.rows(w.d.registry, w.ids))).toEqual([[ROW_SERVER, svc.servers[1].id, 0, 3, 0, 2, 120, 2, 0, 0]]);
    w.rows.sendAllNext();
    expect(w.rows.willSendAll).toBe(true);
    expect(w.rows.rows(w.d.registry, w.ids).length).toBe(4 * ROW_WIDTH);
  });

  type Step = { t: 'traffic'; q: number; rip: number; pkts: number; active: number } | { t: 'delete'; rip: number } | { t: 'add'; rip: number } | { t: 'report'; q: number; complete: boolean };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ t: fc.constant('traffic' as const), q: fc.integer({ min: 0, max: 1 }), rip: fc.integer({ min: 0, max: 2 }), pkts: fc.integer({ min: 1, max: 1000 }), active: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ t: fc.constant('delete' as const), rip: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ t: fc.constant('add' as const), rip: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ t: fc.constant('report' as const), q: fc.integer({ min: 0, max: 1 }), complete: fc.boolean() }),
  );

  test('after traffic, deletions, re-additions (ids reused) and reports, the main registry holds the sums over the queues', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const t = setup(2);
        const svc = t.main.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'wlc' });
        for (const a of RIPS) t.main.registry.addRealServer(svc, { address: a });
        t.sync();
        const report = (q: number) => {
          const w = t.workers[q];
          const complete = w.rows.willSendAll;
          t.sums.take(t.main.registry, q, w.rows.rows(w.d.registry, w.ids), complete);
        };
        for (const s of steps) {
          if (s.t === 'traffic') {
            const rs = t.workers[s.q].d.registry.list()[0].servers.find((r) => r.addressText === RIPS[s.rip] && !r.removed);
            if (rs === undefined) continue;
            rs.stats.inPkts += s.pkts;
            rs.stats.outPkts += s.pkts >> 1;
            rs.stats.outBytes += 60 * (s.pkts >> 1);
            rs.activeConns = s.active;
            const ws = t.workers[s.q].d.registry.list()[0].stats;
            ws.inPkts += s.pkts;
            ws.outPkts += s.pkts >> 1;
            ws.outBytes += 60 * (s.pkts >> 1);
          } else if (s.t === 'delete' || s.t === 'add') {
            const live = svc.servers.find((r) => r.addressText === RIPS[s.rip] && !r.removed);
            if (s.t === 'delete' && live !== undefined) t.main.registry.deleteRealServer(svc, RIPS[s.rip]);
            if (s.t === 'add' && live === undefined) t.main.registry.addRealServer(svc, { address: RIPS[s.rip] });
            t.sync();
          } else {
            if (s.complete) t.workers[s.q].rows.sendAllNext();
            report(s.q);
          }
        }
        for (let q = 0; q < 2; q++) report(q);
        // Every live server and the service: the main thread's counts are the workers' sums.
        for (const rs of svc.servers) {
          if (rs.removed) continue;
          const on = t.workers.map((w) => w.d.registry.list()[0].servers.find((r) => r.addressText === rs.addressText && !r.removed)!);
          expect(rs.stats.inPkts).toBe(on[0].stats.inPkts + on[1].stats.inPkts);
          expect([rs.stats.outPkts, rs.stats.outBytes]).toEqual([on[0].stats.outPkts + on[1].stats.outPkts, on[0].stats.outBytes + on[1].stats.outBytes]);
          expect(rs.activeConns).toBe(on[0].activeConns + on[1].activeConns);
          expect(t.sums.serverOn(1, rs.id).inPkts).toBe(on[1].stats.inPkts);
        }
        expect(svc.stats.inPkts).toBe(t.workers.reduce((n, w) => n + w.d.registry.list()[0].stats.inPkts, 0));
        expect(svc.stats.outBytes).toBe(t.workers.reduce((n, w) => n + w.d.registry.list()[0].stats.outBytes, 0));
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});
