// `vstun-director --check-config FILE`: validates a config as fully as a start would (the
// schema, then the services through the same reconciler and health binding, on a director
// over a fake device) and describes what a start would do: the host changes (planned
// against the real host, nothing applied) and the services as `vstunadm -S` lists them.
import { FakeDevice } from '../device/fake-device.js';
import { Director } from '../director/director.js';
import { HealthBinding } from '../health/health-binding.js';
import { canonicalIpText } from '../director/address-id.js';
import { NftGuard } from '../director/guard.js';
import { setupDirectorHost } from '../director/host-setup.js';
import { parseIpv4 } from '../director/ipv4-text.js';
import { describeChange, HostChanges } from '../host/host-changes.js';
import { planningHostSystem } from '../host/planning-host-system.js';
import { parseMac } from '../wire/ethernet.js';
import { applyConfig } from './config-reload.js';
import { validateDirectorConfig } from './config-loader.js';
import type { DirectorConfig } from './config-schema.js';
import { adminRules } from './director-ops.js';
import { formatRules } from './ipvsadm-dump.js';

export interface PlanSettings {
  tap: string;
  control: string;
  metrics: string;
  /** false with --no-setup: no host change is planned. */
  setup: boolean;
}

export interface DirectorPlan {
  hostChanges: string[];
  /** ipvsadm -S lines, one per service and real server. */
  rules: string;
  services: number;
  healthChecked: number;
}

/**
 * Checks `config` the way a start applies it; throws the start's own error (VstunadmError,
 * HealthError, DirectorError …) for anything the director would refuse. Never touches
 * the host: host changes are only planned.
 */
export async function planDirector(config: DirectorConfig, s: PlanSettings): Promise<DirectorPlan> {
  const d = config.director;
  const device = new FakeDevice({ headroom: 128 });
  const director = new Director({
    device,
    mac: parseMac(d.mac)!,
    linkAddress: parseIpv4(d.linkAddress)!,
    kernelAddress: parseIpv4(d.kernelAddress)!,
    kernelMac: parseMac('02:00:00:00:00:01')!,
    dipFor: () => 0,
    connTableCapacity: d.connTableSize,
    mhTableSize: d.mhTableSize,
    timers: false,
  });
  try {
    await applyConfig(director, { configPath: undefined, config: validateDirectorConfig({}) }, config);
    // Health config is checked where a start checks it: when a service is bound.
    const health = new HealthBinding({ director, probeSource: d.probeSource, defaultPolicy: d.expireNodestConn, reconcileEveryMs: 0 });
    let healthChecked = 0;
    for (const def of config.services) {
      health.bindService(director.registry.findService(def.protocol, def.vip, def.port), def);
      if (health.snapshot().length > healthChecked) healthChecked++;
    }
    const hostChanges: string[] = [];
    if (s.setup) {
      const changes = new HostChanges(null, planningHostSystem);
      const vips = [...new Set(config.services.map((svc) => canonicalIpText(svc.vip) ?? svc.vip))];
      setupDirectorHost(changes, { tap: s.tap, kernelAddress: d.kernelAddress, linkAddress: d.linkAddress, prefixLength: d.linkPrefixLength, vips, probeSource: d.probeSource }, (p) => planningHostSystem.readSysctl(p));
      if (d.guard.enabled) new NftGuard(s.tap, d.guard).install(changes, vips);
      hostChanges.push(`create TAP ${s.tap} (deleted on exit)`, ...changes.applied.filter((c) => c.kind !== 'link').map(describeChange));
    }
    if (config.bgp) hostChanges.push(`BIRD announces the healthy VIPs: include file ${config.bgp.includeFile}, protocol ${config.bgp.protocol}, control socket ${config.bgp.birdSocket}`);
    return { hostChanges, rules: formatRules(adminRules(director)), services: config.services.length, healthChecked };
  } finally {
    director.stop();
  }
}

/** The plan as the operator reads it. */
export function formatPlan(file: string, s: PlanSettings, plan: DirectorPlan): string {
  const lines = [`${file}: valid`, `TAP ${s.tap}, control socket ${s.control}, metrics and status page on ${s.metrics}`];
  if (!s.setup) lines.push('host changes: none (--no-setup)');
  else {
    lines.push('host changes (all undone on exit):');
    for (const c of plan.hostChanges) lines.push(`  ${c}`);
  }
  lines.push(`services: ${plan.services} (${plan.healthChecked} health-checked), as vstunadm -S lists them:`);
  for (const l of plan.rules.split('\n')) if (l !== '') lines.push(`  ${l}`);
  return `${lines.join('\n')}\n`;
}
