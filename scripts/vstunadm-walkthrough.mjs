#!/usr/bin/env node
// The README's vstunadm walkthrough, regenerated from a real run: the demo's lab of network
// namespaces (src/lab/vs-lab.ts), vstun-agent and a small HTTP app on three real servers,
// and vstun-director started on the director host with no config and default flags. Then
// the operator's commands, each run for real in the director host's namespace (curl in the
// client's), printed as `$ command` followed by what it printed. Everything is torn down at
// the end, on failure and on Ctrl-C.
//
//   npm run build && sudo node scripts/vstunadm-walkthrough.mjs
import { rmSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, spawnDaemon, startAgent } from '../dist/lab/lab-daemons.js';
import { run, waitFor } from '../dist/lab/netns.js';
import { buildLab } from '../dist/lab/vs-lab.js';

const lab = buildLab({ prefix: 'oew', realServers: 3, ipv6: true });
const daemons = [];
let finished = false;
const tearDown = async () => {
  if (finished) return;
  finished = true;
  for (const d of daemons.reverse()) await d.stop(3000).catch(() => null);
  lab.cleanup();
  for (const ns of lab.topo.namespaceNames) rmSync(`/run/vstun/netns/${ns}`, { recursive: true, force: true });
};
process.once('SIGINT', () => void tearDown().then(() => process.exit(130)));

const show = (line) => process.stdout.write(`${line}\n`);
/** Runs `argv` in namespace `ns`, prints `$ shown` and what it printed (stdout, then stderr). */
const step = (ns, shown, argv, input) => {
  const r = run('ip', ['netns', 'exec', ns, ...argv], { allowFail: true, timeoutMs: 60_000, input });
  show(`$ ${shown}`);
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.status !== 0 && r.stderr) process.stdout.write(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
  return r;
};
/** As an operator types it: an argument with brackets (IPv6) quoted against the shell's globbing. */
const typed = (words) => words.map((w) => (/[[\]]/.test(w) ? `'${w}'` : w)).join(' ');
const adm = (words, { input, shown } = {}) => step(lab.director, shown ?? `vstunadm ${typed(words)}`, [process.execPath, path.join(REPO_ROOT, 'dist/cli/vstunadm.js'), ...words], input);
const sh = (ns, script) => step(ns, script, ['sh', '-c', script]);
const quietly = (ns, argv) => run('ip', ['netns', 'exec', ns, ...argv], { allowFail: true, timeoutMs: 10_000 });
const answers = (url) => waitFor(() => quietly(lab.client, ['curl', '-s', '--max-time', '1', url]).status === 0, 15_000, `an answer from ${url}`, 200);

try {
  const [rs1, rs2, rs3] = lab.realServers;
  for (const rs of lab.realServers) {
    daemons.push(await startAgent(lab, rs));
    const app = [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, '--host', lab.vip, '--host', lab.vip6, '--http-port', '80', '--udp-port', '7'];
    daemons.push(spawnDaemon(lab, rs.ns, app));
  }
  const director = spawnDaemon(lab, lab.director, [path.join(REPO_ROOT, 'dist/cli/vstun-director.js')]);
  daemons.push(director);
  const vstunadm = path.join(REPO_ROOT, 'dist/cli/vstunadm.js');
  await waitFor(() => quietly(lab.director, [process.execPath, vstunadm, '-L', '-n']).status === 0, 30_000, 'the director');

  const vip = lab.vip;
  const vip6 = `[${lab.vip6}]`;
  const loop = (url, n, six = '') => `for i in $(seq ${n}); do curl${six} -s ${url}; done | sort | uniq -c`;
  show('# vstun-director            (no --config: it starts with an empty table)');
  adm(['-L', '-n']);
  adm(['-A', '-t', `${vip}:80`, '-s', 'wrr']);
  adm(['-a', '-t', `${vip}:80`, '-r', rs1.rip, '-i', '-w', '1']);
  adm(['-a', '-t', `${vip}:80`, '-r', rs2.rip, '-i', '-w', '2']);
  sh(lab.director, 'ip route show dev vstun0');
  await answers(`http://${vip}/`);
  show('# on the client:');
  sh(lab.client, loop(`http://${vip}/`, 30));
  adm(['-L', '-n']);
  adm(['-e', '-t', `${vip}:80`, '-r', rs1.rip, '-i', '-w', '2']);
  sh(lab.client, loop(`http://${vip}/`, 30));
  adm(['-A', '-t', `${vip6}:80`, '-s', 'rr']);
  adm(['-a', '-t', `${vip6}:80`, '-r', `[${rs1.rip6}]:80`, '-i']);
  adm(['-a', '-t', `${vip6}:80`, '-r', `[${rs2.rip6}]:80`, '-i']);
  sh(lab.director, 'ip -6 route show dev vstun0');
  await answers(`http://${vip6}/`);
  sh(lab.client, loop(`http://${vip6}/`, 10, ' -6'));
  adm(['-a', '-t', `${vip}:80`, '-r', rs3.rip, '-i', '-w', '1', '--tun-type', 'gue', '--tun-port', '6080']);
  adm(['-d', '-t', `${vip}:80`, '-r', rs2.rip]);
  adm(['-L', '-n', '--tun-info']);
  sh(lab.client, loop(`http://${vip}/`, 30));
  const saved = adm(['-S', '-n'], { shown: 'vstunadm -S -n | tee rules.txt' }).stdout;
  adm(['-C']);
  adm(['-L', '-n']);
  sh(lab.director, 'ip route show dev vstun0; ip -6 route show dev vstun0');
  adm(['-R'], { input: saved, shown: 'vstunadm -R < rules.txt' });
  adm(['-S', '-n']);
  sh(lab.director, 'ip route show dev vstun0');
} finally {
  await tearDown();
}
