// The health-model extensions a keepalived import needs: per-server inhibitOnFailure,
// notify and quorum scripts, several checks per server (all must pass), and their config.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Checker, CheckResult } from './check-result.js';
import type { CheckerFactory } from './checker-factory.js';
import { FakeClock } from './fake-clock.js';
import { serverHealthCheckSchema, serviceHealthCheckSchema } from './health-config.js';
import { HealthManager, type HealthConsumer, type ServerState } from './health-manager.js';
import type { ScriptOutcome, ScriptRunner } from './script-runner.js';

class SetChecker implements Checker {
  readonly kind = 'tcp' as const;
  ok = true;
  check(): Promise<CheckResult> {
    return Promise.resolve({ ok: this.ok, detail: this.ok ? 'up' : 'down', latencyMs: 0 });
  }
}

class Recorder implements HealthConsumer {
  last = new Map<string, ServerState>();
  setServerState(_svc: string, rs: string, state: ServerState): void {
    this.last.set(rs, state);
  }
  setSorryServer(): void {}
}

class ScriptRecorder implements ScriptRunner {
  runs: Array<{ line: string; env: Record<string, string>; label: string }> = [];
  run(line: string, env: Readonly<Record<string, string>>, label: string, onDone?: (o: ScriptOutcome) => void): void {
    this.runs.push({ line, env: { ...env }, label });
    onDone?.({ label, line, result: 'exit', code: 0 });
  }
}

describe('health model extensions', () => {
  let clock: FakeClock;
  let consumer: Recorder;
  let scripts: ScriptRecorder;
  let checkers: Map<string, SetChecker[]>;
  const factory: CheckerFactory = (spec, t) => {
    const c = new SetChecker();
    const list = checkers.get(t.rsId) ?? [];
    list.push(c);
    checkers.set(t.rsId, list);
    void spec;
    return c;
  };
  const manager = () => new HealthManager({ consumer, clock, random: () => 0, checkerFactory: factory, scriptRunner: scripts });

  beforeEach(() => {
    clock = new FakeClock();
    consumer = new Recorder();
    scripts = new ScriptRecorder();
    checkers = new Map();
  });

  it('per-server inhibitOnFailure overrides the service: that server keeps weight 0 in scheduling, the other leaves', async () => {
    const m = manager();
    m.addService('s', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1, fall: 1, startUp: true } });
    m.addServer('s', 'a', { address: '10.1.0.1', weight: 5, healthCheck: { inhibitOnFailure: true } });
    m.addServer('s', 'b', { address: '10.1.0.2', weight: 5 });
    m.start();
    for (const c of [...checkers.get('a')!, ...checkers.get('b')!]) c.ok = false;
    await clock.advance(1000);
    expect(consumer.last.get('a')).toMatchObject({ up: true, weight: 0, healthy: false });
    expect(consumer.last.get('b')).toMatchObject({ up: false, weight: 0, healthy: false });
  });

  it('runs notifyDown / notifyUp on transitions and quorumDown / quorumUp on quorum changes, with the server in the environment', async () => {
    const m = manager();
    m.addService('s', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1, fall: 1, quorumUp: '/bin/q-up', quorumDown: '/bin/q-down "x y"', notifyDown: '/bin/svc-down' } });
    m.addServer('s', 'a', { address: '10.1.0.1', weight: 1, healthCheck: { notifyUp: '/bin/a-up 1' } });
    m.start();
    await clock.advance(0);
    expect(scripts.runs.map((r) => r.line)).toEqual(['/bin/a-up 1', '/bin/q-up']);
    expect(scripts.runs[0].env).toMatchObject({ VSTUN_RS_ADDRESS: '10.1.0.1', VSTUN_VIP: '10.0.0.1', VSTUN_VIP_PORT: '80', VSTUN_STATE: 'UP' });
    checkers.get('a')![0].ok = false;
    await clock.advance(1000);
    expect(scripts.runs.map((r) => r.line).slice(2)).toEqual(['/bin/svc-down', '/bin/q-down "x y"']);
    expect(scripts.runs[3].env.VSTUN_STATE).toBe('QUORUM_DOWN');
  });

  it('several checks per server: the server is up only while every one passes', async () => {
    const m = manager();
    m.addService('s', { vip: '10.0.0.1', port: 80, healthCheck: { interval: 1, rise: 1, fall: 1, checks: [{ kind: 'tcp' }, { kind: 'http', path: '/h' }] } });
    m.addServer('s', 'a', { address: '10.1.0.1', weight: 3 });
    m.start();
    await clock.advance(0);
    expect(checkers.get('a')).toHaveLength(2);
    expect(consumer.last.get('a')).toMatchObject({ up: true, weight: 3 });
    checkers.get('a')![1].ok = false;
    await clock.advance(1000);
    expect(consumer.last.get('a')).toMatchObject({ up: false });
    expect(m.snapshot()[0].servers[0].kinds).toEqual(['tcp', 'http']);
    expect(m.snapshot()[0].servers[0].lastCheck?.detail).toMatch(/1 of 2 checks fail: down/);
  });

  it('a server`s checks list replaces the service`s', () => {
    const m = manager();
    m.addService('s', { vip: '10.0.0.1', port: 80, healthCheck: { checks: [{ kind: 'tcp' }, { kind: 'tcp', port: 81 }] } });
    m.addServer('s', 'a', { address: '10.1.0.1', weight: 1, healthCheck: { checks: [{ kind: 'ping' }] } });
    expect(m.snapshot()[0].servers[0].kinds).toEqual(['ping']);
  });

  it.each([
    { description: 'unterminated quote in a script', section: { notifyUp: '/bin/x "oops' }, message: /unterminated quote/ },
    { description: 'empty checks list', section: { checks: [] }, message: /checks/ },
    { description: 'unknown DNS type', section: { kind: 'dns', dnsType: 'PTRX' }, message: /not a DNS query type/ },
    { description: 'unknown field inside a check', section: { checks: [{ kind: 'tcp', retries: 3 }] }, message: /retries/ },
  ])('config rejects $description', ({ section, message }) => {
    const r = serverHealthCheckSchema.safeParse(section);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(message);
  });

  it('config takes quorum scripts on the service and inhibitOnFailure / notify scripts on the server', () => {
    expect(serviceHealthCheckSchema.parse({ quorumUp: '/a', quorumDown: '/b' })).toMatchObject({ quorumUp: '/a', quorumDown: '/b' });
    expect(serverHealthCheckSchema.parse({ inhibitOnFailure: true, notifyUp: '/u', notifyDown: '/d' })).toMatchObject({ inhibitOnFailure: true });
    expect(serverHealthCheckSchema.safeParse({ quorumUp: '/a' }).success).toBe(false);
  });
});
