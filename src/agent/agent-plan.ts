// `vstun-agent --check`: the agent's arguments validated as a start validates them, and
// the plan of what a start would do on this host (decapsulation mode, VIPs on lo, sysctls,
// the TUN, the sockets, the HTTP endpoint), planned against the real host through a
// HostSystem that only reads. Nothing is changed (the mode probe is the one `check` runs).
import { describeChange, HostChanges } from '../host/host-changes.js';
import { planningHostSystem } from '../host/planning-host-system.js';
import type { AgentConfig } from './agent-config.js';
import { resolveUplinks } from './host-checks.js';
import { parseIpAddrJson } from './host-facts.js';
import { applyHostSetup, relaxRpFilter } from './host-setup.js';
import { chooseMode, detectKernelIpip } from './kernel-mode.js';

export interface AgentPlan {
  mode: 'kernel' | 'userspace' | 'dr';
  why: string;
  hostChanges: string[];
  listens: string[];
}

/** Throws the start's own AgentError when the mode asked for is not available. */
export function planAgent(config: AgentConfig): AgentPlan {
  const choice = chooseMode(config.mode, detectKernelIpip());
  const sys = planningHostSystem;
  const read = (k: string) => sys.readSysctl(k);
  const changes = new HostChanges(null, sys);
  const decapDev = choice.mode === 'kernel' ? 'tunl0' : config.tun;
  const hostChanges: string[] = [];
  if (config.setup) {
    const uplinks = resolveUplinks(parseIpAddrJson(sys.ip(['-j', '-d', 'addr', 'show']) || '[]'), config.uplinks, config.tun);
    applyHostSetup(changes, { vips: config.vips, uplinks }, read);
  }
  if (choice.mode === 'userspace') hostChanges.push(`create TUN ${config.tun} (deleted on exit)`);
  if (choice.mode !== 'dr') {
    if (config.setup) relaxRpFilter(changes, [decapDev], read);
    changes.setLinkUp(decapDev);
  }
  hostChanges.push(...changes.applied.map(describeChange));
  const listens: string[] = [];
  if (choice.mode === 'userspace') {
    listens.push('raw IPIP (protocol 4) and IPv6-in-IPv6 (protocol 41) sockets');
    if (config.guePort > 0) listens.push(`GUE on UDP port ${config.guePort}`);
  }
  if (config.listen) listens.push(`HTTP /healthz /feedback /metrics on ${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${config.listen.port}`);
  return { mode: choice.mode, why: choice.why, hostChanges, listens };
}

export function formatAgentPlan(config: AgentConfig, plan: AgentPlan): string {
  const lines = [
    'vstun-agent: the arguments are valid',
    `decapsulation: ${plan.mode} (${plan.why})`,
    plan.mode === 'dr'
      ? `VIPs: ${config.vips.map((v) => v.text).join(', ')}; direct routing: nothing encapsulated is accepted`
      : `VIPs: ${config.vips.map((v) => v.text).join(', ')}; encapsulated packets accepted only from ${config.directors.map((d) => `${d.text}/${d.prefixLength}`).join(', ')}`,
  ];
  if (!config.setup) lines.push('host changes (--no-setup: VIPs and sysctls are yours):');
  else lines.push('host changes (all undone on exit):');
  for (const c of plan.hostChanges) lines.push(`  ${c}`);
  if (plan.hostChanges.length === 0) lines.push('  none: the host already has them');
  lines.push('listens:');
  for (const l of plan.listens) lines.push(`  ${l}`);
  return `${lines.join('\n')}\n`;
}
