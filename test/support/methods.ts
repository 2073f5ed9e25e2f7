// Helpers of the forwarding-method e2e suites (test/e2e/method-*.test.ts): the lab app on a
// server's own address, bounded packet captures, and tshark over them with checksum checks on.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, spawnDaemon, type Daemon } from '../../src/lab/lab-daemons.js';
import type { MethodLab, MethodLabServer } from '../../src/lab/method-lab.js';
import { waitFor } from '../../src/lab/netns.js';
import { vipUrl } from './operator.js';

/** The lab app on the server's own address and port (a NAT server never holds the VIP). */
export async function startRipApp(lab: MethodLab, rs: MethodLabServer, host: string, port: number): Promise<Daemon> {
  const app = spawnDaemon(lab, rs.ns, [path.join(REPO_ROOT, 'dist/lab/lab-app.js'), '--name', `rs${rs.index}`, '--host', host, '--http-port', String(port), '--udp-port', '7']);
  const url = vipUrl(host, port);
  await waitFor(
    () => {
      if (app.child.exitCode !== null) throw new Error(`lab app on rs${rs.index} exited: ${app.output().trim()}`);
      return lab.topo.tryExec(rs.ns, 'curl', ['-s', '-o', '/dev/null', '--max-time', '1', url], 3000).status === 0;
    },
    15_000,
    `the lab app on ${host}:${port}`,
    100,
  );
  return app;
}

/** tshark over a capture file: one line per packet matching `filter`, with `fields`. */
export function tsharkLines(lab: MethodLab, file: string, filter: string, fields: string[]): string[] {
  const args = ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-Y', filter, '-T', 'fields'];
  for (const f of fields) args.push('-e', f);
  const out = lab.topo.exec(null, 'tshark', args, { timeoutMs: 60_000 });
  return out.split('\n').filter(Boolean);
}

/** Starts tcpdump in `ns` on `dev` writing `file`, bounded by a packet count; resolves once it listens. */
export async function startCapture(lab: MethodLab, ns: string, dev: string, file: string, filter: string): Promise<Daemon> {
  const child = lab.topo.spawn(ns, 'tcpdump', ['-i', dev, '-U', '--immediate-mode', '-n', '-s', '0', '-c', '20000', '-w', file, filter]);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => err.includes('listening on'), 10_000, `tcpdump on ${dev}`, 50);
  return {
    child,
    output: () => err,
    stop: async (graceMs = 3000) => {
      const code = await new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
        child.kill('SIGINT');
      });
      // The wrapper may exit before the file's last write lands: wait (bounded) until its size holds.
      let last = -1;
      await waitFor(() => {
        const size = existsSync(file) ? statSync(file).size : 0;
        const stable = size === last && size > 0;
        last = size;
        return stable;
      }, 5000, `${file} to be complete`, 200).catch(() => undefined);
      return code;
    },
  };
}


/**
 * vsftpd in the server's namespace, standalone (listen=YES, foreground), anonymous and
 * read-only over `root`, passive ports 40000-40100, active connections from port 20, with
 * a config file, an empty secure-chroot directory and a log in `dir` (created here). Resolves
 * once it listens on rs.rip:21; stop() ends it, and the lab's cleanup kills it anyway.
 */
export async function startVsftpd(lab: MethodLab, rs: MethodLabServer, dir: string, root: string): Promise<Daemon> {
  const emptyDir = path.join(dir, 'empty');
  mkdirSync(emptyDir, { recursive: true, mode: 0o755 });
  const conf = path.join(dir, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'background=NO',
      `listen_address=${rs.rip}`,
      'anonymous_enable=YES',
      'no_anon_password=YES',
      `anon_root=${root}`,
      'local_enable=NO',
      'write_enable=NO',
      'pasv_enable=YES',
      'pasv_min_port=40000',
      'pasv_max_port=40100',
      'port_enable=YES',
      'connect_from_port_20=YES',
      `secure_chroot_dir=${emptyDir}`,
      'seccomp_sandbox=NO',
      'xferlog_enable=YES',
      'syslog_enable=NO',
      `vsftpd_log_file=${path.join(dir, 'vsftpd.log')}`,
      'dual_log_enable=NO',
      '',
    ].join('\n'),
  );
  const child = lab.topo.spawn(rs.ns, 'vsftpd', [conf]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`vsftpd on rs${rs.index} exited ${child.exitCode}: ${out.trim()}`);
      return lab.topo.tryExec(rs.ns, 'ss', ['-Hltn', `sport = :21`], 3000).stdout.includes(`${rs.rip}:21`);
    },
    15_000,
    `vsftpd on ${rs.rip}:21`,
    100,
  );
  return {
    child,
    output: () => out,
    stop: (graceMs = 3000) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}
