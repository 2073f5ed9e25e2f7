// The health binding against a real Director (FakeDevice) with a fake clock and scripted
// checkers: what each health transition does to scheduling, to existing connections, to the
// sorry server and to the weights the schedulers see.
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import type { Checker, CheckResult } from './check-result.js';
import type { AgentFeedback } from './feedback.js';
import { FakeClock } from './fake-clock.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { ACK, expectedIpip, hex, SYN, tcpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { HealthBinding, type HealthServiceConfig } from './health-binding.js';
import type { SchedulerName } from '../director/schedulers/index.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const RS3 = '10.77.5.2';
const SORRY = '10.77.6.2';
const ip = (t: string) => parseIpv4(t)!;
const OK: CheckResult = { ok: true, detail: 'ok', latencyMs: 1 };
const FAIL: CheckResult = { ok: false, detail: 'connect ECONNREFUSED', latencyMs: 1 };

interface Opts {
  scheduler?: SchedulerName;
  weights?: number[];
  healthCheck?: Record<string, unknown>;
  expireNodestConn?: HealthServiceConfig['expireNodestConn'];
  feedback?: Map<string, AgentFeedback | Error>;
  realServers?: HealthServiceConfig['realServers'];
}

function build(o: Opts = {}) {
  const clock = new FakeClock(1_000_000);
  const dev = new FakeDevice({ headroom: 128 });
  const d = fixtureDirector(dev, {
    clock: () => clock.now(),
    hashSeed: 99,
    mhTableSize: 251,
  });
  const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: o.scheduler ?? 'rr' });
  const weights = o.weights ?? [1, 1, 1];
  [RS1, RS2, RS3].slice(0, weights.length).forEach((address, i) => d.registry.addRealServer(svc, { address, weight: weights[i] }));
  const results = new Map<string, CheckResult>([RS1, RS2, RS3].map((a) => [a, OK]));
  const checks: string[] = [];
  const binding = new HealthBinding({
    director: d,
    clock,
    random: () => 0,
    reconcileEveryMs: 0,
    checkerFactory: (_spec, target): Checker => ({
      kind: 'tcp',
      check: async () => {
        checks.push(target.rsAddress);
        return results.get(target.rsAddress) ?? FAIL;
      },
    }),
    feedbackFetcher: async (url) => {
      const host = new URL(url).hostname;
      const f = o.feedback?.get(host);
      if (f === undefined || f instanceof Error) throw f ?? new Error('no feedback');
      return f;
    },
  });
  binding.bindService(svc, {
    healthCheck: { interval: 1, timeout: 0.5, rise: 2, fall: 3, ...o.healthCheck },
    expireNodestConn: o.expireNodestConn,
    realServers: o.realServers,
  });
  d.start();
  dev.takeWritten();
  binding.start();
  const weightsNow = () => svc.servers.filter((r) => !r.removed).map((r) => `${r.addressText}=${r.weight}`);
  /** Sends one SYN from `sport`; returns the RS it was tunnelled to, or the drop verdict. */
  let sent = 0;
  const syn = (sport: number, src?: string): string => send(tcpFrame({ sport, flags: SYN, src }));
  const ack = (sport: number): string => send(tcpFrame({ sport, flags: ACK }));
  const send = (frame: Uint8Array): string => {
    const before = { ...d.snapshot().verdicts };
    dev.inject([frame]);
    const out = dev.takeWritten();
    if (out.length === 1) {
      const id = sent++;
      for (const rs of [RS1, RS2, RS3, SORRY]) if (hex(out[0].bytes) === hex(expectedIpip(frame, rs, id))) return rs;
      return 'forwarded-elsewhere';
    }
    const after = d.snapshot().verdicts;
    return (Object.keys(after) as (keyof typeof after)[]).filter((k) => after[k] !== before[k]).join(',');
  };
  return { clock, dev, d, svc, binding, results, checks, weightsNow, syn, ack };
}

