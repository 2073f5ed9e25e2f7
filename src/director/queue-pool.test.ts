// The multi-queue control plane in one thread: a main Director (the control plane) and two
// worker Directors, each over its own FakeDevice, talking through real MessageChannels as the
// threads do. What the main Director is told reaches both workers; what the workers count
// comes back summed.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { ACK, arpFrame, CLIENT, DIP, DIRECTOR_MAC, ethernet, hex, SYN, tcpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { parseMac } from '../wire/ethernet.js';
import { NeighborMemory } from './neighbor-resolver.js';
import { Verdict } from './verdicts.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { reconcile } from '../control/service-reconciler.js';
import { validateDirectorConfig } from '../control/config-loader.js';
import type { Director } from './director.js';
import { ProbePinTable } from './probe-pins.js';
import { QueuePool, type PoolPort } from './queue-pool.js';
import { QueueSteering } from './queue-steering.js';
import { definitionsOf } from '../control/service-definitions.js';
import { singleQueueReason } from '../control/queue-checks.js';
import { explainFlow } from '../control/flow-explainer.js';
import type { ServiceKey } from '../control/admin-model.js';
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

/**
 * `shareNeighbors`: the main Director and the workers attach one VS/DR neighbour table, as
 * vstun-director sets them up; false: each its own (what a queue had before it was shared).
 */
