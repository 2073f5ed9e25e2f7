// VS/NAT and VS/DR through the whole data path (parse → classify → track → emit, and the
// NAT reply path), over the in-memory device and the control plane's own ops. Expected
// frames are built field by field with the golden tables' frame builder (frames.ts), never
// with the rewrite code under test.
import { afterEach, describe, expect, it } from 'vitest';
import { ACK, CLIENT, DIRECTOR_MAC, FIN, KERNEL_MAC, SYN, arpFrame, ethernet, hex, icmp, ipv4, tcp, tcpFrame, udp, VIP } from '../../test/fixtures/director/frames.js';
import { startTestDirector, type TestDirector } from '../../test/fixtures/control/test-director.js';
import { parseMac } from '../wire/ethernet.js';
import { Verdict } from './verdicts.js';

const RS7 = '10.77.3.7';
const RS17 = '10.77.3.17';
const DR = '10.77.3.27';
const DR_MAC = '02:00:00:00:03:1b';

let open: TestDirector[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

async function director(realServers: object[], scheduler = 'rr'): Promise<TestDirector> {
  const t = await startTestDirector({ director: { dr: { bridge: 'br-test' } }, services: [{ protocol: 'tcp', vip: VIP, port: 80, scheduler, realServers }] });
  open.push(t);
  return t;
}

/** Injects frames and returns what the director wrote, as hex. */
function send(t: TestDirector, ...frames: Uint8Array[]): string[] {
  t.device.takeWritten();
  t.device.inject(frames);
  return t.device.takeWritten().map((w) => hex(w.bytes));
}

const toKernel = (ip: Uint8Array) => hex(ethernet(ip, { dst: KERNEL_MAC, src: DIRECTOR_MAC }));
const verdict = (t: TestDirector, v: Verdict) => t.director.datapath.verdicts[v];

describe('VS/NAT through the data path', () => {
  it('client → VIP:80 leaves for RIP:8080 (port mapped); the reply RIP:8080 → client leaves from VIP:80; both TCP state machines move', async () => {
    const t = await director([{ address: RS7, forward: 'masq', port: 8080 }]);
    const syn = tcpFrame({ sport: 40000, flags: SYN });
    expect(send(t, syn)).toEqual([toKernel(ipv4(tcp({ sport: 40000, dport: 8080, flags: SYN, dst: RS7 }), { dst: RS7, protocol: 6 }))]);
    // The server's SYN-ACK arrives from the kernel (the host's policy routing) and goes back as the VIP's.
    const synAck = ethernet(ipv4(tcp({ sport: 8080, dport: 40000, flags: SYN | ACK, src: RS7, dst: CLIENT }), { src: RS7, dst: CLIENT, protocol: 6 }));
    expect(send(t, synAck)).toEqual([toKernel(ipv4(tcp({ sport: 80, dport: 40000, flags: SYN | ACK, src: VIP, dst: CLIENT }), { src: VIP, dst: CLIENT, protocol: 6 }))]);
    expect(verdict(t, Verdict.ForwardNatReply)).toBe(1);
    send(t, tcpFrame({ sport: 40000, flags: ACK }));
    const conns = t.director.connections(10);
    expect(conns.map((c) => c.state)).toEqual(['ESTABLISHED']);
    // Client FIN: CLOSE_WAIT in NAT's table (the input-only table would say FIN_WAIT); server FIN: TIME_WAIT.
    send(t, tcpFrame({ sport: 40000, flags: FIN | ACK }));
    expect(t.director.connections(10)[0].state).toBe('CLOSE_WAIT');
    send(t, ethernet(ipv4(tcp({ sport: 8080, dport: 40000, flags: FIN | ACK, src: RS7, dst: CLIENT }), { src: RS7, dst: CLIENT, protocol: 6 })));
    expect(t.director.connections(10)[0].state).toBe('TIME_WAIT');
    const rs = t.director.registry.list()[0].servers[0];
    expect([rs.stats.inPkts, rs.stats.outPkts]).toEqual([3, 2]);
  });

  it('UDP both ways, and a reply from a server with no connection is dropped and counted', async () => {
    const t = await startTestDirector({ services: [{ protocol: 'udp', vip: VIP, port: 53, scheduler: 'rr', realServers: [{ address: RS17, forward: 'masq' }] }] });
    open.push(t);
    const q = ethernet(ipv4(udp({ sport: 5353, dport: 53 }), { protocol: 17, df: false }));
    expect(send(t, q)).toEqual([toKernel(ipv4(udp({ sport: 5353, dport: 53, dst: RS17 }), { dst: RS17, protocol: 17, df: false }))]);
    const a = ethernet(ipv4(udp({ sport: 53, dport: 5353, src: RS17, dst: CLIENT }), { src: RS17, dst: CLIENT, protocol: 17, df: false }));
    expect(send(t, a)).toEqual([toKernel(ipv4(udp({ sport: 53, dport: 5353, src: VIP, dst: CLIENT }), { src: VIP, dst: CLIENT, protocol: 17, df: false }))]);
    // Another client port: no entry, not a VIP.
    const stray = ethernet(ipv4(udp({ sport: 53, dport: 5354, src: RS17, dst: CLIENT }), { src: RS17, dst: CLIENT, protocol: 17, df: false }));
    expect(send(t, stray)).toEqual([]);
    expect(verdict(t, Verdict.DropNotVip)).toBe(1);
    // -C empties the table: the reply index entry is found stale and dropped with its own verdict.
    await t.vstunadm(['-C']);
    await t.vstunadm(['-A', '-u', `${VIP}:53`, '-s', 'rr']);
    await t.vstunadm(['-a', '-u', `${VIP}:53`, '-r', RS17, '-m']);
    t.director.table.clear();
    expect(send(t, a)).toEqual([]);
    expect(verdict(t, Verdict.DropNatReplyNoFlow) + verdict(t, Verdict.DropNotVip)).toBe(2);
  });

  it("the server's ICMP port unreachable about the client's packet goes out as the VIP's, its quote translated", async () => {
    const t = await director([{ address: RS7, forward: 'masq', port: 8080 }]);
    send(t, tcpFrame({ sport: 40000, flags: SYN }));
    const quotedIn = ipv4(tcp({ sport: 40000, dport: 8080, flags: SYN, dst: RS7 }), { dst: RS7, protocol: 6 });
    const quotedOut = ipv4(tcp({ sport: 40000, dport: 80, flags: SYN, dst: VIP }), { dst: VIP, protocol: 6 });
    const err = ethernet(ipv4(icmp(3, 3, new Uint8Array([0, 0, 0, 0, ...quotedIn])), { src: RS7, dst: CLIENT, protocol: 1, df: false }));
    expect(send(t, err)).toEqual([toKernel(ipv4(icmp(3, 3, new Uint8Array([0, 0, 0, 0, ...quotedOut])), { src: VIP, dst: CLIENT, protocol: 1, df: false }))]);
  });
});

describe('VS/DR through the data path', () => {
  it('asks for the server MAC by ARP, learns the answer, then frames the unchanged packet to it', async () => {
    const t = await director([{ address: DR, forward: 'route' }]);
    // Adding the server sent an ARP probe (sender 0.0.0.0) for it.
    const req = t.device.takeWritten().map((w) => hex(w.bytes));
    const probe = arpFrame({ op: 1, senderMac: DIRECTOR_MAC, senderIp: '0.0.0.0', targetIp: DR });
    probe.set(parseMac(DIRECTOR_MAC)!, 6);
    expect(req).toContain(hex(probe));
    const syn = tcpFrame({ sport: 40000, flags: SYN });
    expect(send(t, syn)).toEqual([]);
    expect(verdict(t, Verdict.DropNoServerMac)).toBe(1);
    // An unsolicited-looking reply from elsewhere teaches nothing; the server's answer does.
    send(t, arpFrame({ op: 2, senderMac: DR_MAC, senderIp: DR, targetMac: DIRECTOR_MAC, targetIp: '0.0.0.0', dst: DIRECTOR_MAC }));
    expect(verdict(t, Verdict.ArpLearned)).toBe(1);
    expect(send(t, syn)).toEqual([hex(ethernet(syn.subarray(14), { dst: DR_MAC, src: DIRECTOR_MAC }))]);
  });
});
