// keepalived.conf → the real director, in namespaces. A keepalived.conf for the lab (split
// over an include, as /etc/keepalived/conf.d setups are) is imported by the built vstunadm,
// and the real vstun-director runs the result: the rules (-S) and thresholds (-L
// --thresholds) are what keepalived described, clients are served by both real servers,
// and when one server's agent stops and starts again its notify_down / notify_up and
// the service's quorum_down / quorum_up scripts run (the checks are on each agent's /healthz). Then three of keepalived's own sample
// files are imported and run by the director, whose -S must match the reviewed goldens.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { LAB_APP_HTTP_PORT, REPO_ROOT, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/keepalived');

function vstunadm(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/cli/vstunadm.js'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!canRunNetnsTests())('keepalived.conf imported and run by the real director', () => {
  let lab: Lab;
  let director: DirectorHandle | undefined;
  const agents: Daemon[] = [];
  let events: string;
  const events_ = () => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
  const url = () => `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;

  async function servers(): Promise<Array<{ rsId: string; state: string }>> {
    const r = await director!.control('health');
    return r.services.find((s: { serviceId: string }) => s.serviceId === `tcp:${lab.vip}:${LAB_APP_HTTP_PORT}`).servers;
  }

  beforeAll(async () => {
    lab = buildLab({ prefix: 'tik', realServers: 2 });
    // The checks go to each agent's HTTP endpoint on the real server's own address, as
    // keepalived's would (the lab app listens on the VIP only).
    for (const rs of lab.realServers) {
      agents.push(await startAgent(lab, rs, { listen: `${rs.rip}:9470` }));
      await startLabApp(lab, rs);
    }
    const [rs1, rs2] = lab.realServers;
    events = path.join(lab.workDir, 'events.log');
    const note = (what: string) => `"/bin/sh -c 'echo ${what} >> ${events}'"`;
    mkdirSync(path.join(lab.workDir, 'conf.d'));
    writeFileSync(
      path.join(lab.workDir, 'keepalived.conf'),
      ['! the lab as keepalived would balance it', 'global_defs {', '  router_id LAB', '  lvs_timeouts tcp 900 tcpfin 60 udp 120', '}', 'include conf.d/*.conf', ''].join('\n'),
    );
    writeFileSync(
      path.join(lab.workDir, 'conf.d', 'web.conf'),
      [
        `virtual_server ${lab.vip} ${LAB_APP_HTTP_PORT} {`,
        '  delay_loop 1',
        '  lvs_sched wrr',
        '  lvs_method TUN',
        '  protocol TCP',
        '  quorum 2',
        `  quorum_up ${note('quorum-up')}`,
        `  quorum_down ${note('quorum-down')}`,
        `  real_server ${rs1.rip} ${LAB_APP_HTTP_PORT} {`,
        '    weight 2',
        '    uthreshold 100',
        '    lthreshold 50',
        `    notify_up ${note('rs1-up')}`,
        `    notify_down ${note('rs1-down')}`,
        '    HTTP_GET {',
        '      connect_port 9470',
        '      url {',
        '        path /healthz',
        '        status_code 200',
        '      }',
        '      connect_timeout 1',
        '      retry 0',
        '    }',
        '  }',
        `  real_server ${rs2.rip} ${LAB_APP_HTTP_PORT} {`,
        '    weight 1',
        '    TCP_CHECK {',
        '      connect_port 9470',
        '      connect_timeout 1',
        '      retry 0',
        '    }',
        '    PING_CHECK {',
        '      connect_timeout 1',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await director?.stop(3000);
    for (const a of agents) await a.stop(1000);
    lab?.cleanup();
  });

  it('vstunadm import-keepalived writes a director.yaml, naming what it did not carry', () => {
    const out = path.join(lab.workDir, 'director.yaml');
    const r = vstunadm('import-keepalived', path.join(lab.workDir, 'keepalived.conf'), '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${path.join(lab.workDir, 'keepalived.conf')}:2: global_defs: router_id: ignored (not LVS settings)`);
    expect(r.stderr).toContain('wrote ');
    expect(readFileSync(out, 'utf8')).toContain('upperThreshold: 100');
  });

  it('the real director runs it: -S and -L --thresholds show the keepalived rules', async () => {
    director = await startDirector(lab, { config: readFileSync(path.join(lab.workDir, 'director.yaml'), 'utf8') });
    const [rs1, rs2] = lab.realServers;
    const save = vstunadm('--control', director.controlPath, '-S', '-n');
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toBe(
      [
        `-A -t ${lab.vip}:${LAB_APP_HTTP_PORT} -s wrr`,
        `-a -t ${lab.vip}:${LAB_APP_HTTP_PORT} -r ${rs1.rip}:${LAB_APP_HTTP_PORT} -i -w 2 --tun-type ipip -x 100 -y 50`,
        `-a -t ${lab.vip}:${LAB_APP_HTTP_PORT} -r ${rs2.rip}:${LAB_APP_HTTP_PORT} -i -w 1 --tun-type ipip`,
        '',
      ].join('\n'),
    );
    const list = vstunadm('--control', director.controlPath, '-L', '-n', '--thresholds');
    expect(list.stdout).toMatch(new RegExp(`-> ${rs1.rip.replace(/\./g, '\\.')}:${LAB_APP_HTTP_PORT}\\s+100\\s+50\\s`));
    const timeouts = vstunadm('--control', director.controlPath, '-L', '--timeout');
    expect(timeouts.stdout).toContain('Timeout (tcp tcpfin udp): 900 60 120');
  }, 60_000);

  it('serves clients from both servers once their checks (HTTP; TCP and PING together) pass', async () => {
    await waitFor(async () => (await servers()).every((s) => s.state === 'up'), 30_000, 'both servers up', 200);
    const bodies = curlMany(lab.client, url(), 30);
    expect(bodies.length).toBe(30);
    expect(new Set(bodies)).toEqual(new Set(['rs1', 'rs2']));
  }, 60_000);

  it('runs notify_down and quorum_down when rs1`s agent stops, notify_up and quorum_up when it is back', async () => {
    // Servers start up (no alpha), so quorum (weight 3 >= 2) was gained at start.
    await waitFor(async () => events_().includes('quorum-up'), 10_000, 'quorum-up at start', 100);
    await agents[0].stop(3000);
    await waitFor(async () => events_().includes('rs1-down') && events_().includes('quorum-down'), 15_000, 'rs1-down and quorum-down', 100);
    expect((await servers()).find((s) => s.rsId === lab.realServers[0].rip)?.state).toBe('down');
    expect(new Set(curlMany(lab.client, url(), 10))).toEqual(new Set(['rs2']));
    agents[0] = await startAgent(lab, lab.realServers[0], { listen: `${lab.realServers[0].rip}:9470` });
    await waitFor(async () => events_().filter((e) => e === 'quorum-up').length === 2, 15_000, 'rs1-up and a second quorum-up', 100);
    expect(events_()).toEqual(['quorum-up', 'rs1-down', 'quorum-down', 'rs1-up', 'quorum-up']);
  }, 60_000);

  it.each(['keepalived-doc-sample', 'keepalived-doc-quorum', 'keepalived-doc-virtual_server_group'])(
    'keepalived`s %s, imported, is run by the director with the -S of its golden',
    async (name) => {
      await director?.stop(3000);
      director = undefined;
      const out = path.join(lab.workDir, `${name}.yaml`);
      const r = vstunadm('import-keepalived', path.join(FIXTURES, `${name}.conf`), '-o', out, '--quiet');
      expect(r.code, r.stderr).toBe(0);
      director = await startDirector(lab, { name, config: readFileSync(out, 'utf8') });
      const save = vstunadm('--control', director.controlPath, '-S', '-n');
      expect(save.code, save.stderr).toBe(0);
      expect(save.stdout).toBe(readFileSync(path.join(FIXTURES, 'expected', `${name}.rules`), 'utf8'));
    },
    60_000,
  );
});
