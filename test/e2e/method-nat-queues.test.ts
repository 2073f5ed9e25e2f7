// VS/NAT and persistence on a multi-queue director: the TAP's queues are steered by an eBPF
// program (src/director/queue-steering.ts) so that a NAT reply (RIP:rport → client) lands on
// the queue of its request and a client's connections stay on one queue. The director runs
// with its default queue count (one per core, at least two here); the services are added
// at run time, so the program is replaced once the NAT servers appear.
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { controlRequest } from '../../src/lab/lab-control.js';
import { buildMethodLab, type MethodLab } from '../../src/lab/method-lab.js';
import { startCapture, startRipApp, tsharkLines } from '../support/methods.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, countByServer, startOperatorDirector, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';

/** Client addresses: with the program's hash, .2, .3, .6, .7 key to queue 0 of 2 and .4, .5 to queue 1. */
const CLIENTS = ['10.200.1.2', '10.200.1.3', '10.200.1.4', '10.200.1.5', '10.200.1.6', '10.200.1.7'];
const PER_CLIENT = 34; // 6 x 34 = 204 connections

interface QueueSummary {
  queue: number;
  framesIn: number;
  forwarded: number;
}

describe.skipIf(!canRunNetnsTests())('VS/NAT and persistence on a multi-queue director (queues steered by client)', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];
  const status = async () => controlRequest(director!.control, { v: 1, op: 'status' });
  const queues = async (): Promise<QueueSummary[]> => (await controlRequest(director!.control, { v: 1, op: 'queues' })).queues;

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'natq', nat: 2, dr: 0, tun: 0 });
    for (const c of CLIENTS.slice(1)) lab.topo.exec(lab.client, 'ip', ['addr', 'add', `${c}/24`, 'dev', 'eth0']);
    const [rs7, rs17] = lab.servers;
    daemons.push(await startRipApp(lab, rs7, rs7.rip, 8080));
    daemons.push(await startRipApp(lab, rs17, rs17.rip, 80));
    // The default queue count (one per core); a one-core machine gets two, which is what is tested.
    director = await startOperatorDirector(lab, { extraArgs: os.availableParallelism() >= 2 ? [] : ['--queues', '2'] });
    admOk(director, ['-A', '-t', `${lab.vip}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', '10.0.0.7:8080', '-m', '-w', '2']);
    admOk(director, ['-a', '-t', `${lab.vip}:80`, '-r', '10.0.0.17', '-m', '-w', '1']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('runs several queues and says their steering program was replaced when the NAT servers came', async () => {
    expect((await queues()).length).toBeGreaterThanOrEqual(2);
    const log = director!.output();
    expect(log).toContain('TAP queues steered by an eBPF program');
    expect(log).toContain('TAP queue steering program replaced');
  });

  it(`${CLIENTS.length * PER_CLIENT} curls from ${CLIENTS.length} client addresses: wrr 2:1, every reply from VIP:80, both queues forward, no NAT reply without its flow`, async () => {
    const before = await queues();
    const clientCap = path.join(lab.workDir, 'clients.pcap');
    const cap = await startCapture(lab, lab.router, 'cli0', clientCap, 'tcp');
    const answers: string[] = [];
    try {
      for (const c of CLIENTS) answers.push(...curlMany(lab.client, vipUrl(lab.vip), PER_CLIENT, 5, c));
    } finally {
      await cap.stop();
    }
    expect(answers).toHaveLength(CLIENTS.length * PER_CLIENT);
    const counts = countByServer(answers);
    expect(Object.keys(counts).sort()).toEqual(['rs1', 'rs2']);
    // wrr 2:1, each queue with its own position: the split is 2:1 within a few per queue.
    expect(Math.abs(counts.rs1 - 2 * counts.rs2)).toBeLessThanOrEqual(6 * before.length);
    // Replies only ever from VIP:80, to every client address.
    const toClients = `ip.dst == 10.200.1.0/24`;
    expect(tsharkLines(lab, clientCap, `${toClients} and not (ip.src == ${lab.vip} and tcp.srcport == 80)`, ['ip.src', 'tcp.srcport'])).toEqual([]);
    const repliedTo = new Set(tsharkLines(lab, clientCap, `${toClients} and ip.src == ${lab.vip}`, ['ip.dst']));
    expect([...repliedTo].sort()).toEqual([...CLIENTS].sort());
    const after = await queues();
    for (let i = 0; i < 2; i++) expect(after[i].forwarded - before[i].forwarded, `queue ${i}: ${JSON.stringify(after)}`).toBeGreaterThan(0);
    const v = (await status()).verdicts as Record<string, number>;
    expect(v['forward-nat-reply'], JSON.stringify(v)).toBeGreaterThanOrEqual(CLIENTS.length * PER_CLIENT * 2);
    expect(v['drop-nat-reply-no-flow'] ?? 0, JSON.stringify(v)).toBe(0);
  });

  it('with persistence (-p), one client\'s many connections (each its own source port) all reach one server; two clients both work', async () => {
    admOk(director!, ['-E', '-t', `${lab.vip}:80`, '-s', 'rr', '-p', '300']);
    // 10.200.1.2 keys to queue 0 and 10.200.1.4 to queue 1 (of 2): each client's template lives on its queue.
    for (const c of ['10.200.1.2', '10.200.1.4']) {
      const answers = curlMany(lab.client, vipUrl(lab.vip), 40, 5, c);
      expect(answers, c).toHaveLength(40);
      expect(Object.keys(countByServer(answers)), `${c}: ${JSON.stringify(countByServer(answers))}`).toHaveLength(1);
    }
    const v = (await status()).verdicts as Record<string, number>;
    expect(v['drop-nat-reply-no-flow'] ?? 0, JSON.stringify(v)).toBe(0);
  });
});
