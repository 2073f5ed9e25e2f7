import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunNetnsTests, Topology, waitFor } from '../support/netns.js';

// The DSR blackhole, for real kernels: a real server that is alive on its RIP but has lost
// the VIP from lo. A TCP check to the RIP passes; the tunnel check (a connect from the probe
// source P to VIP:port, pinned to that RS) fails, and the health manager takes the server
// out. Here the director host's kernel route "VIP via RS" stands in for the director
// encapsulating the pinned flow, so the prober and the manager are tested on their own; the
// same check through the real director is in health-failover.test.ts.
//
//   ns "dir"  10.77.0.1 ── veth ── 10.77.0.2  ns "rs"
//   P = 10.77.9.1/32 on lo          VIP 10.77.100.1/32 on lo, TCP server on *:8080
//   route VIP via 10.77.0.2         route P via 10.77.0.1 (P routed back to the director host)

const VIP = '10.77.100.1';
const RIP = '10.77.0.2';
const PROBE_SOURCE = '10.77.9.1';
const dist = (p: string) => pathToFileURL(path.resolve('dist', p)).href;

// Runs in the director namespace: one service per check kind, states printed as JSON lines.
const managerScript = `
import { HealthManager } from '${dist('health/health-manager.js')}';
import { PinnedFlowProber } from '${dist('health/checkers/pinned-flow-prober.js')}';
const pins = [];
const prober = new PinnedFlowProber({
  probeSource: '${PROBE_SOURCE}',
  pinFlow: (flow, rsId) => { pins.push({ ...flow, rsId }); return () => {}; },
  unpinLingerMs: 0,
});
const print = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const consumer = {
  setServerState: (service, rs, state) => print({ service, rs, up: state.up, healthy: state.healthy, reason: state.reason, pins: pins.length }),
  setSorryServer: () => {},
};
const m = new HealthManager({ consumer, tunnelProber: prober, onEvent: (e) => e.type === 'check' && print({ check: e.serviceId, ok: e.result.ok, detail: e.result.detail }) });
const common = { interval: 0.2, timeout: 0.5, rise: 1, fall: 2 };
m.addService('tunnel', { vip: '${VIP}', port: 8080, healthCheck: { kind: 'tunnel', ...common } });
m.addService('tcp', { vip: '${VIP}', port: 8080, healthCheck: { kind: 'tcp', ...common } });
m.addServer('tunnel', 'rs1', { address: '${RIP}', weight: 1 });
m.addServer('tcp', 'rs1', { address: '${RIP}', weight: 1 });
m.start();
setTimeout(() => process.exit(0), 60000).unref();
setInterval(() => {}, 1000);
`;

interface Line {
  service?: string;
  up?: boolean;
  healthy?: boolean;
  reason?: string;
  pins?: number;
  check?: string;
  ok?: boolean;
  detail?: string;
}

describe.skipIf(!canRunNetnsTests())('tunnel health check in namespaces', () => {
  let topo: Topology;
  let dir: string;
  let rs: string;
  let manager: ChildProcess;
  const lines: Line[] = [];
  const latest = (service: string) => lines.filter((l) => l.service === service).at(-1);

  beforeAll(() => {
    topo = new Topology('hlth');
    dir = topo.ns('dir');
    rs = topo.ns('rs');
    topo.veth(dir, 'eth0', rs, 'eth0');
    topo.exec(dir, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'eth0']);
    topo.exec(dir, 'ip', ['addr', 'add', `${PROBE_SOURCE}/32`, 'dev', 'lo']);
    topo.exec(dir, 'ip', ['route', 'add', `${VIP}/32`, 'via', RIP]);
    topo.exec(rs, 'ip', ['addr', 'add', `${RIP}/24`, 'dev', 'eth0']);
    topo.exec(rs, 'ip', ['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    topo.exec(rs, 'ip', ['route', 'add', `${PROBE_SOURCE}/32`, 'via', '10.77.0.1']);
    topo.spawn(rs, process.execPath, ['-e', "require('net').createServer((s) => { s.on('error', () => {}); s.end(); }).listen(8080, '0.0.0.0')"]);
  });
  afterAll(() => {
    topo?.cleanup();
  });

  it('passes both checks while the VIP is on the RS', async () => {
    await waitFor(() => topo.tryExec(dir, 'bash', ['-c', `exec 3<>/dev/tcp/${RIP}/8080`], 2000).status === 0, 10_000, 'the RS TCP server');
    manager = topo.spawn(dir, process.execPath, ['--input-type=module', '-e', managerScript]);
    let buffer = '';
    manager.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const p of parts) lines.push(JSON.parse(p) as Line);
    });
    await waitFor(() => latest('tunnel')?.up === true && latest('tcp')?.up === true, 15_000, 'both services up');
    const tunnelOk = lines.find((l) => l.check === 'tunnel' && l.ok);
    expect(tunnelOk?.detail).toMatch(new RegExp(`from ${PROBE_SOURCE.replace(/\./g, '\\.')}:\\d+: connected to ${VIP.replace(/\./g, '\\.')}:8080`));
    expect(latest('tunnel')!.pins).toBeGreaterThan(0);
  });

  it('marks the RS down by the tunnel check when the VIP leaves its lo, while the TCP check to the RIP still passes', async () => {
    topo.exec(rs, 'ip', ['addr', 'del', `${VIP}/32`, 'dev', 'lo']);
    await waitFor(() => latest('tunnel')?.up === false, 15_000, 'the tunnel check to fail the RS');
    expect(latest('tunnel')).toMatchObject({ healthy: false, reason: 'failed: out of scheduling' });
    // the TCP check kept passing through the blackhole
    const since = lines.findIndex((l) => l.service === 'tunnel' && l.up === false);
    await waitFor(() => lines.slice(since).filter((l) => l.check === 'tcp').length >= 3, 10_000, 'TCP checks after the failure');
    expect(lines.slice(since).filter((l) => l.check === 'tcp').every((l) => l.ok)).toBe(true);
    expect(latest('tcp')?.up).toBe(true);
  });

  it('brings it back when the VIP returns', async () => {
    topo.exec(rs, 'ip', ['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    await waitFor(() => latest('tunnel')?.up === true, 15_000, 'the tunnel check to pass again');
    manager.kill('SIGTERM');
  });
});
