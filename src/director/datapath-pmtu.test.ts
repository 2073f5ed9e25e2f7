// Golden-packet tables for the director's network correctness: "too big" answers with
// their exact bytes, outer DF, MSS clamping with the checksum verified, client ICMP errors
// steered to the flow's server, and fragment trains. Inputs and expected outputs are
// built with the fixture builders (independent of the code under test) or given as hex.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { pseudoHeaderSumV4, sumBytes, foldSum } from '../wire/checksum.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { TcpHeader, type TcpOption } from '../wire/tcp.js';
import { ACK, CLIENT, concat, DIRECTOR_MAC, ethernet, expectedIpip, hex, icmp, ipv4, KERNEL_MAC, PSH, SYN, tcp, udp, VIP } from '../../test/fixtures/director/frames.js';
import type { VerdictName } from './verdicts.js';
import type { VirtualServiceSpec } from './virtual-service.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const ip = (t: string) => parseIpv4(t)!;

interface Setup {
  services?: Array<Partial<VirtualServiceSpec> & { servers?: string[]; mssClamp?: boolean; tunnelMtu?: number }>;
  /** Per-server tunnel MTU / discovered path MTU, by address. */
  rsTunnelMtu?: Record<string, number>;
  rsPathMtu?: Record<string, number>;
}

function build(setup: Setup = {}) {
  const dev = new FakeDevice({ headroom: 128 });
  const clock = { now: 1_000_000 };
  const d = fixtureDirector(dev, {
    clock: () => clock.now,
    hashSeed: 12345,
    mhTableSize: 251,
    random: () => 0,
  });
  for (const s of setup.services ?? [{}]) {
    const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', ...s } as VirtualServiceSpec);
    if (s.mssClamp !== undefined) svc.mssClamp = s.mssClamp;
    if (s.tunnelMtu !== undefined) svc.tunnelMtu = s.tunnelMtu;
    for (const a of s.servers ?? [RS1, RS2]) {
      const rs = d.registry.addRealServer(svc, { address: a });
      rs.tunnelMtu = setup.rsTunnelMtu?.[a] ?? 0;
      rs.pathMtu = setup.rsPathMtu?.[a] ?? 0;
    }
  }
  d.start();
  dev.takeWritten();
  return { d, dev, clock };
}

/** Opens the client's TCP connection (SYN, forwarded with outer id 0) so its segments have an entry. */
function connect(env: ReturnType<typeof build>, sport = 40000, src = CLIENT): void {
  env.dev.inject([ethernet(ipv4(tcp({ sport, dport: 80, flags: SYN, src }), { protocol: 6, src }))]);
  expect(env.dev.takeWritten()).toHaveLength(1);
}

/** Injects one frame; returns the verdicts that changed and the frames written. */
function step(env: ReturnType<typeof build>, frame: Uint8Array) {
  const before = { ...env.d.snapshot().verdicts };
  env.dev.inject([frame]);
  const after = env.d.snapshot().verdicts;
  const changed = (Object.keys(after) as VerdictName[]).filter((k) => after[k] !== before[k]);
  return { changed, out: env.dev.takeWritten().map((w) => w.bytes) };
}

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

/** A client TCP segment to VIP:80 whose IP packet is `total` bytes. */
function bigSegment(total: number, o: { df?: boolean; sport?: number; flags?: number } = {}): Uint8Array {
  return ethernet(ipv4(tcp({ sport: o.sport ?? 40000, dport: 80, flags: o.flags ?? ACK | PSH, payload: payload(total - 40) }), { protocol: 6, df: o.df ?? true }));
}

/** The frag-needed frame the director must send for `input` (built with the fixtures). */
function expectedFragNeeded(input: Uint8Array, mtu: number, id: number): Uint8Array {
  const quoted = input.subarray(14, 14 + 28);
  const body = concat(new Uint8Array([0, 0, mtu >> 8, mtu & 0xff]), quoted);
  return ethernet(ipv4(icmp(3, 4, body), { src: VIP, dst: CLIENT, protocol: 1, ttl: 64, id, df: false, dscp: 0x30 }), { dst: KERNEL_MAC, src: DIRECTOR_MAC });
}

