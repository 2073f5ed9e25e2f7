import { describe, expect, it } from 'vitest';
import { AgentFrameFuzzer, DirectorFrameFuzzer } from './frame-fuzzer.js';
import { SeededRandom } from './seeded-random.js';

const mac = (last: number) => new Uint8Array([2, 0, 0, 0, 0, last]);
const director = { directorMac: mac(2), kernelMac: mac(1), linkAddress: '169.254.77.2', kernelAddress: '169.254.77.1', vip: '10.70.100.10', tcpPort: 8080, udpPort: 7 };
const agent = { rsMac: mac(9), routerMac: mac(8), rip: '10.71.1.2', dip: '10.70.1.2', vip: '10.70.100.10', udpPort: 7, guePort: 6080 };

describe('frame fuzzers', () => {
  it('make the same frames from the same seed, within Ethernet sizes, covering every kind', () => {
    const hexOf = (seed: number) => {
      const f = new DirectorFrameFuzzer(director, new SeededRandom(seed));
      const out: string[] = [];
      for (let i = 0; i < 5000; i++) {
        const fr = f.next();
        expect(fr.length).toBeGreaterThanOrEqual(14);
        expect(fr.length).toBeLessThanOrEqual(1514);
        out.push(Buffer.from(fr).toString('hex'));
      }
      return { out, kinds: f.kinds };
    };
    const a = hexOf(42);
    expect(hexOf(42).out).toEqual(a.out);
    expect(hexOf(43).out).not.toEqual(a.out);
    for (const k of ['random', 'ethernet', 'arp', 'ipv4-tcp', 'ipv4-udp', 'ipv4-fragment', 'icmp-error', 'ipv4-other', 'ipv6-ext-chain', 'ndp']) expect(a.kinds[k], k).toBeGreaterThan(0);
    expect(Object.keys(a.kinds).some((k) => k.endsWith('+mutated'))).toBe(true);
  });

  it('aims agent frames at the real server with IPIP and GUE, spoofed and not', () => {
    const f = new AgentFrameFuzzer(agent, new SeededRandom(7));
    for (let i = 0; i < 3000; i++) {
      const fr = f.next();
      expect(fr.length).toBeLessThanOrEqual(1514);
    }
    for (const k of ['ipip-vip', 'ipip-non-vip', 'ipip-bad-inner', 'ipip-spoofed', 'gue-garbage', 'gue-spoofed']) expect(f.kinds[k], k).toBeGreaterThan(0);
  });
});
