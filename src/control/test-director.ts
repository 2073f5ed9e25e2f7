// A Director over FakeDevice with its control server on a temporary socket, for tests of
// the control plane end to end (vstunadm → socket → ops → registry) without namespaces.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeDevice } from '../device/fake-device.js';
import { Director } from '../director/director.js';
import { parseIpv4 } from '../director/ipv4-text.js';
import { parseMac } from '../wire/ethernet.js';
import { applyConfig, type ControlState } from './config-reload.js';
import { validateDirectorConfig } from './config-loader.js';
import { ControlServer } from './control-server.js';
import { registerDirectorOps } from './director-ops.js';
import { runVstunadm } from './vstunadm-run.js';

export interface TestDirector {
  director: Director;
  device: FakeDevice;
  clock: { now: number };
  state: ControlState;
  socketPath: string;
  /** Runs vstunadm in-process against this director. */
  vstunadm(argv: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** Starts a director with `configYamlObject` (validated like the file) applied. */
export async function startTestDirector(config: unknown = {}, configPath?: string): Promise<TestDirector> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vstun-ctl-'));
  const socketPath = path.join(dir, 'director.sock');
  const device = new FakeDevice({ headroom: 128 });
  const clock = { now: 1_000_000 };
  const cfg = validateDirectorConfig(config);
  const director = new Director({
    device,
    mac: parseMac('02:00:00:77:00:02')!,
    linkAddress: parseIpv4('169.254.77.2')!,
    kernelAddress: parseIpv4('169.254.77.1')!,
    kernelMac: parseMac('02:00:00:77:00:01')!,
    dipFor: () => parseIpv4('10.77.2.1')!,
    connTableCapacity: cfg.director.connTableSize,
    mhTableSize: cfg.director.mhTableSize,
    clock: () => clock.now,
    hashSeed: 12345,
    timers: false,
  });
  const state: ControlState = { configPath, config: validateDirectorConfig({}) };
  applyConfig(director, state, cfg);
  director.start();
  const server = new ControlServer(socketPath);
  registerDirectorOps(server, director, { tap: 'fake0', startedAt: new Date(0).toISOString(), pid: process.pid }, state);
  await server.listen();
  return {
    director,
    device,
    clock,
    state,
    socketPath,
    async vstunadm(argv, stdin = '') {
      let stdout = '';
      let stderr = '';
      const code = await runVstunadm(['--control', socketPath, ...argv], {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        readStdin: async () => stdin,
        env: {},
      });
      return { code, stdout, stderr };
    },
    async close() {
      await server.close();
      director.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
