import { beforeEach, describe, expect, it } from 'vitest';
import type { Checker, CheckResult } from './check-result.js';
import type { CheckerFactory } from './checker-factory.js';
import { FakeClock } from './fake-clock.js';
import type { AgentFeedback } from './feedback.js';
import { HealthManager, type HealthConsumer, type HealthEvent, type ServerState, type SorryServerState } from './health-manager.js';

/** Checker whose verdict the test sets per server; 'hang' waits for the abort. */
class ScriptedChecker implements Checker {
  readonly kind = 'tcp' as const;
  verdict: boolean | 'hang' = true;
  calls: number[] = [];
  constructor(private readonly clock: FakeClock) {}
  check(signal: AbortSignal): Promise<CheckResult> {
    this.calls.push(this.clock.now());
    if (this.verdict === 'hang') {
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted', latencyMs: 0 }), { once: true }));
    }
    return Promise.resolve({ ok: this.verdict, detail: this.verdict ? 'scripted up' : 'scripted down', latencyMs: 0 });
  }
}

class RecordingConsumer implements HealthConsumer {
  states: Array<{ at: number; service: string; rs: string; state: ServerState }> = [];
  sorry: Array<{ at: number; service: string; state: SorryServerState }> = [];
  constructor(private readonly clock: FakeClock) {}
  setServerState(service: string, rs: string, state: ServerState): void {
    this.states.push({ at: this.clock.now(), service, rs, state });
  }
  setSorryServer(service: string, state: SorryServerState): void {
    this.sorry.push({ at: this.clock.now(), service, state });
  }
  last(rs: string): ServerState | undefined {
    return this.states.filter((s) => s.rs === rs).at(-1)?.state;
  }
  weights(rs: string): number[] {
    return this.states.filter((s) => s.rs === rs).map((s) => s.state.weight);
  }
}

