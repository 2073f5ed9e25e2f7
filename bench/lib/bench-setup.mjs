// What every bench script starts with: the repository's paths, its --name value options,
// a fresh build (dist/ by tsc, the C helpers by gcc into bench/bin), and the routing that
// stands in for the director on the lab's hosts (a C forwarder on the TAP; the kernel path).
// io.mjs and agent.mjs still carry their own copies of the build.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bench', 'bin');

/** The value after --NAME on the command line, else `dflt` (a string). */
export function option(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** Compiles dist/ (keeping an existing build when tsc fails) and bench/c/NAME.c for each name. */
export function buildDistAndC(names) {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'vstun-director.js'))) throw err;
    console.warn('warning: tsc reported errors; using the existing dist/ build');
  }
  fs.mkdirSync(BIN, { recursive: true });
  for (const name of names) execFileSync('gcc', ['-O2', '-Wall', '-o', path.join(BIN, name), path.join(ROOT, 'bench', 'c', `${name}.c`)], { stdio: 'inherit' });
}

/**
 * What vstun-director sets up on its host, done by hand for a C forwarder on TAP `tap` in
 * namespace `ns` of `topo`: the kernel side's address, the VIP routed to the forwarder's
 * link address (pinned to `mac`, as the forwarders answer no ARP), forwarding and the TAP's
 * accept_local / rp_filter.
 */
export function routeVipIntoTap(topo, ns, tap, vip, mac) {
  const ip = (args) => topo.exec(ns, 'ip', args);
  ip(['addr', 'add', '169.254.77.1/30', 'dev', tap]);
  ip(['link', 'set', tap, 'up']);
  ip(['route', 'replace', `${vip}/32`, 'via', '169.254.77.2', 'dev', tap]);
  ip(['neigh', 'replace', '169.254.77.2', 'lladdr', mac, 'dev', tap, 'nud', 'permanent']);
  for (const [key, v] of [['net.ipv4.ip_forward', 1], [`net.ipv4.conf.${tap}.accept_local`, 1], [`net.ipv4.conf.${tap}.rp_filter`, 0]]) topo.sysctl(ns, key, v);
}

/**
 * The kernel-path reference on the bench lab: the director host forwards the VIP to the
 * router, and the router routes it straight to rs1 (UDP to port 9, the load, to rs2) by
 * policy routing: the same hops as through vstun, with no user space on them.
 */
export function routeVipByKernel(lab, rs1, rs2) {
  const { topo } = lab;
  topo.sysctl(lab.director, 'net.ipv4.ip_forward', 1);
  topo.sysctl(lab.director, 'net.ipv4.conf.all.send_redirects', 0);
  topo.sysctl(lab.director, 'net.ipv4.conf.eth0.send_redirects', 0);
  topo.exec(lab.director, 'ip', ['route', 'replace', `${lab.vip}/32`, 'via', '10.70.1.1']);
  topo.exec(lab.router, 'ip', ['route', 'add', `${lab.vip}/32`, 'via', rs1.rip, 'table', '100']);
  topo.exec(lab.router, 'ip', ['route', 'add', `${lab.vip}/32`, 'via', rs2.rip, 'table', '101']);
  topo.exec(lab.router, 'ip', ['rule', 'add', 'iif', 'dir0', 'to', `${lab.vip}/32`, 'ipproto', 'udp', 'dport', '9', 'lookup', '101', 'pref', '100']);
  topo.exec(lab.router, 'ip', ['rule', 'add', 'iif', 'dir0', 'to', `${lab.vip}/32`, 'lookup', '100', 'pref', '101']);
}