describe('too big: ICMP fragmentation needed to the client', () => {
  test('a 1500-byte DF packet against the default 1500 tunnel MTU: frag-needed from the VIP, MTU 1480, header + 8 bytes (exact bytes)', () => {
    const env = build();
    connect(env);
    const input = bigSegment(1500);
    const { changed, out } = step(env, input);
    expect(changed).toEqual(['reply-icmp-too-big']);
    expect(out).toHaveLength(1);
    expect(hex(out[0])).toBe(hex(expectedFragNeeded(input, 1480, 1)));
    // The same frame as literal bytes (decoded by tshark: ICMP 3/4, MTU of next hop 1480,
    // checksums good): Ethernet, IPv4 VIP → client, ICMP, quoted header + 8 bytes.
    expect(hex(out[0])).toBe(
      '020000770001020000770002080045c0003800010000400164050a4d00640a4d0102' +
        '030456bb000005c8' +
        '450005dc123440003f060de90a4d01020a4d00649c400050000003e8',
    );
  });

  test('the boundary: 1480 bytes with DF fit (forwarded, outer DF set), 1481 do not', () => {
    const env = build();
    connect(env);
    const fit = step(env, bigSegment(1480));
    expect(fit.changed).toEqual(['forward']);
    expect(fit.out[0].length).toBe(14 + 20 + 1480);
    expect(fit.out[0][14 + 6] & 0x40).toBe(0x40);
    expect(step(env, bigSegment(1481)).changed).toEqual(['reply-icmp-too-big']);
  });

  test('an oversized packet without DF is tunnelled with the outer DF clear, so the path may fragment it', () => {
    const env = build();
    connect(env);
    const input = bigSegment(1500, { df: false });
    const { changed, out } = step(env, input);
    expect(changed).toEqual(['forward']);
    expect(hex(out[0])).toBe(hex(expectedIpip(input, RS1, 1)));
    expect(out[0][14 + 6] & 0x40).toBe(0);
  });

  test('the next-hop MTU follows the server: its tunnelMtu, the service tunnelMtu, the discovered path MTU (the smaller wins)', () => {
    const cases: Array<[Setup, number]> = [
      [{ rsTunnelMtu: { [RS1]: 1400 } }, 1380],
      [{ services: [{ tunnelMtu: 1450 }] }, 1430],
      [{ rsPathMtu: { [RS1]: 1400 } }, 1380],
      [{ rsTunnelMtu: { [RS1]: 1300 }, rsPathMtu: { [RS1]: 1400 } }, 1280],
    ];
    for (const [setup, mtu] of cases) {
      const env = build(setup);
      connect(env);
      const input = bigSegment(1460);
      const { out } = step(env, input);
      expect(hex(out[0])).toBe(hex(expectedFragNeeded(input, mtu, 1)));
    }
  });

  test('rate-limited per client: a burst of 20, then 10 per second; another client has its own budget', () => {
    const env = build();
    connect(env);
    connect(env, 1, '10.77.1.99');
    const verdicts: string[] = [];
    for (let k = 0; k < 25; k++) verdicts.push(...step(env, bigSegment(1500)).changed);
    expect(verdicts.filter((v) => v === 'reply-icmp-too-big')).toHaveLength(20);
    expect(verdicts.filter((v) => v === 'drop-too-big-rate-limited')).toHaveLength(5);
    const other = ethernet(ipv4(tcp({ sport: 1, dport: 80, flags: ACK, src: '10.77.1.99', payload: payload(1460) }), { protocol: 6, src: '10.77.1.99' }));
    expect(step(env, other).changed).toEqual(['reply-icmp-too-big']);
    env.clock.now += 500; // five tokens back
    const later: string[] = [];
    for (let k = 0; k < 6; k++) later.push(...step(env, bigSegment(1500)).changed);
    expect(later.filter((v) => v === 'reply-icmp-too-big')).toHaveLength(5);
  });

  test('never an ICMP error about an ICMP error: a big DF ICMP error for a flow is forwarded with the outer DF clear', () => {
    const env = build();
    step(env, ethernet(ipv4(tcp({ sport: 40000, dport: 80, flags: SYN }), { protocol: 6 })));
    const quotedTcp = ipv4(tcp({ sport: 80, dport: 40000, flags: ACK, src: VIP, dst: CLIENT, payload: payload(1500) }), { src: VIP, dst: CLIENT, protocol: 6 });
    const err = ethernet(ipv4(icmp(3, 4, concat(new Uint8Array([0, 0, 0x05, 0x00]), quotedTcp)), { protocol: 1 }));
    const { changed, out } = step(env, err);
    expect(changed).toEqual(['forward-icmp-error']);
    expect(out[0][14 + 6] & 0x40).toBe(0);
    expect(out[0].subarray(14 + 16, 14 + 20)).toEqual(Uint8Array.from(RS1.split('.').map(Number)));
  });
});

