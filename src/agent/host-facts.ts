// A read-only snapshot of what VS/TUN depends on in this host: links with their flags, MTU
// and addresses, the relevant sysctls, and our capabilities. `vstun-agent check` and
// /healthz judge the snapshot (host-checks.ts); gathering is kept apart so that the
// judging is tested on plain objects. Gathering reads netlink and /proc only: /healthz runs
// on every health check of the director, and must not fork a process (host/link-dump.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readLinks, type LinkInfo } from '../host/link-dump.js';

export type { LinkAddress, LinkInfo } from '../host/link-dump.js';

export interface HostFacts {
  links: LinkInfo[];
  /** sysctl values by /proc/sys-relative path (e.g. net/ipv4/conf/all/rp_filter); missing: absent. */
  sysctls: Record<string, string>;
  /** Effective capability set (CapEff) as a bigint; null when unknown. */
  capEff: bigint | null;
}

interface IpJsonLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Parses `ip -j -d addr show` output. */
export function parseIpAddrJson(json: string): LinkInfo[] {
  const list = JSON.parse(json) as IpJsonLink[];
  return list.map((l) => ({
    name: l.ifname,
    up: (l.flags ?? []).includes('UP'),
    loopback: (l.flags ?? []).includes('LOOPBACK'),
    mtu: l.mtu ?? 0,
    kind: l.linkinfo?.info_kind ?? '',
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({ family: a.family === 'inet' ? 4 : 6, address: a.local, prefixLength: a.prefixlen })),
  }));
}

/** The sysctls the checks need for these link names. */
export function relevantSysctls(linkNames: readonly string[]): string[] {
  const keys = ['net/ipv4/conf/all/rp_filter', 'net/ipv4/conf/default/rp_filter', 'net/ipv4/conf/all/arp_ignore', 'net/ipv4/conf/all/arp_announce'];
  for (const n of linkNames) {
    for (const k of ['rp_filter', 'arp_ignore', 'arp_announce', 'accept_local']) keys.push(`net/ipv4/conf/${n}/${k}`);
    keys.push(`net/ipv6/conf/${n}/disable_ipv6`);
  }
  return keys;
}

/** Reads the host (async, no child process: /healthz must not stall the data path). Rejects when netlink fails. */
export async function gatherHostFacts(): Promise<HostFacts> {
  const links = await readLinks();
  const sysctls: Record<string, string> = {};
  await Promise.all(
    relevantSysctls(links.map((l) => l.name)).map(async (k) => {
      try {
        sysctls[k] = (await readFile(path.join('/proc/sys', k), 'utf8')).trim();
      } catch {
        /* absent (device gone, or IPv6 disabled): the checks treat it as missing */
      }
    }),
  );
  let capEff: bigint | null = null;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(await readFile('/proc/self/status', 'utf8'));
    if (m) capEff = BigInt(`0x${m[1]}`);
  } catch {
    /* not Linux procfs: unknown */
  }
  return { links, sysctls, capEff };
}
