// A small internet in network namespaces for the demo, the benchmark and the e2e tests:
//
//   client ──► router ──► director host (kernel + TAP ──► vstun-director)
//                │
//                ├──► site 1: rs1 (VIP on lo, vstun-agent, HTTP on the VIP)
//                ├──► site 2: rs2
//                └──► site 3: rs3
//
// The router routes the VIP to the director host; the director host's kernel routes it
// into the TAP; vstun-director sends IPIP back out through the kernel to the real
// servers, on their own subnets ("sites"); the real servers answer the client directly
// through the router, never through the director.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Topology } from './netns.js';

export interface LabOptions {
  /** Prefix for namespace names (kept short: names are vt-<prefix>-<role>-<tag>). */
  prefix: string;
  /** Number of real servers, one per site (1..20). */
  realServers: number;
  /** MTU of the router → real-server links (default 1500): lower it to exercise PMTU. */
  siteMtu?: number;
  /** Also give every link an IPv6 address and route the IPv6 VIP. */
  ipv6?: boolean;
}

export interface LabRealServer {
  ns: string;
  /** The real server's own address (RIP). */
  rip: string;
  rip6?: string;
  index: number;
}

export interface Lab {
  topo: Topology;
  client: string;
  router: string;
  director: string;
  clientIp: string;
  clientIp6?: string;
  /** The director host's routable address: the outer source of the tunnel (DIP). */
  dip: string;
  dip6?: string;
  vip: string;
  vip6?: string;
  realServers: LabRealServer[];
  /** Scratch directory for configs, pid files and logs; removed by cleanup(). */
  workDir: string;
  cleanup(): void;
}

export const LAB_VIP = '10.70.100.10';
export const LAB_VIP6 = 'fd70:100::10';
/** The director's tunnel health-check probe source (director.probeSource): routed by the router to the director host. */
export const LAB_PROBE_SOURCE = '10.70.2.1';

