// TunTapDevice lifecycle without traffic (the device is never brought up): one device per
// queue, ring geometry, stats shape, idempotent close, nothing leaked on failure.
// Traffic through a TAP is tested in test/e2e/tap-virtual-host.test.ts.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { TunTapDevice } from './native-tap-device.js';
import { loadAddon, type NativeError } from '../native/addon.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const openFdCount = () => fs.readdirSync('/proc/self/fd').length;

describe.skipIf(!root)('TunTapDevice', () => {
  it('opens one device per queue sharing the resolved name; the link lives until the last queue closes', () => {
    const devs = TunTapDevice.open({ name: 'vtd%d', kind: 'tap', queues: 2, up: false, headroom: 64, slots: 32, mtu: 1400 });
    expect(devs).toHaveLength(2);
    const [a, b] = devs;
    expect(a.name).toMatch(/^vtd\d+$/);
    expect(b.name).toBe(a.name);
    expect([a.queue, b.queue]).toEqual([0, 1]);
    expect(a.headroom).toBe(64);
    expect(a.slotSize).toBe(2112); // 2048 + 64, a multiple of 64
    const addon = loadAddon();
    expect(addon.linkGetMtu(a.name)).toBe(1400);
    expect(a.stats()).toEqual({ rxBatches: 0, rxPackets: 0, rxBytes: 0, rxTruncated: 0, rxOverflow: 0, txPackets: 0, txBytes: 0, txQueued: 0, txDropped: 0, txErrors: 0 });
    a.close();
    a.close();
    expect(addon.linkIndex(b.name)).toBeGreaterThan(0);
    b.close();
    expect(() => addon.linkIndex(b.name)).toThrow(/ENODEV/);
  });

  it('a failure after opening closes every queue fd and rethrows the addon error', () => {
    const before = openFdCount();
    let err: NativeError | undefined;
    try {
      TunTapDevice.open({ name: 'vtd%d', kind: 'tun', queues: 2, up: false, mtu: 10 });
    } catch (e) {
      err = e as NativeError;
    }
    expect(err?.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(openFdCount()).toBe(before);
  });

  it('a per-packet write failure is counted in stats, not thrown', () => {
    const [d] = TunTapDevice.open({ name: 'vtd%d', kind: 'tun', up: false });
    try {
      const packet = new Uint8Array(40);
      packet[0] = 0x45; // an IPv4 header, so the only fault is the link being down
      expect(d.writeBatch(packet, new Int32Array([0, 40, 0, 0]), 1)).toBe(0);
      expect(d.stats()).toMatchObject({ txErrors: 1, txPackets: 0 });
      expect(d.nativeStats().writer.lastErrno).toBe('EIO'); // the link is down
    } finally {
      d.close();
    }
  });
});
