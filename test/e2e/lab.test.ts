import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, startHttpServer, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

// The lab itself must be right before anything is tested through it: every site reachable
// from the client, and an HTTP server on a real server's VIP answering.
describe.skipIf(!canRunNetnsTests())('namespace lab', () => {
  let lab: Lab;
  beforeAll(() => {
    lab = buildLab({ prefix: 'lab', realServers: 3, ipv6: true });
  });
  afterAll(() => lab?.cleanup());

  it('routes the client to every site over IPv4 and IPv6', () => {
    for (const rs of lab.realServers) {
      const r = lab.topo.tryExec(lab.client, 'ping', ['-c', '1', '-W', '2', rs.rip]);
      expect(r.status, `${rs.rip}: ${r.stderr}`).toBe(0);
      const r6 = lab.topo.tryExec(lab.client, 'ping', ['-6', '-c', '1', '-W', '2', rs.rip6!]);
      expect(r6.status, `${rs.rip6}: ${r6.stderr}`).toBe(0);
    }
  });

  it('serves HTTP on a VIP bound to a real server loopback', async () => {
    const rs = lab.realServers[1];
    lab.topo.exec(rs.ns, 'ip', ['addr', 'add', `${lab.vip}/32`, 'dev', 'lo']);
    lab.topo.exec(rs.ns, 'ip', ['addr', 'add', `${lab.vip6}/128`, 'dev', 'lo']);
    startHttpServer(lab, rs);
    await waitFor(() => lab.topo.tryExec(rs.ns, 'curl', ['-s', '--max-time', '1', `http://${lab.vip}/`]).stdout === 'rs2\n', 5000, 'nginx on the VIP');
    expect(lab.topo.exec(rs.ns, 'curl', ['-s', '--max-time', '2', `http://[${lab.vip6}]/`])).toBe('rs2\n');
  });
});
