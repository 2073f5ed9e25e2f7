// The shipped systemd units, checked by systemd itself: `systemd-analyze verify` accepts
// both, and `systemd-analyze security --offline=true` rates each at most 5.0 ("OK" or
// better; both were 9.0 UNSAFE before Type=notify and the sandbox). Also the contract the
// README states: readiness through sd_notify, reload through vstunadm (so a bad config
// fails `systemctl reload`), paths from the YAML rather than flags, two capabilities.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNITS = ['vstun-director.service', 'vstun-agent.service'].map((u) => path.join(ROOT, 'systemd', u));
const MAX_EXPOSURE = 5.0;

/** The [Service] settings of a unit: key → values in order. */
function settings(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('systemd units', () => {
  it('systemd-analyze verify accepts both', () => {
    const r = spawnSync('systemd-analyze', ['verify', ...UNITS], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(UNITS)(`systemd-analyze security rates %s at most ${MAX_EXPOSURE}`, (unit) => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    process.stdout.write(`${path.basename(unit)}: exposure ${m![1]} ${m![2]}\n`);
    expect(Number(m![1])).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it.each(UNITS)('%s: Type=notify, two capabilities, a read-only system but /run/vstun', (unit) => {
    const s = settings(unit);
    expect(s.get('Type')).toEqual(['notify']);
    expect(s.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN CAP_NET_RAW']);
    expect(s.get('ProtectSystem')).toEqual(['strict']);
    expect(s.get('ReadWritePaths')).toEqual(['/run/vstun']);
    expect(s.get('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET']);
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(s.get(key), key).toEqual(['yes']);
    // /proc/sys must stay visible and writable: the daemons set net.* sysctls.
    expect(s.has('ProcSubset')).toBe(false);
    expect(s.has('ProtectKernelTunables')).toBe(false);
  });

  it('the director takes its paths from the YAML and reloads through vstunadm', () => {
    const s = settings(UNITS[0]);
    const start = s.get('ExecStart')!.join(' ');
    expect(start).toMatch(/vstun-director\.js --config \/etc\/vstun\/director\.yaml$/);
    expect(start).not.toMatch(/--control|--metrics|--tap/);
    expect(s.get('ExecReload')).toEqual(['/usr/bin/node /opt/vstun/dist/cli/vstunadm.js --config /etc/vstun/director.yaml reload']);
    expect(s.get('ExecStartPre')).toEqual(['/usr/bin/node /opt/vstun/dist/cli/vstun-director.js --check-config /etc/vstun/director.yaml']);
  });
});