/** A SYN with options (checksum over the given addresses). */
function synWithOptions(options: TcpOption[], sport = 40000): Uint8Array {
  const h: TcpHeader = { sourcePort: sport, destinationPort: 80, sequenceNumber: 1000, acknowledgmentNumber: 0, flags: SYN, window: 64240, checksum: 0, urgentPointer: 0, options };
  const seg = new Uint8Array(TcpHeader.byteLength(h));
  TcpHeader.emit(h, seg, 0);
  const c = ~foldSum(sumBytes(seg, 0, seg.length, pseudoHeaderSumV4(ip(CLIENT), ip(VIP), 6, seg.length))) & 0xffff;
  seg[16] = c >> 8;
  seg[17] = c & 0xff;
  return ethernet(ipv4(seg, { protocol: 6 }));
}

const linuxSynOptions = (mss: number): TcpOption[] => [
  { kind: 'mss', mss },
  { kind: 'sack-permitted' },
  { kind: 'timestamps', value: 0x01020304, echoReply: 0 },
  { kind: 'nop' },
  { kind: 'window-scale', shift: 7 },
];

/** The inner TCP segment of a tunnelled frame, checked with the full checksum. */
function innerTcp(frame: Uint8Array) {
  const inner = frame.subarray(14 + 20);
  const hlen = (inner[0] & 15) * 4;
  const total = (inner[2] << 8) | inner[3];
  const seg = inner.subarray(hlen, total);
  const ok = foldSum(sumBytes(seg, 0, seg.length, pseudoHeaderSumV4(ip(CLIENT), ip(VIP), 6, seg.length))) === 0xffff;
  const parsed = TcpHeader.parse(seg);
  if (!parsed.ok) throw new Error(parsed.error);
  const mss = parsed.value.options.find((o) => o.kind === 'mss');
  return { checksumOk: ok, mss: mss && mss.kind === 'mss' ? mss.mss : undefined, seg };
}

describe('MSS clamping of client SYNs', () => {
  const rows: Array<{ description: string; setup?: Setup; options: TcpOption[]; mss: number | undefined }> = [
    { description: 'Linux SYN (MSS 1460) to a 1500 tunnel: 1500 - 20 outer - 40 = 1440', options: linuxSynOptions(1460), mss: 1440 },
    { description: 'discovered path MTU 1400: 1340', setup: { rsPathMtu: { [RS1]: 1400 } }, options: linuxSynOptions(1460), mss: 1340 },
    { description: 'server tunnelMtu 1280: 1220', setup: { rsTunnelMtu: { [RS1]: 1280 } }, options: linuxSynOptions(1460), mss: 1220 },
    { description: 'MSS already small (1200): untouched', options: linuxSynOptions(1200), mss: 1200 },
    { description: 'MSS at an odd offset (after one NOP): clamped, checksum still right', options: [{ kind: 'nop' }, { kind: 'mss', mss: 8960 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'nop' }], mss: 1440 },
    { description: 'no MSS option: nothing to clamp', options: [{ kind: 'sack-permitted' }, { kind: 'nop' }, { kind: 'nop' }], mss: undefined },
    { description: 'clamping off for the service: untouched', setup: { services: [{ mssClamp: false }] }, options: linuxSynOptions(1460), mss: 1460 },
  ];
  test.each(rows)('$description', ({ setup, options, mss }) => {
    const env = build(setup);
    const input = synWithOptions(options);
    const { changed, out } = step(env, input);
    expect(changed).toEqual(['forward']);
    const t = innerTcp(out[0]);
    expect(t.checksumOk).toBe(true);
    expect(t.mss).toBe(mss);
    // Nothing but the MSS value and the checksum changed.
    const before = input.subarray(14 + 20);
    const diff: number[] = [];
    for (let i = 0; i < before.length; i++) if (before[i] !== t.seg[i]) diff.push(i);
    for (const i of diff) expect([16, 17, 20 + options.findIndex((o) => o.kind === 'mss') + 2, 20 + options.findIndex((o) => o.kind === 'mss') + 3]).toContain(i);
  });

  test('exact bytes: MSS 1460 → 1440 (05b4 → 05a0) with the checksum moved by the same 0x14', () => {
    const env = build();
    const input = synWithOptions([{ kind: 'mss', mss: 1460 }]);
    const out = step(env, input).out[0];
    const inSeg = input.subarray(34);
    const outSeg = out.subarray(54);
    expect(hex(inSeg.subarray(20, 24))).toBe('020405b4');
    expect(hex(outSeg.subarray(20, 24))).toBe('020405a0');
    const ckIn = (inSeg[16] << 8) | inSeg[17];
    const ckOut = (outSeg[16] << 8) | outSeg[17];
    expect((ckOut - ckIn + 0x10000) % 0x10000).toBe(0x14);
  });
});