describe('HealthManager (fake clock)', () => {
  let clock: FakeClock;
  let consumer: RecordingConsumer;
  let checkers: Map<string, ScriptedChecker>;
  let events: HealthEvent[];
  const factory: CheckerFactory = (_spec, t) => {
    const c = new ScriptedChecker(clock);
    checkers.set(t.rsId, c);
    return c;
  };
  const manager = (extra: Partial<ConstructorParameters<typeof HealthManager>[0]> = {}) =>
    new HealthManager({ consumer, clock, random: () => 0, checkerFactory: factory, onEvent: (e) => events.push(e), ...extra });

  beforeEach(() => {
    clock = new FakeClock();
    consumer = new RecordingConsumer(clock);
    checkers = new Map();
    events = [];
  });

  it('starts a server DOWN (alpha), brings it UP after `rise` checks, takes it out after `fall`', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 2, fall: 3 } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 10 });
    expect(consumer.last('rs1')).toMatchObject({ up: false, weight: 0, healthy: false, configuredWeight: 10, onFailure: 'keep' });
    m.start();
    await clock.advance(0); // first check at random()=0 of the interval
    expect(consumer.last('rs1')?.up).toBe(false);
    await clock.advance(1000);
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 10, healthy: true });
    const upAt = consumer.states.at(-1)!.at;
    expect(upAt).toBe(1000);

    checkers.get('rs1')!.verdict = false;
    await clock.advance(2000); // two failures: still up
    expect(consumer.last('rs1')?.up).toBe(true);
    await clock.advance(1000); // third failure
    expect(consumer.last('rs1')).toMatchObject({ up: false, weight: 0, healthy: false, reason: 'failed: out of scheduling' });
    expect(consumer.states.at(-1)!.at).toBe(4000);
    const transitions = events.filter((e) => e.type === 'transition').map((e) => (e.type === 'transition' ? [e.transition.from, e.transition.to, e.transition.at] : []));
    expect(transitions).toEqual([
      ['down', 'up', 1000],
      ['up', 'down', 4000],
    ]);
    m.stop();
  });

  it('starts UP with startUp and checks sooner after a failure with retryInterval', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 10, retryInterval: 1, fall: 3, startUp: true } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 5 });
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 5 });
    checkers.get('rs1')!.verdict = false;
    m.start();
    await clock.advance(2000);
    expect(consumer.last('rs1')).toMatchObject({ up: false });
    expect(checkers.get('rs1')!.calls).toEqual([0, 1000, 2000]);
    // once down, back to the normal interval
    await clock.advance(10_000);
    expect(checkers.get('rs1')!.calls).toEqual([0, 1000, 2000, 12_000]);
    m.stop();
  });

  it('inhibit_on_failure keeps a failed server in the table at weight 0', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1, fall: 1, inhibitOnFailure: true, onFailure: 'expire' } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 7 });
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 0, healthy: false, onFailure: 'expire' });
    m.start();
    await clock.advance(0);
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 7, healthy: true });
    checkers.get('rs1')!.verdict = false;
    await clock.advance(1000);
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 0, healthy: false, reason: 'failed: inhibited (weight 0, connections kept)' });
    m.stop();
  });

  it('times a hung check out with the clock and counts it as a failure', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 5, timeout: 2, rise: 1, fall: 1, startUp: true } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 1 });
    checkers.get('rs1')!.verdict = 'hang';
    m.start();
    await clock.advance(1999);
    expect(consumer.last('rs1')?.up).toBe(true);
    await clock.advance(1);
    expect(consumer.last('rs1')?.up).toBe(false);
    const check = events.find((e) => e.type === 'check');
    expect(check?.type === 'check' && check.result.ok).toBe(false);
    m.stop();
  });

  it('jitters the first check within the interval', async () => {
    const m = manager({ random: () => 0.25 });
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 4 } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 1 });
    m.start();
    await clock.advance(5000);
    expect(checkers.get('rs1')!.calls).toEqual([1000, 5000]);
    m.stop();
  });

  it('switches to the sorry server on losing quorum and back with hysteresis', async () => {
    const m = manager();
    m.addService('web', {
      vip: '10.0.0.1',
      port: 80,
      healthCheck: { interval: 1, rise: 1, fall: 1, quorum: 10, hysteresis: 2, sorryServer: { address: '10.9.0.9' } },
    });
    // no server up yet: the sorry server is active from the start
    expect(consumer.sorry.at(-1)?.state).toEqual({ active: true, address: '10.9.0.9', port: 80, weight: 1 });
    for (const rs of ['a', 'b', 'c']) m.addServer('web', rs, { address: `10.1.0.${rs.charCodeAt(0)}`, weight: 5 });
    m.start();
    const sorryActive = () => consumer.sorry.at(-1)!.state.active;
    const setUp = async (up: Record<string, boolean>) => {
      for (const [rs, v] of Object.entries(up)) checkers.get(rs)!.verdict = v;
      await clock.advance(1000);
    };
    await clock.advance(0); // all three up: 15 >= 12
    expect(sorryActive()).toBe(false);
    expect(consumer.last('a')).toMatchObject({ up: true, weight: 5 });
    await setUp({ a: false }); // 10: inside the band, keep quorum
    expect(sorryActive()).toBe(false);
    await setUp({ b: false }); // 5 < 8: lose it
    expect(sorryActive()).toBe(true);
    expect(consumer.last('c')).toMatchObject({ up: false, healthy: true, reason: 'quorum lost: the sorry server takes new connections' });
    await setUp({ a: true }); // 10 < 12: not yet
    expect(sorryActive()).toBe(true);
    expect(consumer.last('a')).toMatchObject({ up: false, healthy: true });
    await setUp({ b: true }); // 15: back
    expect(sorryActive()).toBe(false);
    for (const rs of ['a', 'b', 'c']) expect(consumer.last(rs)).toMatchObject({ up: true, weight: 5 });
    expect(consumer.sorry.map((s) => s.state.active)).toEqual([true, false, true, false]);
    expect(events.filter((e) => e.type === 'quorum').map((e) => e.type === 'quorum' && [e.up, e.upWeight])).toEqual([
      [true, 15],
      [false, 5],
      [true, 15],
    ]);
    m.stop();
  });

  it('ramps a recovered server from 1 to its weight over slowStart seconds', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 30, rise: 1, fall: 1, slowStart: 10 } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 100 });
    m.start();
    await clock.advance(0); // up at t=0, ramp starts
    await clock.advance(12_000);
    expect(consumer.weights('rs1')).toEqual([0, 1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(m.snapshot()[0].servers[0].slowStartUntil).toBeUndefined();
    // fail and recover: it ramps again
    checkers.get('rs1')!.verdict = false;
    await clock.advance(18_000); // check at 30 s
    checkers.get('rs1')!.verdict = true;
    await clock.advance(30_000); // check at 60 s
    expect(consumer.last('rs1')).toMatchObject({ up: true, weight: 1, reason: 'healthy, slow start' });
    expect(m.snapshot()[0].servers[0].slowStartUntil).toBe(70_000);
    // One server's snapshot, as healthOf asks for it per server, is that server's part of the whole.
    expect(m.serverSnapshot('web', 'rs1')).toEqual(m.snapshot()[0].servers[0]);
    expect(m.serverSnapshot('web', 'rs9')).toBeUndefined();
    expect(m.serverSnapshot('api', 'rs1')).toBeUndefined();
    m.stop();
  });

  it('weights by agent feedback, and falls back to the configured weight when it goes stale', async () => {
    let sample: AgentFeedback | Error = { load1: 0.5, cpuIdlePercent: 25, cpus: 1 };
    const fetched: string[] = [];
    const m = manager({
      feedbackFetcher: async (url) => {
        fetched.push(url);
        if (sample instanceof Error) throw sample;
        return sample;
      },
    });
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1, startUp: true, feedback: { interval: 2, alpha: 0.5, staleAfter: 3 } } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 100 });
    m.start();
    await clock.advance(0);
    expect(fetched).toEqual(['http://10.1.0.2:9470/feedback']);
    expect(consumer.last('rs1')).toMatchObject({ weight: 63, configuredWeight: 100 }); // 0.5*0.25+0.5 = 0.625
    await clock.advance(2000);
    expect(consumer.last('rs1')?.weight).toBe(44); // 0.5*0.25 + 0.5*0.625 = 0.4375
    sample = new Error('connect ECONNREFUSED');
    await clock.advance(6000); // last good sample at 2000; stale after 2000 + 6000
    expect(consumer.last('rs1')?.weight).toBe(44);
    await clock.advance(1000); // the next health check re-derives the weight
    expect(consumer.last('rs1')).toMatchObject({ weight: 100, reason: 'healthy' });
    expect(m.snapshot()[0].servers[0].feedback).toMatchObject({ stale: true, lastError: 'connect ECONNREFUSED' });
    m.stop();
  });

  it('applies operator weight changes and stops checking removed servers', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, startUp: true } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 3 });
    m.start();
    m.setConfiguredWeight('web', 'rs1', 9);
    expect(consumer.last('rs1')).toMatchObject({ weight: 9, configuredWeight: 9 });
    await clock.advance(1500);
    const calls = checkers.get('rs1')!.calls.length;
    m.removeServer('web', 'rs1');
    await clock.advance(5000);
    expect(checkers.get('rs1')!.calls.length).toBe(calls);
    expect(clock.pendingCount).toBe(0);
    expect(() => m.removeServer('web', 'rs1')).toThrow(expect.objectContaining({ code: 'HEALTH_UNKNOWN_SERVER' }));
  });

  it('reports bad config and a throwing consumer without stopping', async () => {
    const m = manager();
    expect(() => m.addService('bad', { vip: '10.0.0.1', port: 80, healthCheck: { kind: 'icmp' } })).toThrow(
      expect.objectContaining({ code: 'HEALTH_BAD_CONFIG', message: expect.stringContaining('service bad') }),
    );
    consumer.setServerState = () => {
      throw new Error('director busy');
    };
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1 } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 1 });
    m.start();
    await clock.advance(2000);
    expect(events.filter((e) => e.type === 'consumer-error').length).toBeGreaterThanOrEqual(2);
    expect(m.snapshot()[0].servers[0].state).toBe('up');
    m.stop();
  });

  it('runs one check loop per server across stop() and start() with a check in flight', async () => {
    const m = manager();
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, timeout: 100, startUp: true } });
    m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 1 });
    const c = checkers.get('rs1')!;
    c.verdict = 'hang';
    m.start();
    await clock.advance(0); // check 1 in flight
    m.stop(); // aborts it
    c.verdict = true;
    m.start();
    await clock.advance(5500);
    expect(c.calls).toEqual([0, 0, 1000, 2000, 3000, 4000, 5000]);
    m.stop();
    expect(clock.pendingCount).toBe(0);
  });

  it('needs a tunnel prober for tunnel checks', () => {
    const m = new HealthManager({ consumer, clock });
    m.addService('web', { vip: '10.0.0.1', port: 80, healthCheck: { kind: 'tunnel' } });
    expect(() => m.addServer('web', 'rs1', { address: '10.1.0.2', weight: 1 })).toThrow(expect.objectContaining({ code: 'HEALTH_NO_TUNNEL_PROBER' }));
  });
});