describe('health binding: transitions applied to the registry', () => {
  test('servers start down (alpha): no scheduling until rise checks pass, then configured weights', async () => {
    const t = build({ weights: [1, 2, 3] });
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${RS2}=0`, `${RS3}=0`]);
    expect(t.syn(40000)).toBe('drop-no-real-server');
    await t.clock.advance(1000); // first check at 0 (random 0), second at 1 s: rise 2
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=2`, `${RS3}=3`]);
    const h = t.binding.healthOf(t.svc.servers[1])!;
    expect(h).toMatchObject({ state: 'up', configuredWeight: 2, effectiveWeight: 2, inService: true, check: 'tcp' });
    expect(t.syn(40001)).toBe(RS1);
  });

  test('a failing server leaves rotation after exactly `fall` failures and returns after `rise` successes', async () => {
    const t = build();
    await t.clock.advance(1000);
    t.results.set(RS2, FAIL);
    await t.clock.advance(1000);
    await t.clock.advance(1000);
    expect(t.weightsNow()).toContain(`${RS2}=1`); // two failures: still in
    await t.clock.advance(1000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=0`, `${RS3}=1`]);
    expect(t.binding.healthOf(t.svc.servers[1])).toMatchObject({ state: 'down', inService: false, configuredWeight: 1, effectiveWeight: 0 });
    const picks = [0, 1, 2, 3, 4, 5].map((k) => t.syn(41000 + k));
    expect(picks).not.toContain(RS2);
    t.results.set(RS2, OK);
    await t.clock.advance(2000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=1`, `${RS3}=1`]);
  });

  test('default policy keep: connections of a failed server continue to it', async () => {
    const t = build({ weights: [1] });
    await t.clock.advance(1000);
    expect(t.syn(40000)).toBe(RS1);
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=0`]);
    expect(t.ack(40000)).toBe(RS1);
    expect(t.syn(40001)).toBe('drop-no-real-server');
  });

  test('inhibitOnFailure: weight 0 but still "in service", connections kept even with policy expire', async () => {
    const t = build({ weights: [1, 1], healthCheck: { inhibitOnFailure: true, onFailure: 'expire' } });
    await t.clock.advance(1000);
    expect(t.syn(40000)).toBe(RS1);
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ state: 'down', inService: true, effectiveWeight: 0 });
    expect(t.ack(40000)).toBe(RS1);
    expect(t.syn(40001)).toBe(RS2);
  });

  test('policy expire (healthCheck.onFailure): the failed server\'s entries go; its mid-flow packets are then dropped (rr)', async () => {
    const t = build({ weights: [1, 1], healthCheck: { onFailure: 'expire' } });
    await t.clock.advance(1000);
    expect(t.syn(40000)).toBe(RS1);
    expect(t.syn(40001)).toBe(RS2);
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    expect(t.d.connections().map((c) => c.realServer)).toEqual([RS2]);
    expect(t.ack(40000)).toBe('drop-tcp-not-syn');
    expect(t.ack(40001)).toBe(RS2);
    const rs1 = t.d.snapshot().services[0].realServers.find((r) => r.address === RS1)!;
    expect([rs1.activeConns, rs1.inactConns]).toEqual([0, 0]);
  });

  test('policy reschedule (service expireNodestConn): entries move to a live server with their state', async () => {
    const t = build({ weights: [1, 1], expireNodestConn: 'reschedule' });
    await t.clock.advance(1000);
    expect(t.syn(40000)).toBe(RS1);
    expect(t.ack(40000)).toBe(RS1); // ESTABLISHED
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    expect(t.d.connections()).toMatchObject([{ realServer: RS2, state: 'ESTABLISHED', clientPort: 40000 }]);
    expect(t.ack(40000)).toBe(RS2);
    const [rs1, rs2] = t.d.snapshot().services[0].realServers;
    expect([rs1.activeConns, rs1.inactConns, rs2.activeConns]).toEqual([0, 0, 1]);
  });

  test('reschedule with mh puts a flow where the consistent hash says', async () => {
    const t = build({ scheduler: 'mh', weights: [1, 1, 1], expireNodestConn: 'reschedule' });
    await t.clock.advance(1000);
    // mh hashes the client address (no mh-port flag): find a client that lands on RS1
    let k = 2;
    while (t.syn(40000, `10.77.1.${k}`) !== RS1 && k < 200) k++;
    expect(k).toBeLessThan(200);
    const client = `10.77.1.${k}`;
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    const moved = t.d.connections().find((c) => c.client === client)!;
    const hashed = t.svc.scheduler.schedule({ protocol: 6, caddr: ip(client), cport: 40000, vaddr: ip(VIP), vport: 80 })!;
    expect(moved.realServer).toBe(hashed.addressText);
    expect(moved.realServer).not.toBe(RS1);
  });
});

describe('health binding: sorry server and quorum hysteresis', () => {
  test('the sorry server takes new connections when every server is down, and drains when they return', async () => {
    const t = build({ weights: [1, 1], healthCheck: { sorryServer: { address: SORRY } } });
    // nothing up yet (alpha): the sorry server is already serving
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${RS2}=0`, `${SORRY}=1`]);
    expect(t.syn(40000)).toBe(SORRY);
    await t.clock.advance(1000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=1`]);
    expect(t.ack(40000)).toBe(SORRY); // its connection drains
    expect([t.syn(40001), t.syn(40002)].sort()).toEqual([RS1, RS2]);
    t.results.set(RS1, FAIL);
    t.results.set(RS2, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${RS2}=0`, `${SORRY}=1`]);
    expect(t.binding.healthOf(t.svc.servers.find((r) => r.addressText === SORRY)!)).toMatchObject({ state: 'sorry' });
    expect(t.syn(40003)).toBe(SORRY);
  });

  test('quorum with hysteresis: one server of three is not enough to leave the sorry server, two are', async () => {
    const t = build({ weights: [1, 1, 1], healthCheck: { sorryServer: { address: SORRY }, quorum: 2, hysteresis: 1 } });
    t.results.set(RS2, FAIL);
    t.results.set(RS3, FAIL);
    await t.clock.advance(1000);
    expect(t.weightsNow()).toContain(`${SORRY}=1`); // up weight 1 < quorum + hysteresis = 3
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ state: 'up', inService: false });
    t.results.set(RS2, OK);
    await t.clock.advance(2000);
    expect(t.weightsNow()).toContain(`${SORRY}=1`); // 2 < 3: still the sorry server
    t.results.set(RS3, OK);
    await t.clock.advance(2000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=1`, `${RS3}=1`]); // 3 >= 3
    t.results.set(RS3, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=1`, `${RS3}=0`]); // 2 >= quorum - hysteresis: kept
    t.results.set(RS2, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=0`, `${RS3}=0`]); // 1 is not < quorum - hysteresis = 1: kept
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${RS2}=0`, `${RS3}=0`, `${SORRY}=1`]);
  });

  test('a sorry server deleted by a control-plane reconcile while standing in is put back', async () => {
    const t = build({ weights: [1], healthCheck: { sorryServer: { address: SORRY } } });
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${SORRY}=1`]);
    t.d.registry.deleteRealServer(t.svc, SORRY); // what a reload does to servers it does not define
    t.binding.reconcile();
    expect(t.weightsNow()).toEqual([`${RS1}=0`, `${SORRY}=1`]);
    expect(t.syn(40000)).toBe(SORRY);
    await t.clock.advance(1000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`]);
  });

  test('a sorry server that is also a real server is refused', () => {
    const t = build({ weights: [1] });
    const svc2 = t.d.registry.addService({ protocol: 'tcp', vip: VIP, port: 81, scheduler: 'rr' });
    t.d.registry.addRealServer(svc2, { address: RS1 });
    expect(() => t.binding.bindService(svc2, { healthCheck: { sorryServer: { address: RS1 } } })).toThrow(/also one of its real servers/);
  });
});