describe('ICMP errors from clients', () => {
  const quoted = (sport: number, dport: number, proto = 6) =>
    ipv4(proto === 6 ? tcp({ sport, dport, flags: ACK, src: VIP, dst: CLIENT }) : udp({ sport, dport, src: VIP, dst: CLIENT }), { src: VIP, dst: CLIENT, protocol: proto }).subarray(0, 28);
  const errFrame = (type: number, code: number, rest: number[], q: Uint8Array) => ethernet(ipv4(icmp(type, code, concat(new Uint8Array(rest), q)), { protocol: 1 }));
  const rows = [
    { description: 'dest unreachable / frag needed', type: 3, code: 4, rest: [0, 0, 5, 0] },
    { description: 'dest unreachable / port unreachable', type: 3, code: 3, rest: [0, 0, 0, 0] },
    { description: 'time exceeded', type: 11, code: 0, rest: [0, 0, 0, 0] },
    { description: 'parameter problem', type: 12, code: 0, rest: [20, 0, 0, 0] },
  ];
  test.each(rows)('$description about the second flow goes to its server (RS2), unchanged inside the tunnel', ({ type, code, rest }) => {
    const env = build();
    step(env, ethernet(ipv4(tcp({ sport: 40001, dport: 80, flags: SYN }), { protocol: 6 })));
    step(env, ethernet(ipv4(tcp({ sport: 40000, dport: 80, flags: SYN }), { protocol: 6 })));
    const input = errFrame(type, code, rest, quoted(80, 40000));
    const { changed, out } = step(env, input);
    expect(changed).toEqual(['forward-icmp-error']);
    expect(hex(out[0])).toBe(hex(expectedIpip(input, RS2, 2)));
  });

  test('an error about no known flow is dropped and counted', () => {
    const env = build();
    expect(step(env, errFrame(3, 4, [0, 0, 5, 0], quoted(80, 41234))).changed).toEqual(['drop-icmp-no-flow']);
  });

  test('a UDP flow: port unreachable goes to the flow\'s server', () => {
    const env = build({ services: [{ protocol: 'udp', port: 53 }] });
    const dgram = ethernet(ipv4(udp({ sport: 50000, dport: 53 }), { protocol: 17, df: false }));
    step(env, dgram);
    const input = errFrame(3, 3, [0, 0, 0, 0], quoted(53, 50000, 17));
    const { changed, out } = step(env, input);
    expect(changed).toEqual(['forward-icmp-error']);
    expect(hex(out[0])).toBe(hex(expectedIpip(input, RS1, 1)));
  });
});

