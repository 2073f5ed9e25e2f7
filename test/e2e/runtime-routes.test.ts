// The director host's side of run-time changes (issue 11): the built vstun-director, started
// with no config, routes every VIP that vstunadm adds into its TAP (IPv4 /32 via its link
// address, IPv6 /128 via its link-local fe80::2, IPv6 switched on on the TAP on demand),
// records each route in its state file with the undo, and takes the route away with the
// VIP's last service. A change whose route the host refuses changes nothing at all (the
// listing, the data path, the routes, the state file), and SIGTERM leaves no route behind.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, firstAnswer, startOperatorDirector, startRealServers, tearDown, vipRoutedToTap, vipUrl, curlOnce, type OperatorDirector } from '../support/operator.js';

/** A VIP whose route the host refuses: something else already routes it. */
const TAKEN = '10.70.100.77';
const VIP6_EXTRA = 'fd70:100::77';

describe.skipIf(!canRunNetnsTests())('run-time VIP routes on the director host', () => {
  let lab: Lab;
  let director: OperatorDirector | undefined;
  let daemons: Daemon[] = [];

  const routesIn = (family: '-4' | '-6') => lab.topo.exec(director!.ns, 'ip', [family, 'route', 'show', 'table', 'all'], { allowFail: true });
  // Where startOperatorDirector puts it (--state-file in the lab's directory).
  const stateFile = () => path.join(lab.workDir, `director-${lab.director}.state.json`);
  const stateRoutes = (): string[] => {
    if (!existsSync(stateFile())) return [];
    const records = JSON.parse(readFileSync(stateFile(), 'utf8')) as Array<{ kind: string; spec?: string[] }>;
    return records.filter((r) => r.kind === 'route').map((r) => r.spec![0]);
  };

  beforeAll(async () => {
    lab = buildLab({ prefix: 'rtr', realServers: 1, ipv6: true });
    daemons = await startRealServers(lab, []);
    director = await startOperatorDirector(lab);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('starts with no VIP route, then -A routes an IPv4 and an IPv6 VIP into the TAP with undo records; curl answers over both', async () => {
    const d = director!;
    expect(vipRoutedToTap(lab, d, lab.vip)).toBe(false);
    admOk(d, ['-A', '-t', `${lab.vip}:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `${lab.vip}:80`, '-r', lab.realServers[0].rip, '-i', '-w', '1']);
    admOk(d, ['-A', '-t', `[${lab.vip6}]:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `[${lab.vip6}]:80`, '-r', `[${lab.realServers[0].rip6}]`, '-i', '-w', '1']);
    expect(routesIn('-4')).toMatch(new RegExp(`^${lab.vip.replace(/\./g, '\\.')} via \\S+ dev ${d.tap}`, 'm'));
    expect(routesIn('-6')).toMatch(new RegExp(`^${lab.vip6} via fe80::2 dev ${d.tap}`, 'm'));
    expect(stateRoutes()).toEqual(expect.arrayContaining([`${lab.vip}/32`, `${lab.vip6}/128`]));
    expect(await firstAnswer(lab, vipUrl(lab.vip))).toBe('rs1');
    expect(await firstAnswer(lab, vipUrl(lab.vip6!))).toBe('rs1');
  });

  it('a change whose VIP route the host refuses changes nothing: listing, routes, state file, traffic', async () => {
    const d = director!;
    lab.topo.exec(d.ns, 'ip', ['route', 'add', `${TAKEN}/32`, 'dev', 'lo']);
    const rules = admOk(d, ['-S', '-n']);
    const v4 = routesIn('-4');
    const v6 = routesIn('-6');
    const state = stateRoutes();
    // One -R that deletes the working service and adds one on the taken VIP: neither may happen.
    const r = d.adm(['-R'], `-D -t ${lab.vip}:80\n-A -t ${TAKEN}:80 -s rr\n-a -t ${TAKEN}:80 -r ${lab.realServers[0].rip} -i -w 1\n`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`cannot route a VIP.*${TAKEN.replace(/\./g, '\\.')}.*File exists.*nothing was changed`, 's'));
    const single = d.adm(['-A', '-u', `${TAKEN}:53`, '-s', 'rr']);
    expect(single.status).not.toBe(0);
    expect(admOk(d, ['-S', '-n'])).toBe(rules);
    expect(routesIn('-4')).toBe(v4);
    expect(routesIn('-6')).toBe(v6);
    expect(stateRoutes()).toEqual(state);
    expect(curlOnce(lab, vipUrl(lab.vip), 5)).toBe('rs1');
    lab.topo.exec(d.ns, 'ip', ['route', 'del', `${TAKEN}/32`, 'dev', 'lo']);
  });

  it('a second IPv6 VIP comes and goes with its service; -D of the last service on a VIP removes its route and record', () => {
    const d = director!;
    admOk(d, ['-A', '-u', `[${VIP6_EXTRA}]:53`, '-s', 'rr']);
    expect(vipRoutedToTap(lab, d, VIP6_EXTRA)).toBe(true);
    admOk(d, ['-D', '-u', `[${VIP6_EXTRA}]:53`]);
    expect(vipRoutedToTap(lab, d, VIP6_EXTRA)).toBe(false);
    admOk(d, ['-D', '-t', `[${lab.vip6}]:80`]);
    expect(vipRoutedToTap(lab, d, lab.vip6!)).toBe(false);
    expect(vipRoutedToTap(lab, d, lab.vip)).toBe(true);
    expect(stateRoutes()).toEqual([`${lab.vip}/32`]);
  });

  it('SIGTERM: no VIP route is left and the state file is gone', async () => {
    const d = director!;
    admOk(d, ['-A', '-t', `[${lab.vip6}]:80`, '-s', 'rr']);
    expect(vipRoutedToTap(lab, d, lab.vip6!)).toBe(true);
    expect(await d.stop(5000)).toBe(0);
    const all = routesIn('-4') + routesIn('-6');
    expect(all).not.toContain(lab.vip);
    expect(all).not.toContain(lab.vip6);
    expect(all).not.toContain(d.tap);
    expect(existsSync(stateFile())).toBe(false);
    director = undefined;
  });
});
