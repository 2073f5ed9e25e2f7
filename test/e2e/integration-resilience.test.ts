// Integration: failures while traffic flows, in one lab for the file — a real server's
// application dies and comes back (health checks take it out and put it back), and the
// director itself restarts under a long-lived TCP transfer (Maglev picks the same real
// server for the mid-flow packets, so the transfer survives).
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { LAB_APP_HTTP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, LAB_PROBE_SOURCE, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('integration: failures under traffic', () => {
  let lab: Lab;
  const apps: Daemon[] = [];
  let director: DirectorHandle | undefined;
  const url = () => `http://${lab.vip}:${LAB_APP_HTTP_PORT}/`;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'irs', realServers: 3 });
    for (const rs of lab.realServers) {
      await startAgent(lab, rs);
      apps.push(await startLabApp(lab, rs));
    }
  });

  afterAll(async () => {
    await director?.stop(3000);
    lab?.cleanup();
  });

  async function runDirector(name: string, scheduler: string, extra?: string): Promise<DirectorHandle> {
    const servers = lab.realServers.map((rs) => ({ address: rs.rip }));
    const config = ['director:', '  connTableSize: 65536', `  probeSource: ${LAB_PROBE_SOURCE}`, 'services:', serviceYaml({ protocol: 'tcp', vip: lab.vip, port: LAB_APP_HTTP_PORT, scheduler, realServers: servers, extra }), ''].join('\n');
    const d = await startDirector(lab, { config, name });
    await waitFor(() => lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '2', url()], 5000).status === 0, 20_000, 'a first answer through the VIP', 200);
    return d;
  }

  it('takes a failed real server out (tunnel health check) and puts it back when it recovers', async () => {
    director = await runDirector('health', 'rr', 'healthCheck: { kind: tunnel, interval: 0.5, timeout: 0.5, rise: 2, fall: 2 }');
    const answersBy = (n: number) => curlMany(lab.client, url(), n, 2);
    await waitFor(() => new Set(answersBy(30)).size === 3, 15_000, 'all three real servers up and answering');

    // rs2's application dies: its VIP port refuses. Within a few check intervals the director stops sending it new flows.
    await apps[1].stop();
    await waitFor(
      () => {
        const a = answersBy(30);
        return a.length === 30 && !a.includes('rs2');
      },
      15_000,
      'every request answered by rs1 and rs3 only',
      200,
    );

    // It comes back: the checks rise and new flows reach it again.
    apps[1] = await startLabApp(lab, lab.realServers[1]);
    await waitFor(
      () => {
        const a = answersBy(30);
        return a.length === 30 && a.includes('rs2');
      },
      15_000,
      'rs2 answering again',
      200,
    );
    await director.stop(3000);
    director = undefined;
  });

  it('a long-lived TCP upload survives a director restart with mh (the new director picks the same real server mid-flow)', async () => {
    director = await runDirector('mh', 'mh');
    const size = 3 * 1024 * 1024;
    const body = randomBytes(size);
    const file = path.join(lab.workDir, 'long-upload.bin');
    writeFileSync(file, body);
    // ~300 KB/s: about ten seconds of data segments from the client through the director.
    const curl: ChildProcess = lab.topo.spawn(lab.client, 'curl', ['-s', '--max-time', '60', '--limit-rate', '300k', '-H', 'Expect:', '--data-binary', `@${file}`, url()]);
    let out = '';
    curl.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((r) => curl.once('exit', (code) => r(code)));

    await new Promise((r) => setTimeout(r, 3000));
    expect(curl.exitCode, 'the upload is still running when the director goes away').toBeNull();
    const before = await director.control('status');
    expect(before.connTable.entries).toBeGreaterThan(0);
    expect(await director.stop(5000)).toBe(0);
    director = await startDirector(lab, {
      config: readFileSync(path.join(lab.workDir, 'mh.yaml'), 'utf8'),
      name: 'mh',
    });
    const restartedWhileRunning = curl.exitCode === null;

    const code = await done;
    expect(restartedWhileRunning, 'the director was back before the upload ended').toBe(true);
    expect(code, `curl exit code (output: ${out})`).toBe(0);
    const [server, length, sha] = out.trim().split(' ');
    expect(server).toMatch(/^rs[123]$/);
    expect(Number(length)).toBe(size);
    expect(sha).toBe(createHash('sha256').update(body).digest('hex'));
    // The new director forwarded the rest of the flow without ever seeing its SYN.
    const after = await director.control('status');
    expect(after.verdicts.forward).toBeGreaterThan(100);
  });
});
