// The TAP steering program: its bytes against a listing encoded by hand from the uapi
// (include/uapi/linux/bpf.h), and, where this process may load eBPF (root), the loaded
// program run by the kernel over real frames (BPF_PROG_TEST_RUN), as the TAP would run it.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../native/addon.js';
import { buildSteeringProgram, MAX_STEERED_ADDRESSES, steeredQueue, type SteeringSets } from './steering-program.js';
import { fittingSets, probeSteering, QueueSteering, steeringLimitReason, steeringSetsOf } from './queue-steering.js';
import { validateDirectorConfig } from '../control/config-loader.js';

const EMPTY: SteeringSets = { clientVips4: [], clientVips6: [], natServers4: [], natServers6: [], clientPrefix4: 32 };

/** The program for EMPTY on 2 queues, one instruction per line: code, dst|src<<4, off (LE16), imm (LE32). */
const EMPTY_2Q = [
  'bf 16 0000 00000000', //  0 r6 = r1
  '28 00 0000 0c000000', //  1 r0 = ld_abs16 [12] (ethertype)
  '16 00 0300 00080000', //  2 if w0 == 0x0800 goto 6
  '16 00 1500 dd860000', //  3 if w0 == 0x86dd goto 25
  'b7 00 0000 00000000', //  4 r0 = 0
  '95 00 0000 00000000', //  5 exit
  '20 00 0000 1e000000', //  6 r0 = ld_abs32 [30] (IPv4 destination)
  'bf 07 0000 00000000', //  7 r7 = r0
  '20 00 0000 1a000000', //  8 r0 = ld_abs32 [26] (IPv4 source)
  'bf 08 0000 00000000', //  9 r8 = r0
  'bf 89 0000 00000000', // 10 r9 = r8
  'af 79 0000 00000000', // 11 r9 ^= r7
  '28 00 0000 14000000', // 12 r0 = ld_abs16 [20] (flags, fragment offset)
  '46 00 2400 ff3f0000', // 13 if w0 & 0x3fff goto 50
  '30 00 0000 17000000', // 14 r0 = ld_abs8 [23] (protocol)
  '16 00 0200 06000000', // 15 if w0 == 6 goto 18
  '16 00 0100 11000000', // 16 if w0 == 17 goto 18
  '05 00 2000 00000000', // 17 goto 50
  '30 00 0000 0e000000', // 18 r0 = ld_abs8 [14] (version, IHL)
  '54 00 0000 0f000000', // 19 w0 &= 15
  '64 00 0000 02000000', // 20 w0 <<= 2
  'bf 07 0000 00000000', // 21 r7 = r0
  '40 70 0000 0e000000', // 22 r0 = ld_ind32 [r7 + 14] (ports)
  'af 09 0000 00000000', // 23 r9 ^= r0
  '05 00 1900 00000000', // 24 goto 50
  '20 00 0000 16000000', // 25 IPv6: r0 = ld_abs32 [22] (source word 0)
  'bf 09 0000 00000000', // 26 r9 = r0
  '20 00 0000 1a000000', // 27
  'af 09 0000 00000000', // 28 r9 ^= r0
  '20 00 0000 1e000000', // 29
  'af 09 0000 00000000', // 30
  '20 00 0000 22000000', // 31
  'af 09 0000 00000000', // 32
  'bf 98 0000 00000000', // 33 r8 = r9
  '20 00 0000 26000000', // 34 r0 = ld_abs32 [38] (destination word 0)
  'bf 09 0000 00000000', // 35
  '20 00 0000 2a000000', // 36
  'af 09 0000 00000000', // 37
  '20 00 0000 2e000000', // 38
  'af 09 0000 00000000', // 39
  '20 00 0000 32000000', // 40
  'af 09 0000 00000000', // 41
  'af 89 0000 00000000', // 42 r9 ^= r8
  '30 00 0000 14000000', // 43 r0 = ld_abs8 [20] (next header)
  '16 00 0200 06000000', // 44 if w0 == 6 goto 47
  '16 00 0100 11000000', // 45 if w0 == 17 goto 47
  '05 00 0300 00000000', // 46 goto 50
  '20 00 0000 36000000', // 47 r0 = ld_abs32 [54] (ports)
  'af 09 0000 00000000', // 48 r9 ^= r0
  '05 00 0000 00000000', // 49 goto 50
  'bf 90 0000 00000000', // 50 mix: r0 = r9
  '74 00 0000 10000000', // 51 w0 >>= 16
  'ac 09 0000 00000000', // 52 w9 ^= w0
  '24 09 0000 b179379e', // 53 w9 *= 0x9e3779b1
  '74 09 0000 10000000', // 54 w9 >>= 16
  '94 09 0000 02000000', // 55 w9 %= 2
  'bf 90 0000 00000000', // 56 r0 = r9
  '95 00 0000 00000000', // 57 exit
];

