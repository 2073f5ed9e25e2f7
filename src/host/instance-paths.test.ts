import { describe, expect, test } from 'vitest';
import { currentNetns, defaultAgentStateFile, defaultControlPath, defaultDirectorStateFile, runDir } from './instance-paths.js';

describe('default run-time paths, one set per network namespace', () => {
  test.each([
    { ns: { root: true, key: '' }, dir: '/run/vstun' },
    { ns: { root: false, key: 'vt-blue' }, dir: '/run/vstun/netns/vt-blue' },
    { ns: { root: false, key: 'inode-4026532301' }, dir: '/run/vstun/netns/inode-4026532301' },
  ])('$dir', ({ ns, dir }) => {
    expect(runDir(ns)).toBe(dir);
    expect(defaultControlPath(ns)).toBe(`${dir}/director.sock`);
    expect(defaultDirectorStateFile('vstun0', ns)).toBe(`${dir}/director-vstun0.state.json`);
    expect(defaultAgentStateFile(ns)).toBe(`${dir}/agent.state.json`);
  });

  /** A probe over a fake /proc and /run/netns: links and inodes by path. */
  const probe = (links: Record<string, string>, inodes: Record<string, number>, names: string[] = []) => ({
    readlink: (p: string) => links[p] ?? fail(p),
    inode: (p: string) => inodes[p] ?? fail(p),
    list: () => names,
  });
  const fail = (p: string): never => {
    throw Object.assign(new Error(`EACCES: ${p}`), { code: 'EACCES' });
  };
  const self = (ino: number) => ({ links: { '/proc/self/ns/net': `net:[${ino}]` }, inodes: { '/proc/self/ns/net': ino } });

  test.each<{ what: string; links: Record<string, string>; ino: number; names: string[]; want: { root: boolean; key: string } }>([
    { what: "PID 1's namespace", links: { '/proc/1/ns/net': 'net:[4026531992]' }, ino: 4026531992, names: [], want: { root: true, key: '' } },
    { what: "PID 1's unreadable, the initial namespace's inode", links: {}, ino: 0xeffffff9, names: [], want: { root: true, key: '' } },
    { what: 'a namespace named by ip netns add', links: { '/proc/1/ns/net': 'net:[4026531833]' }, ino: 4026532500, names: ['vt-other', 'vt-blue'], want: { root: false, key: 'vt-blue' } },
    { what: "a named namespace, PID 1's unreadable", links: {}, ino: 4026532500, names: ['vt-blue'], want: { root: false, key: 'vt-blue' } },
    { what: 'an unnamed namespace', links: {}, ino: 4026532777, names: ['vt-blue'], want: { root: false, key: 'inode-4026532777' } },
  ])('$what', ({ links, ino, names, want }) => {
    const s = self(ino);
    const inodes: Record<string, number> = { ...s.inodes, '/run/netns/vt-other': 4026532499, '/run/netns/vt-blue': 4026532500 };
    expect(currentNetns(probe({ ...s.links, ...links }, inodes, names))).toEqual(want);
  });

  test('unreadable /proc: the root namespace is assumed', () => {
    expect(currentNetns(probe({}, {}))).toEqual({ root: true, key: '' });
  });
});
