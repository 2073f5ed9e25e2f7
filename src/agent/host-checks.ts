// Every way a real server's setup breaks VS/TUN, judged from a HostFacts snapshot, each
// with a plain explanation and the command that fixes it. Shared by `vstun-agent check`
// (prints them, exits non-zero on problems) and /healthz (503 on problems).
import type { HostFacts, LinkInfo } from './host-facts.js';

export interface CheckConfig {
  /** VIP texts (canonical form), IPv4 and IPv6. */
  vips: readonly string[];
  /** Injection TUN name (userspace mode) — or tunl0 in kernel mode. */
  tun: string;
  /** dr: no decapsulation device; only the VIP, ARP and uplink checks apply. */
  mode: 'kernel' | 'userspace' | 'dr';
  /** Explicit uplinks; empty: every non-loopback link that is up, except the TUN. */
  uplinks: readonly string[];
}

export interface Finding {
  /** Stable identifier, e.g. `vip-missing`. */
  id: string;
  /** 'problem' breaks VS/TUN (check exits non-zero, /healthz 503); 'warning' may. */
  severity: 'problem' | 'warning';
  /** What is wrong and what it does to traffic, in plain words. */
  message: string;
  /** The command or action that fixes it. */
  fix: string;
}

/** Bytes the IPIP outer header adds; full-size 1500-byte client packets need 1520. */
export const IPIP_OVERHEAD = 20;
const FULL_SIZE_PACKET = 1500;
const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;
/** arp_ignore values under which a link does not answer for addresses on lo. */
const ARP_IGNORE_OK = new Set([1, 2, 3, 8]);

/** The uplinks the checks and setup apply to (see CheckConfig.uplinks). */
export function resolveUplinks(links: readonly LinkInfo[], explicit: readonly string[], tun: string): string[] {
  if (explicit.length > 0) return [...explicit];
  return links.filter((l) => l.up && !l.loopback && l.name !== tun && l.name !== 'tunl0').map((l) => l.name);
}

function num(facts: HostFacts, key: string): number | undefined {
  const v = facts.sysctls[key];
  return v === undefined ? undefined : Number(v);
}

