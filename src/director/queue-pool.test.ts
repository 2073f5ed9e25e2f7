// The multi-queue control plane in one thread: a main Director (the control plane) and two
// worker Directors, each over its own FakeDevice, talking through real MessageChannels as the
// threads do. What the main Director is told reaches both workers; what the workers count
// comes back summed.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { ACK, CLIENT, DIP, SYN, tcpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { reconcile } from '../control/service-reconciler.js';
import { validateDirectorConfig } from '../control/config-loader.js';
import type { Director } from './director.js';
import { ProbePinTable } from './probe-pins.js';
import { QueuePool, singleQueueReason, type PoolPort } from './queue-pool.js';
import { QueueWorkerCore, type CorePort } from './queue-worker-core.js';
import { thresholdShare } from './registry-projection.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const QUEUES = 2;

interface Worker {
  director: Director;
  device: FakeDevice;
  core: QueueWorkerCore;
}

const open: MessagePort[] = [];

/** The outer destination of an IPIP frame (Ethernet, then the outer IPv4 header). */
const ipipDestination = (f: Uint8Array) => `${f[30]}.${f[31]}.${f[32]}.${f[33]}`;

afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

function build(scheduler: 'rr' | 'wrr' | 'wlc' | 'mh' = 'rr', syncIntervalMs = 0) {
  const main = fixtureDirector(new FakeDevice({ headroom: 128 }), { hashSeed: 1 });
  const svc = main.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler });
  main.registry.addRealServer(svc, { address: RS1, weight: 1 });
  main.registry.addRealServer(svc, { address: RS2, weight: 1 });
  const ports: PoolPort[] = [];
  const workers: Worker[] = [];
  for (let q = 0; q < QUEUES; q++) {
    const { port1, port2 } = new MessageChannel();
    open.push(port1, port2);
    const device = new FakeDevice({ headroom: 128 });
    const director = fixtureDirector(device, { hashSeed: 10 + q, dipFor: () => 0 });
    const core = new QueueWorkerCore({ director, port: port2 as unknown as CorePort, queue: q, queues: QUEUES, device, onFirstApply: () => director.start() });
    ports.push(port1 as unknown as PoolPort);
    workers.push({ director, device, core });
  }
  const problems: string[] = [];
  const pool = new QueuePool({ director: main, ports, syncIntervalMs, replyTimeoutMs: 5000, onProblem: (q, what) => problems.push(`${q}: ${what}`) });
  /** Injects one frame into queue q; returns the RS it was tunnelled to, or the verdict's name. */
  const send = (q: number, frame: Uint8Array): string => {
    const w = workers[q];
    const before = [...w.director.datapath.verdicts];
    w.device.inject([frame]);
    const out = w.device.takeWritten();
    if (out.length === 1 && out[0].bytes.length > 34 && out[0].bytes[23] === 4) return ipipDestination(out[0].bytes);
    const snap = w.director.snapshot().verdicts;
    const i = w.director.datapath.verdicts.findIndex((v, k) => v !== before[k]);
    return Object.keys(snap)[i];
  };
  const servers = (w: Worker) => w.director.registry.list().map((s) => `${s.label} ${s.schedulerName} ${s.servers.filter((r) => !r.removed).map((r) => `${r.addressText}=${r.weight}`).join(',')}`);
  return { main, svc, pool, workers, send, servers, problems };
}

