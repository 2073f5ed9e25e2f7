import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../check-result.js';
import { ExecChecker, type ExecCheckOptions } from './exec.js';

const base = { rsAddress: '10.1.0.2', rsPort: 8080, vip: '10.0.0.1', vipPort: 80 };
const sh = (script: string, extra: Partial<ExecCheckOptions> = {}) => new ExecChecker({ ...base, command: '/bin/sh', args: ['-c', script], ...extra });

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('ExecChecker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vstun-health-exec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is up on exit 0 and down on exit 1, with the output in the detail', async () => {
    expect(await runCheck(sh('exit 0'), 5000)).toMatchObject({ ok: true, detail: 'exec /bin/sh: exit 0' });
    expect(await runCheck(sh('echo backend gone >&2; exit 1'), 5000)).toMatchObject({ ok: false, detail: 'exec /bin/sh: exit 1 (backend gone)' });
  });

  it('passes the RS and VIP in the environment, plus configured variables', async () => {
    const script = 'test "$VSTUN_RS_ADDRESS:$VSTUN_RS_PORT $VSTUN_VIP:$VSTUN_VIP_PORT $MODE" = "10.1.0.2:8080 10.0.0.1:80 deep"';
    expect(await runCheck(sh(script, { env: { MODE: 'deep' } }), 5000)).toMatchObject({ ok: true });
    expect(await runCheck(sh(script, { env: { MODE: 'shallow' } }), 5000)).toMatchObject({ ok: false });
  });

  it('does not re-parse arguments without shell, and does with shell', async () => {
    const printf = new ExecChecker({ ...base, command: 'printf', args: ['%s', '$(exit 1); false'] });
    expect(await runCheck(printf, 5000)).toMatchObject({ ok: true });
    const viaShell = new ExecChecker({ ...base, command: 'exit 3', shell: true });
    expect(await runCheck(viaShell, 5000)).toMatchObject({ ok: false, detail: 'exec exit 3: exit 3' });
  });

  it('kills the script and what it started when the timeout fires', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const r = await runCheck(sh(`sleep 30 & echo $! > ${pidFile}; wait`), 300);
    expect(r).toMatchObject({ ok: false });
    expect(r.detail).toMatch(/killed after timeout/);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && alive(sleeper); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(sleeper)).toBe(false);
  });

  it('is down when the program does not exist', async () => {
    const r = await runCheck(new ExecChecker({ ...base, command: join(dir, 'no-such-check') }), 5000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/ENOENT/);
  });
});
