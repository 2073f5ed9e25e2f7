import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostChanges, type HostSystem } from '../host/host-changes.js';
import { guardRuleset, guardTableName, NftGuard, vipElements, type GuardSettings } from './guard.js';

const SETTINGS: GuardSettings = { enabled: true, synPerSecond: 1000, udpNewPerSecond: 500, tapQueueLength: 4096 };

/** A host whose nft keeps a set of table names and logs every call. */
function nftHost(): HostSystem & { tables: Set<string>; calls: string[] } {
  const tables = new Set<string>();
  const calls: string[] = [];
  return {
    tables,
    calls,
    ip: (args) => {
      calls.push(`ip ${args.join(' ')}`);
      return args[0] === '-j' ? JSON.stringify([{ txqlen: 500 }]) : '';
    },
    readSysctl: () => '0',
    writeSysctl: () => {},
    nft: (args, input) => {
      calls.push(`${args.join(' ')}${input ? `\n${input}` : ''}`);
      if (args[0] === 'delete') {
        if (!tables.delete(args[3])) throw new Error('Error: Could not process rule: No such file or directory');
        return '';
      }
      const m = /table inet (\S+) \{\n/.exec(input ?? '');
      if (m) tables.add(m[1]);
      return '';
    },
  };
}

describe('guard ruleset', () => {
  it('names the table after the TAP, with only characters nft takes', () => {
    expect(guardTableName('vstun0')).toBe('vstun_vstun0');
    expect(guardTableName('tap-a.1')).toBe('vstun_tap_a_1');
  });

  it('limits lone SYNs and new UDP 4-tuples per VIP on the forward and output hooks toward the TAP only', () => {
    const text = guardRuleset('vt0', SETTINGS, ['10.0.0.1', 'fd00::1', '10.0.0.1']);
    expect(text).toContain('tcp flags & (fin|syn|rst|ack) == syn update @syn_rate4 { ip daddr limit rate over 1000/second burst 1000 packets } counter name "syn_dropped" drop');
    expect(text).toContain('update @udp_rate6 { ip6 daddr limit rate over 500/second burst 500 packets } counter name "udp_dropped" drop');
    expect(text).toContain('chain forward { type filter hook forward priority filter - 10; policy accept; oifname "vt0" jump guard; }');
    expect(text).toContain('chain output { type filter hook output priority filter - 10; policy accept; oifname "vt0" jump guard; }');
    expect(text).toContain('add element inet vstun_vt0 vips4 { 10.0.0.1 }');
    expect(text).toContain('add element inet vstun_vt0 vips6 { fd00::1 }');
  });

  it('replaces the VIP sets whole, and leaves them empty with no VIP', () => {
    expect(vipElements('t', [])).toBe('flush set inet t vips4\nflush set inet t vips6\n');
    expect(vipElements('t', ['1.2.3.4', '1.2.3.5'])).toContain('add element inet t vips4 { 1.2.3.4, 1.2.3.5 }');
  });
});

describe('NftGuard', () => {
  it('installs through HostChanges as an nft-table change that undo deletes, also after a crash', () => {
    const host = nftHost();
    const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'vstun-guard-')), 'state.json');
    const changes = new HostChanges(stateFile, host);
    new NftGuard('vt0', SETTINGS, async () => '').install(changes, ['10.0.0.1']);
    expect(host.tables.has('vstun_vt0')).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual([
      { kind: 'txqueuelen', name: 'vt0', previous: 500, value: 4096 },
      { kind: 'nft-table', family: 'inet', name: 'vstun_vt0' },
    ]);
    expect(host.calls).toContain('ip link set vt0 txqueuelen 4096');
    // A crashed run: the next start's recover() deletes the table and restores the queue length.
    const next = new HostChanges(stateFile, host);
    expect(next.recover()).toEqual({ undone: 2, failed: [] });
    expect(host.tables.size).toBe(0);
    expect(host.calls.at(-1)).toBe('ip link set vt0 txqueuelen 500');
    // Undo of a table somebody already deleted is not a failure.
    expect(changes.undoAll()).toEqual({ undone: 2, failed: [] });
  });

  it('coalesces VIP syncs: while one runs, only the newest set is applied next; an unchanged set runs nothing', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const nft = async (_args: string[], input?: string) => {
      calls.push(input ?? '');
      if (calls.length === 1) await gate;
      return '';
    };
    const g = new NftGuard('vt0', SETTINGS, nft);
    const first = g.syncGuard(['10.0.0.1']);
    void g.syncGuard(['10.0.0.2']);
    const last = g.syncGuard(['10.0.0.3']);
    release();
    await Promise.all([first, last]);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toContain('{ 10.0.0.3 }');
    await g.syncGuard(['10.0.0.3']);
    expect(calls).toHaveLength(2);
  });

  it('reports a failed sync without rejecting, and counts drops from its counter reads, never through nft', async () => {
    const errors: string[] = [];
    const nftCalls: string[][] = [];
    const nft = async (args: string[]) => {
      nftCalls.push(args);
      throw new Error('nft -f -: Error: Could not process rule');
    };
    const reads: string[] = [];
    let answer: Map<string, { packets: number; bytes: number }> = new Map([
      ['syn_dropped', { packets: 7, bytes: 420 }],
      ['udp_dropped', { packets: 2, bytes: 60 }],
    ]);
    const g = new NftGuard('vt0', SETTINGS, nft, (what, err) => errors.push(`${what}: ${err.message}`), async (table) => {
      reads.push(table);
      return answer;
    });
    await g.syncGuard(['10.0.0.9']);
    expect(errors).toEqual(['sync: nft -f -: Error: Could not process rule']);
    await g.poll();
    expect(reads).toEqual(['vstun_vt0']);
    expect(nftCalls).toEqual([['-f', '-']]); // the sync only
    expect(g.read()).toEqual({ 'guard-syn-flood': 7, 'guard-udp-flood': 2 });
    // A table that lost its counters keeps the last counts and says why.
    answer = new Map();
    await g.poll();
    expect(g.read()).toEqual({ 'guard-syn-flood': 7, 'guard-udp-flood': 2 });
    expect(g.lastError).toMatch(/no syn_dropped\/udp_dropped counters/);
  });

  it('keeps the last counts when a counter read fails', async () => {
    let fail = false;
    const g = new NftGuard('vt0', SETTINGS, async () => '', undefined, async () => {
      if (fail) throw Object.assign(new Error('recvmsg(netlink) protocol 12: Operation not permitted (EPERM)'), { code: 'EPERM' });
      return new Map([
        ['syn_dropped', { packets: 3, bytes: 1 }],
        ['udp_dropped', { packets: 4, bytes: 1 }],
      ]);
    });
    await g.poll();
    fail = true;
    await g.poll();
    expect(g.read()).toEqual({ 'guard-syn-flood': 3, 'guard-udp-flood': 4 });
    expect(g.lastError).toContain('EPERM');
  });
});
