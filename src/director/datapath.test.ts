// Golden-packet tables for the director's data path, run through the in-memory device:
// each row is a scenario of frames in, and for each frame the exact frame out (built with
// the wire codecs) or the drop reason.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { parseMac } from '../wire/ethernet.js';
import {
  ACK,
  arpFrame,
  CLIENT,
  concat,
  DIP,
  DIRECTOR_MAC,
  echoBody,
  ethernet,
  expectedIpip,
  FIN,
  hex,
  icmp,
  ipv4,
  KERNEL_ADDRESS,
  KERNEL_MAC,
  LINK_ADDRESS,
  PSH,
  RST,
  SYN,
  tcp,
  tcpFrame,
  udp,
  udpFrame,
  VIP,
} from '../../test/fixtures/director/frames.js';
import type { SchedulerFlag, SchedulerName } from './schedulers/index.js';
import { RETIRED_VERDICTS, type VerdictName } from './verdicts.js';
import type { VirtualServiceSpec } from './virtual-service.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';

const RS1 = '10.77.3.2';
const RS2 = '10.77.4.2';
const RS3 = '10.77.5.2';
const FORGED_MAC = '02:66:66:66:66:66';

interface Setup {
  services?: Array<Partial<VirtualServiceSpec> & { sloppy?: boolean; servers?: Array<{ address: string; weight?: number }> }>;
  sloppyTcp?: boolean;
  icmpEcho?: boolean;
  kernelMacKnown?: boolean;
  headroom?: number;
}

function build(setup: Setup = {}) {
  const dev = new FakeDevice({ headroom: setup.headroom ?? 128 });
  const clock = { now: 1_000_000 };
  let lcg = 1;
  const d = fixtureDirector(dev, {
    kernelMac: setup.kernelMacKnown === false ? undefined : parseMac(KERNEL_MAC)!,
    clock: () => clock.now,
    hashSeed: 12345,
    sloppyTcp: setup.sloppyTcp,
    icmpEcho: setup.icmpEcho,
    mhTableSize: 251,
    random: (n: number) => {
      lcg = (Math.imul(lcg, 1103515245) + 12345) & 0x7fffffff;
      return lcg % n;
    },
  });
  const services = setup.services ?? [{}];
  for (const s of services) {
    const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', ...s } as VirtualServiceSpec);
    svc.sloppy = s.sloppy === true;
    for (const rs of s.servers ?? [{ address: RS1 }, { address: RS2 }]) d.registry.addRealServer(svc, rs);
  }
  d.start();
  dev.takeWritten(); // an initial ARP probe, if any
  return { d, dev, clock };
}

type Expect = { to: string } | { drop: VerdictName } | { reply: Uint8Array } | { verdict: VerdictName };
interface Step {
  frame: Uint8Array;
  expect: Expect;
  /** Advance the clock before this frame (ms). */
  after?: number;
}
interface Row {
  description: string;
  setup?: Setup;
  steps: Step[];
  /** Connection states after the last step (ipvsadm -c names), in any order. */
  states?: string[];
  /** [ActiveConn, InActConn] of RS1 after the last step. */
  rs1Conns?: [number, number];
}

function runRow(row: Row) {
  const { d, dev, clock } = build(row.setup);
  let forwards = 0;
  for (const [i, step] of row.steps.entries()) {
    clock.now += step.after ?? 0;
    const before = { ...d.snapshot().verdicts };
    dev.inject([step.frame]);
    const out = dev.takeWritten();
    const after = d.snapshot().verdicts;
    const changed = (Object.keys(after) as VerdictName[]).filter((k) => after[k] !== before[k]);
    const e = step.expect;
    const where = `step ${i}`;
    if ('to' in e) {
      expect(changed, where).toHaveLength(1);
      expect(['forward', 'forward-icmp-error', 'forward-fragment'], where).toContain(changed[0]);
      expect(out.length, where).toBe(1);
      expect(hex(out[0].bytes), where).toBe(hex(expectedIpip(step.frame, e.to, forwards)));
      forwards++;
    } else if ('drop' in e) {
      expect(changed, where).toEqual([e.drop]);
      expect(out.length, where).toBe(0);
    } else if ('reply' in e) {
      expect(out.length, where).toBe(1);
      expect(hex(out[0].bytes), where).toBe(hex(e.reply));
    } else {
      expect(changed, where).toEqual([e.verdict]);
      expect(out.length, where).toBe(0);
    }
  }
  if (row.states) expect(d.connections().map((c) => c.state).sort()).toEqual([...row.states].sort());
  if (row.rs1Conns) {
    const rs = d.snapshot().services[0].realServers.find((r) => r.address === RS1)!;
    expect([rs.activeConns, rs.inactConns]).toEqual(row.rs1Conns);
  }
  return d;
}

