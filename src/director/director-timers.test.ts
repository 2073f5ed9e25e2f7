// The Director's own timers: the expiry sweep every 32 ms and the 2-second rate estimator,
// and `sweep: false` (the main thread's Director when queue workers hold the connections),
// which keeps the estimator but never wakes the thread to sweep its empty table.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { Director } from './director.js';
import { parseIpv4 } from './ipv4-text.js';
import { parseMac } from '../wire/ethernet.js';

function director(sweep?: boolean): Director {
  return new Director({
    device: new FakeDevice({ headroom: 128 }),
    mac: parseMac('02:00:00:77:00:02')!,
    linkAddress: parseIpv4('169.254.77.2')!,
    kernelAddress: parseIpv4('169.254.77.1')!,
    kernelMac: parseMac('02:00:00:77:00:01')!,
    dipFor: () => parseIpv4('10.77.2.1')!,
    connTableCapacity: 1024,
    hashSeed: 1,
    sweep,
  });
}

describe('Director timers', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test('by default the table is swept every 32 ms and rates are estimated every 2 s', () => {
    const d = director();
    const sweep = vi.spyOn(d.table, 'sweep');
    const estimate = vi.spyOn(d, 'estimate');
    d.start();
    vi.advanceTimersByTime(4000);
    expect(sweep).toHaveBeenCalledTimes(Math.floor(4000 / 32));
    expect(estimate).toHaveBeenCalledTimes(2);
    d.stop();
    vi.advanceTimersByTime(1000);
    expect(sweep).toHaveBeenCalledTimes(Math.floor(4000 / 32));
  });

  test('sweep: false arms no sweep timer, and the estimator still runs', () => {
    const d = director(false);
    const sweep = vi.spyOn(d.table, 'sweep');
    const estimate = vi.spyOn(d, 'estimate');
    d.start();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(4000);
    expect(sweep).not.toHaveBeenCalled();
    expect(estimate).toHaveBeenCalledTimes(2);
    d.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
