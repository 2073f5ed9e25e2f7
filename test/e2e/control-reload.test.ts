// Config reload in namespaces: one long-lived TCP connection through the real vstun-director
// (HTTP keep-alive, a request every 300 ms for ~9 s, so client segments cross the director
// the whole time) survives two reloads — SIGHUP, then the reload op through the built
// vstunadm — that add and remove OTHER real servers and another service. The scheduler is
// wrr, not mh: a lost connection entry would drop the client's mid-flow segments
// (drop-tcp-not-syn) and the requests after it would go unanswered.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_APP_HTTP_PORT, REPO_ROOT, startAgent, startDirector, startLabApp, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const REQUESTS = 30;
const GAP_MS = 300;

// The client: one TCP connection, REQUESTS keep-alive requests GAP_MS apart; prints
// {sent, answered, served} and exits 0 only if every request was answered on that connection.
const KEEPALIVE_CLIENT = `
import net from 'node:net';
const [host, port, count, gap] = process.argv.slice(1);
const s = net.connect(Number(port), host);
let sent = 0, buf = '';
const served = [];
const finish = (code) => { console.log(JSON.stringify({ sent, answered: served.length, served })); process.exit(code); };
s.setNoDelay(true);
s.on('connect', () => {
  const tick = () => {
    if (sent >= Number(count)) return;
    s.write('GET /bytes/16 HTTP/1.1\\r\\nHost: vip\\r\\n\\r\\n');
    sent++;
    setTimeout(tick, Number(gap));
  };
  tick();
});
s.on('data', (d) => {
  buf += d.toString('latin1');
  let m;
  while ((m = /x-served-by: (rs\\d+)/i.exec(buf))) { served.push(m[1]); buf = buf.slice(m.index + m[0].length); }
  if (served.length === Number(count)) finish(0);
});
s.on('error', () => finish(2));
s.on('close', () => finish(3));
setTimeout(() => finish(1), Number(count) * Number(gap) + 4000);
`;

describe.skipIf(!canRunNetnsTests())('config reload keeps established connections', () => {
  let lab: Lab;
  let director: DirectorHandle;

  const config = (rips: string[], extra = '') =>
    [
      'director:',
      '  connTableSize: 65536',
      'services:',
      `  - protocol: tcp`,
      `    vip: "${lab.vip}"`,
      `    port: ${LAB_APP_HTTP_PORT}`,
      '    scheduler: wrr',
      `    realServers: [${rips.map((r) => `{ address: "${r}" }`).join(', ')}]`,
      extra,
      '',
    ].join('\n');

  const vstunadm = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/cli/vstunadm.js'), '--control', director.controlPath, ...args], { encoding: 'utf8', timeout: 15_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    lab = buildLab({ prefix: 'crl', realServers: 3 });
    for (const rs of lab.realServers) {
      await startAgent(lab, rs, { listen: `${rs.rip}:9470` });
      await startLabApp(lab, rs);
    }
    director = await startDirector(lab, { config: config([lab.realServers[0].rip]) });
  }, 120_000);

  afterAll(async () => {
    await director?.stop(3000);
    lab?.cleanup();
  });

  it('a long-lived keep-alive connection to rs1 keeps working across a SIGHUP reload and a reload op that add and remove rs2, rs3 and a UDP service', async () => {
    const [rs1, rs2, rs3] = lab.realServers;
    const client: ChildProcess = lab.topo.spawn(lab.client, process.execPath, ['--input-type=module', '-e', KEEPALIVE_CLIENT, lab.vip, String(LAB_APP_HTTP_PORT), String(REQUESTS), String(GAP_MS)]);
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    client.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    try {
      // The connection is established to rs1, the only server.
      await waitFor(
        async () => ((await director.control('connections')).connections as { state: string; realServer: string }[]).some((c) => c.state === 'ESTABLISHED' && c.realServer === rs1.rip),
        10_000,
        'the connection to be ESTABLISHED to rs1',
        100,
      );
      const notSynBefore = (await director.control('status')).verdicts['drop-tcp-not-syn'];

      // Reload 1 (SIGHUP): add rs2 and rs3, and a UDP service.
      writeFileSync(director.configPath, config([rs1.rip, rs2.rip, rs3.rip], `  - { protocol: udp, vip: "${lab.vip}", port: 7, scheduler: rr, realServers: [{ address: "${rs2.rip}" }] }`));
      director.child.kill('SIGHUP');
      await waitFor(() => vstunadm('-S', '-n').stdout.includes(`-a -t ${lab.vip}:${LAB_APP_HTTP_PORT} -r ${rs3.rip}:${LAB_APP_HTTP_PORT} -i -w 1 --tun-type ipip`), 10_000, 'SIGHUP reload applied', 100);
      expect(vstunadm('-S', '-n').stdout).toContain(`-A -u ${lab.vip}:7 -s rr`);
      await new Promise((r) => setTimeout(r, 1500));
      expect(client.exitCode, `connection still in use after the first reload: ${out}`).toBeNull();

      // Reload 2 (the op, through the built vstunadm): remove rs2 and the UDP service, keep rs1 and rs3.
      writeFileSync(director.configPath, config([rs1.rip, rs3.rip]));
      const r = vstunadm('reload');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('reloaded: servicesAdded 0, servicesRemoved 1, servicesChanged 0, serversAdded 0, serversRemoved 1, serversChanged 0\n');
      expect(vstunadm('-S', '-n').stdout).toBe(
        `-A -t ${lab.vip}:${LAB_APP_HTTP_PORT} -s wrr\n-a -t ${lab.vip}:${LAB_APP_HTTP_PORT} -r ${rs1.rip}:${LAB_APP_HTTP_PORT} -i -w 1 --tun-type ipip\n-a -t ${lab.vip}:${LAB_APP_HTTP_PORT} -r ${rs3.rip}:${LAB_APP_HTTP_PORT} -i -w 1 --tun-type ipip\n`,
      );
      expect(client.exitCode, 'connection still in use after the second reload').toBeNull();

      // Every request on the one connection was answered, all by rs1, and no mid-flow packet was dropped for lack of an entry.
      const code = await exited;
      expect(code, out).toBe(0);
      const result = JSON.parse(out.trim().split('\n').pop()!) as { sent: number; answered: number; served: string[] };
      expect(result.answered).toBe(REQUESTS);
      expect(new Set(result.served)).toEqual(new Set(['rs1']));
      expect((await director.control('status')).verdicts['drop-tcp-not-syn']).toBe(notSynBefore);
      // New connections use the new set.
      const served = new Set<string>();
      for (let i = 0; i < 6; i++) served.add(lab.topo.exec(lab.client, 'curl', ['-s', '--max-time', '2', '-H', 'Connection: close', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`]).trim());
      expect(served).toEqual(new Set(['rs1', 'rs3']));
    } finally {
      if (client.exitCode === null) client.kill('SIGKILL');
    }
  }, 90_000);

  it('a broken config on SIGHUP changes nothing and the director keeps serving', async () => {
    const before = vstunadm('-S', '-n').stdout;
    writeFileSync(director.configPath, config([lab.realServers[0].rip, '10.0.0.300']));
    director.child.kill('SIGHUP');
    const bad = vstunadm('reload');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('services[0].realServers[1].address: "10.0.0.300" is not an IPv4 or IPv6 address');
    expect(vstunadm('-S', '-n').stdout).toBe(before);
    expect(director.child.exitCode).toBeNull();
    expect(lab.topo.exec(lab.client, 'curl', ['-s', '--max-time', '2', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`]).trim()).toMatch(/^rs[13]$/);
  }, 30_000);
});
