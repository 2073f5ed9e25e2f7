// VS/NAT over IPv6: the textbook LAN with IPv6 addresses (servers fd00::7 and fd00::17, the
// director host fd00::8 as their gateway), `-m` with a port mapping: every reply the client
// sees comes from [VIP6]:80 with a good TCP checksum (IPv6's covers the rewritten addresses),
// on a two-queue director whose queues are steered by client.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { buildMethodLab, type MethodLab } from '../../src/lab/method-lab.js';
import { startCapture, startRipApp, tsharkLines } from '../support/methods.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, countByServer, curlOnce, startOperatorDirector, tearDown, vipUrl, type OperatorDirector } from '../support/operator.js';

describe.skipIf(!canRunNetnsTests())('VS/NAT over IPv6 (-m, one server port-mapped)', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'nat6', nat: 2, dr: 0, tun: 0, ipv6: true });
    const [rs7, rs17] = lab.servers;
    daemons.push(await startRipApp(lab, rs7, rs7.rip6!, 8080));
    daemons.push(await startRipApp(lab, rs17, rs17.rip6!, 80));
    // Two TAP queues: the IPv6 replies meet their requests on one queue through the queue steering (method-nat.test.ts runs one queue).
    director = await startOperatorDirector(lab, { extraArgs: ['--queues', '2'] });
    admOk(director, ['-A', '-t', `[${lab.vip6}]:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `[${lab.vip6}]:80`, '-r', `[${rs7.rip6}]:8080`, '-m']);
    admOk(director, ['-a', '-t', `[${lab.vip6}]:80`, '-r', `[${rs17.rip6}]`, '-m']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('-L -n shows both as Masq; the host steers their replies (one IPv6 rule each)', () => {
    const listing = admOk(director!, ['-L', '-n']);
    expect(listing).toContain('  -> [fd00::7]:8080');
    expect(listing.match(/Masq/g)).toHaveLength(2);
    const rules = lab.topo.exec(director!.ns, 'ip', ['-6', 'rule', 'show']);
    expect(rules).toMatch(/from fd00::7 lookup 7377/);
    expect(rules).toMatch(/from fd00::17 lookup 7377/);
  });

  it('20 curls to [VIP6]: both servers answer by rr, every reply from [VIP6]:80 with a good checksum', async () => {
    const cap = path.join(lab.workDir, 'client6.pcap');
    const capture = await startCapture(lab, lab.router, 'cli0', cap, 'ip6 and tcp');
    const answers: string[] = [];
    try {
      for (let i = 0; i < 20; i++) answers.push(curlOnce(lab, vipUrl(lab.vip6!), 5) ?? 'failed');
    } finally {
      await capture.stop();
    }
    expect(countByServer(answers)).toEqual({ rs1: 10, rs2: 10 });
    expect(tsharkLines(lab, cap, `ipv6.dst == ${lab.clientIp6} and not ipv6.src == ${lab.vip6}`, ['ipv6.src'])).toEqual([]);
    const replies = tsharkLines(lab, cap, `ipv6.src == ${lab.vip6}`, ['tcp.srcport', 'tcp.checksum.status']);
    expect(replies.length).toBeGreaterThanOrEqual(20 * 2);
    // Status 1: tshark verified the checksum and found it good.
    expect(new Set(replies)).toEqual(new Set(['80\t1']));
  });
});