const hexLines = (prog: Uint8Array) => Array.from({ length: prog.length / 8 }, (_, i) => Buffer.from(prog.subarray(i * 8, i * 8 + 8)).toString('hex'));
const golden = (lines: string[]) => lines.map((l) => l.replace(/ /g, ''));

const ip4 = (t: string) => t.split('.').reduce((a, b) => a * 256 + Number(b), 0);
const v6 = (words: number[]) => {
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt32BE(w >>> 0, i * 4));
  return new Uint8Array(b);
};

describe('buildSteeringProgram: bytes', () => {
  it('with nothing client-keyed, on 2 queues, is the hand-encoded listing', () => {
    expect(hexLines(buildSteeringProgram(EMPTY, 2))).toEqual(golden(EMPTY_2Q));
  });

  it('bakes each client-keyed VIP and NAT server into one 32-bit compare, and the persistence mask into the key', () => {
    const prog = hexLines(buildSteeringProgram({ ...EMPTY, clientVips4: [ip4('10.0.0.100')], natServers4: [ip4('10.0.0.7')], clientPrefix4: 24 }, 4));
    // Two compares, the by-source block (18 instructions: ICMP errors key by the quoted destination) and the by-destination one (3).
    expect(prog).toHaveLength(EMPTY_2Q.length + 23);
    // After r8 = source (9): if w7 == 10.0.0.100 goto by-source (27); if w8 == 10.0.0.7 goto by-destination (45).
    expect(prog[10]).toBe(golden(['16 07 1000 6400000a'])[0]);
    expect(prog[11]).toBe(golden(['16 08 2100 0700000a'])[0]);
    expect(prog.slice(27, 48)).toEqual(
      golden([
        '30 00 0000 17000000', // 27 r0 = ld_abs8 [23] (protocol)
        '56 00 0d00 01000000', // 28 if w0 != 1 (ICMP) goto 42
        '30 00 0000 0e000000', // 29 r0 = ld_abs8 [14] (IHL)
        '54 00 0000 0f000000', // 30 w0 &= 15
        '64 00 0000 02000000', // 31 w0 <<= 2
        'bf 07 0000 00000000', // 32 r7 = r0
        '50 70 0000 0e000000', // 33 r0 = ld_ind8 [r7 + 14] (ICMP type)
        '16 00 0300 03000000', // 34 if w0 == 3 goto 38
        '16 00 0200 0b000000', // 35 if w0 == 11 goto 38
        '16 00 0100 0c000000', // 36 if w0 == 12 goto 38
        '05 00 0400 00000000', // 37 goto 42
        '40 70 0000 26000000', // 38 r0 = ld_ind32 [r7 + 38] (the quoted destination)
        'bf 09 0000 00000000', // 39 r9 = r0
        '54 09 0000 00ffffff', // 40 w9 &= 255.255.255.0
        '05 00 1f00 00000000', // 41 goto 73 (mix)
        'bf 89 0000 00000000', // 42 r9 = r8 (the source)
        '54 09 0000 00ffffff', // 43 w9 &= 255.255.255.0
        '05 00 1c00 00000000', // 44 goto 73
        'bf 79 0000 00000000', // 45 r9 = r7 (by destination)
        '54 09 0000 00ffffff', // 46 w9 &= 255.255.255.0
        '05 00 1900 00000000', // 47 goto 73
      ]),
    );
    expect(prog[prog.length - 3]).toBe(golden(['94 09 0000 04000000'])[0]); // w9 %= 4
  });

  it('compares an IPv6 VIP word by word, on to the next address at the first difference', () => {
    const prog = hexLines(buildSteeringProgram({ ...EMPTY, clientVips6: [v6([0x20010db8, 0, 0, 0x64])] }, 2));
    expect(prog.slice(25, 33)).toEqual(
      golden([
        '20 00 0000 26000000', // r0 = destination word 0
        '56 00 0600 b80d0120', // if w0 != 0x20010db8 goto 33 (next address)
        '20 00 0000 2a000000',
        '56 00 0400 00000000',
        '20 00 0000 2e000000',
        '56 00 0200 00000000',
        '20 00 0000 32000000',
        '16 00 1900 64000000', // if w0 == 0x64 goto by-source (58)
      ]),
    );
  });

  it('refuses more than MAX_STEERED_ADDRESSES addresses and a bad queue count', () => {
    const many = Array.from({ length: MAX_STEERED_ADDRESSES + 1 }, (_, i) => ip4('10.1.0.0') + i);
    expect(() => buildSteeringProgram({ ...EMPTY, natServers4: many }, 2)).toThrow(RangeError);
    expect(() => buildSteeringProgram({ ...EMPTY, natServers4: many.slice(1) }, 2)).not.toThrow();
    expect(() => buildSteeringProgram(EMPTY, 0)).toThrow(RangeError);
  });
});