/** IPv4 fragments of one UDP datagram (ports in the first only), by hand. */
function udpFragments(o: { id: number; sport?: number; src?: string; sizes: number[]; dport?: number }): Uint8Array[] {
  const total = o.sizes.reduce((a, b) => a + b, 0);
  const dgram = udp({ sport: o.sport ?? 50000, dport: o.dport ?? 53, src: o.src, payload: payload(total - 8) });
  const frames: Uint8Array[] = [];
  let at = 0;
  o.sizes.forEach((n, i) => {
    const last = i === o.sizes.length - 1;
    frames.push(ethernet(ipv4(dgram.subarray(at, at + n), { protocol: 17, src: o.src, id: o.id, df: false, fragmentOffset: at, moreFragments: !last })));
    at += n;
  });
  return frames;
}

describe('fragments', () => {
  const udpSvc: Setup = { services: [{ protocol: 'udp', port: 53 }] };

  test('a train: the first fragment is scheduled by its 5-tuple, the later ones follow it; two datagrams, two servers (rr)', () => {
    const env = build(udpSvc);
    const a = udpFragments({ id: 0x100, sport: 50000, sizes: [1480, 1480, 100] });
    const b = udpFragments({ id: 0x101, sport: 50001, sizes: [1480, 600] });
    const seen: Array<[string, string]> = [];
    let id = 0;
    for (const [f, rs, verdict] of [
      [a[0], RS1, 'forward'],
      [b[0], RS2, 'forward'],
      [a[1], RS1, 'forward-fragment'],
      [b[1], RS2, 'forward-fragment'],
      [a[2], RS1, 'forward-fragment'],
    ] as const) {
      const { changed, out } = step(env, f);
      seen.push([changed[0], rs]);
      expect(changed).toEqual([verdict]);
      expect(hex(out[0])).toBe(hex(expectedIpip(f, rs, id++)));
    }
  });

  test('later fragments whose first one never came: one server for the whole datagram (3-tuple hash)', () => {
    const env = build(udpSvc);
    const frags = udpFragments({ id: 0x200, sizes: [1480, 1480, 1480, 200] }).slice(1);
    const rips = frags.map((f) => {
      const { changed, out } = step(env, f);
      expect(changed).toEqual(['forward-fragment']);
      return hex(out[0].subarray(30, 34));
    });
    expect(new Set(rips).size).toBe(1);
  });

  test('sh service: later fragments without a cache entry still land on one server', () => {
    const env = build({ services: [{ protocol: 'udp', port: 53, scheduler: 'sh' }] });
    const frags = udpFragments({ id: 0x300, sizes: [1480, 1480, 8] }).slice(1);
    const rips = frags.map((f) => hex(step(env, f).out[0].subarray(30, 34)));
    expect(rips[0]).toBe(rips[1]);
  });

  test('a tiny first fragment (too short for the TCP header) is dropped; overlapping and lone fragments never crash', () => {
    const env = build();
    const tiny = ethernet(ipv4(new Uint8Array(8), { protocol: 6, id: 9, df: false, moreFragments: true }));
    expect(step(env, tiny).changed).toEqual(['drop-bad-l4-header']);
    const overlap = [0, 8, 8, 0, 16].map((o) => ethernet(ipv4(payload(24), { protocol: 6, id: 9, df: false, fragmentOffset: o, moreFragments: o !== 16 })));
    for (const f of overlap) expect(step(env, f).changed).toHaveLength(1);
  });

  test('property: arbitrary fragment headers (offsets, flags, ids, sizes) each get exactly one verdict', () => {
    const env = build({ services: [{}, { protocol: 'udp', port: 53 }] });
    const frag = fc.record({
      proto: fc.constantFrom(6, 17, 1, 47),
      id: fc.integer({ min: 0, max: 3 }),
      offset: fc.integer({ min: 0, max: 400 }).map((n) => n * 8),
      more: fc.boolean(),
      size: fc.integer({ min: 0, max: 1600 }),
      df: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(frag, { minLength: 1, maxLength: 30 }), (frags) => {
        const before = env.d.frameVerdictSum();
        env.dev.inject(frags.map((f) => ethernet(ipv4(payload(f.size), { protocol: f.proto, id: f.id, df: f.df, fragmentOffset: f.offset, moreFragments: f.more }))));
        env.dev.takeWritten();
        expect(env.d.frameVerdictSum() - before).toBe(frags.length);
      }),
      { numRuns: 200 },
    );
  });
});
