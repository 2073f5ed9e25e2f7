import { describe, expect, it } from 'vitest';
import { IPV6_ID_BASE, Ipv6AddressTable } from './address-id.js';
import { NAT_KIND_TCP, NAT_KIND_UDP, NatReplyTable } from './nat-conn.js';
import { TcpState, nextTcpState, nextTcpStateNat } from './tcp-state.js';

const CLIENT = 0xc6336414; // 198.51.100.20
const RIP = 0x0a000007; // 10.0.0.7

describe('NatReplyTable: RIP:rport → client:cport leads back to the service and the server', () => {
  it('finds what was added, per protocol and per key, and not the reverse key', () => {
    const t = new NatReplyTable(16, new Ipv6AddressTable(4), 1);
    const slot = t.add(NAT_KIND_TCP, CLIENT, 40000, RIP, 8080, 3, 7, 1000, 0);
    expect(slot).toBeGreaterThanOrEqual(0);
    const hit = t.find(NAT_KIND_TCP, RIP, 8080, CLIENT, 40000, 10);
    expect([t.serviceAt(hit), t.rsAt(hit)]).toEqual([3, 7]);
    expect(t.find(NAT_KIND_UDP, RIP, 8080, CLIENT, 40000, 10)).toBe(-1);
    expect(t.find(NAT_KIND_TCP, RIP, 8081, CLIENT, 40000, 10)).toBe(-1);
    expect(t.find(NAT_KIND_TCP, CLIENT, 40000, RIP, 8080, 10)).toBe(-1);
  });

  it('expires with the time it is given, and a re-add replaces the older entry', () => {
    const t = new NatReplyTable(16, new Ipv6AddressTable(4), 1);
    const s = t.add(NAT_KIND_UDP, CLIENT, 5353, RIP, 53, 1, 1, 100, 0);
    t.setExpires(s, 500);
    expect(t.find(NAT_KIND_UDP, RIP, 53, CLIENT, 5353, 400)).toBeGreaterThanOrEqual(0);
    t.add(NAT_KIND_UDP, CLIENT, 5353, RIP, 53, 2, 9, 900, 450);
    expect(t.size).toBe(1);
    const hit = t.find(NAT_KIND_UDP, RIP, 53, CLIENT, 5353, 600);
    expect([t.serviceAt(hit), t.rsAt(hit)]).toEqual([2, 9]);
    expect(t.find(NAT_KIND_UDP, RIP, 53, CLIENT, 5353, 900)).toBe(-1);
    expect(t.size).toBe(0);
  });

  it('is bounded: a full table evicts, never grows', () => {
    const t = new NatReplyTable(8, new Ipv6AddressTable(4), 1);
    for (let p = 1; p <= 100; p++) expect(t.add(NAT_KIND_TCP, CLIENT, p, RIP, 80, 0, 0, 10_000, 0)).toBeGreaterThanOrEqual(0);
    expect(t.size).toBe(8);
  });

  it('refuses a key that mixes families (NAT never crosses them)', () => {
    const t = new NatReplyTable(8, new Ipv6AddressTable(4), 1);
    expect(t.add(NAT_KIND_TCP, IPV6_ID_BASE + 1, 1, RIP, 80, 0, 0, 10, 0)).toBe(-1);
    expect(t.find(NAT_KIND_TCP, RIP, 80, IPV6_ID_BASE + 1, 1, 0)).toBe(-1);
  });
});

describe('NAT TCP state machine: both directions (IPVS INPUT/OUTPUT rows)', () => {
  const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04;
  const run = (steps: Array<[number, boolean]>) => {
    const seen: number[] = [];
    let s: number = TcpState.None;
    for (const [flags, fromServer] of steps) seen.push((s = nextTcpStateNat(s, flags, fromServer)));
    return seen;
  };

  it('handshake, data, client closes first', () => {
    expect(run([[SYN, false], [SYN | ACK, true], [ACK, false], [ACK, true], [FIN | ACK, false], [FIN | ACK, true], [ACK, false]])).toEqual([
      TcpState.SynRecv, TcpState.SynRecv, TcpState.Established, TcpState.Established, TcpState.CloseWait, TcpState.TimeWait, TcpState.TimeWait,
    ]);
  });

  it('server closes first', () => {
    expect(run([[SYN, false], [SYN | ACK, true], [ACK, false], [FIN | ACK, true], [ACK, false], [FIN | ACK, false]])).toEqual([
      TcpState.SynRecv, TcpState.SynRecv, TcpState.Established, TcpState.FinWait, TcpState.FinWait, TcpState.TimeWait,
    ]);
  });

  it('a server RST closes the connection; the input-only machine never sees it', () => {
    expect(run([[SYN, false], [RST | ACK, true]])).toEqual([TcpState.SynRecv, TcpState.Close]);
    // The client's FIN moves ESTABLISHED to CLOSE_WAIT here and to FIN_WAIT in the input-only table.
    expect(nextTcpStateNat(TcpState.Established, FIN, false)).toBe(TcpState.CloseWait);
    expect(nextTcpState(TcpState.Established, FIN)).toBe(TcpState.FinWait);
  });

  it('flags without SYN/FIN/ACK/RST and unknown states change nothing', () => {
    expect(nextTcpStateNat(TcpState.Established, 0x08, true)).toBe(TcpState.Established);
    expect(nextTcpStateNat(12, ACK, false)).toBe(12);
  });
});