const syn = (sport = 40000, extra: Partial<Parameters<typeof tcpFrame>[0]> = {}) => tcpFrame({ sport, flags: SYN, ...extra });
const ack = (sport = 40000) => tcpFrame({ sport, flags: ACK });
const data = (sport = 40000) => tcpFrame({ sport, flags: ACK | PSH, payload: new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n') });
const fin = (sport = 40000) => tcpFrame({ sport, flags: FIN | ACK });
const rst = (sport = 40000) => tcpFrame({ sport, flags: RST });

const tcpRows: Row[] = [
  { description: 'SYN creates SYN_RECV and is tunnelled to the first rr server', steps: [{ frame: syn(), expect: { to: RS1 } }], states: ['SYN_RECV'], rs1Conns: [0, 1] },
  {
    description: 'SYN then ACK: ESTABLISHED (ActiveConn), same server',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: data(), expect: { to: RS1 } },
    ],
    states: ['ESTABLISHED'],
    rs1Conns: [1, 0],
  },
  {
    description: 'FIN from the client in ESTABLISHED: FIN_WAIT (input-only table), inactive',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: fin(), expect: { to: RS1 } },
    ],
    states: ['FIN_WAIT'],
    rs1Conns: [0, 1],
  },
  {
    description: 'FIN then the last ACK: still FIN_WAIT (ack keeps it), entry expires after tcpfin',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: fin(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
    ],
    states: ['FIN_WAIT'],
  },
  {
    description: 'RST closes an established connection (CLOSE), and is still forwarded',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: rst(), expect: { to: RS1 } },
    ],
    states: ['CLOSE'],
    rs1Conns: [0, 1],
  },
  {
    description: 'second connection goes to the next rr server; both tracked',
    steps: [
      { frame: syn(40000), expect: { to: RS1 } },
      { frame: syn(40001), expect: { to: RS2 } },
      { frame: ack(40000), expect: { to: RS1 } },
    ],
    states: ['ESTABLISHED', 'SYN_RECV'],
  },
  {
    description: 'RST in SYN_RECV keeps SYN_RECV (IPVS input-only table)',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: rst(), expect: { to: RS1 } },
    ],
    states: ['SYN_RECV'],
  },
  {
    description: 'a fresh SYN on a CLOSE entry is rescheduled as a new connection',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: rst(), expect: { to: RS1 } },
      { frame: syn(), expect: { to: RS2 } },
    ],
    states: ['SYN_RECV'],
  },
  {
    description: 'ESTABLISHED expires after 900 s; a later ACK is then a non-SYN miss',
    steps: [
      { frame: syn(), expect: { to: RS1 } },
      { frame: ack(), expect: { to: RS1 } },
      { frame: ack(), expect: { drop: 'drop-tcp-not-syn' }, after: 900_001 },
    ],
    states: [],
  },
  { description: 'non-SYN miss without mh is dropped', steps: [{ frame: ack(), expect: { drop: 'drop-tcp-not-syn' } }], states: [] },
  { description: 'RST miss is dropped even with sloppy_tcp', setup: { sloppyTcp: true }, steps: [{ frame: rst(), expect: { drop: 'drop-tcp-not-syn' } }] },
  {
    description: 'non-SYN miss with sloppy_tcp creates an ESTABLISHED entry',
    setup: { sloppyTcp: true },
    steps: [{ frame: ack(), expect: { to: RS1 } }],
    states: ['ESTABLISHED'],
    rs1Conns: [1, 0],
  },
  {
    description: 'non-SYN miss on a service with its own sloppy flag creates an entry',
    setup: { services: [{ sloppy: true }] },
    steps: [{ frame: ack(), expect: { to: RS1 } }],
    states: ['ESTABLISHED'],
    rs1Conns: [1, 0],
  },
  {
    description: 'inner DF clear and DSCP set: outer copies TOS, DF clear',
    steps: [{ frame: syn(40000, { df: false, dscp: 46 }), expect: { to: RS1 } }],
  },
];