function build(scheduler: 'rr' | 'wrr' | 'wlc' | 'mh' = 'rr', syncIntervalMs = 0, shareNeighbors = true) {
  const memory = NeighborMemory.create(64);
  const neighborMemory = () => (shareNeighbors ? NeighborMemory.attach(memory.buffer) : undefined);
  const main = fixtureDirector(new FakeDevice({ headroom: 128 }), { hashSeed: 1, neighborMemory: neighborMemory() });
  const svc = main.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler });
  main.registry.addRealServer(svc, { address: RS1, weight: 1 });
  main.registry.addRealServer(svc, { address: RS2, weight: 1 });
  const ports: PoolPort[] = [];
  const workers: Worker[] = [];
  for (let q = 0; q < QUEUES; q++) {
    const { port1, port2 } = new MessageChannel();
    open.push(port1, port2);
    const device = new FakeDevice({ headroom: 128 });
    const director = fixtureDirector(device, { hashSeed: 10 + q, dipFor: () => 0, neighborMemory: neighborMemory() });
    const core = new QueueWorkerCore({ director, port: port2 as unknown as CorePort, queue: q, queues: QUEUES, device, onFirstApply: () => director.start(), explain: (d, x) => ({ ...explainFlow(d, x.service as ServiceKey, x.client) }) });
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

  test('without queue steering, a table with a VS/NAT server is refused while queues run, whole, with a clear error', async () => {
    const t = build();
    await t.pool.start();
    const config = validateDirectorConfig({
      services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: RS1 }, { address: RS2, forward: 'masq' }] }],
    });
    await expect(reconcile(t.main, config.services, 'keep')).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED', message: expect.stringContaining('--queues 1') });
    expect(t.servers({ director: t.main } as never)).toEqual([`tcp:${VIP}:80 rr ${RS1}=1,${RS2}=1`]);
    expect(singleQueueReason(config.services)).toContain('VS/NAT');
    expect(singleQueueReason(validateDirectorConfig({ services: [{ protocol: 'tcp', vip: VIP, port: 80, realServers: [{ address: RS1 }] }] }).services)).toBeNull();
  });

  const DR = '10.77.3.27';
  const DR_MAC = '02:00:00:00:03:1b';
  const drTable = () => validateDirectorConfig({ director: { dr: { bridge: 'brx' } }, services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: DR, forward: 'route' }] }] }).services;
  /** Queue 1 forwards a SYN to the DR server and asks for its MAC; the answer reaches queue 0; then queue 1 forwards again. */
  const drAcrossQueues = async (shareNeighbors: boolean) => {
    const t = build('rr', 0, shareNeighbors);
    await t.pool.start();
    // Accepted while queues run (no --queues 1 any more).
    await reconcile(t.main, drTable(), 'keep');
    await t.pool.flushSoon();
    const [w0, w1] = t.workers;
    const syn = tcpFrame({ sport: 40000, flags: SYN });
    w1.device.inject([syn]);
    const asked = w1.device.takeWritten().map((f) => hex(f.bytes));
    const request = arpFrame({ op: 1, senderMac: DIRECTOR_MAC, senderIp: '0.0.0.0', targetIp: DR });
    request.set(parseMac(DIRECTOR_MAC)!, 6);
    expect(asked).toEqual([hex(request)]);
    w0.device.inject([arpFrame({ op: 2, senderMac: DR_MAC, senderIp: DR, targetMac: DIRECTOR_MAC, targetIp: '0.0.0.0', dst: DIRECTOR_MAC })]);
    w0.device.takeWritten();
    w1.device.inject([syn]);
    const forwarded = w1.device.takeWritten().map((f) => hex(f.bytes));
    return { t, w0, w1, syn, forwarded };
  };

  test('VS/DR on several queues: the server MAC learned on the queue the ARP answer reached serves the queue that asked', async () => {
    const { w0, w1, syn, forwarded } = await drAcrossQueues(true);
    expect(w0.director.datapath.verdicts[Verdict.ArpLearned]).toBe(1);
    expect(forwarded).toEqual([hex(ethernet(syn.subarray(14), { dst: DR_MAC, src: DIRECTOR_MAC }))]);
    // Counted while unresolved, as on one queue.
    expect(w1.director.datapath.verdicts[Verdict.DropNoServerMac]).toBe(1);
    // Queue 0 (which never asked) forwards with it too.
    w0.device.inject([tcpFrame({ sport: 40001, flags: SYN })]);
    expect(w0.device.takeWritten().map((f) => hex(f.bytes.subarray(0, 6)))).toEqual([hex(parseMac(DR_MAC)!)]);
  });

  test('negative control: with a neighbour table per queue, that answer is unsolicited on queue 0 and queue 1 never forwards', async () => {
    const { w0, w1, forwarded } = await drAcrossQueues(false);
    expect(w0.director.datapath.verdicts[Verdict.ArpLearned]).toBe(0);
    expect(w0.director.datapath.neighbors.stats.unsolicited).toBe(1);
    expect(forwarded.filter((f) => !f.startsWith('ffffffffffff'))).toEqual([]);
    expect(w1.director.datapath.verdicts[Verdict.DropNoServerMac]).toBe(2);
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
    const e = await t.main.queues!.explain({ service: { protocol: 'tcp', vip: VIP, port: 80 }, client: { address: CLIENT, port: 49001 } });
    expect(e).toMatchObject({ reason: 'connection', server: to });
    const fresh = await t.main.queues!.explain({ service: { protocol: 'tcp', vip: VIP, port: 80 }, client: { address: CLIENT, port: 49999 } });
    expect(fresh.reason).toBe('scheduler');
    expect((await t.main.queues!.explain({ service: { protocol: 'tcp', vip: VIP, port: 81 }, client: { address: CLIENT, port: 1 } })).reason).toBe('no-service');
    await expect(t.main.queues!.explain({ service: { protocol: 'tcp', vip: 'fd00::1', port: 80 }, client: { address: 'fd00::2', port: 1 } })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });

  test('explain of a flow no queue holds asks the queue the steering program sends it to (queue 0 without steering)', async () => {
    const t = build('wlc');
    await t.pool.start();
    // Queue 0 holds one connection: its wlc now picks the other server; queue 1, with none, the first.
    const busy = t.send(0, tcpFrame({ sport: 48000, flags: SYN }));
    expect(busy).toBe(RS1);
    const ask = (port: number) => t.main.queues!.explain({ service: { protocol: 'tcp', vip: VIP, port: 80 }, client: { address: CLIENT, port } });
    const own = async (q: number, port: number) => explainFlow(t.workers[q].director, { protocol: 'tcp', vip: VIP, port: 80 } as ServiceKey, { address: CLIENT, port }).server;
    expect([await own(0, 1), await own(1, 1)]).toEqual([RS2, RS1]);
    // No steering: queue 0's answer, whatever queue the kernel's hash would pick.
    expect((await ask(1)).server).toBe(RS2);
    // A real QueueSteering (its program built, the kernel's side faked): ports whose flow it sends to each queue.
    const steering = new QueueSteering({ bpfLoadSteering: () => 7, tunSetSteering: () => undefined, closeFd: () => undefined }, 0, QUEUES);
    steering.sync(definitionsOf(t.main));
    t.pool.steering = steering;
    const portTo = (q: number) => Array.from({ length: 64 }, (_, i) => 50000 + i).find((p) => steering.queueOf(CLIENT, p, VIP, 80) === q)!;
    for (const q of [0, 1]) {
      const e = await ask(portTo(q));
      expect(e.reason, `queue ${q}`).toBe('scheduler');
      expect(e.server, `queue ${q}`).toBe(q === 0 ? RS2 : RS1);
    }
    // A flow some queue holds is still answered by that queue.
    expect(await ask(48000)).toMatchObject({ reason: 'connection', server: RS1 });
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