/** Builds the topology; on any failure everything created so far is removed before rethrowing. */
export function buildLab(opts: LabOptions): Lab {
  if (!Number.isInteger(opts.realServers) || opts.realServers < 1 || opts.realServers > 20) {
    throw new RangeError(`realServers must be an integer from 1 to 20, got ${opts.realServers}`);
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
    for (const ns of [client, router, director]) forwardingDefaults(topo, ns);
    topo.sysctl(router, 'net.ipv4.ip_forward', 1);
    if (opts.ipv6) topo.sysctl(router, 'net.ipv6.conf.all.forwarding', 1);

    // client <-> router
    topo.veth(client, 'eth0', router, 'cli0');
    addr(topo, client, 'eth0', '10.70.0.2/24');
    addr(topo, router, 'cli0', '10.70.0.1/24');
    topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.70.0.1']);

    // director host <-> router
    topo.veth(director, 'eth0', router, 'dir0');
    addr(topo, director, 'eth0', '10.70.1.2/24');
    addr(topo, router, 'dir0', '10.70.1.1/24');
    topo.exec(director, 'ip', ['route', 'add', 'default', 'via', '10.70.1.1']);
    topo.exec(router, 'ip', ['route', 'add', `${LAB_VIP}/32`, 'via', '10.70.1.2']);
    // Real servers answer health probes to the probe source directly, so it must route back.
    topo.exec(router, 'ip', ['route', 'add', `${LAB_PROBE_SOURCE}/32`, 'via', '10.70.1.2']);

    const lab: Lab = {
      topo,
      client,
      router,
      director,
      clientIp: '10.70.0.2',
      dip: '10.70.1.2',
      vip: LAB_VIP,
      realServers: [],
      workDir,
      cleanup,
    };

    if (opts.ipv6) {
      addr(topo, client, 'eth0', 'fd70:0::2/64');
      addr(topo, router, 'cli0', 'fd70:0::1/64');
      topo.exec(client, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd70:0::1']);
      addr(topo, director, 'eth0', 'fd70:1::2/64');
      addr(topo, router, 'dir0', 'fd70:1::1/64');
      topo.exec(director, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd70:1::1']);
      topo.exec(router, 'ip', ['-6', 'route', 'add', `${LAB_VIP6}/128`, 'via', 'fd70:1::2']);
      lab.clientIp6 = 'fd70:0::2';
      lab.dip6 = 'fd70:1::2';
      lab.vip6 = LAB_VIP6;
    }

    for (let i = 1; i <= opts.realServers; i++) {
      const ns = topo.ns(`rs${i}`);
      forwardingDefaults(topo, ns);
      topo.veth(ns, 'eth0', router, `site${i}`);
      if (opts.siteMtu) {
        topo.exec(ns, 'ip', ['link', 'set', 'eth0', 'mtu', String(opts.siteMtu)]);
        topo.exec(router, 'ip', ['link', 'set', `site${i}`, 'mtu', String(opts.siteMtu)]);
      }
      addr(topo, ns, 'eth0', `10.71.${i}.2/24`);
      addr(topo, router, `site${i}`, `10.71.${i}.1/24`);
      topo.exec(ns, 'ip', ['route', 'add', 'default', 'via', `10.71.${i}.1`]);
      const rs: LabRealServer = { ns, rip: `10.71.${i}.2`, index: i };
      if (opts.ipv6) {
        addr(topo, ns, 'eth0', `fd71:${i}::2/64`);
        addr(topo, router, `site${i}`, `fd71:${i}::1/64`);
        topo.exec(ns, 'ip', ['-6', 'route', 'add', 'default', 'via', `fd71:${i}::1`]);
        rs.rip6 = `fd71:${i}::2`;
      }
      lab.realServers.push(rs);
    }
    return lab;
  } catch (err) {
    cleanup();
    throw err;
  }
}

export function addr(topo: Topology, ns: string, dev: string, cidr: string): void {
  // nodad: IPv6 addresses usable at once, no 1-2 s of duplicate address detection.
  const extra = cidr.includes(':') ? ['nodad'] : [];
  topo.exec(ns, 'ip', ['addr', 'add', cidr, 'dev', dev, ...extra]);
}

/** Loose reverse-path filtering: in VS/TUN the replies leave by a path the requests did not take. */
export function forwardingDefaults(topo: Topology, ns: string): void {
  topo.sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0);
  topo.sysctl(ns, 'net.ipv4.conf.default.rp_filter', 0);
  // No duplicate-address detection: links come up usable at once (no 1 s stall on first use).
  topo.sysctl(ns, 'net.ipv6.conf.all.accept_dad', 0);
  topo.sysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
}

/**
 * Starts an HTTP server answering `rs<i>\n` on the VIP(s) port 80 inside a real server's
 * namespace: nginx when installed (as in production), otherwise Node's http module.
 * The VIP must already be on lo (the agent puts it there), or the bind fails.
 */
export function startHttpServer(lab: Lab, rs: LabRealServer, preferNginx = true): 'nginx' | 'node' {
  const body = `rs${rs.index}`;
  const vips = [lab.vip, ...(lab.vip6 ? [lab.vip6] : [])];
  if (preferNginx && existsSync('/usr/sbin/nginx')) {
    const dir = path.join(lab.workDir, `nginx-rs${rs.index}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const listens = vips.map((v) => `    listen ${v.includes(':') ? `[${v}]` : v}:80;`).join('\n');
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      [
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 4096; }',
        'http {',
        `  access_log off;`,
        `  client_body_temp_path ${dir}/body;`,
        `  proxy_temp_path ${dir}/proxy;`,
        `  fastcgi_temp_path ${dir}/fastcgi;`,
        `  uwsgi_temp_path ${dir}/uwsgi;`,
        `  scgi_temp_path ${dir}/scgi;`,
        '  client_max_body_size 64m;',
        '  server {',
        listens,
        // Read (and discard) request bodies so uploads complete.
        `    location / { client_body_in_single_buffer off; return 200 "${body}\\n"; }`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    lab.topo.spawn(rs.ns, '/usr/sbin/nginx', ['-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;']);
    return 'nginx';
  }
  const script = path.join(lab.workDir, `http-rs${rs.index}.cjs`);
  writeFileSync(
    script,
    [
      "const http = require('node:http');",
      `for (const host of ${JSON.stringify(vips)}) {`,
      '  http.createServer((req, res) => { req.resume(); req.on("end", () => res.end(' + JSON.stringify(`${body}\n`) + ')); })',
      '    .listen(80, host);',
      '}',
      '',
    ].join('\n'),
  );
  lab.topo.spawn(rs.ns, process.execPath, [script]);
  return 'node';
}
