// Which decapsulator runs: the kernel's ipip module (tunl0) where it exists, otherwise
// ours in user space. The kernels here have no ipip module, so `kernel` must fail clearly.
import { existsSync } from 'node:fs';
import { HostChanges, realHostSystem, type HostSystem } from '../host/host-changes.js';
import { AgentError } from './agent-error.js';

export type RequestedMode = 'auto' | 'kernel' | 'userspace' | 'dr';
/** dr: a VS/DR real server; packets arrive unchanged, addressed to the VIP: nothing to decapsulate. */
export type DecapMode = 'kernel' | 'userspace' | 'dr';

export interface IpipSupport {
  available: boolean;
  /** How we know, for logs and errors. */
  evidence: string;
}

export interface IpipProbe {
  /** True when a path exists (e.g. /sys/module/ipip). */
  exists(path: string): boolean;
  system: HostSystem;
}

const realProbe: IpipProbe = { exists: existsSync, system: realHostSystem };

/**
 * Detects the kernel's IPIP support: tunl0 present or /sys/module/ipip loaded; otherwise it
 * tries to create (and at once delete) an ipip link, which auto-loads the module where
 * it is available as a module.
 */
export function detectKernelIpip(probe: IpipProbe = realProbe): IpipSupport {
  try {
    probe.system.ip(['-o', 'link', 'show', 'dev', 'tunl0']);
    return { available: true, evidence: 'tunl0 exists (the ipip module is loaded)' };
  } catch {
    /* no tunl0: look further */
  }
  if (probe.exists('/sys/module/ipip')) return { available: true, evidence: '/sys/module/ipip exists' };
  const name = `vstunprobe${process.pid % 10000}`;
  const trial = new HostChanges(null, probe.system);
  try {
    trial.addLink(name, ['type', 'ipip', 'remote', '192.0.2.1', 'local', '192.0.2.2']);
  } catch (err) {
    return {
      available: false,
      evidence: `no tunl0, no /sys/module/ipip, and \`ip link add type ipip\` failed (${(err as Error).message.split('\n')[0]})`,
    };
  } finally {
    trial.undoAll();
  }
  return { available: true, evidence: '`ip link add type ipip` works (module loaded on demand)' };
}

/** Picks the mode; throws AGENT_KERNEL_MODE_UNAVAILABLE when kernel is asked for but absent. */
export function chooseMode(requested: RequestedMode, support: IpipSupport): { mode: DecapMode; why: string } {
  if (requested === 'userspace') return { mode: 'userspace', why: '--mode userspace was given' };
  if (requested === 'dr') return { mode: 'dr', why: '--mode dr was given: direct routing delivers the unchanged packet to the VIP on lo, so nothing is decapsulated' };
  if (requested === 'kernel') {
    if (!support.available) {
      throw new AgentError(
        'AGENT_KERNEL_MODE_UNAVAILABLE',
        `--mode kernel needs the kernel's ipip module, and this kernel has none: ${support.evidence}. ` +
          'Use --mode userspace (or auto), which decapsulates in vstun-agent, or load the module with `modprobe ipip`.',
      );
    }
    return { mode: 'kernel', why: `--mode kernel was given and ${support.evidence}` };
  }
  return support.available
    ? { mode: 'kernel', why: `auto: ${support.evidence}, so the kernel decapsulates via tunl0` }
    : { mode: 'userspace', why: `auto: the kernel cannot decapsulate IPIP (${support.evidence}), so vstun-agent does it in user space` };
}
