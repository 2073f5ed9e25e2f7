import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostChanges, type HostSystem } from './host-changes.js';

/** A tiny simulated host: sysctls in a map, addresses/routes/links as sets of strings. */
function simHost(): HostSystem & { sysctls: Map<string, string>; addrs: Set<string>; routes: Set<string>; links: Set<string>; up: Set<string>; log: string[] } {
  const sysctls = new Map([
    ['net/ipv4/ip_forward', '0'],
    ['net/ipv4/conf/all/rp_filter', '1'],
  ]);
  const addrs = new Set<string>();
  const routes = new Set<string>();
  const links = new Set<string>(['lo']);
  const up = new Set<string>();
  const log: string[] = [];
  return {
    sysctls, addrs, routes, links, up, log,
    readSysctl: (p) => {
      const v = sysctls.get(p);
      if (v === undefined) throw new Error('ENOENT');
      return v;
    },
    writeSysctl: (p, v) => {
      if (!sysctls.has(p)) throw new Error('ENOENT');
      sysctls.set(p, v);
    },
    ip: (args) => {
      log.push(args.join(' '));
      const a = args.filter((x) => x !== '-4' && x !== '-6' && x !== '-o');
      if (a[0] === 'addr' && a[1] === 'show') {
        return [...addrs].filter((x) => x.endsWith(`@${a[3]}`)).map((x) => `1: ${a[3]} inet ${x.split('@')[0]} scope host`).join('\n');
      }
      if (a[0] === 'addr' && a[1] === 'add') return (addrs.add(`${a[2]}@${a[4]}`), '');
      if (a[0] === 'addr' && a[1] === 'del') return (addrs.delete(`${a[2]}@${a[4]}`), '');
      if (a[0] === 'route' && a[1] === 'add') {
        if (routes.has(a.slice(2).join(' '))) throw new Error('RTNETLINK answers: File exists');
        return (routes.add(a.slice(2).join(' ')), '');
      }
      if (a[0] === 'route' && a[1] === 'del') {
        if (!routes.delete(a.slice(2).join(' '))) throw new Error('RTNETLINK answers: No such process');
        return '';
      }
      if (a[0] === 'link' && a[1] === 'add') return (links.add(a[2]), '');
      if (a[0] === 'link' && a[1] === 'del') {
        if (!links.delete(a[2])) throw new Error(`Cannot find device "${a[2]}"`);
        return '';
      }
      if (a[0] === 'link' && a[1] === 'show') return `1: ${a[3]}: <${up.has(a[3]) ? 'UP,' : ''}LOOPBACK>`;
      if (a[0] === 'link' && a[1] === 'set') return ((a[3] === 'up' ? up.add(a[2]) : up.delete(a[2])), '');
      throw new Error(`unexpected ip ${args.join(' ')}`);
    },
  };
}

const stateDir = () => mkdtempSync(path.join(tmpdir(), 'vstun-host-'));

