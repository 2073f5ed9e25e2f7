// Load feedback for the director's dynamic weights: load average, CPU idle since the
// previous sample, and established TCP connections per VIP from /proc/net/tcp{,6}.
import { readFile } from 'node:fs/promises';
import { cpus, endianness, loadavg } from 'node:os';

export interface CpuSample {
  idle: number;
  total: number;
}

/** Parses the aggregate `cpu` line of /proc/stat (idle includes iowait). */
export function parseProcStat(text: string): CpuSample | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { idle: (v[3] ?? 0) + (v[4] ?? 0), total };
}

/** Idle % between two samples, 0..100; null when no time passed. */
export function idlePercent(prev: CpuSample, cur: CpuSample): number | null {
  const dt = cur.total - prev.total;
  if (dt <= 0) return null;
  return Math.round(((cur.idle - prev.idle) / dt) * 1000) / 10;
}

/** /proc/net/tcp addresses are the kernel's 32-bit words printed in host byte order. */
function hexWordToBytes(word: string, little: boolean): number[] {
  const b = [0, 2, 4, 6].map((i) => parseInt(word.slice(i, i + 2), 16));
  return little ? b.reverse() : b;
}

function bytesToV6(b: number[]): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  return g.join(':');
}

/** Expands an IPv6 text to 8 full groups for comparison. */
export function expandV6(a: string): string {
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') && tail ? tail.split(':') : [];
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((x) => parseInt(x, 16).toString(16)).join(':');
}

const TCP_ESTABLISHED = '01';

/**
 * Counts ESTABLISHED sockets whose local address is one of `vips`, from the text of
 * /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6). Unknown lines are skipped.
 */
export function countEstablished(text: string, family: 4 | 6, vips: readonly string[], counts: Map<string, number>, little = endianness() === 'LE'): void {
  const wanted = new Map(vips.map((v) => [family === 6 ? expandV6(v) : v, v]));
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== TCP_ESTABLISHED) continue;
    const hexAddr = f[1].split(':')[0];
    let addr: string;
    if (family === 4 && hexAddr.length === 8) addr = hexWordToBytes(hexAddr, little).join('.');
    else if (family === 6 && hexAddr.length === 32) addr = expandV6(bytesToV6([0, 8, 16, 24].flatMap((i) => hexWordToBytes(hexAddr.slice(i, i + 8), little))));
    else continue;
    const vip = wanted.get(addr);
    if (vip !== undefined) counts.set(vip, (counts.get(vip) ?? 0) + 1);
  }
}

export interface Feedback {
  loadAverage: { '1m': number; '5m': number; '15m': number };
  /** CPU idle % since the previous /feedback (or since the agent started); null if unknown. */
  cpuIdlePercent: number | null;
  cpus: number;
  /** Established TCP connections whose local address is the VIP. */
  establishedConnections: Record<string, number>;
  establishedTotal: number;
}

/** Keeps the previous CPU sample so each reading covers the time since the last one. */
export class FeedbackSampler {
  private prev: CpuSample | null = null;

  constructor(private readonly vips: readonly string[]) {}

  /** Takes the baseline CPU sample (call at start so the first reading has a window). */
  async prime(): Promise<void> {
    this.prev = parseProcStat(await readFile('/proc/stat', 'utf8').catch(() => ''));
  }

  async read(): Promise<Feedback> {
    const [stat, tcp4, tcp6] = await Promise.all(
      ['/proc/stat', '/proc/net/tcp', '/proc/net/tcp6'].map((p) => readFile(p, 'utf8').catch(() => '')),
    );
    const cur = parseProcStat(stat);
    const idle = cur && this.prev ? idlePercent(this.prev, cur) : null;
    if (cur) this.prev = cur;
    const counts = new Map<string, number>(this.vips.map((v) => [v, 0]));
    countEstablished(tcp4, 4, this.vips.filter((v) => !v.includes(':')), counts);
    countEstablished(tcp6, 6, this.vips.filter((v) => v.includes(':')), counts);
    const [l1, l5, l15] = loadavg();
    const established = Object.fromEntries(counts);
    return {
      loadAverage: { '1m': l1, '5m': l5, '15m': l15 },
      cpuIdlePercent: idle,
      cpus: cpus().length,
      establishedConnections: established,
      establishedTotal: [...counts.values()].reduce((a, b) => a + b, 0),
    };
  }
}