// mh: the choice for a mid-flow packet equals what the consistent hash gives a SYN from
// the same client, so a restarted director continues the flow on the same server.
function mhChoice(client: string): string {
  const { dev } = build({ services: [{ scheduler: 'mh', servers: [{ address: RS1 }, { address: RS2 }, { address: RS3 }] }] });
  dev.inject([tcpFrame({ src: client, flags: SYN })]);
  const out = dev.takeWritten()[0].bytes;
  return `${out[30]}.${out[31]}.${out[32]}.${out[33]}`;
}

const mhRows: Row[] = ['10.77.1.2', '10.77.1.3', '10.77.1.9'].map((client) => ({
  description: `non-SYN miss with mh from ${client}: scheduled by the consistent hash, entry created`,
  setup: { services: [{ scheduler: 'mh' as SchedulerName, servers: [{ address: RS1 }, { address: RS2 }, { address: RS3 }] }] },
  steps: [
    { frame: tcpFrame({ src: client, flags: ACK | PSH, payload: new Uint8Array([1, 2, 3]) }), expect: { to: mhChoice(client) } },
    { frame: tcpFrame({ src: client, flags: ACK }), expect: { to: mhChoice(client) } },
  ],
  states: ['ESTABLISHED'],
}));

const echoReq = (dst: string) => ethernet(ipv4(icmp(8, 0, echoBody()), { dst, protocol: 1, ttl: 64 }));
const echoRep = (src: string) => ethernet(ipv4(icmp(0, 0, echoBody()), { src, dst: CLIENT, protocol: 1, ttl: 64 }), { dst: KERNEL_MAC, src: DIRECTOR_MAC });

