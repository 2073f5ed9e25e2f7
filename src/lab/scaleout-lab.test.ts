// The BIRD configurations the scale-out lab writes, and the include vstun-director
// generates, are parsed by the real BIRD (`bird -p`: parse only, nothing is started).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { renderVipInclude } from '../bgp/vip-include.js';
import { directorBirdConf, FAST_BGP_TIMERS, requestWindow, routerBirdConf, type BgpTimers, type ClientStatus, type ScaleoutLab } from './scaleout-lab.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vstun-bird-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeLab(timers: BgpTimers): ScaleoutLab {
  const hosts = [1, 2, 3].map((i) => ({
    index: i,
    ns: `ns${i}`,
    dip: `10.70.${20 + i}.2`,
    routerAddress: `10.70.${20 + i}.1`,
    birdDir: dir,
    birdSocket: path.join(dir, `d${i}.ctl`),
    includeFile: path.join(dir, `vips${i}.conf`),
  }));
  return { hosts, routerBirdSocket: path.join(dir, 'router.ctl'), timers } as unknown as ScaleoutLab;
}

function birdParses(conf: string): void {
  const file = path.join(dir, `bird-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, conf);
  execFileSync('bird', ['-p', '-c', file], { timeout: 60_000, stdio: 'pipe' });
}

describe('BIRD accepts what the lab and the director write', () => {
  test.each([
    { description: 'fast timers', timers: FAST_BGP_TIMERS as BgpTimers },
    { description: "BIRD's default timers", timers: null },
  ])('router and director bird.conf, $description', ({ timers }) => {
    const lab = fakeLab(timers);
    for (const h of lab.hosts) writeFileSync(h.includeFile, renderVipInclude('vstun_vips', 'vtso0', ['10.70.100.10', 'fd70:100::10']));
    expect(() => birdParses(routerBirdConf(lab))).not.toThrow();
    expect(routerBirdConf(lab)).toContain('merge paths on');
    for (const h of lab.hosts) expect(() => birdParses(directorBirdConf(lab, h))).not.toThrow();
  });

  test('an empty include (nothing announced) parses too', () => {
    const lab = fakeLab(FAST_BGP_TIMERS);
    writeFileSync(lab.hosts[0].includeFile, renderVipInclude('vstun_vips', 'vtso0', []));
    expect(() => birdParses(directorBirdConf(lab, lab.hosts[0]))).not.toThrow();
  });
});

describe('requestWindow: what the request loop did between two statuses', () => {
  const status = (elapsedMs: number, ok: number, failures: string[], delayed = 0): ClientStatus =>
    ({
      elapsedMs,
      flows: { opened: 0, established: 0, connecting: 0, behind: 0, broken: 0, bytesSent: 0, bytesVerified: 0, byServer: {}, brokenDetails: [] },
      requests: { ok, failed: failures.length, delayed, byServer: {}, failures: failures.map((error, i) => ({ atMs: i, error })) },
    }) as ClientStatus;
  const timeout = (ms: number) => `curl: (28) Connection timed out after ${ms} milliseconds`;

  test('counts the failures of the window, not those before it, and groups their reasons', () => {
    const before = status(1000, 50, [timeout(5001)], 1);
    const after = status(9000, 80, [timeout(5001), timeout(5002), timeout(5000), 'curl: (7) Failed to connect'], 5);
    expect(requestWindow(before, after)).toEqual({
      attempted: 33,
      failed: 3,
      delayed: 4,
      reasons: { 'curl: (28) Connection timed out after N milliseconds': 2, 'curl: (7) Failed to connect': 1 },
    });
  });

  test('a window without failures', () => {
    expect(requestWindow(status(0, 5, []), status(10, 9, []))).toEqual({ attempted: 4, failed: 0, delayed: 0, reasons: {} });
  });

  test('statuses swapped or from different runs are refused', () => {
    expect(() => requestWindow(status(10, 9, []), status(0, 5, []))).toThrow(/out of order/);
    expect(() => requestWindow(status(0, 9, [timeout(1)]), status(10, 5, []))).toThrow(/different client runs/);
  });
});
