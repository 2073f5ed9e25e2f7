// FTP through VS/NAT, the textbook protocol with addresses in its payload: vsftpd on the two
// NAT servers of the method lab (10.0.0.7 and 10.0.0.17, each with its own random file under
// the same name), one `-t VIP:21 -s rr` service with both `-m`, created with vstunadm from
// an empty director. curl downloads the file in passive mode (EPSV, and PASV whose 227 line
// the director rewrites to the VIP, a longer text, so every later sequence number of the
// control connection moves) and in active mode (EPRT and PORT: the server connects back
// from port 20 and the client sees VIP:20). Each download's sha256 is one server's file, and
// rr makes consecutive downloads alternate servers, so each data connection went to its
// control connection's server. tshark checks what the client saw.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/lab/lab-daemons.js';
import { buildMethodLab, type MethodLab } from '../../src/lab/method-lab.js';
import { startCapture, startVsftpd, tsharkLines } from '../support/methods.js';
import { canRunNetnsTests } from '../support/netns.js';
import { admOk, startOperatorDirector, tearDown, type OperatorDirector } from '../support/operator.js';

const FILE_BYTES = 3 * 1024 * 1024;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!canRunNetnsTests())('VS/NAT: FTP (vsftpd behind -t VIP:21 -m), passive and active', () => {
  let lab: MethodLab;
  let director: OperatorDirector | undefined;
  const daemons: Daemon[] = [];
  /** sha256 of each server's file, index = server. */
  const sums: string[] = [];

  beforeAll(async () => {
    lab = buildMethodLab({ prefix: 'ftp', nat: 2, dr: 0, tun: 0 });
    for (const rs of lab.servers) {
      const dir = path.join(lab.workDir, `rs${rs.index}`);
      const root = path.join(dir, 'root');
      mkdirSync(root, { recursive: true });
      // vsftpd serves anonymous users from root (read by its unprivileged user after chroot).
      chmodSync(lab.workDir, 0o755);
      chmodSync(dir, 0o755);
      chmodSync(root, 0o755);
      const file = randomBytes(FILE_BYTES);
      writeFileSync(path.join(root, 'file.bin'), file, { mode: 0o644 });
      sums.push(sha256(file));
      daemons.push(await startVsftpd(lab, rs, dir, root));
    }
    // As deployed: default queue count (one per core), so the control connection, its replies
    // and both kinds of data connection meet on one queue only through the TAP steering.
    director = await startOperatorDirector(lab);
    expect(admOk(director, ['-L', '-n'])).not.toMatch(/TCP/);
    admOk(director, ['-A', '-t', `${lab.vip}:21`, '-s', 'rr']);
    for (const rs of lab.servers) admOk(director, ['-a', '-t', `${lab.vip}:21`, '-r', rs.rip, '-m']);
  }, 150_000);

  afterAll(() => tearDown(lab, [director, ...daemons]));

  /** One curl download from the client; the sha256 of what arrived, or curl's error. */
  function download(args: string[], name: string): string {
    const out = path.join(lab.workDir, `${name}.bin`);
    const r = lab.topo.tryExec(lab.client, 'curl', ['-sS', '--max-time', '30', '-o', out, ...args, `ftp://${lab.vip}/file.bin`], 40_000);
    if (r.status !== 0) return `curl exited ${r.status}: ${r.stderr.trim()}`;
    return sha256(readFileSync(out));
  }

  const modes: Array<[string, string[]]> = [
    ['passive, EPSV (curl\'s default)', ['--ftp-pasv']],
    ['passive, PASV (227 rewritten to the VIP)', ['--ftp-pasv', '--disable-epsv']],
    ['active, EPRT', ['-P', '-']],
    ['active, PORT', ['-P', '-', '--disable-eprt']],
  ];

  it.each(modes)('%s: two downloads, one from each server, sha256 intact', (_name, args) => {
    const got = [download(args, 'a'), download(args, 'b')];
    // rr: consecutive control connections alternate servers, and the data follows its control connection.
    expect(new Set(got)).toEqual(new Set(sums));
  });

  it('the client sees only the VIP: a 227 naming it, active data from VIP:20, good checksums', async () => {
    const cap = path.join(lab.workDir, 'client.pcap');
    const c = await startCapture(lab, lab.router, 'cli0', cap, 'tcp');
    let got: string[];
    try {
      got = [download(['--disable-epsv'], 'c'), download(['-P', '-', '--disable-eprt'], 'd')];
    } finally {
      await c.stop();
    }
    for (const g of got) expect(sums).toContain(g);
    expect(tsharkLines(lab, cap, 'ftp.response.code == 227', ['ftp.passive.ip'])).toEqual([lab.vip]);
    expect(tsharkLines(lab, cap, `ip.dst == ${lab.clientIp} and not ip.src == ${lab.vip}`, ['ip.src'])).toEqual([]);
    // The active data connection opens from VIP:20.
    expect(tsharkLines(lab, cap, `ip.src == ${lab.vip} and tcp.flags.syn == 1 and tcp.flags.ack == 0`, ['tcp.srcport'])).toEqual(['20']);
    const fromVip = tsharkLines(lab, cap, `ip.src == ${lab.vip}`, ['frame.number']);
    expect(fromVip.length).toBeGreaterThan(100);
    expect(tsharkLines(lab, cap, `ip.src == ${lab.vip} and ip.checksum.status == 1 and tcp.checksum.status == 1`, ['frame.number'])).toHaveLength(fromVip.length);
    // The control connections saw no retransmission or out-of-window data (the sequence shift is right).
    expect(tsharkLines(lab, cap, 'tcp.port == 21 and (tcp.analysis.retransmission or tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment)', ['frame.number'])).toEqual([]);
  });

  it('--stats counts the data connections as the service\'s traffic', () => {
    const stats = admOk(director!, ['-L', '-n', '--stats', '--exact']);
    const line = stats.split('\n').find((l) => l.startsWith('TCP'))!;
    const [, , conns, inPkts, outPkts, , outBytes] = line.trim().split(/\s+/);
    expect(Number(conns)).toBe(10);
    expect(Number(inPkts)).toBeGreaterThan(0);
    expect(Number(outPkts)).toBeGreaterThan(0);
    // Out: at least the ten files (3 of the downloads were active: the data came back through the director too).
    expect(Number(outBytes)).toBeGreaterThan(10 * FILE_BYTES);
  });
});
