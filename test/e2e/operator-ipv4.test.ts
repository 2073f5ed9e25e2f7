// The ipvsadm tutorial, run against vstun as a new operator would: vstun-director started
// with no config at all, then every rule added, edited and removed at run time with the
// built vstunadm, checked from outside — curl from the client through the VIP, and the
// director host's own `ip route`, where a VIP must be routed into the TAP exactly while a
// service uses it (issue 11: a run-time VIP used to get no route and traffic looped).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests } from '../support/netns.js';
import {
  admOk,
  countByServer,
  curlOnce,
  firstAnswer,
  routeVipToDirectorHost,
  startOperatorDirector,
  startRealServers,
  tapRoutes,
  tearDown,
  vipRoutedToTap,
  vipUrl,
  type OperatorDirector,
} from '../support/operator.js';

/** A second VIP, added only at run time; the lab's router sends it to the director host. */
const VIP2 = '10.70.100.11';

describe.skipIf(!canRunNetnsTests())('operator, IPv4: an empty director driven with vstunadm', () => {
  let lab: Lab;
  let director: OperatorDirector;
  let daemons: Daemon[] = [];
  let vip: string;
  let rips: string[];

  beforeAll(async () => {
    lab = buildLab({ prefix: 'oe4', realServers: 3 });
    vip = lab.vip;
    rips = lab.realServers.map((rs) => rs.rip);
    routeVipToDirectorHost(lab, VIP2);
    daemons = await startRealServers(lab, [VIP2]);
    director = await startOperatorDirector(lab);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  // Each test starts from an empty table, as the director was at start.
  beforeEach(() => {
    if (director) admOk(director, ['-C']);
  });

  it('starts with an empty table and no VIP route into the TAP', () => {
    const list = admOk(director, ['-L', '-n']);
    expect(list).toMatch(/^IP Virtual Server version \S+ \(size=\d+\)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port +Forward Weight ActiveConn InActConn\n$/);
    expect(admOk(director, ['-S', '-n'])).toBe('');
    expect(vipRoutedToTap(lab, director, vip)).toBe(false);
  });

  it('-A and -a: curl through the VIP reaches every real server; -L -n lists them; the VIP is routed into the TAP', async () => {
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    for (const rip of rips) admOk(director, ['-a', '-t', `${vip}:80`, '-r', `${rip}:80`, '-i', '-w', '1']);
    expect(vipRoutedToTap(lab, director, vip), tapRoutes(lab, director)).toBe(true);
    expect(await firstAnswer(lab, vipUrl(vip))).toMatch(/^rs[123]$/);
    const counts = countByServer(curlMany(lab.client, vipUrl(vip), 30));
    expect(Object.keys(counts).sort()).toEqual(['rs1', 'rs2', 'rs3']);
    // rr gives 10 each; loose bounds.
    for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(7);
    const list = admOk(director, ['-L', '-n']);
    expect(list).toContain(`TCP  ${vip}:80 rr\n`);
    for (const rip of rips) expect(list).toMatch(new RegExp(`  -> ${rip.replace(/\./g, '\\.')}:80 +Tunnel +1 +\\d+ +\\d+ *\\n`));
  });

  it('a second VIP added at run time is routed into the TAP and answers, the first keeps answering', async () => {
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[0], '-i']);
    expect(await firstAnswer(lab, vipUrl(vip))).toBe('rs1');
    expect(vipRoutedToTap(lab, director, VIP2)).toBe(false);
    admOk(director, ['-A', '-t', `${VIP2}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${VIP2}:80`, '-r', rips[1], '-i']);
    expect(vipRoutedToTap(lab, director, VIP2), tapRoutes(lab, director)).toBe(true);
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs2');
    expect(countByServer(curlMany(lab.client, vipUrl(VIP2), 10))).toEqual({ rs2: 10 });
    expect(countByServer(curlMany(lab.client, vipUrl(vip), 10))).toEqual({ rs1: 10 });
  });

  it('-e changes the weights and the split of new connections follows', async () => {
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[0], '-i', '-w', '1']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[1], '-i', '-w', '1']);
    await firstAnswer(lab, vipUrl(vip));
    const even = countByServer(curlMany(lab.client, vipUrl(vip), 40));
    expect(even.rs1 + even.rs2).toBe(40);
    expect(Math.abs(even.rs1 - even.rs2)).toBeLessThanOrEqual(8);

    admOk(director, ['-e', '-t', `${vip}:80`, '-r', rips[0], '-i', '-w', '3']);
    expect(admOk(director, ['-L', '-n'])).toMatch(new RegExp(`  -> ${rips[0].replace(/\./g, '\\.')}:80 +Tunnel +3 `));
    const skewed = countByServer(curlMany(lab.client, vipUrl(vip), 40));
    expect(skewed.rs1 + skewed.rs2).toBe(40);
    // wrr 3:1 gives 30:10; loose bounds.
    expect(skewed.rs1).toBeGreaterThanOrEqual(25);
    expect(skewed.rs2).toBeGreaterThanOrEqual(5);

    // Weight 0 quiesces a server: no new connections at all.
    admOk(director, ['-e', '-t', `${vip}:80`, '-r', rips[1], '-i', '-w', '0']);
    expect(countByServer(curlMany(lab.client, vipUrl(vip), 20))).toEqual({ rs1: 20 });
  });

  it('-d removes a server from the split; -D removes a service and its VIP leaves the TAP, unless another service still uses it', async () => {
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[0], '-i']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[1], '-i']);
    admOk(director, ['-A', '-t', `${vip}:443`, '-s', 'rr']);
    admOk(director, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${VIP2}:80`, '-r', rips[2], '-i']);
    await firstAnswer(lab, vipUrl(vip));
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs3');

    admOk(director, ['-d', '-t', `${vip}:80`, '-r', rips[1]]);
    expect(admOk(director, ['-L', '-n'])).not.toContain(`${rips[1]}:80`);
    expect(countByServer(curlMany(lab.client, vipUrl(vip), 10))).toEqual({ rs1: 10 });

    // VIP:443 goes, VIP:80 stays: the VIP keeps its route.
    admOk(director, ['-D', '-t', `${vip}:443`]);
    expect(vipRoutedToTap(lab, director, vip), tapRoutes(lab, director)).toBe(true);
    expect(curlOnce(lab, vipUrl(vip))).toBe('rs1');

    // VIP2's only service goes: so does its route, and curl to it fails (bounded by --max-time).
    admOk(director, ['-D', '-t', `${VIP2}:80`]);
    expect(vipRoutedToTap(lab, director, VIP2), tapRoutes(lab, director)).toBe(false);
    expect(admOk(director, ['-L', '-n'])).not.toContain(VIP2);
    expect(curlOnce(lab, vipUrl(VIP2))).toBeNull();
    expect(curlOnce(lab, vipUrl(vip))).toBe('rs1');
  });

  it('-C clears everything: the listing is empty, no VIP is routed into the TAP, curl fails within its bound', async () => {
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rips[0], '-i']);
    admOk(director, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${VIP2}:80`, '-r', rips[1], '-i']);
    await firstAnswer(lab, vipUrl(vip));
    await firstAnswer(lab, vipUrl(VIP2));

    admOk(director, ['-C']);
    expect(admOk(director, ['-S', '-n'])).toBe('');
    expect(admOk(director, ['-L', '-n'])).not.toMatch(/^TCP /m);
    expect(vipRoutedToTap(lab, director, vip)).toBe(false);
    expect(vipRoutedToTap(lab, director, VIP2)).toBe(false);
    expect(tapRoutes(lab, director)).not.toMatch(/10\.70\.100\.1[01]/);
    expect(curlOnce(lab, vipUrl(vip))).toBeNull();
    expect(curlOnce(lab, vipUrl(VIP2))).toBeNull();
    expect(director.child.exitCode).toBeNull();
  });

  it('--no-setup: run-time VIPs change nothing on the host, as documented', async () => {
    // A bare namespace of its own: only the director's TAP may appear there.
    const bare = lab.topo.ns('nos');
    const other = await startOperatorDirector(lab, { ns: bare, extraArgs: ['--no-setup'] });
    try {
      admOk(other, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
      admOk(other, ['-a', '-t', `${VIP2}:80`, '-r', rips[0], '-i']);
      expect(admOk(other, ['-S', '-n'])).toContain(`-A -t ${VIP2}:80 -s rr`);
      expect(lab.topo.exec(bare, 'ip', ['route', 'show', 'table', 'all'])).not.toContain(VIP2);
      expect(lab.topo.exec(bare, 'ip', ['-4', 'addr', 'show', 'dev', other.tap])).not.toContain('inet ');
      admOk(other, ['-C']);
      expect(admOk(other, ['-S', '-n'])).toBe('');
    } finally {
      await other.stop(3000);
    }
  });
});
