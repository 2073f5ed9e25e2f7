// The kernel pings a user-space host that lives behind a TAP: ARP and ICMP echo go through
// the native reader/writer rings both ways.
//
// Setup choice: the test process opens the TAP itself and moves it into a fresh namespace
// with `ip link set DEV netns NS`. The fd keeps working after the move, so the virtual host
// runs right here (no child process, no IPC) and the test can read its counters directly;
// the kernel side (address, ping) lives only in the namespace. Closing the fd removes the TAP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Topology, canRunNetnsTests } from '../support/netns.js';
import { VirtualHost } from '../support/virtual-host.js';
import { TunTapDevice } from '../../src/device/native-tap-device.js';
import { macToString } from '../../src/wire/ethernet.js';
import { parseIpv4 } from '../../src/wire/ipv4-address.js';

const KERNEL_ADDR = '10.77.0.1';
const HOST_ADDR = '10.77.0.2';
const HOST_MAC = new Uint8Array([0x02, 0x76, 0x68, 0x00, 0x00, 0x02]);

function exited(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not exit within ${timeoutMs} ms; output so far: ${stdout}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe.skipIf(!canRunNetnsTests())('TAP virtual host', () => {
  const topo = new Topology('tap');
  let ns = '';
  let dev: TunTapDevice | undefined;
  let host: VirtualHost | undefined;

  beforeAll(() => {
    ns = topo.ns('k');
    [dev] = TunTapDevice.open({ name: `vh${topo.tag}`, kind: 'tap', up: false, slots: 64 });
    topo.exec(null, 'ip', ['link', 'set', dev.name, 'netns', ns]);
    topo.exec(ns, 'ip', ['addr', 'add', `${KERNEL_ADDR}/24`, 'dev', dev.name]);
    topo.exec(ns, 'ip', ['link', 'set', dev.name, 'up']);
    host = new VirtualHost(dev, HOST_MAC, parseIpv4(HOST_ADDR)!, 64);
    host.start();
  });

  afterAll(() => {
    dev?.close();
    topo.cleanup();
  });

  it('the kernel resolves the host by ARP and gets 3 of 3 echo replies', async () => {
    const ping = topo.spawn(ns, 'ping', ['-c', '3', '-W', '1', '-i', '0.2', HOST_ADDR]);
    const { code, stdout } = await exited(ping, 15_000);
    expect(stdout).toContain('3 received');
    expect(code).toBe(0);
    expect(host!.counters.arpReplies).toBeGreaterThanOrEqual(1);
    expect(host!.counters.echoReplies).toBe(3);
    const neigh = topo.exec(ns, 'ip', ['neigh', 'show', HOST_ADDR, 'dev', dev!.name]);
    expect(neigh).toContain('02:76:68:00:00:02');
    // The host learned the kernel's MAC from the ARP request: the TAP's own address.
    const link = JSON.parse(topo.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev!.name])) as { address: string }[];
    expect(host!.peerMac && macToString(host!.peerMac)).toBe(link[0].address);
  });

  it('device stats count both directions with nothing dropped or truncated', () => {
    const s = dev!.stats();
    expect(s.rxPackets).toBeGreaterThanOrEqual(4); // ARP request + 3 echo requests (+ IPv6 noise)
    expect(s.rxBatches).toBeGreaterThanOrEqual(1);
    expect(s.rxBytes).toBeGreaterThan(0);
    expect(s.txPackets).toBe(host!.counters.arpReplies + host!.counters.echoReplies);
    expect(s).toMatchObject({ rxTruncated: 0, txDropped: 0, txErrors: 0, txQueued: 0 });
  });

  it('a 1400-byte ping makes the round trip intact (payload checked by ping)', async () => {
    const ping = topo.spawn(ns, 'ping', ['-c', '2', '-W', '1', '-i', '0.2', '-s', '1400', '-p', 'a5c3', HOST_ADDR]);
    const { code, stdout } = await exited(ping, 15_000);
    expect(stdout).toContain('2 received');
    expect(code).toBe(0);
  });
});
