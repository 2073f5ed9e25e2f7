// What the bulk-through-the-VIP e2e tests share: the lab app's download pattern, sha256 of a
// file, an upload and a download through the VIP with curl (bounded by --max-time), and the
// agent's user-space GRO counters, and the daemons restarted with offloads on or off.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { LAB_APP_HTTP_PORT, startAgent, startDirector, startLabApp, type Daemon, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import type { Lab } from '../../src/lab/vs-lab.js';

/** sha256 of what the lab app serves for GET /bytes/N (a 64 KiB pattern repeated; src/lab/lab-app.ts). */
export function labPatternSha(total: number): string {
  const pattern = Buffer.alloc(64 * 1024, 'vstun lab payload ');
  const h = createHash('sha256');
  for (let left = total; left > 0; left -= pattern.length) h.update(pattern.subarray(0, Math.min(left, pattern.length)));
  return h.digest('hex');
}

export async function fileSha(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** POSTs `file` to the VIP from the client; the server (rs1) must report the same size and sha256. */
export function uploadThroughVip(lab: Lab, file: string, size: number, sha: string, timeoutS: number): void {
  const up = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', String(timeoutS), '-H', 'Expect:', '--data-binary', `@${file}`, `http://${lab.vip}:${LAB_APP_HTTP_PORT}/upload`], (timeoutS + 10) * 1000);
  expect(up.status, `upload: ${up.stderr}`).toBe(0);
  // The server's sha256 of what it received equals the client's of what it sent.
  expect(up.stdout.trim().split(' ')).toEqual(['rs1', String(size), sha]);
}

/** GETs `size` bytes through the VIP into the lab's work dir and checks them against the pattern. */
export async function downloadThroughVip(lab: Lab, tag: string, size: number, timeoutS: number): Promise<void> {
  const file = path.join(lab.workDir, `download-${tag}.bin`);
  const dl = lab.topo.tryExec(lab.client, 'curl', ['-s', '--max-time', String(timeoutS), '-o', file, '-w', '%{http_code}', `http://${lab.vip}:${LAB_APP_HTTP_PORT}/bytes/${size}`], (timeoutS + 10) * 1000);
  expect(dl.stdout, dl.stderr).toBe('200');
  expect(statSync(file).size).toBe(size);
  expect(await fileSha(file)).toBe(labPatternSha(size));
}

/** vstun_agent_gro_total{what} of the agent on the lab's first real server (its --listen 127.0.0.1:9470). */
export function agentGroCounters(lab: Lab): Record<string, number> {
  const text = lab.topo.exec(lab.realServers[0].ns, 'curl', ['-s', '--max-time', '5', 'http://127.0.0.1:9470/metrics']);
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^vstun_agent_gro_total\{what="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The agent, lab app and director of the lab's first real server, restarted with offloads on or off (--offload / --no-offload on both daemons). */
export class BulkDaemons {
  agent: Daemon | undefined;
  app: Daemon | undefined;
  director: DirectorHandle | undefined;

  constructor(private readonly lab: Lab) {}

  /** Stops what runs, then starts the three with `service` (one `services:` entry line). */
  async start(offload: boolean, service: string): Promise<DirectorHandle> {
    await this.stop();
    const rs = this.lab.realServers[0];
    const off = offload ? ['--offload'] : ['--no-offload'];
    this.agent = await startAgent(this.lab, rs, { extraArgs: off });
    this.app = await startLabApp(this.lab, rs);
    this.director = await startDirector(this.lab, { config: ['services:', service, ''].join('\n'), extraArgs: off });
    return this.director;
  }

  /** Stops all three; never throws. */
  async stop(): Promise<void> {
    await this.director?.stop().catch(() => null);
    await this.app?.stop().catch(() => null);
    await this.agent?.stop().catch(() => null);
    this.director = this.app = this.agent = undefined;
  }
}
