// A HostSystem that plans instead of acting, for --check-config and `vstun-agent --check`:
// read-only `ip ... show|get` commands and sysctl reads go to the real host, so the plan
// leaves out what is already in place; every change is recorded by HostChanges (the
// caller lists `changes.applied`) and never carried out. A sysctl that cannot be read
// (e.g. of a TAP that does not exist yet) reads as "absent"; nft rulesets are not loaded.
import { realHostSystem, type HostSystem } from './host-changes.js';

const READ_ONLY = new Set(['show', 'get', 'list']);

export const planningHostSystem: HostSystem = {
  ip(args) {
    if (!args.some((a) => READ_ONLY.has(a))) return '';
    try {
      return realHostSystem.ip(args);
    } catch {
      return ''; // e.g. the device does not exist yet
    }
  },
  readSysctl(p) {
    try {
      return realHostSystem.readSysctl(p);
    } catch {
      return 'absent';
    }
  },
  writeSysctl() {},
  nft() {
    return '';
  },
};