describe('QueuePool: the control plane reaches every queue', () => {
  test('services, servers, weights, timeouts and the default tunnel MTU are mirrored on start and on change', async () => {
    const t = build();
    await t.pool.start();
    for (const w of t.workers) expect(t.servers(w)).toEqual([`tcp:${VIP}:80 rr ${RS1}=1,${RS2}=1`]);
    for (const w of t.workers) expect(w.director.registry.list()[0].servers[0].dip).toBe(parseIpv4(DIP));

    t.main.registry.editRealServer(t.svc, RS2, 7);
    t.main.setTimeouts({ tcp: 42 });
    t.main.datapath.defaultTunnelMtu = 1400;
    t.main.registry.addService({ protocol: 'udp', vip: VIP, port: 53, scheduler: 'wlc' });
    await t.pool.flush();
    for (const w of t.workers) {
      expect(t.servers(w)).toEqual([`tcp:${VIP}:80 rr ${RS1}=1,${RS2}=7`, `udp:${VIP}:53 wlc `]);
      expect(w.director.timeouts.get().tcp).toBe(42);
      expect(w.director.datapath.defaultTunnelMtu).toBe(1400);
    }

    t.main.registry.deleteRealServer(t.svc, RS1);
    t.main.registry.deleteService('udp', VIP, 53);
    t.main.registry.editService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'wlc' });
    await t.pool.flush();
    for (const w of t.workers) expect(t.servers(w)).toEqual([`tcp:${VIP}:80 wlc ${RS2}=7`]);
    expect(t.problems).toEqual([]);
  });

  test('a reconcile (vstunadm, -R, reload) reaches the workers by itself: servicesChanged flushes', async () => {
    const t = build();
    await t.pool.start();
    const config = validateDirectorConfig({
      services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: RS1, weight: 3, upperThreshold: 9 }] }],
    });
    await reconcile(t.main, config.services, 'keep');
    await t.pool.flushSoon();
    for (const w of t.workers) {
      expect(t.servers(w)).toEqual([`tcp:${VIP}:80 rr ${RS1}=3`]);
      // Each queue enforces its share of a director-wide threshold.
      expect(w.director.registry.list()[0].servers[0].upperThreshold).toBe(thresholdShare(9, QUEUES));
    }
    expect(thresholdShare(9, 2)).toBe(5);
    expect(thresholdShare(0, 2)).toBe(0);
  });

  test('a change nobody announces (a slow-start weight, a learned path MTU) is picked up by the periodic check', async () => {
    const t = build('rr', 10);
    await t.pool.start();
    t.svc.servers[0].weight = 5;
    t.svc.servers[1].pathMtu = 1300;
    const seen = () => t.workers.every((w) => w.director.registry.list()[0].servers[0].weight === 5 && w.director.registry.list()[0].servers[1].pathMtu === 1300);
    for (let i = 0; i < 500 && !seen(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen()).toBe(true);
    await t.pool.stop();
  });

  test('a table with a VS/NAT or VS/DR server is refused while queues run, whole, with a clear error', async () => {
    const t = build();
    await t.pool.start();
    const config = validateDirectorConfig({
      services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: RS1 }, { address: RS2, forward: 'masq' }] }],
    });
    await expect(reconcile(t.main, config.services, 'keep')).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED', message: expect.stringContaining('--queues 1') });
    expect(t.servers({ director: t.main } as never)).toEqual([`tcp:${VIP}:80 rr ${RS1}=1,${RS2}=1`]);
    expect(singleQueueReason(config.services, false)).toContain('VS/NAT');
    expect(singleQueueReason([], true)).toContain('VS/DR');
    expect(singleQueueReason(validateDirectorConfig({ services: [{ protocol: 'tcp', vip: VIP, port: 80, realServers: [{ address: RS1 }] }] }).services, false)).toBeNull();
  });

  test('rr goes round once for the whole director: flows alternate servers whichever queue they arrive on', async () => {
    const t = build('rr');
    await t.pool.start();
    const queueOf = [0, 0, 1, 0, 1, 1, 1, 0, 0, 1];
    const picks = queueOf.map((q, k) => t.send(q, tcpFrame({ sport: 40000 + k, flags: SYN })));
    expect(picks.filter((p) => p === RS1).length).toBe(5);
    for (let k = 1; k < picks.length; k++) expect(picks[k]).not.toBe(picks[k - 1]);
  });

  test('wrr gives IPVS\'s interleaved sequence for the whole director, whichever queue flows arrive on', async () => {
    const t = build('wrr');
    await t.pool.start();
    t.main.registry.editRealServer(t.svc, RS2, 2);
    await t.pool.flush();
    const queueOf = [1, 0, 0, 1, 1, 0, 1, 0, 1];
    const picks = queueOf.map((q, k) => t.send(q, tcpFrame({ sport: 41000 + k, flags: SYN })));
    // Weights 1:2 → RS2, RS1, RS2 each period.
    expect(picks).toEqual([RS2, RS1, RS2, RS2, RS1, RS2, RS2, RS1, RS2]);
  });

  test('a connection policy (expire) empties the failed server\'s entries on every queue', async () => {
    const t = build();
    await t.pool.start();
    for (let q = 0; q < QUEUES; q++) for (let k = 0; k < 4; k++) t.send(q, tcpFrame({ sport: 41000 + 10 * q + k, flags: SYN }));
    const rs1 = t.svc.servers[0];
    // What the health binding does when RS1 fails with onFailure: expire.
    rs1.weight = 0;
    t.svc.refresh();
    t.main.applyNodestPolicy(rs1, 'expire');
    await t.pool.flushSoon();
    for (const w of t.workers) {
      expect(w.director.connections().map((c) => c.realServer)).not.toContain(RS1);
      expect(w.director.connections().length).toBeGreaterThan(0);
    }
    // A SYN now never picks RS1 on any queue.
    for (let q = 0; q < QUEUES; q++) expect(t.send(q, tcpFrame({ sport: 42000 + q, flags: SYN }))).toBe(RS2);
  });

  test('probe pins are shared memory: a pin made on the main thread steers the probe on every queue at once', async () => {
    const t = build();
    const probeSource = parseIpv4('10.77.2.9')!;
    const pins = new ProbePinTable(probeSource, (id) => t.main.registry.servers[id]);
    t.main.datapath.probePins = pins;
    await t.pool.start();
    const rs2 = t.svc.servers[1];
    pins.pin({ protocol: 6, srcPort: 61001, vip: parseIpv4(VIP)!, vipPort: 80 }, rs2);
    // No flush in between: the workers read the slot the main thread just wrote.
    for (let q = 0; q < QUEUES; q++) expect(t.send(q, tcpFrame({ sport: 61001, flags: SYN, src: '10.77.2.9' }))).toBe(RS2);
    expect(t.send(0, tcpFrame({ sport: 61002, flags: SYN, src: '10.77.2.9' }))).toBe('drop-probe-unpinned');
  });
});

