// The namespace lab of the three LVS forwarding methods, built as the LVS textbook draws
// VS/NAT and VS/DR: the real servers share one private LAN with the director host.
//
//   client 10.200.1.2 ──► router ──► director host 10.200.2.2 (kernel + TAP ──► vstun-director)
//                           │ 10.0.0.1                │ brlan 10.0.0.8 (a bridge the lab made,
//                           │                         │ holding the host's LAN address)
//   LAN 10.0.0.0/24 (a bridge in the "lan" namespace) ┴──────────────────────────────┐
//      ├── NAT servers  10.0.0.7, 10.0.0.17   default via 10.0.0.8 (the director host)
//      ├── DR servers   10.0.0.27, 10.0.0.37  VIP on lo, ARP suppressed, default via 10.0.0.1
//      └── TUN server   10.0.0.47             vstun-agent, default via 10.0.0.1
//
// NAT replies come back to the director host (their gateway), DR and TUN replies go from
// the server straight to the router. The director joins the LAN's L2 for DR through
// director.dr.bridge: brlan (host-setup.ts puts the TAP into it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Topology } from './netns.js';
import { addr, forwardingDefaults, LAB_VIP, type Lab, type LabRealServer } from './vs-lab.js';

export type LabMethod = 'nat' | 'dr' | 'tun';

export interface MethodLabOptions {
  prefix: string;
  /** How many servers of each method (NAT up to 2, DR up to 2, TUN up to 1). */
  nat: number;
  dr: number;
  tun: number;
  /** IPv6 on every link too (NAT servers fd00::7, fd00::17; VIP fd70:100::10). */
  ipv6?: boolean;
}

export interface MethodLabServer extends LabRealServer {
  method: LabMethod;
  /** The LAN interface's MAC (what DR frames must be addressed to). */
  mac: string;
}

export interface MethodLab extends Lab {
  /** The director host's LAN bridge (director.dr.bridge) and its address there. */
  lanBridge: string;
  lanAddress: string;
  /** The router's address on the LAN (DR and TUN servers' gateway). */
  routerLan: string;
  servers: MethodLabServer[];
}

const NAT_ADDRESSES = ['10.0.0.7', '10.0.0.17'];
const DR_ADDRESSES = ['10.0.0.27', '10.0.0.37'];
const TUN_ADDRESSES = ['10.0.0.47'];
export const METHOD_LAB_VIP6 = 'fd70:100::10';

