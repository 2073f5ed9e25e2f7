import { describe, expect, it } from 'vitest';
import { serverHealthCheckSchema, serviceHealthCheckSchema } from './health-config.js';
import { HealthError } from './health-error.js';
import { resolveCheck, resolveFeedback } from './resolved-check.js';

const ctx = { label: 'svc / rs', rsAddress: '10.1.0.2', servicePort: 80 };

describe('healthCheck config', () => {
  it('fills the documented defaults', () => {
    const svc = serviceHealthCheckSchema.parse({});
    expect(svc).toMatchObject({ inhibitOnFailure: false, onFailure: 'keep', slowStart: 0, quorum: 1, hysteresis: 0 });
    expect(resolveCheck(svc, undefined, ctx)).toMatchObject({
      kind: 'tcp',
      intervalMs: 5000,
      timeoutMs: 3000,
      retryIntervalMs: 5000,
      rise: 2,
      fall: 3,
      startUp: false,
      port: 80,
      expectStatus: [{ low: 200, high: 200 }],
    });
    expect(resolveFeedback(svc, undefined, ctx)).toBeNull();
  });

  it('lets a server override the service and converts units', () => {
    const svc = serviceHealthCheckSchema.parse({ kind: 'http', path: '/health', interval: 2, expectStatus: [200, '301-302', '2xx'], bodyRegex: 'OK$' });
    const rs = serverHealthCheckSchema.parse({ port: 8080, interval: 0.5, fall: 1 });
    const r = resolveCheck(svc, rs, ctx);
    expect(r).toMatchObject({ kind: 'http', path: '/health', port: 8080, intervalMs: 500, fall: 1, rise: 2 });
    expect(r.expectStatus).toEqual([
      { low: 200, high: 200 },
      { low: 301, high: 302 },
      { low: 200, high: 299 },
    ]);
    expect(r.bodyPattern?.test('all OK')).toBe(true);
  });

  it('resolves feedback with the RS address and defaults', () => {
    const svc = serviceHealthCheckSchema.parse({ feedback: { interval: 2, maxWeight: 50 } });
    expect(resolveFeedback(svc, undefined, ctx)).toEqual({
      url: 'http://10.1.0.2:9470/feedback',
      intervalMs: 2000,
      timeoutMs: 2000,
      minWeight: 1,
      maxWeight: 50,
      alpha: 0.3,
      staleAfterIntervals: 3,
    });
    expect(resolveFeedback(svc, serverHealthCheckSchema.parse({ feedback: { enabled: false } }), ctx)).toBeNull();
  });

  it.each([
    { description: 'unknown kind', input: { kind: 'icmp' } },
    { description: 'typo in a field name', input: { intervall: 5 } },
    { description: 'zero interval', input: { interval: 0 } },
    { description: 'rise 0', input: { rise: 0 } },
    { description: 'bad status', input: { expectStatus: ['abc'] } },
    { description: 'status out of range', input: { expectStatus: [99] } },
    { description: 'bad regex', input: { bodyRegex: '(' } },
    { description: 'odd hex payload', input: { payload: 'hex:abc' } },
    { description: 'bad onFailure', input: { onFailure: 'drop' } },
    { description: 'quorum 0', input: { quorum: 0 } },
  ])('rejects $description', ({ input }) => {
    expect(serviceHealthCheckSchema.safeParse(input).success).toBe(false);
  });

  it('requires a script for exec and a port on port-0 services', () => {
    const exec = serviceHealthCheckSchema.parse({ kind: 'exec' });
    expect(() => resolveCheck(exec, undefined, ctx)).toThrow(expect.objectContaining({ code: 'HEALTH_MISSING_FIELD' }));
    const tcp = serviceHealthCheckSchema.parse({});
    try {
      resolveCheck(tcp, undefined, { ...ctx, servicePort: 0 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HealthError);
      expect((err as HealthError).message).toMatch(/explicit "port"/);
    }
  });
});