describe('steeringSetsOf', () => {
  const config = validateDirectorConfig({
    services: [
      { protocol: 'tcp', vip: '192.0.2.1', port: 80, realServers: [{ address: '10.0.0.7', forward: 'masq' }, { address: '10.9.0.1' }] },
      { protocol: 'tcp', vip: '192.0.2.2', port: 443, persistence: 300, netmask: '255.255.255.0', realServers: [{ address: '10.9.0.2' }] },
      { protocol: 'tcp', vip: '192.0.2.3', port: 80, realServers: [{ address: '10.9.0.3' }] },
      { protocol: 'tcp', vip: '2001:db8::1', port: 80, realServers: [{ address: '2001:db8:1::7', forward: 'masq' }] },
    ],
  });

  it('keys NAT and persistent VIPs by the client, NAT servers by their destination, with the widest persistence mask', () => {
    const sets = steeringSetsOf(config.services);
    expect(sets.clientVips4).toEqual([ip4('192.0.2.1'), ip4('192.0.2.2')]);
    expect(sets.natServers4).toEqual([ip4('10.0.0.7')]);
    expect(sets.clientVips6.map((a) => Buffer.from(a).toString('hex'))).toEqual(['20010db8000000000000000000000001']);
    expect(sets.natServers6.map((a) => Buffer.from(a).toString('hex'))).toEqual(['20010db8000100000000000000000007']);
    expect(sets.clientPrefix4).toBe(24);
  });

  it('names the cap when a table has too many addresses to steer', () => {
    const realServers = Array.from({ length: MAX_STEERED_ADDRESSES }, (_, i) => ({ address: `10.2.${i >> 8}.${i & 255}`, forward: 'masq' as const }));
    const big = validateDirectorConfig({ services: [{ protocol: 'tcp', vip: '192.0.2.9', port: 80, realServers }] });
    expect(steeringLimitReason(big.services)).toMatch(/at most 256 .* this table has 257/);
    expect(steeringLimitReason(config.services)).toBeNull();
    // Persistent VIPs alone over the cap: not refused, the program falls back to the flow hash.
    const vips = Array.from({ length: MAX_STEERED_ADDRESSES + 1 }, (_, i) => ({ protocol: 'tcp' as const, vip: `192.0.${2 + (i >> 8)}.${i & 255}`, port: 80, persistence: 60, realServers: [{ address: '10.9.0.1' }] }));
    const persistent = validateDirectorConfig({ services: vips }).services;
    expect(steeringLimitReason(persistent)).toBeNull();
    expect(fittingSets(steeringSetsOf(persistent))).toEqual(EMPTY);
  });
});

