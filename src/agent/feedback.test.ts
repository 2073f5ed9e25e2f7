import { describe, expect, it } from 'vitest';
import { countEstablished, expandV6, idlePercent, parseProcStat } from './feedback.js';

// Lines as the kernel prints them on a little-endian machine.
const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0A6433C6:0050 0771CBCB:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 4 30 10 -1
   1: 0A6433C6:0050 0871CBCB:9C41 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0A6433C6:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st
   0: B80D0120000000000000000010000000:0050 B80D0120000000000000000007000000:9C40 01 00000000:00000000
`;

describe('feedback parsing', () => {
  it('counts established sockets on each VIP (listeners and other addresses excluded)', () => {
    const counts = new Map<string, number>([['198.51.100.10', 0]]);
    countEstablished(TCP4, 4, ['198.51.100.10'], counts, true);
    expect(counts.get('198.51.100.10')).toBe(2);
  });

  it('reads IPv6 words in host order', () => {
    const counts = new Map<string, number>();
    countEstablished(TCP6, 6, ['2001:db8::10'], counts, true);
    expect(counts.get('2001:db8::10')).toBe(1);
    expect(expandV6('2001:db8::10')).toBe('2001:db8:0:0:0:0:0:10');
  });

  it('computes idle % from two /proc/stat samples', () => {
    const a = parseProcStat('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3');
    const b = parseProcStat('cpu  150 0 150 1000 100 0 0 0 0 0\n');
    expect(a).toEqual({ idle: 800, total: 1000 });
    expect(idlePercent(a!, b!)).toBe(75);
    expect(idlePercent(b!, b!)).toBeNull();
  });
});
