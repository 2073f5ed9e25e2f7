// What needs one TAP queue, with and without the queue steering (src/director/queue-steering.ts).
import { describe, expect, it } from 'vitest';
import { validateDirectorConfig } from './config-loader.js';
import { singleQueueReason } from './queue-checks.js';
import { steeringLimitReason } from '../director/queue-steering.js';
import { MAX_STEERED_ADDRESSES } from '../director/steering-program.js';

const steering = { check: steeringLimitReason };
const table = (realServers: Array<{ address: string; forward?: 'masq' | 'route' | 'tunnel' }>, persistence = 0) =>
  validateDirectorConfig({ director: { dr: { bridge: 'brx' } }, services: [{ protocol: 'tcp', vip: '192.0.2.1', port: 80, persistence, realServers }] }).services;

describe('singleQueueReason', () => {
  it('VS/NAT needs one queue only without steering', () => {
    const nat = table([{ address: '10.0.0.7', forward: 'masq' }]);
    expect(singleQueueReason(nat)).toMatch(/VS\/NAT.*cannot be steered/);
    expect(singleQueueReason(nat, steering)).toBeNull();
  });

  it('VS/DR does not need one queue, steered or not (its neighbour table is shared by the queues)', () => {
    const dr = table([{ address: '10.0.0.27', forward: 'route' }]);
    expect(singleQueueReason(dr, steering)).toBeNull();
    expect(singleQueueReason(dr)).toBeNull();
  });

  it('VS/NAT over the steering cap needs one queue, and says the cap; persistence alone over it does not', () => {
    const many = Array.from({ length: MAX_STEERED_ADDRESSES }, (_, i) => ({ address: `10.2.${i >> 8}.${i & 255}`, forward: 'masq' as const }));
    expect(singleQueueReason(table(many), steering)).toMatch(/at most 256 .* has 257, so VS\/NAT needs one queue/);
    expect(singleQueueReason(table(many.slice(1)), steering)).toBeNull();
    expect(singleQueueReason(table([{ address: '10.0.0.7' }], 300), steering)).toBeNull();
    expect(singleQueueReason(table([{ address: '10.0.0.7' }], 300))).toBeNull();
  });
});