const otherRows: Row[] = [
  {
    description: 'UDP: first datagram creates a UDP entry, next one follows it',
    setup: { services: [{ protocol: 'udp', port: 53 }] },
    steps: [
      { frame: udpFrame(), expect: { to: RS1 } },
      { frame: udpFrame(), expect: { to: RS1 } },
      { frame: udpFrame({ sport: 50001 }), expect: { to: RS2 } },
    ],
    states: ['UDP', 'UDP'],
    rs1Conns: [0, 1],
  },
  {
    description: 'UDP one-packet scheduling (-o): no entry, every datagram scheduled',
    setup: { services: [{ protocol: 'udp', port: 53, onePacket: true }] },
    steps: [
      { frame: udpFrame(), expect: { to: RS1 } },
      { frame: udpFrame(), expect: { to: RS2 } },
    ],
    states: [],
  },
  {
    description: 'port 0 service takes every port of the VIP',
    setup: { services: [{ port: 0 }] },
    steps: [{ frame: tcpFrame({ dport: 8443, flags: SYN }), expect: { to: RS1 } }],
  },
  {
    description: 'persistence: new connections from the client network reuse the template server',
    setup: { services: [{ persistence: 300, netmask: '255.255.255.0' }] },
    steps: [
      { frame: syn(40000), expect: { to: RS1 } },
      { frame: syn(40001), expect: { to: RS1 } },
      { frame: tcpFrame({ src: '10.77.1.77', sport: 40002, flags: SYN }), expect: { to: RS1 } },
      { frame: tcpFrame({ src: '10.77.9.9', sport: 40003, flags: SYN }), expect: { to: RS2 } },
    ],
    states: ['NONE', 'NONE', 'SYN_RECV', 'SYN_RECV', 'SYN_RECV', 'SYN_RECV'],
  },
  {
    description: 'persistence template expires after -p seconds; the next connection is scheduled afresh',
    setup: { services: [{ persistence: 10 }] },
    steps: [
      { frame: syn(40000), expect: { to: RS1 } },
      { frame: syn(40001), expect: { to: RS2 }, after: 70_000 },
    ],
  },
  {
    description: 'weight 0 (quiescent): no new connections, the existing one continues',
    setup: { services: [{ servers: [{ address: RS1, weight: 0 }, { address: RS2 }] }] },
    steps: [
      { frame: syn(40000), expect: { to: RS2 } },
      { frame: syn(40001), expect: { to: RS2 } },
    ],
  },
  { description: 'no available server: dropped', setup: { services: [{ servers: [{ address: RS1, weight: 0 }] }] }, steps: [{ frame: syn(), expect: { drop: 'drop-no-real-server' } }] },
  { description: 'non-VIP destination is not relayed', steps: [{ frame: tcpFrame({ dst: '10.77.0.200', flags: SYN }), expect: { drop: 'drop-not-vip' } }] },
  { description: 'VIP without a service on that port', steps: [{ frame: tcpFrame({ dport: 443, flags: SYN }), expect: { drop: 'drop-no-service' } }] },
  { description: 'UDP to a TCP-only VIP port', steps: [{ frame: udpFrame({ dport: 80 }), expect: { drop: 'drop-no-service' } }] },
  {
    description: 'IPIP arriving at the director is never encapsulated again (loop guard)',
    steps: [{ frame: ethernet(ipv4(ipv4(tcp({ sport: 1, dport: 80, flags: SYN }), { protocol: 6 }), { protocol: 4, src: DIP, dst: VIP })), expect: { drop: 'drop-ipip-loop' } }],
  },
  {
    description: 'ARP request for the link address: answered in place, kernel MAC learned',
    setup: { kernelMacKnown: false },
    steps: [
      {
        frame: arpFrame({ op: 1, targetIp: LINK_ADDRESS }),
        expect: { reply: arpFrame({ op: 2, senderMac: DIRECTOR_MAC, senderIp: LINK_ADDRESS, targetMac: KERNEL_MAC, targetIp: KERNEL_ADDRESS, dst: KERNEL_MAC }).map((b, i) => (i >= 6 && i < 12 ? parseMac(DIRECTOR_MAC)![i - 6] : b)) },
      },
      { frame: syn(), expect: { to: RS1 } },
    ],
  },
  { description: 'ARP request for another address: ignored', steps: [{ frame: arpFrame({ op: 1, senderIp: '169.254.77.9', targetIp: '169.254.77.3' }), expect: { drop: 'drop-arp-ignored' } }] },
  { description: 'ARP reply from the kernel: learned', steps: [{ frame: arpFrame({ op: 2, targetIp: LINK_ADDRESS, dst: DIRECTOR_MAC }), expect: { verdict: 'arp-learned' } }] },
  {
    description: 'forged ARP reply claiming the kernel address at another MAC: dropped, output still goes to the TAP MAC',
    steps: [
      { frame: arpFrame({ op: 2, senderMac: FORGED_MAC, targetIp: LINK_ADDRESS, targetMac: DIRECTOR_MAC, dst: DIRECTOR_MAC }), expect: { drop: 'drop-kernel-mac-spoofed' } },
      { frame: syn(), expect: { to: RS1 } },
    ],
  },
  {
    description: 'forged gratuitous broadcast ARP for the kernel address: dropped, output still goes to the TAP MAC',
    steps: [
      { frame: arpFrame({ op: 1, senderMac: FORGED_MAC, targetIp: KERNEL_ADDRESS }), expect: { drop: 'drop-kernel-mac-spoofed' } },
      { frame: syn(), expect: { to: RS1 } },
    ],
  },
  {
    description: 'forged ARP request for the link address from the kernel address at another MAC: not answered',
    steps: [
      { frame: arpFrame({ op: 1, senderMac: FORGED_MAC, targetIp: LINK_ADDRESS }), expect: { drop: 'drop-kernel-mac-spoofed' } },
      { frame: syn(), expect: { to: RS1 } },
    ],
  },
  { description: 'ARP with a non-Ethernet hardware type', steps: [{ frame: arpFrame({ op: 1, targetIp: LINK_ADDRESS }).map((b, i) => (i === 15 ? 6 : b)), expect: { drop: 'drop-arp-malformed' } }] },
  { description: 'ICMP echo to a VIP is answered by the director', steps: [{ frame: echoReq(VIP), expect: { reply: echoRep(VIP) } }] },
  { description: 'ICMP echo to the link address is answered', steps: [{ frame: echoReq(LINK_ADDRESS), expect: { reply: echoRep(LINK_ADDRESS) } }] },
  { description: 'ICMP echo with icmpEcho off', setup: { icmpEcho: false }, steps: [{ frame: echoReq(VIP), expect: { drop: 'drop-icmp-echo-disabled' } }] },
  {
    description: 'ICMP frag-needed from the client about a flow goes to the flow\'s server',
    steps: [
      { frame: syn(40001), expect: { to: RS1 } },
      { frame: syn(40000), expect: { to: RS2 } },
      {
        frame: ethernet(ipv4(icmp(3, 4, concat(new Uint8Array([0, 0, 0x05, 0xdc]), ipv4(tcp({ sport: 80, dport: 40000, flags: ACK, src: VIP, dst: CLIENT }), { src: VIP, dst: CLIENT, protocol: 6 }).subarray(0, 28))), { protocol: 1 })),
        expect: { to: RS2 },
      },
    ],
  },
  { description: 'TCP to the director itself is not served', steps: [{ frame: tcpFrame({ dst: LINK_ADDRESS, flags: SYN }), expect: { drop: 'drop-to-director' } }] },
  { description: 'IPv6 ethertype carrying a version-0 header', steps: [{ frame: ethernet(new Uint8Array(40), { type: 0x86dd }), expect: { drop: 'drop-bad-version' } }] },
  { description: 'another ethertype (VLAN)', steps: [{ frame: ethernet(new Uint8Array(40), { type: 0x8100 }), expect: { drop: 'drop-ethertype' } }] },
  { description: 'unicast frame for another MAC', steps: [{ frame: tcpFrame({ flags: SYN }).map((b, i) => (i === 5 ? 0x99 : b)), expect: { drop: 'drop-foreign-mac' } }] },
  { description: 'truncated frame (10 bytes)', steps: [{ frame: syn().subarray(0, 10), expect: { drop: 'drop-truncated' } }] },
  { description: 'truncated IPv4 header', steps: [{ frame: syn().subarray(0, 14 + 12), expect: { drop: 'drop-truncated' } }] },
  { description: 'IPv4 total length beyond the frame', steps: [{ frame: syn().subarray(0, 14 + 30), expect: { drop: 'drop-truncated' } }] },
  { description: 'IHL below 5', steps: [{ frame: syn().map((b, i) => (i === 14 ? 0x44 : b)), expect: { drop: 'drop-bad-header-length' } }] },
  { description: 'total length below the header length', steps: [{ frame: syn().map((b, i) => (i === 17 ? 10 : i === 16 ? 0 : b)), expect: { drop: 'drop-bad-total-length' } }] },
  { description: 'IP version 6 in an IPv4 ethertype', steps: [{ frame: syn().map((b, i) => (i === 14 ? 0x65 : b)), expect: { drop: 'drop-bad-version' } }] },
  { description: 'TCP data offset below 5', steps: [{ frame: syn().map((b, i) => (i === 14 + 20 + 12 ? 0x40 : b)), expect: { drop: 'drop-bad-l4-header' } }] },
  { description: 'UDP length beyond the datagram', setup: { services: [{ protocol: 'udp', port: 53 }] }, steps: [{ frame: udpFrame().map((b, i) => (i === 14 + 20 + 4 ? 0x10 : b)), expect: { drop: 'drop-bad-l4-header' } }] },
  { description: 'a lone later fragment for a protocol the VIP has no service for', steps: [{ frame: ethernet(ipv4(new Uint8Array(16), { protocol: 17, fragmentOffset: 1480, df: false })), expect: { drop: 'drop-fragment-no-flow' } }] },
  { description: 'GRE to a VIP', steps: [{ frame: ethernet(ipv4(new Uint8Array(8), { protocol: 47 })), expect: { drop: 'drop-protocol' } }] },
];

