// The BIRD configurations the scale-out lab writes, and the include vstun-director
// generates, are parsed by the real BIRD (`bird -p`: parse only, nothing is started).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { renderVipInclude } from '../bgp/vip-include.js';
import { directorBirdConf, FAST_BGP_TIMERS, routerBirdConf, type BgpTimers, type ScaleoutLab } from './scaleout-lab.js';

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
  execFileSync('bird', ['-p', '-c', file], { stdio: 'pipe' });
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
