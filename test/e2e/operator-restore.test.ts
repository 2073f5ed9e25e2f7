// Saving and restoring rules the ipvsadm way, and what a reload does to rules made with
// vstunadm, against the built binaries: `vstunadm -S -n > rules`, `-C`, `vstunadm -R < rules`
// brings back the same table, the VIP routes into the TAP and the traffic; an ipvsadm dump in
// the older form (tunnel rows without --tun-type) restores too; a refused -R file changes
// nothing; after kill -9 the next start undoes what the state file recorded. With a config file, SIGHUP
// re-applies the file, as the README documents: vstunadm changes last until the next reload.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { serviceYaml, type Daemon } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';
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

const VIP2 = '10.70.100.11';
/** Only ever in a -R file that is refused: it must never get a route. */
const VIP3 = '10.70.100.12';

describe.skipIf(!canRunNetnsTests())('operator: -S / -R and reloads against the built binaries', () => {
  let lab: Lab;
  let director: OperatorDirector | undefined;
  let daemons: Daemon[] = [];
  let vip: string;
  let rips: string[];

  beforeAll(async () => {
    lab = buildLab({ prefix: 'oer', realServers: 3 });
    vip = lab.vip;
    rips = lab.realServers.map((rs) => rs.rip);
    routeVipToDirectorHost(lab, VIP2);
    daemons = await startRealServers(lab, [VIP2]);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  it('-S, -C, then -R of the saved dump: the same table, the VIP routes back in the TAP, curl works and follows the weights', async () => {
    director = await startOperatorDirector(lab);
    const d = director;
    admOk(d, ['-A', '-t', `${vip}:80`, '-s', 'wrr']);
    admOk(d, ['-a', '-t', `${vip}:80`, '-r', `${rips[0]}:80`, '-i', '-w', '1']);
    admOk(d, ['-a', '-t', `${vip}:80`, '-r', `${rips[1]}:80`, '-i', '-w', '2']);
    admOk(d, ['-A', '-t', `${vip}:443`, '-s', 'rr', '-p', '300', '-M', '255.255.255.0']);
    admOk(d, ['-a', '-t', `${vip}:443`, '-r', rips[2], '-i']);
    admOk(d, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `${VIP2}:80`, '-r', rips[2], '-i', '-w', '5']);
    await firstAnswer(lab, vipUrl(vip));
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs3');

    const saved = admOk(d, ['-S', '-n']);
    expect(saved.split('\n').filter(Boolean)).toHaveLength(7);
    expect(saved).toContain(`-A -t ${vip}:443 -s rr -p 300 -M 255.255.255.0\n`);

    admOk(d, ['-C']);
    expect(admOk(d, ['-S', '-n'])).toBe('');
    expect(vipRoutedToTap(lab, d, vip)).toBe(false);
    expect(vipRoutedToTap(lab, d, VIP2)).toBe(false);
    expect(curlOnce(lab, vipUrl(vip))).toBeNull();

    admOk(d, ['-R'], saved);
    expect(admOk(d, ['-S', '-n'])).toBe(saved);
    expect(vipRoutedToTap(lab, d, vip), tapRoutes(lab, d)).toBe(true);
    expect(vipRoutedToTap(lab, d, VIP2), tapRoutes(lab, d)).toBe(true);
    await firstAnswer(lab, vipUrl(vip));
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs3');
    const counts = countByServer(curlMany(lab.client, vipUrl(vip), 30));
    expect((counts.rs1 ?? 0) + (counts.rs2 ?? 0)).toBe(30);
    // wrr 1:2 gives 10:20; loose bounds.
    expect(counts.rs2).toBeGreaterThan(counts.rs1);
    expect(counts.rs1).toBeGreaterThanOrEqual(5);
  });

  it('-R of a dump in the older form (tunnel rows without --tun-type) restores it, and -S prints it back', async () => {
    const d = director!;
    admOk(d, ['-C']);
    const older = [`-A -t ${VIP2}:80 -s rr`, `-a -t ${VIP2}:80 -r ${rips[0]}:80 -i -w 1`, `-a -t ${VIP2}:80 -r ${rips[1]}:80 -i -w 1`, ''].join('\n');
    admOk(d, ['-R'], older);
    const printed = admOk(d, ['-S', '-n']);
    expect(printed).toMatch(new RegExp(`^-A -t ${VIP2}:80 -s rr\\n`));
    for (const rip of [rips[0], rips[1]]) expect(printed).toMatch(new RegExp(`^-a -t ${VIP2}:80 -r ${rip}:80 -i -w 1( --tun-type ipip)?$`, 'm'));
    // What -S printed restores to itself.
    admOk(d, ['-C']);
    admOk(d, ['-R'], printed);
    expect(admOk(d, ['-S', '-n'])).toBe(printed);
    expect(vipRoutedToTap(lab, d, VIP2), tapRoutes(lab, d)).toBe(true);
    await firstAnswer(lab, vipUrl(VIP2));
    expect(Object.keys(countByServer(curlMany(lab.client, vipUrl(VIP2), 10))).sort()).toEqual(['rs1', 'rs2']);
  });

  it('a -R file with a bad line changes nothing: no rule, no VIP route, the traffic stays', async () => {
    const d = director!;
    const before = admOk(d, ['-S', '-n']);
    const routesBefore = tapRoutes(lab, d);
    // A valid new VIP first, then a line the director must refuse (no such service).
    const file = [`-A -t ${VIP3}:80 -s rr`, `-a -t ${VIP3}:80 -r ${rips[0]} -i`, `-a -t ${VIP3}:8080 -r ${rips[1]} -i`, ''].join('\n');
    const r = d.adm(['-R'], file);
    expect(r.status, r.stdout).not.toBe(0);
    expect(r.stderr).toMatch(/\S/);
    expect(admOk(d, ['-S', '-n'])).toBe(before);
    expect(vipRoutedToTap(lab, d, VIP3)).toBe(false);
    expect(tapRoutes(lab, d)).toBe(routesBefore);
    // A syntax error too.
    const s = d.adm(['-R'], `-A -t ${VIP3}:80 -s rr\n-a -t ${VIP3}:80 -r 10.71.3.300 -i\n`);
    expect(s.status).not.toBe(0);
    expect(admOk(d, ['-S', '-n'])).toBe(before);
    expect(vipRoutedToTap(lab, d, VIP3)).toBe(false);
    expect(curlOnce(lab, vipUrl(VIP2))).toMatch(/^rs[12]$/);
  });

  it('kill -9 with run-time VIPs recorded in the state file: the next start recovers and begins empty', async () => {
    let d = director!;
    admOk(d, ['-C']);
    admOk(d, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `${VIP2}:80`, '-r', rips[0], '-i']);
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs1');
    // The run-time route is in the state file, with its undo, before it is on the host.
    expect(readFileSync(d.stateFile, 'utf8')).toContain(VIP2);
    d.child.kill('SIGKILL');
    await waitFor(() => d.child.exitCode !== null || d.child.signalCode !== null, 10_000, 'the director to die');
    director = d = await startOperatorDirector(lab);
    expect(admOk(d, ['-S', '-n'])).toBe('');
    expect(vipRoutedToTap(lab, d, VIP2)).toBe(false);
    expect(readFileSync(d.stateFile, 'utf8')).not.toContain(VIP2);
    expect(curlOnce(lab, vipUrl(VIP2))).toBeNull();
    // And it works as before.
    admOk(d, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `${VIP2}:80`, '-r', rips[1], '-i']);
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs2');
  });

  it('SIGHUP with a config file while vstunadm changes are live: the file is applied again, as documented', async () => {
    await director?.stop(5000);
    const config = ['services:', serviceYaml({ protocol: 'tcp', vip, port: 80, scheduler: 'rr', realServers: [{ address: rips[0] }, { address: rips[1] }] }), ''].join('\n');
    director = await startOperatorDirector(lab, { config });
    const d = director;
    const fromFile = admOk(d, ['-S', '-n']);
    expect(fromFile).toContain(`-A -t ${vip}:80 -s rr\n`);
    await firstAnswer(lab, vipUrl(vip));

    // Live changes with vstunadm: a new VIP, one file server deleted, a weight edited.
    admOk(d, ['-A', '-t', `${VIP2}:80`, '-s', 'rr']);
    admOk(d, ['-a', '-t', `${VIP2}:80`, '-r', rips[2], '-i']);
    admOk(d, ['-d', '-t', `${vip}:80`, '-r', rips[1]]);
    admOk(d, ['-e', '-t', `${vip}:80`, '-r', rips[0], '-i', '-w', '7']);
    expect(await firstAnswer(lab, vipUrl(VIP2))).toBe('rs3');
    expect(countByServer(curlMany(lab.client, vipUrl(vip), 6))).toEqual({ rs1: 6 });

    d.child.kill('SIGHUP');
    await waitFor(() => d.output().includes('config reloaded (SIGHUP)') || d.output().includes('reload failed'), 10_000, 'the SIGHUP reload to be logged', 100);
    expect(d.output()).not.toContain('reload failed');
    // The file again, and only the file: the run-time VIP, its route and its traffic are gone.
    expect(admOk(d, ['-S', '-n'])).toBe(fromFile);
    expect(vipRoutedToTap(lab, d, VIP2), tapRoutes(lab, d)).toBe(false);
    expect(vipRoutedToTap(lab, d, vip), tapRoutes(lab, d)).toBe(true);
    expect(curlOnce(lab, vipUrl(VIP2))).toBeNull();
    expect(Object.keys(countByServer(curlMany(lab.client, vipUrl(vip), 10))).sort()).toEqual(['rs1', 'rs2']);
    expect(d.child.exitCode).toBeNull();
  });
});