describe('director golden packets', () => {
  test.each(tcpRows)('TCP: $description', (row) => void runRow(row));
  test.each(mhRows)('mh: $description', (row) => void runRow(row));
  test.each(otherRows)('$description', (row) => void runRow(row));
});

// Each scheduler's choice over a fixed sequence of six new flows (clients .1.2 .. .1.7,
// source ports 40000..40005) to three servers weighted 1:2:3, with RS1 holding one
// established connection from before.
const schedulerRows: Array<{ scheduler: SchedulerName; flags?: SchedulerFlag[]; expected: string }> = [
  { scheduler: 'rr', expected: '123123' },
  // cw steps 3,2,1: servers with weight >= cw.
  { scheduler: 'wrr', expected: '323123' },
  // Each flow becomes ESTABLISHED (overhead 256); ties go to the first server.
  { scheduler: 'lc', expected: '123123' },
  { scheduler: 'wlc', expected: '123323' },
  { scheduler: 'sed', expected: '323123' },
  { scheduler: 'nq', expected: '123323' },
  { scheduler: 'fo', expected: '333333' },
  { scheduler: 'ovf', expected: '333221' },
  // One destination: sticks until its server exceeds its weight while another is under half.
  { scheduler: 'lblc', expected: '112223' },
  { scheduler: 'lblcr', expected: '112223' },
  // One destination (the VIP): one server.
  { scheduler: 'dh', expected: '222222' },
  // Hash-determined per client (pinned: a change here changes which server clients reach).
  { scheduler: 'sh', expected: '233322' },
  { scheduler: 'mh', expected: '223233' },
  { scheduler: 'mh', flags: ['mh-port'], expected: '323323' },
  { scheduler: 'twos', expected: '133223' },
];

