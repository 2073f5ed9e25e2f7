// A queue worker is kept equal to the main thread's registry by projections that carry only
// what changed: after any sequence of changes, a worker fed the deltas holds the same services
// and servers as one fed the whole state each time, and as the main thread itself. A check
// with nothing changed sends nothing.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import type { Director } from './director.js';
import { applyProjection, MainIds, ProjectionSender } from './registry-projection.js';

const VIPS = ['10.77.0.100', '10.77.0.101', '10.77.0.102'];
const RIPS = ['10.77.3.2', '10.77.3.3', '10.77.3.4', '10.77.3.5'];
const SCHEDULERS = ['rr', 'wrr', 'wlc', 'mh'] as const;
/** Outer sources a server may be given (as the registry keeps them: IPv4 as its number). */
const DIPS = [parseIpv4('10.77.2.1')!, parseIpv4('10.77.2.9')!];

const director = (): Director => fixtureDirector(new FakeDevice({ headroom: 128 }), { hashSeed: 1 });

/** Everything a worker takes from a projection, as text (servers in order; services sorted, their order is the registry's slots). */
function describeRegistry(d: Director): string[] {
  return d.registry.list().map((s) => {
    const servers = s.servers.filter((r) => !r.removed).map((r) => `${r.addressText}=${r.weight}/${r.pathMtu}/${r.tunnelMtu}/${r.upperThreshold}/${r.dip}`);
    return `${s.label} ${s.schedulerName} p${s.persistenceMs} mss${s.mssClamp} ${servers.join(',')}`;
  }).sort();
}

type Op =
  | { t: 'addService'; vip: number; port: number; scheduler: number }
  | { t: 'deleteService'; vip: number; port: number }
  | { t: 'editService'; vip: number; port: number; scheduler: number }
  | { t: 'addServer'; vip: number; port: number; rip: number; weight: number }
  | { t: 'deleteServer'; vip: number; port: number; rip: number }
  | { t: 'weight'; vip: number; port: number; rip: number; weight: number }
  | { t: 'pathMtu'; vip: number; port: number; rip: number; mtu: number }
  | { t: 'dip'; vip: number; port: number; rip: number; dip: number }
  | { t: 'mss'; vip: number; port: number }
  | { t: 'timeouts'; tcp: number };

/** Applies `op` to `d`'s registry when it makes sense there (otherwise nothing). */
function apply(d: Director, op: Op): void {
  const reg = d.registry;
  if (op.t === 'timeouts') {
    d.setTimeouts({ tcp: op.tcp });
    return;
  }
  const vip = VIPS[op.vip];
  const svc = reg.list().find((s) => s.vipText === vip && s.port === op.port);
  if (op.t === 'addService') {
    if (svc === undefined) reg.addService({ protocol: 'tcp', vip, port: op.port, scheduler: SCHEDULERS[op.scheduler] });
    return;
  }
  if (svc === undefined) return;
  if (op.t === 'deleteService') reg.deleteService('tcp', vip, op.port);
  else if (op.t === 'editService') reg.editService({ protocol: 'tcp', vip, port: op.port, scheduler: SCHEDULERS[op.scheduler] });
  else if (op.t === 'mss') svc.mssClamp = !svc.mssClamp;
  else {
    const rip = RIPS[op.rip];
    const rs = svc.servers.find((r) => r.addressText === rip && !r.removed);
    if (op.t === 'addServer') {
      if (rs === undefined) reg.addRealServer(svc, { address: rip, weight: op.weight });
    } else if (rs === undefined) return;
    else if (op.t === 'deleteServer') reg.deleteRealServer(svc, rip);
    else if (op.t === 'weight') reg.editRealServer(svc, rip, op.weight);
    else if (op.t === 'pathMtu') rs.pathMtu = op.mtu;
    else rs.dip = DIPS[op.dip];
  }
}

// A small space of services and servers, so that changes often meet what earlier ones made.
const key = { vip: fc.integer({ min: 0, max: 1 }), port: fc.constantFrom(80, 443) };
const server = { ...key, rip: fc.integer({ min: 0, max: 2 }) };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('addService' as const), ...key, scheduler: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('deleteService' as const), ...key }),
  fc.record({ t: fc.constant('editService' as const), ...key, scheduler: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('addServer' as const), ...server, weight: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ t: fc.constant('deleteServer' as const), ...server }),
  fc.record({ t: fc.constant('weight' as const), ...server, weight: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ t: fc.constant('pathMtu' as const), ...server, mtu: fc.constantFrom(0, 1400, 1480) }),
  fc.record({ t: fc.constant('dip' as const), ...server, dip: fc.integer({ min: 0, max: DIPS.length - 1 }) }),
  fc.record({ t: fc.constant('mss' as const), ...key }),
  fc.record({ t: fc.constant('timeouts' as const), tcp: fc.integer({ min: 10, max: 900 }) }),
);

describe('ProjectionSender and applyProjection', () => {
  test('the first projection carries every service; a check with nothing changed carries none', () => {
    const main = director();
    for (const vip of VIPS) main.registry.addRealServer(main.registry.addService({ protocol: 'tcp', vip, port: 80, scheduler: 'wlc' }), { address: RIPS[0], weight: 1 });
    const sender = new ProjectionSender();
    const first = sender.next(main);
    expect(first.changed).toBe(true);
    expect(first.projection.full).toBe(true);
    expect(first.projection.services.map((s) => s.vip)).toEqual(VIPS);
    const idle = sender.next(main);
    expect(idle.changed).toBe(false);
    expect(idle.projection.services).toEqual([]);

    const second = main.registry.list()[1];
    main.registry.editRealServer(second, RIPS[0], 4);
    main.registry.deleteService('tcp', VIPS[2], 80);
    const delta = sender.next(main);
    expect(delta.changed).toBe(true);
    expect(delta.projection.full).toBe(false);
    expect(delta.projection.services.map((s) => `${s.vip} ${s.servers.map((r) => r.weight).join()}`)).toEqual([`${VIPS[1]} 4`]);
    expect(delta.projection.removed).toEqual([`tcp:${VIPS[2]}:80`]);

    main.setTimeouts({ tcp: 77 });
    const timeouts = sender.next(main);
    expect(timeouts.changed).toBe(true);
    expect(timeouts.projection.services).toEqual([]);
    expect(timeouts.projection.timeouts.tcp).toBe(77);

    sender.sendAllNext();
    const all = sender.next(main);
    expect(all.projection.full).toBe(true);
    expect(all.projection.services).toHaveLength(2);
  });

  test('after any sequence of changes, a worker fed deltas equals one fed everything each time, and the main registry', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 16 }), (rounds) => {
        const main = director();
        const byDelta = director();
        const byFull = director();
        const ids = new MainIds();
        const sender = new ProjectionSender();
        const everything = new ProjectionSender();
        for (const round of rounds) {
          for (const o of round) apply(main, o);
          applyProjection(byDelta, sender.next(main).projection, 1, [], 0, ids);
          applyProjection(byFull, everything.next(main, undefined, true).projection, 1);
          expect(describeRegistry(byDelta)).toEqual(describeRegistry(main));
          expect(describeRegistry(byFull)).toEqual(describeRegistry(main));
          expect(byDelta.timeouts.get()).toEqual(main.timeouts.get());
          // The main ids name the worker's servers that stand for them.
          for (const svc of main.registry.list()) for (const rs of svc.servers) if (!rs.removed) expect(ids.get(rs.id)?.addressText).toBe(rs.addressText);
          expect(ids.size).toBe(main.registry.list().reduce((n, s) => n + s.servers.filter((r) => !r.removed).length, 0));
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
