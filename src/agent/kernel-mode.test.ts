import { describe, expect, it } from 'vitest';
import type { HostSystem } from '../host/host-changes.js';
import { AgentError } from './agent-error.js';
import { chooseMode, detectKernelIpip } from './kernel-mode.js';

function system(opts: { tunl0: boolean; ipipAdd: boolean }): HostSystem & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    ip(args) {
      log.push(args.join(' '));
      if (args.includes('show')) {
        if (opts.tunl0) return '5: tunl0@NONE: <NOARP> mtu 1480';
        throw new Error('Device "tunl0" does not exist.');
      }
      if (args[0] === 'link' && args[1] === 'add') {
        if (!opts.ipipAdd) throw new Error('Error: Unknown device type.');
        return '';
      }
      if (args[0] === 'link' && args[1] === 'del') return '';
      throw new Error(`unexpected ${args.join(' ')}`);
    },
    readSysctl: () => '0',
    writeSysctl: () => {},
  };
}

describe('detectKernelIpip', () => {
  it('sees tunl0', () => {
    expect(detectKernelIpip({ exists: () => false, system: system({ tunl0: true, ipipAdd: false }) }).available).toBe(true);
  });

  it('sees a loaded module', () => {
    expect(detectKernelIpip({ exists: (p) => p === '/sys/module/ipip', system: system({ tunl0: false, ipipAdd: false }) })).toMatchObject({ available: true });
  });

  it('probes by creating and deleting an ipip link', () => {
    const sys = system({ tunl0: false, ipipAdd: true });
    expect(detectKernelIpip({ exists: () => false, system: sys }).available).toBe(true);
    expect(sys.log.some((l) => l.startsWith('link del vstunprobe'))).toBe(true);
  });

  it('reports why it is unavailable (this kernel: Unknown device type)', () => {
    const s = detectKernelIpip({ exists: () => false, system: system({ tunl0: false, ipipAdd: false }) });
    expect(s.available).toBe(false);
    expect(s.evidence).toMatch(/Unknown device type/);
  });
});

describe('chooseMode', () => {
  const none = { available: false, evidence: 'no ipip' };
  const some = { available: true, evidence: 'tunl0 exists' };

  it('auto picks kernel when available and user space otherwise, saying why', () => {
    expect(chooseMode('auto', some)).toMatchObject({ mode: 'kernel' });
    const c = chooseMode('auto', none);
    expect(c.mode).toBe('userspace');
    expect(c.why).toMatch(/no ipip/);
  });

  it('dr needs no decapsulation, whatever the kernel has', () => {
    expect(chooseMode('dr', none)).toMatchObject({ mode: 'dr', why: expect.stringMatching(/direct routing/) });
    expect(chooseMode('dr', some).mode).toBe('dr');
  });

  it('kernel without the module fails with a typed error naming the fix', () => {
    try {
      chooseMode('kernel', none);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AgentError);
      expect((err as AgentError).code).toBe('AGENT_KERNEL_MODE_UNAVAILABLE');
      expect((err as Error).message).toMatch(/--mode userspace/);
    }
  });

  it('userspace is always honoured', () => {
    expect(chooseMode('userspace', some).mode).toBe('userspace');
  });
});