/** Returns every finding; an empty list means this host is ready for VS/TUN. */
export function checkHost(cfg: CheckConfig, facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const byName = new Map(facts.links.map((l) => [l.name, l]));
  const lo = facts.links.find((l) => l.loopback) ?? byName.get('lo');
  const uplinks = resolveUplinks(facts.links, cfg.uplinks, cfg.tun);

  // VIPs: on lo exactly, and nowhere else.
  for (const vip of cfg.vips) {
    const family = vip.includes(':') ? 6 : 4;
    const full = family === 4 ? 32 : 128;
    const onLo = lo?.addresses.find((a) => a.address === vip);
    if (!onLo) {
      out.push({
        id: 'vip-missing',
        severity: 'problem',
        message: `VIP ${vip} is not on lo. The director sends this VIP's traffic here, and the kernel drops packets for an address it does not own: clients hang (the "DSR blackhole").`,
        fix: `ip addr add ${vip}/${full} dev lo   (vstun-agent does this unless run with --no-setup)`,
      });
    } else if (onLo.prefixLength !== full) {
      out.push({
        id: 'vip-prefix',
        severity: 'warning',
        message: `VIP ${vip} is on lo as /${onLo.prefixLength}, which makes the whole prefix local to this host, not just the VIP.`,
        fix: `ip addr del ${vip}/${onLo.prefixLength} dev lo && ip addr add ${vip}/${full} dev lo`,
      });
    }
    for (const l of facts.links) {
      if (l === lo) continue;
      const a = l.addresses.find((x) => x.address === vip);
      if (a) {
        out.push({
          id: 'vip-on-uplink',
          severity: 'problem',
          message: `VIP ${vip} is configured on ${l.name}: this host answers ARP/ND for it there and takes traffic meant for the director.`,
          fix: `ip addr del ${vip}/${a.prefixLength} dev ${l.name}`,
        });
      }
    }
    if (family === 6 && num(facts, 'net/ipv6/conf/lo/disable_ipv6') === 1) {
      out.push({
        id: 'ipv6-disabled',
        severity: 'problem',
        message: `IPv6 VIP ${vip} cannot work: IPv6 is disabled on lo.`,
        fix: 'sysctl -w net.ipv6.conf.lo.disable_ipv6=0',
      });
    }
  }

  // ARP: the kernel uses max(all, dev) for both.
  const hasV4Vip = cfg.vips.some((v) => !v.includes(':'));
  if (hasV4Vip) {
    const allIgnore = num(facts, 'net/ipv4/conf/all/arp_ignore') ?? 0;
    const allAnnounce = num(facts, 'net/ipv4/conf/all/arp_announce') ?? 0;
    for (const up of uplinks) {
      const ignore = Math.max(allIgnore, num(facts, `net/ipv4/conf/${up}/arp_ignore`) ?? 0);
      const announce = Math.max(allAnnounce, num(facts, `net/ipv4/conf/${up}/arp_announce`) ?? 0);
      if (!ARP_IGNORE_OK.has(ignore)) {
        out.push({
          id: 'arp-ignore',
          severity: 'problem',
          message: `${up} answers ARP requests for the VIPs on lo (effective arp_ignore=${ignore}): the router then sends VIP traffic straight here, bypassing the director, or flaps between real servers.`,
          fix: `sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.${up}.arp_ignore=1`,
        });
      }
      if (announce < 2) {
        out.push({
          id: 'arp-announce',
          severity: 'problem',
          message: `${up} may use a VIP as the sender address of its own ARP requests (effective arp_announce=${announce}), teaching neighbours that the VIP lives here.`,
          fix: `sysctl -w net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.${up}.arp_announce=2`,
        });
      }
    }
  }
  if (uplinks.length === 0) {
    out.push({
      id: 'no-uplink',
      severity: 'problem',
      message: 'No uplink: no non-loopback interface is up, so neither the director\'s packets nor the replies can flow.',
      fix: 'bring the network interface up, or name it with --uplink IF',
    });
  }
  for (const name of cfg.uplinks) {
    if (!byName.has(name)) {
      out.push({ id: 'uplink-missing', severity: 'problem', message: `Uplink ${name} (given with --uplink) does not exist.`, fix: 'check the interface name with `ip link`' });
    }
  }

  // rp_filter where decapsulated packets enter: the route back to the client is via the
  // uplink, not the TUN, so strict mode (1) drops every decapsulated packet.
  const allRp = num(facts, 'net/ipv4/conf/all/rp_filter') ?? 0;
  const tunLink = byName.get(cfg.tun);
  if (hasV4Vip) {
    const devRp = tunLink ? (num(facts, `net/ipv4/conf/${cfg.tun}/rp_filter`) ?? 0) : (num(facts, 'net/ipv4/conf/default/rp_filter') ?? 0);
    if (Math.max(allRp, devRp) === 1) {
      out.push({
        id: 'rp-filter-strict',
        severity: 'problem',
        message: `Strict reverse-path filtering on ${tunLink ? cfg.tun : 'new interfaces (default)'} (effective rp_filter=1, max of all and the device): decapsulated packets arrive on ${cfg.tun} but the route back to the client leaves by the uplink, so the kernel drops them all.`,
        fix: `sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0${tunLink ? ` net.ipv4.conf.${cfg.tun}.rp_filter=0` : ''}   (or 2, loose)`,
      });
    }
  }

  // The device decapsulated packets enter by (none in direct routing).
  if (cfg.mode === 'dr') {
    // VS/DR: packets keep their size, so no MTU or TUN finding applies.
  } else if (!tunLink) {
    out.push({
      id: cfg.mode === 'kernel' ? 'tunl0-missing' : 'tun-missing',
      severity: 'problem',
      message:
        cfg.mode === 'kernel'
          ? 'tunl0 does not exist: the kernel ipip module is not loaded, so the kernel cannot decapsulate.'
          : `The injection TUN ${cfg.tun} does not exist: decapsulated packets have nowhere to enter (is vstun-agent running?).`,
      fix: cfg.mode === 'kernel' ? 'modprobe ipip, or run vstun-agent --mode userspace' : `start vstun-agent (it creates ${cfg.tun}), or pass --tun NAME if it has another name`,
    });
  } else if (!tunLink.up) {
    out.push({ id: 'tun-down', severity: 'problem', message: `${cfg.tun} exists but is down: the kernel discards what is written to it.`, fix: `ip link set ${cfg.tun} up` });
  }

  // MTU: the outer header costs 20 bytes on the director-to-RS path.
  for (const up of cfg.mode === 'dr' ? [] : uplinks) {
    const l = byName.get(up);
    if (l && l.mtu > 0 && l.mtu < FULL_SIZE_PACKET + IPIP_OVERHEAD) {
      out.push({
        id: 'mtu-encap',
        severity: 'warning',
        message: `${up} has MTU ${l.mtu}: a full-size 1500-byte client packet plus the 20-byte IPIP header does not fit. It works only if the director's "fragmentation needed" ICMP reaches clients; where ICMP is filtered, large transfers stall.`,
        fix: `raise the MTU of the director-to-RS path to >= ${FULL_SIZE_PACKET + IPIP_OVERHEAD} (ip link set ${up} mtu ${FULL_SIZE_PACKET + IPIP_OVERHEAD}), or advertise a smaller MSS for replies from the VIP (e.g. ip route change <default route> advmss ${l.mtu - IPIP_OVERHEAD - 40})`,
      });
    }
  }
  if (tunLink && cfg.mode === 'userspace') {
    const maxUplinkMtu = Math.max(0, ...uplinks.map((u) => byName.get(u)?.mtu ?? 0));
    if (tunLink.mtu < maxUplinkMtu - IPIP_OVERHEAD) {
      out.push({
        id: 'tun-mtu',
        severity: 'warning',
        message: `${cfg.tun} has MTU ${tunLink.mtu}, less than the largest inner packet the uplinks can carry (${maxUplinkMtu - IPIP_OVERHEAD}).`,
        fix: `ip link set ${cfg.tun} mtu ${maxUplinkMtu - IPIP_OVERHEAD}`,
      });
    }
  }

  // Permissions: raw sockets need CAP_NET_RAW; the TUN and sysctls need CAP_NET_ADMIN.
  if (facts.capEff !== null) {
    if (((facts.capEff >> CAP_NET_RAW) & 1n) === 0n) {
      out.push({ id: 'no-cap-net-raw', severity: 'problem', message: 'No permission to open raw sockets (CAP_NET_RAW): the agent cannot receive IPIP packets.', fix: 'run as root, or grant it: setcap cap_net_raw,cap_net_admin+ep $(command -v node)' });
    }
    if (((facts.capEff >> CAP_NET_ADMIN) & 1n) === 0n) {
      out.push({ id: 'no-cap-net-admin', severity: 'problem', message: 'No CAP_NET_ADMIN: the agent cannot create the TUN, add VIPs or set sysctls.', fix: 'run as root, or grant cap_net_admin' });
    }
  }
  return out;
}

/** Human-readable report for `vstun-agent check`. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'OK: nothing found that would break VS/TUN on this host.\n';
  const lines: string[] = [];
  const problems = findings.filter((f) => f.severity === 'problem').length;
  lines.push(`${problems} problem(s), ${findings.length - problems} warning(s):`, '');
  for (const f of findings) {
    lines.push(`${f.severity === 'problem' ? 'PROBLEM' : 'WARNING'} [${f.id}] ${f.message}`);
    lines.push(`  fix: ${f.fix}`, '');
  }
  return lines.join('\n');
}
