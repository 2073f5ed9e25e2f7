import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { PinnedFlowProber } from './pinned-flow-prober.js';
import { TunnelChecker, type PinFlowHook, type ProbeFlow } from './tunnel.js';

// On loopback the kernel plays the director: 127.0.0.1 stands for the VIP, 127.0.0.2 is the
// probe source. The fake pin hook records what the director would be told.
const VIP = '127.0.0.1';
const PROBE_SOURCE = '127.0.0.2';

class FakePinTable {
  pins = new Map<string, { flow: ProbeFlow; rsId: string }>();
  log: string[] = [];
  fail: Error | undefined;
  readonly hook: PinFlowHook = (flow, rsId) => {
    if (this.fail) throw this.fail;
    const key = `${flow.proto} ${flow.src}:${flow.srcPort}`;
    this.pins.set(key, { flow, rsId });
    this.log.push(`pin ${key} -> ${rsId}`);
    return () => {
      if (this.pins.delete(key)) this.log.push(`unpin ${key}`);
    };
  };
}

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tunnel checker with a pinned-flow prober on loopback', () => {
  const pins = new FakePinTable();
  // What the "VIP" server sees, and whether the flow was already pinned when it arrived.
  const arrivals: Array<{ remote: string; pinnedTo?: string }> = [];
  const vipServer = createServer((s) => {
    const key = `tcp ${s.remoteAddress}:${s.remotePort}`;
    arrivals.push({ remote: `${s.remoteAddress}:${s.remotePort}`, pinnedTo: pins.pins.get(key)?.rsId });
    s.on('error', () => {});
  });
  let port: number;
  beforeAll(async () => {
    port = await listen(vipServer, VIP);
  });
  afterAll(() => new Promise((r) => vipServer.close(r)));

  const checker = (prober: PinnedFlowProber, rsId = 'rs2', p = port) => new TunnelChecker({ rsId, rsAddress: '10.1.0.2', vip: VIP, port: p, proto: 'tcp' }, prober);

  it('pins the flow to the RS before connecting from the probe source, then unpins after the linger', async () => {
    pins.log.length = 0;
    arrivals.length = 0;
    const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [62100, 62109], unpinLingerMs: 50 });
    const r = await runCheck(checker(prober), 2000);
    expect(r.ok).toBe(true);
    expect(r.detail).toBe(`tunnel tcp ${VIP}:${port} via rs2 (10.1.0.2) from ${PROBE_SOURCE}:62100: connected to ${VIP}:${port}`);
    await settle(20);
    expect(arrivals).toEqual([{ remote: `${PROBE_SOURCE}:62100`, pinnedTo: 'rs2' }]);
    expect([...pins.pins.values()][0].flow).toEqual({ proto: 'tcp', src: PROBE_SOURCE, srcPort: 62100, vip: VIP, vipPort: port });
    expect(prober.pinnedCount).toBe(1);
    await settle(150);
    expect(pins.log).toEqual([`pin tcp ${PROBE_SOURCE}:62100 -> rs2`, `unpin tcp ${PROBE_SOURCE}:62100`]);
    expect(prober.pinnedCount).toBe(0);
  });

  it('never reuses a source port that is still pinned', async () => {
    const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [62110, 62112], unpinLingerMs: 10_000 });
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runCheck(checker(prober, `rs${i}`), 2000);
      expect(r.ok).toBe(true);
      ports.push(Number(/:(\d+): connected/.exec(r.detail)![1]));
    }
    expect(ports).toEqual([62110, 62111, 62112]);
    const fourth = await runCheck(checker(prober), 2000);
    expect(fourth).toMatchObject({ ok: false });
    expect(fourth.detail).toMatch(/no free probe source port/);
  });

  it('skips a source port some other socket holds', async () => {
    const squatter = createServer();
    await listen(squatter, PROBE_SOURCE, 62120);
    try {
      const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [62120, 62125], unpinLingerMs: 0 });
      const r = await runCheck(checker(prober), 2000);
      expect(r.ok).toBe(true);
      expect(r.detail).toMatch(/from 127\.0\.0\.2:62121:/);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('is down when the VIP does not answer on the port (nothing listening)', async () => {
    const closed = createServer();
    const closedPort = await listen(closed, VIP);
    await new Promise((r) => closed.close(r));
    const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [62130, 62139], unpinLingerMs: 0 });
    const r = await runCheck(checker(prober, 'rs2', closedPort), 2000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('sends nothing and fails when the director refuses the pin', async () => {
    arrivals.length = 0;
    const refusing = new FakePinTable();
    refusing.fail = new Error('unknown real server rs9');
    const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: refusing.hook, portRange: [62140, 62149] });
    const r = await runCheck(checker(prober, 'rs9'), 2000);
    expect(r).toMatchObject({ ok: false });
    expect(r.detail).toMatch(/pinning the probe flow failed: unknown real server rs9/);
    await settle(20);
    expect(arrivals).toEqual([]);
    expect(prober.pinnedCount).toBe(0);
  });

  it('probes over UDP with a payload and an expected reply', async () => {
    const echo = createSocket('udp4');
    const from: string[] = [];
    echo.on('message', (msg, rinfo) => {
      from.push(`${rinfo.address}:${rinfo.port} pinned=${pins.pins.has(`udp ${rinfo.address}:${rinfo.port}`)}`);
      echo.send(Buffer.concat([Buffer.from('ack '), msg]), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => echo.bind(0, VIP, () => r()));
    try {
      const prober = new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [62150, 62159], unpinLingerMs: 0 });
      const c = new TunnelChecker(
        { rsId: 'rs3', rsAddress: '10.1.0.3', vip: VIP, port: echo.address().port, proto: 'udp', payload: Buffer.from('probe'), expectPattern: /^ack probe$/ },
        prober,
      );
      const r = await runCheck(c, 2000);
      expect(r.ok).toBe(true);
      expect(from).toEqual([`${PROBE_SOURCE}:62150 pinned=true`]);
    } finally {
      echo.close();
    }
  });

  it('rejects a malformed port range', () => {
    expect(() => new PinnedFlowProber({ probeSource: PROBE_SOURCE, pinFlow: pins.hook, portRange: [5000, 4000] })).toThrow(RangeError);
  });
});