describe('health binding: slow start and agent feedback arithmetic in the registry', () => {
  test('slow start ramps the registry weight linearly from 1 to the configured weight', async () => {
    const t = build({ weights: [10], healthCheck: { slowStart: 10 } });
    await t.clock.advance(1000); // up at t=1 s
    const seen: number[] = [t.svc.servers[0].weight];
    for (let k = 0; k < 11; k++) {
      await t.clock.advance(1000);
      seen.push(t.svc.servers[0].weight);
    }
    // floor(1 + 9 * elapsed/10 s)
    expect(seen).toEqual([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]);
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ configuredWeight: 10, effectiveWeight: 10 });
  });

  test('agent feedback sets the effective weight (EWMA of idle x load factor), stale feedback falls back', async () => {
    const feedback = new Map<string, AgentFeedback | Error>([[RS1, { load1: 4, cpuIdlePercent: 50, cpus: 2 }]]);
    const t = build({ weights: [100], healthCheck: { feedback: { interval: 1, staleAfter: 2, alpha: 0.5 } }, feedback });
    await t.clock.advance(1000);
    // samples at 0 s and 1 s, score = 0.5 * (2/4) = 0.25; EWMA from 1: 0.625, then 0.4375
    expect(t.svc.servers[0].weight).toBe(44);
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ configuredWeight: 100, effectiveWeight: 44, feedback: { stale: false } });
    feedback.set(RS1, new Error('connection refused'));
    await t.clock.advance(3000); // no good sample for > 2 intervals
    expect(t.svc.servers[0].weight).toBe(100);
    expect(t.binding.healthOf(t.svc.servers[0])!.feedback).toMatchObject({ stale: true, lastError: 'connection refused' });
  });
});