describe('HostChanges', () => {
  it('applies and then undoes every change in reverse order, restoring previous values', () => {
    const sys = simHost();
    const hc = new HostChanges(null, sys);
    hc.setSysctl('net.ipv4.ip_forward', 1);
    hc.setSysctl('net.ipv4.conf.all.rp_filter', 1); // already 1: not recorded
    hc.addAddress('lo', '10.9.9.9/32');
    hc.addAddress('lo', '10.9.9.9/32'); // idempotent
    hc.addLink('vt0', ['type', 'dummy']);
    hc.setLinkUp('vt0');
    hc.addRoute(['10.9.9.0/24', 'dev', 'vt0']);
    expect(hc.applied.map((c) => c.kind)).toEqual(['sysctl', 'address', 'link', 'link-up', 'route']);
    expect(sys.sysctls.get('net/ipv4/ip_forward')).toBe('1');
    const report = hc.undoAll();
    expect(report).toEqual({ undone: 5, failed: [] });
    expect(sys.sysctls.get('net/ipv4/ip_forward')).toBe('0');
    expect(sys.addrs.size).toBe(0);
    expect(sys.routes.size).toBe(0);
    expect([...sys.links]).toEqual(['lo']);
    expect(hc.undoAll()).toEqual({ undone: 0, failed: [] });
  });

  it('treats a route or link that vanished with its device as already undone', () => {
    const sys = simHost();
    const hc = new HostChanges(null, sys);
    hc.adoptLink('vstun0');
    hc.addRoute(['10.1.0.0/16', 'dev', 'vstun0']);
    sys.routes.clear(); // the kernel dropped the route when the TAP closed
    expect(hc.undoAll()).toEqual({ undone: 2, failed: [] });
  });

  it('treats a device sysctl whose device is gone as already undone', () => {
    const sys = simHost();
    sys.sysctls.set('net/ipv4/conf/vt0/rp_filter', '1');
    const hc = new HostChanges(null, sys);
    hc.setSysctl('net/ipv4/conf/vt0/rp_filter', 0);
    sys.sysctls.delete('net/ipv4/conf/vt0/rp_filter'); // the TAP closed before undo
    expect(hc.undoAll()).toEqual({ undone: 1, failed: [] });
  });

  it('does not record a change whose command failed, and reports the error', () => {
    const sys = simHost();
    const hc = new HostChanges(null, sys);
    hc.addRoute(['10.2.0.0/16', 'dev', 'x']);
    expect(() => hc.addRoute(['10.2.0.0/16', 'dev', 'x'])).toThrow(/File exists/);
    expect(hc.applied.length).toBe(1);
    expect(() => hc.setSysctl('net.ipv4.nonexistent', 1)).toThrow(/cannot read sysctl net.ipv4.nonexistent/);
  });

  it('recovers after a crash: the next run undoes what the state file records', () => {
    const sys = simHost();
    const file = path.join(stateDir(), 'state.json');
    const crashed = new HostChanges(file, sys);
    crashed.setSysctl('net.ipv4.ip_forward', 1);
    crashed.addAddress('lo', '10.7.7.7/32');
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveLength(2);
    // no undoAll(): the process was killed
    const next = new HostChanges(file, sys);
    expect(next.recover()).toEqual({ undone: 2, failed: [] });
    expect(sys.sysctls.get('net/ipv4/ip_forward')).toBe('0');
    expect(sys.addrs.size).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(next.recover()).toEqual({ undone: 0, failed: [] });
  });

  it('refuses a corrupt state file with a message that says what to do', () => {
    const file = path.join(stateDir(), 'state.json');
    writeFileSync(file, '{not json');
    expect(() => new HostChanges(file, simHost()).recover()).toThrow(/undo its changes by hand and delete it/);
  });
});

