// vstunadm status | health | pmtu and -L -c -t|-u, in one process against the real control
// socket: status against a director over FakeDevice, health and pmtu against a control
// server answering those ops with the director's shapes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { SYN, tcpFrame, udpFrame, VIP } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { ControlServer } from './control-server.js';
import { runVstunadm } from './vstunadm-run.js';

let t: TestDirector | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const c of cleanups.splice(0)) await c();
});

const run = (socketPath: string, argv: string[]) => runVstunadmWith(['--control', socketPath, ...argv]);

/** vstunadm without --control. */
async function runVstunadmWith(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runVstunadm(argv, { stdout: (x) => (stdout += x), stderr: (x) => (stderr += x), readStdin: async () => '', env: {} });
  return { code, stdout, stderr };
}

const SERVICES = {
  services: [
    { protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', realServers: [{ address: '10.77.3.2' }] },
    { protocol: 'tcp', vip: VIP, port: 443, scheduler: 'rr', realServers: [{ address: '10.77.4.2' }] },
    { protocol: 'udp', vip: VIP, port: 53, scheduler: 'rr', realServers: [{ address: '10.77.5.2' }] },
  ],
};

describe('vstunadm status', () => {
  test('answers from the status op, in text and --json', async () => {
    t = await startTestDirector(SERVICES);
    t.device.inject([tcpFrame({ sport: 40000, flags: SYN, dst: '10.77.0.222' })]);
    const r = await run(t.socketPath, ['status']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vstun-director pid \d+, up \d+ s/);
    expect(r.stdout).toContain('tap:         fake0');
    expect(r.stdout).toContain('services:    3');
    expect(r.stdout).toContain('frames in:   1');
    expect(r.stdout).toContain('drops:       not-vip 1');
    const j = JSON.parse((await run(t.socketPath, ['status', '--json'])).stdout);
    expect(j).toMatchObject({ schema: 'vstun.status/1', daemon: 'vstun-director', services: 3, framesIn: 1 });
    const bad = await run(t.socketPath, ['status', '-n']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("vstunadm: status takes only --json, not '-n' (see vstunadm -h)\n");
  });
});

describe('vstunadm --config FILE (systemd ExecReload)', () => {
  test("finds the socket the YAML names; an invalid file fails before anything is sent", async () => {
    t = await startTestDirector(SERVICES);
    const dir = mkdtempSync(path.join(tmpdir(), 'vstun-admcfg-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const good = path.join(dir, 'good.yaml');
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(good, `director:\n  control: ${t.socketPath}\n`);
    writeFileSync(bad, `director:\n  control: ${t.socketPath}\n  nonsense: 1\n`);
    const ok = await runVstunadmWith(['--config', good, 'status']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('services:    3');
    const r = await runVstunadmWith(['--config', bad, 'reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown key(s) "nonsense"');
    expect(r.stderr).toContain('nothing was sent to the director');
  });
});

describe('vstunadm -L -c -t|-u VIP:PORT', () => {
  test('lists only the connections of that service', async () => {
    t = await startTestDirector(SERVICES);
    t.device.inject([tcpFrame({ sport: 40000, dport: 80, flags: SYN }), tcpFrame({ sport: 40001, dport: 443, flags: SYN }), udpFrame({ sport: 50000, dport: 53 })]);
    const all = (await run(t.socketPath, ['-L', '-n', '-c'])).stdout.split('\n').filter((l) => /^(TCP|UDP) /.test(l));
    expect(all).toHaveLength(3);
    const only = async (argv: string[]) => {
      const r = await run(t!.socketPath, ['-L', '-n', '-c', ...argv]);
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter((l) => /^(TCP|UDP) /.test(l));
    };
    expect(await only(['-t', `${VIP}:443`])).toEqual([expect.stringMatching(new RegExp(`^TCP .*${VIP}:443 +10\\.77\\.4\\.2:443$`))]);
    expect(await only(['-u', `${VIP}:53`])).toEqual([expect.stringMatching(/^UDP .*:53 +10\.77\.5\.2:53$/)]);
    expect(await only(['-t', `${VIP}:53`])).toEqual([]);
    expect(JSON.parse((await run(t.socketPath, ['-L', '-c', '-t', `${VIP}:80`, '--json'])).stdout).connections).toHaveLength(1);
    // Still one listing at a time otherwise.
    expect((await run(t.socketPath, ['-L', '-c', '--timeout'])).code).toBe(2);
  });
});

describe('vstunadm health and pmtu', () => {
  async function fakeDirector(): Promise<string> {
    const dir = mkdtempSync(path.join(tmpdir(), 'vstun-reports-'));
    const server = new ControlServer(path.join(dir, 'd.sock'));
    server
      .register('health', () => ({
        services: [
          {
            serviceId: `tcp:${VIP}:80`,
            quorumUp: true,
            upWeight: 1,
            sorryActive: false,
            servers: [
              { rsId: '10.77.3.2', kind: 'http', state: 'up', configuredWeight: 1, effectiveWeight: 1, lastCheck: { ok: true, detail: 'status 200', latencyMs: 2, at: 0 } },
              { rsId: '10.77.4.2', kind: 'http', state: 'down', configuredWeight: 2, effectiveWeight: 0, lastCheck: { ok: false, detail: 'connect ECONNREFUSED', latencyMs: 1, at: 0 } },
            ],
          },
        ],
        probePins: 0,
        probePacketsForwarded: 0,
      }))
      .register('pmtu', () => ({
        paths: [{ address: '10.77.3.2', configuredMtu: 1500, pathMtu: 1400, effectiveMtu: 1400, fragNeededReports: 2, probesSent: 3, confirmedMtu: 1400 }],
        icmpSeen: 2,
        fragNeededAccepted: 2,
        fragNeededIgnored: 0,
      }))
      // The shape vstun-director's queues op answers (counter-merge.ts summarizeQueue).
      .register('queues', () => ({
        queues: [
          { queue: 0, framesIn: 1204, forwarded: 1150, connections: 12, servers: { [`tcp:${VIP}:80 10.77.3.2`]: { conns: 30, inPkts: 575 }, [`tcp:${VIP}:80 10.77.4.2`]: { conns: 31, inPkts: 575 } } },
          { queue: 1, framesIn: 998, forwarded: 990, connections: 9, servers: { [`tcp:${VIP}:80 10.77.3.2`]: { conns: 25, inPkts: 500 }, [`tcp:${VIP}:80 10.77.4.2`]: { conns: 24, inPkts: 490 } } },
        ],
      }));
    await server.listen();
    cleanups.push(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return path.join(dir, 'd.sock');
  }

  test('health: a row per checked server with state, weights and the last check', async () => {
    const sock = await fakeDirector();
    const r = await run(sock, ['health']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Service             Server     Check  State  Weight(eff/cfg)  Last check',
        `tcp:${VIP}:80  10.77.3.2  http   up     1/1              ok status 200`,
        `tcp:${VIP}:80  10.77.4.2  http   down   0/2              fail connect ECONNREFUSED`,
        '',
      ].join('\n'),
    );
    expect(JSON.parse((await run(sock, ['health', '--json'])).stdout).schema).toBe('vstun.health/1');
  });

  test('pmtu: configured, learned and effective tunnel MTU per server', async () => {
    const sock = await fakeDirector();
    const r = await run(sock, ['pmtu']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toBe('10.77.3.2  1500        1400  1400       2           3       1400');
    expect(r.stdout).toContain('ICMP seen 2, frag-needed accepted 2, ignored 0');
  });

  test('--queues (or queues): each TAP queue, then each server\'s connections and packets per queue', async () => {
    const sock = await fakeDirector();
    const expected = [
      'Queue  FramesIn  Forwarded  Conns',
      '0      1204      1150       12',
      '1      998       990        9',
      '',
      'Service             Server     Q0 Conns/InPkts  Q1 Conns/InPkts',
      `tcp:${VIP}:80  10.77.3.2  30/575           25/500`,
      `tcp:${VIP}:80  10.77.4.2  31/575           24/490`,
      '',
    ].join('\n');
    for (const word of ['--queues', 'queues']) {
      const r = await run(sock, [word]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected);
    }
    const j = JSON.parse((await run(sock, ['--queues', '--json'])).stdout);
    expect(j.schema).toBe('vstun.queues/1');
    expect(j.queues.map((q: { forwarded: number }) => q.forwarded)).toEqual([1150, 990]);
    const bad = await run(sock, ['--queues', '-n']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("vstunadm: queues takes only --json, not '-n' (see vstunadm -h)\n");
  });

  test('a director without the op is a clear error, exit 1', async () => {
    t = await startTestDirector({});
    const r = await run(t.socketPath, ['pmtu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vstunadm: .*pmtu/);
  });
});