describe('scheduler choices through the data path', () => {
  test.each(schedulerRows)('$scheduler', ({ scheduler, flags, expected }) => {
    const { d, dev } = build({ services: [{ scheduler, flags, servers: [{ address: RS1, weight: 1 }, { address: RS2, weight: 2 }, { address: RS3, weight: 3 }] }] });
    // A pre-existing established connection to RS1.
    d.registry.list()[0].servers[0].activeConns = 0;
    const seq: string[] = [];
    for (let k = 0; k < 6; k++) {
      dev.inject([tcpFrame({ src: `10.77.1.${2 + k}`, sport: 40000 + k, flags: SYN })]);
      dev.inject([tcpFrame({ src: `10.77.1.${2 + k}`, sport: 40000 + k, flags: ACK })]);
      const out = dev.takeWritten();
      const rip = `${out[0].bytes[30]}.${out[0].bytes[31]}.${out[0].bytes[32]}.${out[0].bytes[33]}`;
      seq.push(String([RS1, RS2, RS3].indexOf(rip) + 1));
    }
    expect(seq.join('')).toBe(expected);
  });
});

describe('data path properties', () => {
  const real = [syn(), ack(), data(), fin(), rst(), udpFrame(), echoReq(VIP), arpFrame({ op: 1, targetIp: LINK_ADDRESS }), ethernet(ipv4(udp({ sport: 1, dport: 2 }), { protocol: 4 }))];
  test('arbitrary frames never throw and each lands in exactly one verdict counter', () => {
    const { d, dev } = build({ services: [{}, { protocol: 'udp', port: 53 }, { port: 0, vip: '10.77.0.101', scheduler: 'mh' }] });
    const mutated = fc
      .tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
      .map(([base, flips, cut]) => {
        const f = base.slice();
        for (const [at, v] of flips) f[at % f.length] = v;
        return f.subarray(0, cut % 3 === 0 ? cut % (f.length + 1) : f.length);
      });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), { minLength: 1, maxLength: 40 }), (frames) => {
        const before = d.frameVerdictSum();
        const inBefore = d.datapath.framesIn;
        dev.inject(frames);
        dev.takeWritten();
        expect(d.datapath.framesIn - inBefore).toBe(frames.length);
        expect(d.frameVerdictSum() - before).toBe(frames.length);
      }),
      { numRuns: 300 },
    );
    for (const name of RETIRED_VERDICTS) expect(d.snapshot().verdicts[name], name).toBe(0);
  });

  test("the pinned kernel MAC follows the TAP's own MAC, read again (at most once a second), never a forged one", () => {
    const dev = new FakeDevice({ headroom: 128 });
    const clock = { now: 1_000_000 };
    let tapMac = KERNEL_MAC;
    let reads = 0;
    const d = fixtureDirector(dev, {
      clock: () => clock.now,
      readKernelMac: () => {
        reads++;
        return parseMac(tapMac)!;
      },
    });
    const svc = d.registry.addService({ protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr' } as VirtualServiceSpec);
    d.registry.addRealServer(svc, { address: RS1 });
    d.start();
    const dstOfNextForward = () => {
      dev.inject([syn()]);
      return hex(dev.takeWritten()[0].bytes.subarray(0, 6));
    };
    // Forged: the device still says KERNEL_MAC; the pin stays.
    dev.inject([arpFrame({ op: 1, senderMac: FORGED_MAC, targetIp: LINK_ADDRESS })]);
    expect(reads).toBe(1);
    expect(dstOfNextForward()).toBe(hex(parseMac(KERNEL_MAC)!));
    // Within the second: not read again, however many arrive.
    dev.inject([arpFrame({ op: 1, senderMac: FORGED_MAC, targetIp: LINK_ADDRESS }), arpFrame({ op: 1, senderMac: FORGED_MAC, targetIp: LINK_ADDRESS })]);
    expect(reads).toBe(1);
    // The operator changes the TAP's MAC; the kernel's next ARP carries it.
    tapMac = '02:77:77:77:77:77';
    clock.now += 1500;
    dev.inject([arpFrame({ op: 1, senderMac: tapMac, targetIp: LINK_ADDRESS })]);
    dev.takeWritten();
    expect(reads).toBe(2);
    expect(dstOfNextForward()).toBe(hex(parseMac(tapMac)!));
  });

  test('forwarding before the kernel MAC is known: dropped with a reason, and an ARP probe goes out', () => {
    const { d, dev } = build({ kernelMacKnown: false });
    dev.inject([syn()]);
    const out = dev.takeWritten();
    expect(d.snapshot().verdicts['drop-no-kernel-mac']).toBe(1);
    expect(out).toHaveLength(1);
    expect(hex(out[0].bytes)).toBe(hex(arpFrame({ op: 1, senderMac: DIRECTOR_MAC, senderIp: LINK_ADDRESS, targetIp: KERNEL_ADDRESS }).map((b, i) => (i >= 6 && i < 12 ? parseMac(DIRECTOR_MAC)![i - 6] : b))));
  });

  test('no headroom for the outer header: dropped with a reason', () => {
    const { dev, d } = build({ headroom: 16 });
    dev.inject([syn()]);
    expect(dev.takeWritten()).toHaveLength(0);
    expect(d.snapshot().verdicts['drop-no-headroom']).toBe(1);
  });

  test('counters: per service and server connections, packets and inner bytes; rate estimate', () => {
    const { d, dev } = build();
    dev.inject([syn(), ack(), data()]);
    const len = (f: Uint8Array) => f.length - 14;
    let s = d.snapshot().services[0];
    expect(s.stats.conns).toBe(1);
    expect(s.stats.inPkts).toBe(3);
    expect(s.stats.inBytes).toBe(len(syn()) + len(ack()) + len(data()));
    expect(s.realServers[0].stats.inPkts).toBe(3);
    d.estimate(2);
    s = d.snapshot().services[0];
    expect(s.stats.inPps).toBe(Math.round(3 / 2 / 4));
  });
});
