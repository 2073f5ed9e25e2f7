// Connection thresholds as IPVS enforces them (ipvsadm -x/-y, keepalived
// uthreshold/lthreshold): a server whose active+inactive connections reach the upper
// threshold is overloaded and not chosen by any scheduler, until its count drops below the
// lower threshold (or, with none, below 3/4 of the upper one).
import { describe, expect, it } from 'vitest';
import { KIND_TCP, KIND_TCP_TEMPLATE } from './conn-table.js';
import { newFlowKey } from './schedulers/scheduler.js';
import { ServiceRegistry } from './service-registry.js';

function setup(scheduler: 'wrr' | 'lc' | 'mh' | 'rr' = 'wrr') {
  const reg = new ServiceRegistry({ dipFor: () => 1, now: () => 0, mhTableSize: 251 });
  const svc = reg.addService({ protocol: 'tcp', vip: '192.0.2.1', port: 80, scheduler } as Parameters<ServiceRegistry['addService']>[0]);
  const a = reg.addRealServer(svc, { address: '10.0.0.1', weight: 1 });
  const b = reg.addRealServer(svc, { address: '10.0.0.2', weight: 1 });
  const flow = newFlowKey();
  flow.protocol = 6;
  flow.vaddr = 0xc0000201;
  flow.vport = 80;
  const pick = (cport: number) => {
    flow.caddr = 0x0a000001 + cport;
    flow.cport = cport;
    return svc.scheduler.schedule(flow)?.addressText;
  };
  return { reg, svc, a, b, pick };
}

describe('connection thresholds', () => {
  it.each(['wrr', 'lc', 'mh', 'rr'] as const)('%s does not choose an overloaded server; it comes back below 3/4 of the upper threshold', (sched) => {
    const { reg, a, pick } = setup(sched);
    a.setThresholds(4, 0);
    for (let i = 0; i < 4; i++) reg.bound(a, KIND_TCP);
    expect(a.overloaded).toBe(true);
    expect(a.available).toBe(false);
    // (mh without mh-fallback gives an overloaded server's flows no server, as IPVS does.)
    expect(Array.from({ length: 20 }, (_, i) => pick(1000 + i))).not.toContain('10.0.0.1');
    reg.released(a.id, KIND_TCP, 0); // 3 left: 3*4 = 12 is not below 4*3 = 12
    expect(a.overloaded).toBe(true);
    reg.released(a.id, KIND_TCP, 0); // 2 left: below 3/4
    expect(a.overloaded).toBe(false);
    expect(a.available).toBe(true);
    if (sched !== 'lc') expect(Array.from({ length: 40 }, (_, i) => pick(2000 + i))).toContain('10.0.0.1');
  });

  it('with a lower threshold the server stays overloaded until its count is below it', () => {
    const { reg, a } = setup();
    a.setThresholds(10, 5);
    for (let i = 0; i < 10; i++) reg.bound(a, KIND_TCP);
    expect(a.overloaded).toBe(true);
    for (let i = 0; i < 5; i++) reg.released(a.id, KIND_TCP, 0);
    expect(a.overloaded).toBe(true); // 5 is not below 5
    reg.released(a.id, KIND_TCP, 0);
    expect(a.overloaded).toBe(false);
  });

  it('persistence templates do not count; no thresholds means never overloaded', () => {
    const { reg, a, b } = setup();
    a.setThresholds(2, 0);
    for (let i = 0; i < 5; i++) reg.bound(a, KIND_TCP_TEMPLATE);
    expect(a.overloaded).toBe(false);
    for (let i = 0; i < 1000; i++) reg.bound(b, KIND_TCP);
    expect(b.overloaded).toBe(false);
  });

  it('changing the thresholds re-judges at once (raised: back in; lowered under the count: out)', () => {
    const { reg, a } = setup();
    a.setThresholds(3, 0);
    for (let i = 0; i < 3; i++) reg.bound(a, KIND_TCP);
    expect(a.overloaded).toBe(true);
    a.setThresholds(10, 0);
    expect(a.overloaded).toBe(false);
    a.setThresholds(2, 1);
    expect(a.overloaded).toBe(true);
    a.setThresholds(0, 0);
    expect(a.overloaded).toBe(false);
  });
});