// ---- the kernel runs the loaded program ----

const addon = (() => {
  try {
    return loadAddon();
  } catch {
    return null;
  }
})();
const canLoad = addon !== null && probeSteering(addon) === null;

/** Ethernet + IPv4 + TCP/UDP header (no payload), built here byte by byte. */
function frame4(src: string, dst: string, proto: number, sport: number, dport: number, opts: { fragment?: number; ihlWords?: number } = {}): Uint8Array {
  const ihl = opts.ihlWords ?? 5;
  const b = Buffer.alloc(14 + ihl * 4 + 20);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x40 | ihl;
  b.writeUInt16BE(b.length - 14, 16);
  b.writeUInt16BE(opts.fragment ?? 0x4000, 20);
  b[22] = 64;
  b[23] = proto;
  b.writeUInt32BE(ip4(src), 26);
  b.writeUInt32BE(ip4(dst), 30);
  b.writeUInt16BE(sport, 14 + ihl * 4);
  b.writeUInt16BE(dport, 14 + ihl * 4 + 2);
  return new Uint8Array(b);
}

/** Ethernet + IPv6 + ports of next header `nh`. */
function frame6(src: Uint8Array, dst: Uint8Array, nh: number, sport: number, dport: number): Uint8Array {
  const b = Buffer.alloc(14 + 40 + 20);
  b.writeUInt16BE(0x86dd, 12);
  b[14] = 0x60;
  b.writeUInt16BE(20, 18);
  b[20] = nh;
  b[21] = 64;
  b.set(src, 22);
  b.set(dst, 38);
  b.writeUInt16BE(sport, 54);
  b.writeUInt16BE(dport, 56);
  return new Uint8Array(b);
}

/** The queue the program's spec gives a 32-bit key (written from the spec, not from the generator). */
function queueOfKey(key: number, queues: number): number {
  const folded = (key ^ (key >>> 16)) >>> 0;
  return (Math.imul(folded, 0x9e3779b1) >>> 16) % queues;
}

