// Scale-out's premise, across processes: three vstun-director processes in their own network
// namespaces, given the same mh services and servers in different orders (services
// reversed, servers shuffled, weights the same), and one of them reaching that set by a
// reload from a different one, answer `explain` with the same real server for every client
// tuple asked. One process cannot show this: process-local ids and insertion order are what
// would differ between directors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDirector, type DirectorHandle } from '../../src/lab/lab-daemons.js';
import { buildLab, type Lab } from '../../src/lab/vs-lab.js';
import { writeFileSync } from 'node:fs';
import { canRunNetnsTests } from '../support/netns.js';

interface Svc {
  vip: string;
  port: number;
  flags: string[];
  servers: { address: string; weight: number }[];
}

const SERVICES: Svc[] = [
  {
    vip: '10.70.100.10',
    port: 80,
    flags: [],
    servers: [
      { address: '10.71.1.2', weight: 1 },
      { address: '10.71.2.2', weight: 3 },
      { address: '10.71.3.2', weight: 2 },
      { address: '10.72.9.7', weight: 1 },
      { address: '192.0.2.44', weight: 5 },
    ],
  },
  {
    vip: '10.70.100.11',
    port: 443,
    flags: ['mh-port'],
    servers: [
      { address: '10.71.1.2', weight: 1 },
      { address: '10.71.2.2', weight: 1 },
      { address: '10.71.3.2', weight: 1 },
      { address: '10.71.4.2', weight: 1 },
    ],
  },
];

const CLIENTS = 150;

function configYaml(services: Svc[]): string {
  const lines = ['director:', '  connTableSize: 4096', '  mhTableSize: 65537', 'services:'];
  for (const s of services) {
    const servers = s.servers.map((r) => `{ address: "${r.address}", weight: ${r.weight} }`).join(', ');
    lines.push(`  - { protocol: tcp, vip: "${s.vip}", port: ${s.port}, scheduler: mh, flags: [${s.flags.join(', ')}], realServers: [${servers}] }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reversed services, each server list rotated and reversed: same set, other order. */
function reordered(services: Svc[], rotate: number): Svc[] {
  return [...services].reverse().map((s) => {
    const r = [...s.servers.slice(rotate % s.servers.length), ...s.servers.slice(0, rotate % s.servers.length)].reverse();
    return { ...s, servers: r };
  });
}

async function choices(d: DirectorHandle): Promise<string[]> {
  const out: string[] = [];
  for (const s of SERVICES) {
    for (let i = 0; i < CLIENTS; i++) {
      const client = `198.51.${(i * 37) % 256}.${(i * 101 + 1) % 254 + 1}:${1024 + ((i * 7919) % 60000)}`;
      const r = await d.control('explain', { args: ['explain', '-t', `${s.vip}:${s.port}`, '--client', client] });
      if (r.ok !== true) throw new Error(`explain on ${d.configPath}: ${JSON.stringify(r.error)}`);
      out.push(`${s.vip}:${s.port} ${client} -> ${r.explanation.server}`);
    }
  }
  return out;
}

describe.skipIf(!canRunNetnsTests())('mh: the same choices on every director, whatever the order', () => {
  let lab: Lab;
  const directors: DirectorHandle[] = [];

  beforeAll(async () => {
    lab = buildLab({ prefix: 'so1', realServers: 1 });
    const nsB = lab.topo.ns('dirb');
    const nsC = lab.topo.ns('dirc');
    // --no-setup: explain needs no routes; each process still opens its own TAP.
    directors.push(await startDirector(lab, { name: 'a', config: configYaml(SERVICES), extraArgs: ['--no-setup'] }));
    directors.push(await startDirector(lab, { name: 'b', ns: nsB, config: configYaml(reordered(SERVICES, 2)), extraArgs: ['--no-setup'] }));
    // C starts with part of the set, in yet another order, and reaches the full set by reload.
    const partial = reordered(SERVICES, 1).map((s) => ({ ...s, servers: s.servers.slice(1) }));
    directors.push(await startDirector(lab, { name: 'c', ns: nsC, config: configYaml(partial), extraArgs: ['--no-setup'] }));
  }, 120_000);

  afterAll(async () => {
    try {
      await Promise.all(directors.map((d) => d.stop(3000)));
    } finally {
      lab?.cleanup();
    }
  });

  it('answers identically in three processes, one of them after a reload', async () => {
    const c = directors[2];
    writeFileSync(c.configPath, configYaml(reordered(SERVICES, 3)));
    const r = await c.control('reload');
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const [a, b, afterReload] = [await choices(directors[0]), await choices(directors[1]), await choices(c)];
    expect(a.length).toBe(SERVICES.length * CLIENTS);
    // Every server of the weighted service is chosen by someone: the comparison is not vacuous.
    const used = new Set(a.filter((l) => l.startsWith('10.70.100.10:80')).map((l) => l.split(' -> ')[1]));
    expect(used.size).toBe(SERVICES[0].servers.length);
    expect(b).toEqual(a);
    expect(afterReload).toEqual(a);
  });
});