describe('health binding: operator changes through the registry', () => {
  test('a weight edit becomes the configured weight; a down server stays out of scheduling', async () => {
    const t = build({ weights: [1, 1] });
    await t.clock.advance(1000);
    t.d.registry.editRealServer(t.svc, RS1, 5);
    t.binding.reconcile();
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ configuredWeight: 5, effectiveWeight: 5 });
    t.results.set(RS2, FAIL);
    await t.clock.advance(3000);
    t.d.registry.editRealServer(t.svc, RS2, 7);
    t.binding.reconcile();
    expect(t.weightsNow()).toEqual([`${RS1}=5`, `${RS2}=0`]);
    expect(t.binding.healthOf(t.svc.servers[1])).toMatchObject({ configuredWeight: 7, effectiveWeight: 0 });
    t.results.set(RS2, OK);
    await t.clock.advance(2000);
    expect(t.weightsNow()).toEqual([`${RS1}=5`, `${RS2}=7`]);
  });

  test('an edit noticed by the next state push is not lost', async () => {
    const t = build({ weights: [1, 1] });
    await t.clock.advance(1000);
    t.d.registry.editRealServer(t.svc, RS1, 4);
    t.results.set(RS1, FAIL);
    await t.clock.advance(3000); // the down push sees the edit first
    expect(t.binding.healthOf(t.svc.servers[0])).toMatchObject({ configuredWeight: 4, effectiveWeight: 0 });
  });

  test('servers added at run time start down and are checked; deleted ones stop being checked', async () => {
    const t = build({ weights: [1] });
    await t.clock.advance(1000);
    t.d.registry.addRealServer(t.svc, { address: RS2, weight: 3 });
    t.binding.reconcile();
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=0`]);
    await t.clock.advance(2000);
    expect(t.weightsNow()).toEqual([`${RS1}=1`, `${RS2}=3`]);
    const gauge: string[] = [];
    t.binding.onChange((row) => gauge.push(`${row.server} up=${row.up} removed=${row.removed}`));
    t.d.registry.deleteRealServer(t.svc, RS2);
    t.binding.reconcile();
    expect(gauge).toEqual([`${RS1} up=true removed=false`, `${RS2} up=true removed=false`, `${RS2} up=true removed=true`]);
    t.checks.length = 0;
    await t.clock.advance(3000);
    expect(new Set(t.checks)).toEqual(new Set([RS1]));
    expect(t.binding.gaugeRows()).toEqual([{ service: t.svc.label, server: RS1, up: true, configuredWeight: 1, effectiveWeight: 1, removed: false }]);
  });

  test('definitions from a reload bind new health-checked services and rebind changed ones', async () => {
    const t = build({ weights: [1] });
    const svc2 = t.d.registry.addService({ protocol: 'tcp', vip: VIP, port: 81, scheduler: 'rr' });
    const rs = t.d.registry.addRealServer(svc2, { address: RS2, weight: 4 });
    const def = (rise: number) => ({ protocol: 'tcp' as const, vip: VIP, port: 81, healthCheck: { interval: 1, rise }, realServers: [{ address: RS2 }] });
    t.binding.reconcile([def(1)]);
    expect(rs.weight).toBe(0); // bound: starts down
    await t.clock.advance(1000);
    expect(rs.weight).toBe(4);
    t.binding.reconcile([def(3)]); // health config changed: rebound, so it starts over
    expect(t.binding.healthOf(rs)).toMatchObject({ state: 'down', effectiveWeight: 0, configuredWeight: 4 });
    t.binding.reconcile([def(2)]); // rebound while down: the configured weight is carried, not the 0
    expect(t.binding.healthOf(rs)).toMatchObject({ state: 'down', effectiveWeight: 0, configuredWeight: 4 });
    t.binding.reconcile([def(2)]); // unchanged: nothing happens
    await t.clock.advance(2000);
    expect(rs.weight).toBe(4);
    t.d.registry.deleteService('tcp', VIP, 81);
    t.binding.reconcile([]);
    expect(t.binding.snapshot().map((x) => x.serviceId)).toEqual([t.svc.label]);
  });

  test('a reload that only adds a server checks it alone; one that drops health config restores configured weights', async () => {
    const t = build({ weights: [2, 3] });
    const hc = { interval: 1, timeout: 0.5, rise: 2, fall: 3 };
    const def = (servers: string[], checked = true) => [{ protocol: 'tcp' as const, vip: VIP, port: 80, healthCheck: checked ? hc : undefined, realServers: servers.map((address) => ({ address, weight: 5 })) }];
    t.binding.reconcile(def([RS1, RS2])); // the same health config as at startup: nothing restarts
    await t.clock.advance(1000);
    t.results.set(RS2, FAIL);
    await t.clock.advance(3000);
    expect(t.weightsNow()).toEqual([`${RS1}=2`, `${RS2}=0`]);
    t.d.registry.addRealServer(t.svc, { address: RS3, weight: 5 });
    t.binding.reconcile(def([RS1, RS2, RS3]));
    expect(t.weightsNow()).toEqual([`${RS1}=2`, `${RS2}=0`, `${RS3}=0`]); // RS1 stays up, RS3 starts down
    expect(t.binding.healthOf(t.svc.servers[2])).toMatchObject({ configuredWeight: 5 });
    t.binding.reconcile(def([RS1, RS2, RS3], false));
    expect(t.weightsNow()).toEqual([`${RS1}=2`, `${RS2}=3`, `${RS3}=5`]);
    expect(t.binding.snapshot()).toEqual([]);
  });

  test('a service without healthCheck is left alone', () => {
    const t = build({ weights: [1] });
    const svc2 = t.d.registry.addService({ protocol: 'tcp', vip: VIP, port: 82, scheduler: 'rr' });
    const rs = t.d.registry.addRealServer(svc2, { address: RS3, weight: 2 });
    t.binding.bindService(svc2, { realServers: [{ address: RS3 }] });
    expect(rs.weight).toBe(2);
    expect(t.binding.healthOf(rs)).toBeUndefined();
  });
});

describe('health binding: tunnel probe pins', () => {
  test('pinFlow pins the probe to the named server of that VIP and refuses anything else', () => {
    const t = build({ weights: [1, 1] });
    const b = new HealthBinding({ director: t.d, probeSource: '10.77.9.1', reconcileEveryMs: 0, checkerFactory: () => ({ kind: 'tunnel', check: async () => OK }) });
    b.bindService(t.svc, { healthCheck: { kind: 'tunnel' } });
    const unpin = b.pinFlow({ proto: 'tcp', src: '10.77.9.1', srcPort: 61000, vip: VIP, vipPort: 80 }, RS2);
    expect(t.d.datapath.probePins).toBe(b.pins);
    expect(b.pins!.target(6, 61000, ip(VIP), 80)?.addressText).toBe(RS2);
    unpin();
    expect(() => b.pinFlow({ proto: 'tcp', src: '10.77.9.9', srcPort: 61001, vip: VIP, vipPort: 80 }, RS2)).toThrow(/not the configured probe source/);
    expect(() => b.pinFlow({ proto: 'tcp', src: '10.77.9.1', srcPort: 61001, vip: VIP, vipPort: 80 }, '10.1.1.1')).toThrow(/no real server 10\.1\.1\.1/);
    expect(() => new HealthBinding({ director: t.d, probeSource: 'nope' })).toThrow(/probeSource "nope"/);
  });
});