describe.skipIf(!canLoad)('the loaded program, run by the kernel (BPF_PROG_TEST_RUN)', () => {
  const VIP = '192.0.2.1';
  const PVIP = '192.0.2.2';
  const OTHER = '192.0.2.3';
  const RIP = '10.0.0.7';
  const sets = steeringSetsOf(
    validateDirectorConfig({
      services: [
        { protocol: 'tcp', vip: VIP, port: 80, realServers: [{ address: RIP, forward: 'masq', port: 8080 }] },
        { protocol: 'tcp', vip: PVIP, port: 443, persistence: 60, realServers: [{ address: '10.9.0.2' }] },
        { protocol: 'tcp', vip: OTHER, port: 80, realServers: [{ address: '10.9.0.3' }] },
        { protocol: 'udp', vip: '2001:db8::1', port: 53, realServers: [{ address: '2001:db8:1::7', forward: 'masq' }] },
      ],
    }).services,
  );
  const run = (queues: number, frames: Uint8Array[], s: SteeringSets = sets) => {
    const fd = addon!.bpfLoadSteering(buildSteeringProgram(s, queues));
    try {
      return frames.map((f) => addon!.bpfTestRun(fd, f));
    } finally {
      addon!.closeFd(fd);
    }
  };
  const clients = Array.from({ length: 64 }, (_, i) => `198.51.100.${i + 1}`);

  it('a NAT reply (RIP:8080 → client) lands on the queue of its request (client → VIP:80), for every client and port', () => {
    for (const queues of [2, 3, 8]) {
      const requests = run(queues, clients.map((c, i) => frame4(c, VIP, 6, 40000 + i, 80)));
      const replies = run(queues, clients.map((c, i) => frame4(RIP, c, 6, 8080, 40000 + i)));
      expect(replies).toEqual(requests);
      // The key is the client's address.
      expect(requests).toEqual(clients.map((c) => queueOfKey(ip4(c), queues)));
      // And the clients spread over every queue.
      expect(new Set(requests).size).toBe(queues);
    }
  });

  it("a persistent service's client lands on one queue whatever its source port", () => {
    const q = run(4, Array.from({ length: 50 }, (_, i) => frame4('198.51.100.9', PVIP, 6, 1024 + i * 997, 443)));
    expect(new Set(q)).toEqual(new Set([queueOfKey(ip4('198.51.100.9'), 4)]));
  });

  it("an ICMP error from a router to the VIP, quoting a VIP → client packet, lands on the client's queue", () => {
    const icmpError = (router: string, client: string, type: number) => {
      const quoted = frame4(VIP, client, 6, 80, 40001).subarray(14, 14 + 28);
      const f = new Uint8Array(14 + 20 + 8 + quoted.length);
      f.set(frame4(router, VIP, 1, 0, 0).subarray(0, 34));
      f[34] = type;
      f[35] = 4;
      f.set(quoted, 42);
      return f;
    };
    for (const queues of [2, 4]) {
      const q = run(queues, clients.map((c) => icmpError('203.0.113.1', c, 3)));
      expect(q).toEqual(clients.map((c) => queueOfKey(ip4(c), queues)));
      // Time exceeded too; an echo request to the VIP is keyed by its source (the router) as any packet to it.
      expect(run(queues, [icmpError('203.0.113.1', clients[5]!, 11), icmpError('203.0.113.1', clients[5]!, 8)])).toEqual([queueOfKey(ip4(clients[5]!), queues), queueOfKey(ip4('203.0.113.1'), queues)]);
    }
  });

  it('with a persistence mask, a client group (/24) lands on one queue', () => {
    const masked = { ...sets, clientPrefix4: 24 };
    const q = run(4, Array.from({ length: 50 }, (_, i) => frame4(`198.51.100.${i + 1}`, PVIP, 6, 2000 + i, 443)), masked);
    expect(new Set(q)).toEqual(new Set([queueOfKey(ip4('198.51.100.0'), 4)]));
  });

  it('other traffic spreads by flow: addresses and ports, addresses only for fragments', () => {
    const flows = run(2, Array.from({ length: 64 }, (_, i) => frame4('198.51.100.9', OTHER, 6, 30000 + i, 80)));
    expect(new Set(flows)).toEqual(new Set([0, 1]));
    const ports = (30000 << 16) | 80;
    expect(flows[0]).toBe(queueOfKey((ip4('198.51.100.9') ^ ip4(OTHER) ^ ports) >>> 0, 2));
    // UDP too; an IHL with options moves the ports.
    expect(run(4, [frame4('198.51.100.9', OTHER, 17, 30000, 80, { ihlWords: 6 })])).toEqual([queueOfKey((ip4('198.51.100.9') ^ ip4(OTHER) ^ ports) >>> 0, 4)]);
    // First fragment (MF) and a later one (offset) of one datagram: one queue, by addresses.
    const addrOnly = queueOfKey((ip4('198.51.100.9') ^ ip4(OTHER)) >>> 0, 8);
    expect(run(8, [frame4('198.51.100.9', OTHER, 17, 30000, 80, { fragment: 0x2000 }), frame4('198.51.100.9', OTHER, 17, 0x4142, 0x4344, { fragment: 0x00b9 })])).toEqual([addrOnly, addrOnly]);
  });

  it('IPv6: a NAT reply lands with its request; ARP and short frames go to queue 0', () => {
    const vip6 = v6([0x20010db8, 0, 0, 1]);
    const rip6 = v6([0x20010db8, 0x10000, 0, 7]);
    const cs = Array.from({ length: 32 }, (_, i) => v6([0x20010db8, 0xff, 0, i + 1]));
    const req = run(4, cs.map((c, i) => frame6(c, vip6, 17, 5000 + i, 53)));
    const rep = run(4, cs.map((c, i) => frame6(rip6, c, 17, 53, 5000 + i)));
    expect(rep).toEqual(req);
    expect(req).toEqual(cs.map((c) => queueOfKey((0x20010db8 ^ 0xff ^ 0 ^ c[15]!) >>> 0, 4)));
    // An ICMPv6 Packet Too Big from a router to the VIP, quoting VIP → client: the client's queue.
    const router6 = v6([0x20010db8, 0xee, 0, 1]);
    const ptb = cs.map((c) => {
      const f = new Uint8Array(14 + 40 + 8 + 40 + 8);
      f.set(frame6(router6, vip6, 58, 0, 0).subarray(0, 54));
      f[54] = 2;
      f.set(frame6(vip6, c, 17, 53, 5000).subarray(14, 14 + 48), 62);
      return f;
    });
    expect(run(4, ptb)).toEqual(req);
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(run(4, [arp, new Uint8Array(20).fill(0x08, 12, 13)])).toEqual([0, 0]);
  });

  it('steeredQueue (what explain asks) gives the queue the kernel-run program gives, client-keyed or by flow, IPv4 and IPv6', () => {
    const vip6 = v6([0x20010db8, 0, 0, 1]);
    const plain6 = v6([0x20010db8, 0, 0, 2]);
    const cs6 = Array.from({ length: 24 }, (_, i) => v6([0x20010db8, 0xff, i * 7919, i + 1]));
    // A persistence netmask: the IPv4 client key is the client's /24.
    const grouped = { ...sets, clientPrefix4: 24 };
    for (const s of [sets, grouped]) {
      for (const queues of [2, 3, 7]) {
        for (const vip of [VIP, PVIP, OTHER]) {
          const flows = clients.map((c, i) => ({ c, sport: 1024 + i * 977, dport: 80 + i }));
          const kernel = run(queues, flows.map((f) => frame4(f.c, vip, 6, f.sport, f.dport)), s);
          expect(flows.map((f) => steeredQueue(s, queues, ip4(f.c), f.sport, ip4(vip), f.dport)), `${vip} on ${queues}`).toEqual(kernel);
        }
        for (const vip of [vip6, plain6]) {
          const kernel = run(queues, cs6.map((c, i) => frame6(c, vip, 17, 5000 + i * 31, 53)), s);
          expect(cs6.map((c, i) => steeredQueue(s, queues, c, 5000 + i * 31, vip, 53))).toEqual(kernel);
        }
      }
    }
    expect(() => steeredQueue(sets, 2, ip4(VIP), 1, vip6, 2)).toThrow(TypeError);
  });
});