describe('HostChanges: one owner per state file', () => {
  /** A live process that is not this one, and its lock text as its owner would write it. */
  function otherOwner() {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return { child, lock: JSON.stringify({ pid: child.pid, start }) };
  }

  it('a second instance on a state file held by a live process refuses, naming --state-file, and leaves its records alone', () => {
    const file = path.join(stateDir(), 'state.json');
    const { child, lock } = otherOwner();
    try {
      writeFileSync(`${file}.lock`, lock);
      writeFileSync(file, JSON.stringify([{ kind: 'link', name: 'theirs' }]));
      const second = new HostChanges(file, simHost());
      expect(() => second.recover()).toThrow(expect.objectContaining({ code: 'HOST_STATE_LOCKED', message: expect.stringMatching(/running instance \(pid \d+.*--state-file PATH/) }));
      expect(() => second.addRoute(['10.9.0.0/16', 'dev', 'x'])).toThrow(/--state-file/);
      second.undoAll();
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(`${file}.lock`, 'utf8')).toBe(lock);
    } finally {
      child.kill();
    }
  });

  it('a lock left by a dead process (kill -9) is taken over; a clean exit releases it', async () => {
    const file = path.join(stateDir(), 'state.json');
    const { child, lock } = otherOwner();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    writeFileSync(`${file}.lock`, lock);
    const sys = simHost();
    const hc = new HostChanges(file, sys);
    expect(hc.recover()).toEqual({ undone: 0, failed: [] });
    expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid);
    hc.addAddress('lo', '10.7.7.7/32');
    hc.undoAll();
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(existsSync(file)).toBe(false);
  });

  it('a pid reused by another process does not keep a stale lock alive', () => {
    const file = path.join(stateDir(), 'state.json');
    const { child, lock } = otherOwner();
    try {
      writeFileSync(`${file}.lock`, JSON.stringify({ ...JSON.parse(lock), start: '1' }));
      expect(new HostChanges(file, simHost()).recover()).toEqual({ undone: 0, failed: [] });
    } finally {
      child.kill();
    }
  });

  it('writes the state file through a temporary name of its own and leaves none behind', () => {
    const dir = stateDir();
    const file = path.join(dir, 'state.json');
    const hc = new HostChanges(file, simHost());
    hc.setSysctl('net.ipv4.ip_forward', 1);
    hc.addAddress('lo', '10.7.7.7/32');
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'state.json.lock']);
    hc.undoAll();
    expect(readdirSync(dir)).toEqual([]);
  });
});

/** simHost with `ip -batch`: each batch line goes through the simulated ip, and the batches are counted. */
function batchHost() {
  const sys = simHost();
  const batches: number[] = [];
  const ipBatchSync = (commands: string[][]) => {
    batches.push(commands.length);
    return commands.map((c) => {
      try {
        sys.ip(c);
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    });
  };
  return Object.assign(sys, { ipBatchSync, batches });
}

describe('HostChanges: thousands of routes', () => {
  const specs = (n: number) => Array.from({ length: n }, (_, i) => [`10.100.${i >> 8}.${i & 255}/32`, 'via', '169.254.77.2', 'dev', 'vt0']);

  it('adds them in one batch with one state-file write, and undoes them in one batch', () => {
    const sys = batchHost();
    const file = path.join(stateDir(), 'state.json');
    const hc = new HostChanges(file, sys);
    hc.addLink('vt0', ['type', 'dummy']);
    hc.addRoutes(specs(5000));
    expect(sys.batches).toEqual([5000]);
    expect(sys.routes.size).toBe(5000);
    expect(sys.log.filter((l) => l.startsWith('route') || l.startsWith('-4 route'))).toHaveLength(5000); // through the batch only
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveLength(5001);
    expect(hc.undoAll()).toEqual({ undone: 5001, failed: [] });
    expect(sys.batches).toEqual([5000, 5000]);
    expect(sys.routes.size).toBe(0);
    expect([...sys.links]).toEqual(['lo']);
  });

  it('all or none: one refused route takes the others back out and leaves no record', () => {
    const sys = batchHost();
    const hc = new HostChanges(null, sys);
    sys.routes.add(specs(10)[7].join(' ')); // already there: the add fails
    expect(() => hc.addRoutes(specs(10))).toThrow(/ip route add 10\.100\.0\.7\/32 .*File exists/);
    expect([...sys.routes]).toEqual([specs(10)[7].join(' ')]);
    expect(hc.applied).toEqual([]);
  });

  it('crash recovery undoes the recorded routes in one batch; routes gone with their device count as undone', () => {
    const sys = batchHost();
    const file = path.join(stateDir(), 'state.json');
    new HostChanges(file, sys).addRoutes(specs(300));
    for (const s of specs(300).slice(0, 100)) sys.routes.delete(s.join(' ')); // vanished with the TAP
    const next = new HostChanges(file, sys);
    expect(next.recover()).toEqual({ undone: 300, failed: [] });
    expect(sys.batches).toEqual([300, 300]);
    expect(sys.routes.size).toBe(0);
  });
});