describe('QueuePool: counters and connections come back summed', () => {
  test('frames, verdicts, traffic and connection counts of both queues add up in the main Director', async () => {
    const t = build();
    await t.pool.start();
    for (let k = 0; k < 3; k++) t.send(0, tcpFrame({ sport: 43000 + k, flags: SYN }));
    for (let k = 0; k < 5; k++) t.send(1, tcpFrame({ sport: 44000 + k, flags: SYN }));
    t.send(1, tcpFrame({ sport: 44000, flags: ACK })); // one ESTABLISHED
    t.send(0, tcpFrame({ sport: 45000, flags: ACK })); // no entry, rr: dropped
    await t.pool.refresh();
    const s = t.main.snapshot();
    expect(s.framesIn).toBe(10);
    expect(s.verdicts.forward).toBe(9);
    expect(s.verdicts['drop-tcp-not-syn']).toBe(1);
    expect(s.services[0].stats.conns).toBe(8);
    expect(s.services[0].stats.inPkts).toBe(9);
    const rs = s.services[0].realServers;
    expect(rs.reduce((n, r) => n + r.activeConns, 0)).toBe(1);
    expect(rs.reduce((n, r) => n + r.inactConns, 0)).toBe(7);
    expect(rs.reduce((n, r) => n + r.stats.conns, 0)).toBe(8);
    expect(s.connTable.entries).toBe(8);
    expect(s.connTable.capacity).toBe(2 * 4096);
    expect(t.main.tableStats().entries).toBe(8);
    const conns = await t.main.listConnections(100);
    expect(conns.length).toBe(8);
    expect(conns.filter((c) => c.client === CLIENT && c.state === 'ESTABLISHED').length).toBe(1);
    expect((await t.main.listConnections(3)).length).toBe(3);
  });

  test('explain answers from the queue that holds the flow, and passes on a worker\'s error', async () => {
    const t = build();
    await t.pool.start();
    const to = t.send(1, tcpFrame({ sport: 49001, flags: SYN }));
    const e = await t.main.queues!.explain({ protocol: 'tcp', vip: VIP, port: 80 }, { address: CLIENT, port: 49001 });
    expect(e).toMatchObject({ reason: 'connection', server: to });
    const fresh = await t.main.queues!.explain({ protocol: 'tcp', vip: VIP, port: 80 }, { address: CLIENT, port: 49999 });
    expect(fresh.reason).toBe('scheduler');
    expect((await t.main.queues!.explain({ protocol: 'tcp', vip: VIP, port: 81 }, { address: CLIENT, port: 1 })).reason).toBe('no-service');
    await expect(t.main.queues!.explain({ protocol: 'tcp', vip: 'fd00::1', port: 80 }, { address: 'fd00::2', port: 1 })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });

  test('-Z zeroes every queue, and a report sent before the -Z does not bring the counts back', async () => {
    const t = build();
    await t.pool.start();
    for (let q = 0; q < QUEUES; q++) t.send(q, tcpFrame({ sport: 46000 + q, flags: SYN }));
    await t.pool.refresh();
    expect(t.main.snapshot().services[0].stats.inPkts).toBe(2);
    const stale = t.workers[0].core.stats();
    t.main.zeroCounters();
    // A report from before the -Z arriving late: its traffic counts are not merged.
    (t.pool as unknown as { onMessage(q: number, m: unknown): void }).onMessage(0, { t: 'stats', seq: -1, stats: stale });
    expect(t.main.snapshot().services[0].stats.inPkts).toBe(0);
    await t.pool.flush();
    await t.pool.refresh();
    expect(t.main.snapshot().services[0].stats.inPkts).toBe(0);
    for (const w of t.workers) expect(w.director.snapshot().services[0].stats.inPkts).toBe(0);
    t.send(1, tcpFrame({ sport: 47000, flags: SYN }));
    await t.pool.refresh();
    expect(t.main.snapshot().services[0].stats.inPkts).toBe(1);
    // Frame counts are not traffic counters: -Z leaves them.
    expect(t.main.snapshot().framesIn).toBe(3);
  });

  test('a server deleted on the main thread while its entries drain on the queues frees its id there', async () => {
    const t = build();
    await t.pool.start();
    for (let q = 0; q < QUEUES; q++) for (let k = 0; k < 2; k++) t.send(q, tcpFrame({ sport: 48000 + 10 * q + k, flags: SYN }));
    await t.pool.refresh();
    const rs1 = t.svc.servers[0];
    expect(rs1.inactConns).toBeGreaterThan(0);
    t.main.registry.deleteRealServer(t.svc, RS1);
    await t.pool.flush();
    await t.pool.refresh();
    expect(t.main.registry.servers[rs1.id]).toBeUndefined();
    expect(t.main.registry.drainingServers()).toBe(0);
    // On the queues its entries drain (policy keep).
    expect(t.workers.some((w) => w.director.registry.drainingServers() > 0)).toBe(true);
  });

  test('a worker reports on its own only when something moved', async () => {
    const device = new FakeDevice({ headroom: 128 });
    const director = fixtureDirector(device);
    const svc = director.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr' });
    director.registry.addRealServer(svc, { address: RS1 });
    director.start();
    const posted: unknown[] = [];
    const port: CorePort = { postMessage: (m) => void posted.push(m), on: () => undefined };
    const core = new QueueWorkerCore({ director, port, queue: 0, queues: 1, statsIntervalMs: 5 });
    const pushes = () => posted.filter((m) => (m as { t: string; seq: number }).t === 'stats').length;
    const settle = async (n: number) => {
      for (let i = 0; i < 200 && pushes() < n; i++) await new Promise((r) => setTimeout(r, 5));
    };
    await settle(1);
    expect(pushes()).toBe(1);
    await new Promise((r) => setTimeout(r, 60)); // idle: nothing moved
    expect(pushes()).toBe(1);
    device.inject([tcpFrame({ sport: 50000, flags: SYN })]);
    await settle(2);
    expect(pushes()).toBe(2);
    expect(core.stats().framesIn).toBe(1);
    (core as unknown as { handle(m: unknown): void }).handle({ t: 'stop' });
  });

  test('a worker that does not answer is reported, and the pool goes on without it', async () => {
    const main = fixtureDirector(new FakeDevice({ headroom: 128 }));
    const { port1, port2 } = new MessageChannel();
    open.push(port1, port2);
    const problems: string[] = [];
    const pool = new QueuePool({ director: main, ports: [port1 as unknown as PoolPort], syncIntervalMs: 0, replyTimeoutMs: 50, onProblem: (q, what) => problems.push(`${q}: ${what}`) });
    await pool.start();
    expect(problems).toEqual(['0: no answer within 50 ms']);
    expect(main.tableStats().entries).toBe(0);
  });
});