describe.skipIf(!canLoad)('QueueSteering on a real multi-queue TAP (device not up: no traffic)', () => {
  const svc = (realServers: Array<{ address: string; weight?: number; forward?: 'masq' }>) => validateDirectorConfig({ services: [{ protocol: 'tcp', vip: '192.0.2.1', port: 80, realServers }] }).services;

  it('attaches, replaces only when the client-keyed sets change, and refuses a table over the cap', () => {
    const a = addon!;
    const { fds } = a.tunOpen('vst%d', 'tap', 2);
    const steering = new QueueSteering(a, fds[0]!, 2);
    try {
      expect(steering.sync(svc([{ address: '10.0.0.7' }]))).toBe(true);
      expect(steering.attached).toBe(true);
      // A weight is no concern of the steering: nothing is reloaded.
      expect(steering.sync(svc([{ address: '10.0.0.7', weight: 3 }]))).toBe(false);
      // The check loads the program; the sync after the change attaches it.
      expect(steering.check(svc([{ address: '10.0.0.7', forward: 'masq' }]))).toBeNull();
      expect(steering.sync(svc([{ address: '10.0.0.7', forward: 'masq' }]))).toBe(true);
      const many = Array.from({ length: 300 }, (_, i) => ({ address: `10.3.${i >> 8}.${i & 255}`, forward: 'masq' as const }));
      expect(steering.check(svc(many))).toMatch(/at most 256/);
      expect(() => steering.sync(svc(many))).toThrow(RangeError);
      // Detaching works on the same queue fd; an fd that is no TAP is refused with a hint.
      a.tunSetSteering(fds[0]!, -1);
      expect(() => a.tunSetSteering(0, -1)).toThrow(/not an open TUN\/TAP queue|TUNSETSTEERINGEBPF/);
    } finally {
      steering.close();
      for (const fd of fds) a.closeFd(fd);
    }
  });
});
