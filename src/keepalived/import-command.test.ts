// vstunadm import-keepalived as a command: usage, exit codes, -o, and bad input of any shape
// (fast-check) never crashing the importer nor producing a config the director refuses.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { validateDirectorConfig } from '../control/config-loader.js';
import { parseKeepalivedText } from './conf-parser.js';
import { runImportKeepalived } from './import-command.js';
import { importKeepalived } from './importer.js';

const dir = mkdtempSync(join(tmpdir(), 'vt-ti-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = runImportKeepalived(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('vstunadm import-keepalived', () => {
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, 'virtual_server 192.0.2.1 80 {\n  lb_kind TUN\n  real_server 10.0.0.1 80 {\n    weight 2\n    TCP_CHECK {\n    }\n  }\n  bogus_key 1\n}\n');

  it('writes the YAML to stdout and the notes, with file:line, to stderr', () => {
    const r = run(conf);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# director\.yaml imported from keepalived\.conf/);
    expect(r.stdout).toContain('#   keepalived.conf:8: bogus_key: not carried');
    expect(r.stderr).toBe(`${conf}:8: bogus_key: not carried (not a virtual_server keyword vstun knows)\n`);
  });

  it('-o writes the file; --quiet says nothing', () => {
    const out = join(dir, 'director.yaml');
    const r = run(conf, '-o', out, '--quiet');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect(readFileSync(out, 'utf8')).toContain('weight: 2');
  });

  it.each([
    { args: [], code: 2, message: /no keepalived.conf given/ },
    { args: ['a', 'b'], code: 2, message: /unexpected argument 'b'/ },
    { args: ['-z'], code: 2, message: /unknown option '-z'/ },
    { args: ['x.conf', '-o'], code: 2, message: /-o needs a file name/ },
    { args: ['/nonexistent/keepalived.conf'], code: 1, message: /cannot read \/nonexistent\/keepalived.conf/ },
  ])('$args → exit $code', ({ args, code, message }) => {
    const r = run(...args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a file with nothing vstun can carry exits 1 and writes nothing', () => {
    const only = join(dir, 'fwmark.conf');
    writeFileSync(only, 'virtual_server fwmark 1 {\n}\n');
    const out = join(dir, 'never.yaml');
    const r = run(only, '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fwmark.conf:1: virtual_server fwmark 1: refused/);
    expect(r.stderr).toMatch(/nothing written/);
    expect(() => readFileSync(out)).toThrow();
  });
});

describe('any input', () => {
  // Well-formed blocks with random keyword lines inside: reaches every mapping, with bad values.
  const value = fc.constantFrom('', '0', '1', '3', '-1', '70000', '2.5', 'x', '10.0.0.1', '10.0.0.2', '::1', '/bin/x', '"/bin/y a"', 'TUN', 'NAT', 'type gue port 6080', 'wrr', 'mh', 'on', 'off');
  const key = fc.constantFrom('weight', 'uthreshold', 'lthreshold', 'inhibit_on_failure', 'notify_up', 'notify_down', 'delay_loop', 'connect_timeout', 'retry', 'delay_before_retry', 'alpha', 'lvs_method', 'connect_port', 'connect_ip', 'bindto', 'virtualhost', 'misc_path', 'type', 'name', 'helo_name', 'payload', 'path', 'status_code', 'regex');
  const line = fc.tuple(key, value).map(([k, v]) => `${k} ${v}`);
  const checker = fc.tuple(fc.constantFrom('TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'DNS_CHECK', 'SMTP_CHECK', 'PING_CHECK', 'UDP_CHECK', 'FILE_CHECK'), fc.array(line, { maxLength: 4 }), fc.array(line, { maxLength: 3 })).map(([k, ls, url]) => `${k} {\n${ls.join('\n')}\nurl {\n${url.join('\n')}\n}\nhost {\n${url.join('\n')}\n}\n}`);
  const server = fc.tuple(fc.constantFrom('10.0.0.1 80', '10.0.0.1 8080', '10.0.0.2', '2001:db8::1 80', 'bad 80'), fc.array(fc.oneof(line, checker), { maxLength: 5 })).map(([h, body]) => `real_server ${h} {\n${body.join('\n')}\n}`);
  const vsLine = fc.tuple(fc.constantFrom('lb_algo', 'lvs_sched', 'lb_kind', 'lvs_method', 'protocol', 'persistence_timeout', 'persistence_granularity', 'sorry_server', 'quorum', 'hysteresis', 'quorum_up', 'ops', 'mh-port', 'sh-port', 'delay_loop', 'inhibit_on_failure', 'omega'), value).map(([k, v]) => `${k} ${v}`);
  const virtualServer = fc.tuple(fc.constantFrom('192.0.2.1 80', '192.0.2.1', 'group G', 'fwmark 3', '2001:db8::10 443'), fc.array(fc.oneof(vsLine, server), { maxLength: 8 })).map(([h, body]) => `virtual_server ${h} {\n${body.join('\n')}\n}`);
  const group = fc.array(fc.constantFrom('192.0.2.1 80', '192.0.2.5-7 81', '198.51.100.0/30 82', 'fwmark 1', '10.0.0.300 1'), { maxLength: 4 }).map((es) => `virtual_server_group G {\n${es.join('\n')}\n}`);
  it('structured: never throws, and what it produces the director accepts', () => {
    fc.assert(
      fc.property(group, fc.array(virtualServer, { minLength: 1, maxLength: 3 }), (g, vss) => {
        const r = importKeepalived(parseKeepalivedText(`${g}\n${vss.join('\n')}\n`));
        validateDirectorConfig(r.config, 'imported');
      }),
      { numRuns: 500 },
    );
  });

  const words = fc.constantFrom('virtual_server', 'real_server', 'virtual_server_group', 'group', 'fwmark', 'TCP_CHECK', 'HTTP_GET', 'url', 'path', '/x', 'weight', '-1', '70000', '10.0.0.1', '192.0.2.1-300', '::1', '80', '0', '{', '}', '"', "'", '#', '!', 'lb_kind', 'TUN', 'type', 'gue', 'port', 'quorum', 'MISC_CHECK', 'misc_path', 'uthreshold', 'lthreshold', 'notify_up', 'sorry_server', 'persistence_timeout', 'include', '\n');
  it('never throws, and what it produces the director accepts', () => {
    fc.assert(
      fc.property(fc.array(words, { maxLength: 80 }), fc.string({ maxLength: 40 }), (ws, noise) => {
        const r = importKeepalived(parseKeepalivedText(`${ws.join(' ')}\n${noise}`));
        validateDirectorConfig(r.config, 'imported');
        for (const n of r.notes) expect(n.line).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });
});