/** Builds the topology; on any failure everything created so far is removed before rethrowing. */
export function buildMethodLab(opts: MethodLabOptions): MethodLab {
  if (opts.nat > 2 || opts.dr > 2 || opts.tun > 1 || opts.nat + opts.dr + opts.tun < 1) {
    throw new RangeError(`method lab: nat 0..2, dr 0..2, tun 0..1 and at least one server (got ${opts.nat}/${opts.dr}/${opts.tun})`);
  }
  const topo = new Topology(opts.prefix);
  const workDir = mkdtempSync(path.join(tmpdir(), `vstun-lab-${opts.prefix}-`));
  const cleanup = () => {
    topo.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const client = topo.ns('cli');
    const router = topo.ns('rtr');
    const director = topo.ns('dir');
    const lan = topo.ns('lan');
    for (const ns of [client, router, director]) forwardingDefaults(topo, ns);
    topo.sysctl(router, 'net.ipv4.ip_forward', 1);
    if (opts.ipv6) topo.sysctl(router, 'net.ipv6.conf.all.forwarding', 1);
    // The LAN: one bridge in its own namespace, a port per host.
    topo.exec(lan, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    topo.exec(lan, 'ip', ['link', 'set', 'br0', 'up']);
    const plug = (ns: string, ifName: string, port: string) => {
      topo.veth(ns, ifName, lan, port);
      topo.exec(lan, 'ip', ['link', 'set', port, 'master', 'br0']);
    };

    topo.veth(client, 'eth0', router, 'cli0');
    addr(topo, client, 'eth0', '10.200.1.2/24');
    addr(topo, router, 'cli0', '10.200.1.1/24');
    topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.200.1.1']);

    topo.veth(director, 'eth0', router, 'dir0');
    addr(topo, director, 'eth0', '10.200.2.2/24');
    addr(topo, router, 'dir0', '10.200.2.1/24');
    topo.exec(director, 'ip', ['route', 'add', 'default', 'via', '10.200.2.1']);
    topo.exec(router, 'ip', ['route', 'add', `${LAB_VIP}/32`, 'via', '10.200.2.2']);

    plug(router, 'lan0', 'p-rtr');
    addr(topo, router, 'lan0', '10.0.0.1/24');
    // The director host's LAN side is a bridge from the start, so the director can join it (DR).
    plug(director, 'lan0', 'p-dir');
    topo.exec(director, 'ip', ['link', 'add', 'brlan', 'type', 'bridge']);
    topo.exec(director, 'ip', ['link', 'set', 'lan0', 'master', 'brlan']);
    topo.exec(director, 'ip', ['link', 'set', 'brlan', 'up']);
    addr(topo, director, 'brlan', '10.0.0.8/24');

    const lab: MethodLab = {
      topo,
      client,
      router,
      director,
      clientIp: '10.200.1.2',
      dip: '10.0.0.8',
      vip: LAB_VIP,
      realServers: [],
      servers: [],
      workDir,
      cleanup,
      lanBridge: 'brlan',
      lanAddress: '10.0.0.8',
      routerLan: '10.0.0.1',
    };
    if (opts.ipv6) {
      addr(topo, client, 'eth0', 'fd20:1::2/64');
      addr(topo, router, 'cli0', 'fd20:1::1/64');
      topo.exec(client, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd20:1::1']);
      addr(topo, director, 'eth0', 'fd20:2::2/64');
      addr(topo, router, 'dir0', 'fd20:2::1/64');
      topo.exec(director, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd20:2::1']);
      topo.exec(router, 'ip', ['-6', 'route', 'add', `${METHOD_LAB_VIP6}/128`, 'via', 'fd20:2::2']);
      addr(topo, router, 'lan0', 'fd00::1/64');
      addr(topo, director, 'brlan', 'fd00::8/64');
      topo.sysctl(director, 'net.ipv6.conf.all.forwarding', 1);
      lab.clientIp6 = 'fd20:1::2';
      lab.dip6 = 'fd00::8';
      lab.vip6 = METHOD_LAB_VIP6;
    }

    let index = 0;
    const add = (method: LabMethod, rip: string) => {
      index++;
      const ns = topo.ns(`rs${index}`);
      forwardingDefaults(topo, ns);
      plug(ns, 'eth0', `p-rs${index}`);
      addr(topo, ns, 'eth0', `${rip}/24`);
      const gateway = method === 'nat' ? '10.0.0.8' : '10.0.0.1';
      topo.exec(ns, 'ip', ['route', 'add', 'default', 'via', gateway]);
      const mac = topo.exec(ns, 'cat', ['/sys/class/net/eth0/address']).trim();
      const rs: MethodLabServer = { ns, rip, index, method, mac };
      if (opts.ipv6) {
        const rip6 = `fd00::${rip.split('.')[3]}`;
        addr(topo, ns, 'eth0', `${rip6}/64`);
        topo.exec(ns, 'ip', ['-6', 'route', 'add', 'default', 'via', method === 'nat' ? 'fd00::8' : 'fd00::1']);
        rs.rip6 = rip6;
      }
      lab.servers.push(rs);
      lab.realServers.push(rs);
    };
    for (let i = 0; i < opts.nat; i++) add('nat', NAT_ADDRESSES[i]);
    for (let i = 0; i < opts.dr; i++) add('dr', DR_ADDRESSES[i]);
    for (let i = 0; i < opts.tun; i++) add('tun', TUN_ADDRESSES[i]);
    return lab;
  } catch (err) {
    cleanup();
    throw err;
  }
}
