// Integration: an IPv6 VIP end to end — client → router → director host → IPv6-in-IPv6 to
// real servers on IPv6 sites → replies from the VIP straight to the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlMany } from '../../src/lab/curl-many.js';
import { LAB_APP_HTTP_PORT, serviceYaml, startAgent, startDirector, startLabApp, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('integration: IPv6 VIP', () => {
  let lab: Lab;
  let director: DirectorHandle | undefined;

  beforeAll(async () => {
    lab = buildLab({ prefix: 'iv6', realServers: 2, ipv6: true });
    for (const rs of lab.realServers) {
      await startAgent(lab, rs);
      await startLabApp(lab, rs);
    }
    const servers = lab.realServers.map((rs) => ({ address: rs.rip6!, weight: 1 }));
    const config = ['director:', '  connTableSize: 65536', 'services:', serviceYaml({ protocol: 'tcp', vip: lab.vip6!, port: LAB_APP_HTTP_PORT, scheduler: 'rr', realServers: servers }), ''].join('\n');
    // The director serves IPv6 VIPs: a refusal is a failure, never a skip.
    director = await startDirector(lab, { config });
  });

  afterAll(async () => {
    await director?.stop(3000);
    lab?.cleanup();
  });

  it('serves HTTP on an IPv6 VIP through the director, from both real servers', async () => {
    const url = `http://[${lab.vip6}]:${LAB_APP_HTTP_PORT}/`;
    await waitFor(() => lab.topo.tryExec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '2', url], 5000).status === 0, 20_000, 'a first answer from the IPv6 VIP', 200);
    const answers = curlMany(lab.client, url, 60);
    expect(answers.length).toBe(60);
    expect(answers.filter((a) => a === 'rs1').length).toBe(30);
    expect(answers.filter((a) => a === 'rs2').length).toBe(30);
  });
});
