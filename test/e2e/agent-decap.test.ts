// vstun-agent end to end: a real application on the VIP inside a real-server namespace,
// IPIP from a scripted director namespace, a client that gets its reply directly (tcpdump
// on the director's link proves the reply did not pass through it), and a spoofer whose
// IPIP is dropped, counted, and never seen by the application.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { canRunNetnsTests, waitFor } from '../support/netns.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'agent');

/** Collects a child's stdout lines. */
function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    out.push(...parts);
  });
  return out;
}

function stderrOf(child: ChildProcess): string[] {
  const out: string[] = [];
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
  return out;
}

describe.skipIf(!canRunNetnsTests())('vstun-agent in namespaces', () => {
  let lab: Lab;
  let rs: string;
  let spoofer: string;
  let app: string[];
  let agentLog: string[];
  let dirDump: string[];
  let rsDump: string[];
  const DUMP_ARGS = ['-l', '-n', '-i', 'eth0', 'ip'];

  beforeAll(async () => {
    lab = buildLab({ prefix: 'agd', realServers: 1 });
    const { topo } = lab;
    rs = lab.realServers[0].ns;
    // A spoofer on its own subnet behind the router: not a director.
    spoofer = topo.ns('spf');
    topo.veth(spoofer, 'eth0', lab.router, 'spf0');
    topo.exec(spoofer, 'ip', ['addr', 'add', '10.70.9.2/24', 'dev', 'eth0']);
    topo.exec(lab.router, 'ip', ['addr', 'add', '10.70.9.1/24', 'dev', 'spf0']);
    topo.exec(spoofer, 'ip', ['route', 'add', 'default', 'via', '10.70.9.1']);

    // Strict reverse-path filtering, as distributions ship it: the agent must relax it, or
    // every decapsulated packet (arriving on vstun-in, answered via eth0) is dropped.
    topo.sysctl(rs, 'net.ipv4.conf.all.rp_filter', 1);
    topo.sysctl(rs, 'net.ipv4.conf.default.rp_filter', 1);
    // The agent in the real server (it puts the VIP on lo and creates vstun-in).
    const agent = topo.spawn(rs, process.execPath, [
      'dist/cli/vstun-agent.js', '--vip', lab.vip, '--director', lab.dip,
      '--state-file', path.join(lab.workDir, 'agent.state.json'), '--listen', '127.0.0.1:9470',
    ], { cwd: root });
    agentLog = lines(agent);
    const agentErr = stderrOf(agent);
    await waitFor(() => topo.tryExec(rs, 'curl', ['-s', '--max-time', '1', 'http://127.0.0.1:9470/healthz']).status === 0, 20_000, `agent healthz (${agentErr.join('')})`);

    // The application on the VIP.
    const appChild = topo.spawn(rs, process.execPath, [path.join(fixtures, 'vip-app.mjs'), lab.vip]);
    app = lines(appChild);
    await waitFor(() => app.some((l) => l.includes('"ready"')), 10_000, 'application on the VIP');

    // The scripted director: the VIP is routed into its TUN, it sends IPIP DIP → RIP.
    topo.sysctl(lab.director, 'net.ipv4.ip_forward', 1);
    const sender = topo.spawn(lab.director, process.execPath, [path.join(fixtures, 'ipip-sender.mjs'), 'forward', '--tun', 'dtun', '--src', lab.dip, '--dst', lab.realServers[0].rip], { cwd: root });
    const senderOut = lines(sender);
    const senderErr = stderrOf(sender);
    await waitFor(() => senderOut.includes('ready'), 10_000, `scripted director (${senderErr.join('')})`);
    topo.exec(lab.director, 'ip', ['route', 'add', `${lab.vip}/32`, 'dev', 'dtun']);

    // Captures: the director host's link, and the real server's link.
    const d1 = topo.spawn(lab.director, 'tcpdump', DUMP_ARGS);
    const d2 = topo.spawn(rs, 'tcpdump', DUMP_ARGS);
    dirDump = lines(d1);
    rsDump = lines(d2);
    const e1 = stderrOf(d1);
    const e2 = stderrOf(d2);
    await waitFor(() => e1.join('').includes('listening') && e2.join('').includes('listening'), 10_000, 'tcpdump');
  });

  afterAll(() => {
    lab?.cleanup();
  });

  const metric = (name: string, label: string): number => {
    const text = lab.topo.exec(rs, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9470/metrics']);
    const m = new RegExp(`^${name}\\{${label}\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };

  it('the client gets the reply from the application on the VIP, and the reply does not pass through the director', async () => {
    const res = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', '5', `http://${lab.vip}/`], 10_000);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^hello from the real server/);
    await waitFor(() => app.some((l) => l.includes('"event":"http"') && l.includes(lab.clientIp)), 3_000, `the application to report the request (${app.join(' | ')})`);
    // Let tcpdump flush its line-buffered output.
    await new Promise((r) => setTimeout(r, 500));
    const vipReply = new RegExp(`IP ${lab.vip.replace(/\./g, '\\.')}\\.80 > ${lab.clientIp.replace(/\./g, '\\.')}\\.`);
    // Requests went through the director, encapsulated toward the real server...
    expect(dirDump.some((l) => l.includes(`${lab.dip} > ${lab.realServers[0].rip}`) && l.includes(`> ${lab.vip}.80`))).toBe(true);
    // ...the replies left the real server straight for the client...
    expect(rsDump.some((l) => vipReply.test(l))).toBe(true);
    // ...and never crossed the director's link.
    expect(dirDump.filter((l) => vipReply.test(l))).toEqual([]);
    expect(metric('vstun_agent_decap_packets_total', `vip="${lab.vip}"`)).toBeGreaterThan(0);
  });

  it('UDP through the director reaches the application (control for the spoofing test)', async () => {
    lab.topo.exec(lab.client, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.send('via director',9999,'${lab.vip}',()=>s.close())`]);
    await waitFor(() => app.some((l) => l.includes('via director')), 5_000, 'UDP via the director');
  });

  it('IPIP from a non-director is dropped, counted, and the application sees nothing', async () => {
    const before = metric('vstun_agent_decap_drops_total', 'reason="non-director-source"');
    const udpBefore = app.filter((l) => l.includes('"event":"udp"')).length;
    const out = lab.topo.exec(spoofer, process.execPath, [path.join(fixtures, 'ipip-sender.mjs'), 'spoof', '--src', '10.70.9.2', '--dst', lab.realServers[0].rip, '--vip', lab.vip, '--port', '9999', '--count', '20'], { timeoutMs: 10_000 });
    expect(JSON.parse(out).sent).toBe(20);
    await waitFor(() => metric('vstun_agent_decap_drops_total', 'reason="non-director-source"') >= before + 20, 5_000, 'spoofed packets counted');
    // The spoofed packets did reach the real server's link (so the drop is the agent's doing).
    await waitFor(() => rsDump.some((l) => l.includes('10.70.9.2 > ') && l.includes(`${lab.vip}.9999`)), 3_000, `the spoofed IPIP on the real server's link (${rsDump.slice(-5).join(' | ')})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(app.filter((l) => l.includes('"event":"udp"')).length).toBe(udpBefore);
    expect(app.some((l) => l.includes('spoof'))).toBe(false);
  });

  it('/healthz is 200 with no problems and /feedback counts established connections to the VIP', () => {
    const code = lab.topo.exec(rs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', 'http://127.0.0.1:9470/healthz']);
    expect(code).toBe('200');
    const fb = JSON.parse(lab.topo.exec(rs, 'curl', ['-s', '--max-time', '3', 'http://127.0.0.1:9470/feedback']));
    expect(fb.establishedConnections).toHaveProperty(lab.vip);
    expect(typeof fb.loadAverage['1m']).toBe('number');
    expect(agentLog.some((l) => l.includes('decapsulating in user space'))).toBe(true);
  });
});
