// The kernel state the daemons read periodically through netlink instead of a child process
// (src/host/link-dump.ts for the agent's /healthz, src/host/nft-counters.ts for the director's
// guard counters), read in a namespace of this test's own with links, addresses and an
// nftables table of every shape the readers meet, and compared with what `ip -j -d addr show`
// and `nft -j list counters` print there. The built readers run inside the namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIpAddrJson } from '../../src/agent/host-facts.js';
import { REPO_ROOT } from '../../src/lab/lab-daemons.js';
import { canRunNetnsTests, Topology } from '../support/netns.js';

describe.skipIf(!canRunNetnsTests())('periodic kernel reads through netlink', () => {
  let topo: Topology;
  let ns: string;
  /** Runs `expr` (an async function of the built module `mod`) in the namespace; its JSON result. */
  const inNs = (mod: string, expr: string): unknown =>
    JSON.parse(topo.exec(ns, process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`${REPO_ROOT}/dist/${mod}`)}); console.log(JSON.stringify(await (${expr})(m)));`]));

  beforeAll(() => {
    topo = new Topology('nlr');
    ns = topo.ns('a');
    const other = topo.ns('b');
    topo.veth(ns, 'up0', other, 'peer0');
    topo.exec(ns, 'ip', ['addr', 'add', '10.31.0.1/24', 'dev', 'up0']);
    topo.exec(ns, 'ip', ['addr', 'add', '10.31.1.1/24', 'dev', 'up0']);
    topo.exec(ns, 'ip', ['addr', 'add', 'fd31::1/64', 'dev', 'up0', 'nodad']);
    topo.exec(ns, 'ip', ['link', 'set', 'up0', 'mtu', '1400']);
    topo.exec(ns, 'ip', ['tuntap', 'add', 'dev', 'tn0', 'mode', 'tun']);
    topo.exec(ns, 'ip', ['addr', 'add', '10.32.0.1', 'peer', '10.32.0.2', 'dev', 'tn0']); // point to point: local and peer differ
    topo.exec(ns, 'ip', ['addr', 'add', '10.33.0.7/32', 'dev', 'lo']);
    topo.exec(ns, 'nft', ['-f', '-'], {
      input: [
        'table inet vstun_t {',
        '  counter syn_dropped {}',
        '  counter udp_dropped {}',
        '  chain out { type filter hook output priority 0; policy accept; ip daddr 10.31.0.2 udp dport 9 counter name "udp_dropped" drop; }',
        '}',
        'table ip vstun_t {',
        '  counter syn_dropped { packets 77 bytes 1 }',
        '}',
        '',
      ].join('\n'),
    });
    // Five datagrams the table counts (and drops) on their way out.
    topo.exec(ns, 'python3', ['-c', 'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(5):\n  try: s.sendto(b"x" * 10, ("10.31.0.2", 9))\n  except OSError: pass']);
  });

  afterAll(() => topo?.cleanup());

  it('reads every link, flag, MTU, kind and address as `ip -j -d addr show` prints them', () => {
    const ours = inNs('host/link-dump.js', 'async (m) => m.readLinks()') as ReturnType<typeof parseIpAddrJson>;
    const ip = parseIpAddrJson(topo.exec(ns, 'ip', ['-j', '-d', 'addr', 'show']));
    expect(ours).toEqual(ip);
    const byName = new Map(ours.map((l) => [l.name, l]));
    expect(byName.get('up0')).toMatchObject({ up: true, mtu: 1400, kind: 'veth' });
    expect(byName.get('up0')!.addresses.map((a) => `${a.address}/${a.prefixLength}`)).toEqual(expect.arrayContaining(['10.31.0.1/24', '10.31.1.1/24', 'fd31::1/64']));
    expect(byName.get('tn0')).toMatchObject({ up: false, kind: 'tun', addresses: [{ family: 4, address: '10.32.0.1', prefixLength: 32 }] });
    expect(byName.get('lo')).toMatchObject({ loopback: true });
    expect(byName.get('lo')!.addresses.map((a) => a.address)).toContain('10.33.0.7');
  });

  it('reads the named counters of one table as `nft -j list counters` prints them', () => {
    const ours = inNs('host/nft-counters.js', "async (m) => [...(await m.readNftCounters('inet', 'vstun_t'))]") as [string, { packets: number; bytes: number }][];
    const nft = JSON.parse(topo.exec(ns, 'nft', ['-j', 'list', 'counters', 'table', 'inet', 'vstun_t'])) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] };
    const expected = nft.nftables.flatMap((x) => (x.counter ? [[x.counter.name, { packets: x.counter.packets, bytes: x.counter.bytes }]] : []));
    expect(ours).toEqual(expected);
    expect(Object.fromEntries(ours)).toEqual({ syn_dropped: { packets: 0, bytes: 0 }, udp_dropped: { packets: 5, bytes: 5 * 38 } });
    expect(inNs('host/nft-counters.js', "async (m) => (await m.readNftCounters('inet', 'absent')).size")).toBe(0);
  });

  it('gives the guard its counts through the same read (NftGuard.poll)', () => {
    const counts = inNs('director/guard.js', "async (m) => { const g = new m.NftGuard('t', { enabled: true, synPerSecond: 1, udpNewPerSecond: 1, tapQueueLength: 1 }); await g.poll(); return { read: g.read(), error: g.lastError }; }");
    // NftGuard('t') reads table vstun_t.
    expect(counts).toEqual({ read: { 'guard-syn-flood': 0, 'guard-udp-flood': 5 }, error: '' });
  });
});
