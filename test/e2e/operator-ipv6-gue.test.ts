// IPv6 and GUE through vstunadm, as ipvsadm 1.31 spells them, against an empty
// vstun-director started from the built binary: an IPv6 service and servers given as
// [addr]:port with curl over IPv6 through the VIP, IPv4 rules and -C still working once an
// IPv6 service exists (issue 11, bugs 1 and 2), and a GUE real server added with
// `--tun-type gue --tun-port N` whose traffic reaches its agent over GUE, printed by -S as
// ipvsadm's print_tunnel_rule does and by --tun-info as `gue:N:-c`.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, countByServer, curlOnce, firstAnswer, startOperatorDirector, startRealServers, tapRoutes, tearDown, vipRoutedToTap, vipUrl, type OperatorDirector } from '../support/operator.js';

/** The GUE port of rs2's agent: not the default 6080, so --tun-port must be honoured. */
const GUE_PORT = 6081;

describe.skipIf(!canRunNetnsTests())('operator: IPv6 and GUE through vstunadm', () => {
  let lab: Lab;
  let director: OperatorDirector;
  let daemons: Daemon[] = [];
  let vip: string;
  let vip6: string;

  /** The counter of GUE packets rs2's agent received (its /metrics, default listen address, inside its namespace). */
  const gueReceived = (): number => {
    const text = lab.topo.exec(lab.realServers[1].ns, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9470/metrics']);
    const m = /^vstun_agent_decap_received_packets_total\{source="gue"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const b = (a: string) => `[${a}]`;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'oe6', realServers: 2, ipv6: true });
    vip = lab.vip;
    vip6 = lab.vip6!;
    daemons = await startRealServers(lab, [], (rs) => (rs.index === 2 ? ['--gue-port', String(GUE_PORT)] : []));
    director = await startOperatorDirector(lab);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  beforeEach(() => {
    if (director) admOk(director, ['-C']);
  });

  it('-A -t [VIP6]:80 and -a -r [RIP6]:80: curl over IPv6 through the VIP reaches both servers; the /128 goes into the TAP', async () => {
    const [rs1, rs2] = lab.realServers;
    admOk(director, ['-A', '-t', `${b(vip6)}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${b(vip6)}:80`, '-r', `${b(rs1.rip6!)}:80`, '-i']);
    admOk(director, ['-a', '-t', `${b(vip6)}:80`, '-r', b(rs2.rip6!), '-i', '-w', '1']);
    expect(vipRoutedToTap(lab, director, vip6), tapRoutes(lab, director)).toBe(true);
    const list = admOk(director, ['-L', '-n']);
    expect(list).toContain(`TCP  ${b(vip6)}:80 rr\n`);
    expect(list).toMatch(new RegExp(`  -> \\[${rs1.rip6}\\]:80 +Tunnel +1 `));
    expect(list).toMatch(new RegExp(`  -> \\[${rs2.rip6}\\]:80 +Tunnel +1 `));
    expect(await firstAnswer(lab, vipUrl(vip6))).toMatch(/^rs[12]$/);
    const counts = countByServer(curlMany(lab.client, vipUrl(vip6), 20));
    expect(Object.keys(counts).sort()).toEqual(['rs1', 'rs2']);
    expect(counts.rs1 + counts.rs2).toBe(20);
  });

  it('with an IPv6 service present, IPv4 -A/-a, -e, -E -p (-M 128 only), -S/-R and -C all work, and -C removes both routes', async () => {
    const [rs1, rs2] = lab.realServers;
    admOk(director, ['-A', '-t', `${b(vip6)}:80`, '-s', 'wrr']);
    admOk(director, ['-a', '-t', `${b(vip6)}:80`, '-r', `${b(rs1.rip6!)}:80`, '-i']);
    // Issue 11 bug 1: every IPv4 change after an IPv6 service failed on its netmask '128'.
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', rs2.rip, '-i']);
    admOk(director, ['-e', '-t', `${b(vip6)}:80`, '-r', `${b(rs1.rip6!)}:80`, '-i', '-w', '4']);
    // -M on an IPv6 service is a prefix length; vstun keeps IPv6 persistence per client
    // address (README, IPv6), so only 128 is served and a shorter prefix is refused clearly.
    const m64 = director.adm(['-E', '-t', `${b(vip6)}:80`, '-s', 'wrr', '-p', '60', '-M', '64']);
    expect(m64.status).toBe(1);
    expect(m64.stderr).toMatch(/-M/);
    expect(admOk(director, ['-S', '-n'])).not.toContain('-p 60');
    admOk(director, ['-E', '-t', `${b(vip6)}:80`, '-s', 'wrr', '-p', '60', '-M', '128']);
    expect(vipRoutedToTap(lab, director, vip), tapRoutes(lab, director)).toBe(true);
    expect(vipRoutedToTap(lab, director, vip6), tapRoutes(lab, director)).toBe(true);
    expect(await firstAnswer(lab, vipUrl(vip))).toBe('rs2');
    expect(await firstAnswer(lab, vipUrl(vip6))).toBe('rs1');

    const saved = admOk(director, ['-S', '-n']);
    expect(saved).toContain(`-A -t ${b(vip6)}:80 -s wrr -p 60\n`);
    expect(saved).toMatch(new RegExp(`^-a -t \\[${vip6}\\]:80 -r \\[${rs1.rip6}\\]:80 -i -w 4( --tun-type ipip)?$`, 'm'));
    expect(saved).toContain(`-A -t ${vip}:80 -s rr\n`);

    // Issue 11 bug 2: -C failed half-way once an IPv6 service existed.
    admOk(director, ['-C']);
    expect(admOk(director, ['-S', '-n'])).toBe('');
    expect(vipRoutedToTap(lab, director, vip)).toBe(false);
    expect(vipRoutedToTap(lab, director, vip6)).toBe(false);
    expect(curlOnce(lab, vipUrl(vip))).toBeNull();
    expect(curlOnce(lab, vipUrl(vip6))).toBeNull();

    admOk(director, ['-R'], saved);
    expect(admOk(director, ['-S', '-n'])).toBe(saved);
    expect(await firstAnswer(lab, vipUrl(vip6))).toBe('rs1');
    expect(await firstAnswer(lab, vipUrl(vip))).toBe('rs2');
  });

  it('a GUE server added with --tun-type gue --tun-port N gets the traffic over GUE; -S and --tun-info show it; -S restores', async () => {
    const rs2 = lab.realServers[1];
    admOk(director, ['-A', '-t', `${vip}:80`, '-s', 'rr']);
    admOk(director, ['-a', '-t', `${vip}:80`, '-r', `${rs2.rip}:80`, '-i', '--tun-type', 'gue', '--tun-port', String(GUE_PORT)]);
    const before = gueReceived();
    expect(await firstAnswer(lab, vipUrl(vip))).toBe('rs2');
    expect(countByServer(curlMany(lab.client, vipUrl(vip), 10))).toEqual({ rs2: 10 });
    // Each curl is at least 3 packets from the client (SYN, ACK + request, FIN/ACK), all over GUE.
    expect(gueReceived() - before).toBeGreaterThanOrEqual(30);

    const saved = admOk(director, ['-S', '-n']);
    expect(saved).toBe(`-A -t ${vip}:80 -s rr\n-a -t ${vip}:80 -r ${rs2.rip}:80 -i -w 1 --tun-type gue --tun-port ${GUE_PORT} --tun-nocsum\n`);
    const info = admOk(director, ['-L', '-n', '--tun-info']);
    expect(info).toContain('Forward TunnelInfo');
    expect(info).toMatch(new RegExp(`  -> ${rs2.rip.replace(/\./g, '\\.')}:80 +Tunnel +gue:${GUE_PORT}:-c +1 `));

    admOk(director, ['-C']);
    admOk(director, ['-R'], saved);
    expect(admOk(director, ['-S', '-n'])).toBe(saved);
    const again = gueReceived();
    expect(await firstAnswer(lab, vipUrl(vip))).toBe('rs2');
    expect(gueReceived()).toBeGreaterThan(again);
  });
});
