// What every bench script starts with: the repository's paths, its --name value options,
// and a fresh build (dist/ by tsc, the C helpers by gcc into bench/bin). For new scripts;
// run.mjs, io.mjs and agent.mjs still carry their own copies.
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
