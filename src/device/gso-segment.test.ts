import { describe, expect, it } from 'vitest';
import { META_LENGTH, META_OFFSET, META_STRIDE } from '../native/addon.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH } from '../wire/tcp.js';
import { VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4 } from '../wire/virtio-net-hdr.js';
import { naiveFrame, naivePacket, payloadOf, V4A, V4B, V6A, V6B, type NaivePacket } from '../../test/fixtures/offload/naive-packets.js';
import { completeChecksum, GSO_MALFORMED, GSO_NEED_META, GSO_NO_ROOM, GSO_UNSUPPORTED, segmentGso } from './gso-segment.js';

const HEADROOM = 64;
const SLOT = 96 * 1024;
const TS_OPTS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];

/** Places `frame` in a slot at HEADROOM and segments it; returns the segments' bytes (copies). */
function segment(frame: Uint8Array, l3Off: number, gsoType: number, gsoSize: number, slot = SLOT): Uint8Array[] | number {
  const data = new Uint8Array(slot + 100).fill(0xa5);
  data.set(frame, HEADROOM);
  const out = new Int32Array(256 * META_STRIDE);
  const n = segmentGso(data, HEADROOM, frame.length, l3Off, gsoType, gsoSize, HEADROOM, slot, out, 0);
  if (n < 0) return n;
  const segs: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const off = out[k * META_STRIDE + META_OFFSET];
    // Every segment keeps the headroom in front of it free for an outer header.
    expect(off).toBeGreaterThanOrEqual(HEADROOM + (k === 0 ? 0 : k * HEADROOM));
    segs.push(data.slice(off, off + out[k * META_STRIDE + META_LENGTH]));
  }
  return segs;
}

/** The expected segments, each built from scratch by the naive builder. */
function expectedSegments(base: NaivePacket, gsoSize: number, eth: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const total = base.payload.length;
  const n = Math.max(1, Math.ceil(total / gsoSize));
  for (let k = 0; k < n; k++) {
    const last = k === n - 1;
    let flags = base.flags ?? TCP_ACK;
    if (!last) flags &= ~(TCP_FIN | TCP_PSH);
    if (k > 0) flags &= ~TCP_CWR;
    const p = naivePacket({
      ...base,
      csum: 'full',
      id: ((base.id ?? 0) + k) & 0xffff,
      seq: ((base.seq ?? 0) + k * gsoSize) >>> 0,
      flags,
      payload: base.payload.slice(k * gsoSize, Math.min(total, (k + 1) * gsoSize)),
    });
    out.push(eth ? naiveFrame(p, base.v) : p);
  }
  return out;
}

const tcp4: NaivePacket = { v: 4, proto: 'tcp', src: V4A, dst: V4B, sport: 40000, dport: 80, id: 0xfffe, seq: 0xfffff000, ack: 77, flags: TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR | TCP_ECE, options: TS_OPTS, payload: payloadOf(5000), csum: 'partial' };
const tcp6: NaivePacket = { ...tcp4, v: 6, src: V6A, dst: V6B, payload: payloadOf(4001, 3) };

describe('software GSO (golden segments built independently)', () => {
  it.each([
    { description: 'TSO4 on a TAP: 5000 bytes / 1448 -> 3 full + 656, seq wraps past 2^32, id wraps', base: tcp4, type: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, mss: 1448, eth: true },
    { description: 'TSO4 on a TUN: exact multiple (5000 / 1000 -> 5 full)', base: tcp4, type: VIRTIO_NET_HDR_GSO_TCPV4, mss: 1000, eth: false },
    { description: 'TSO6 on a TAP: 4001 / 1428 -> 2 full + 1145', base: tcp6, type: VIRTIO_NET_HDR_GSO_TCPV6, mss: 1428, eth: true },
    { description: 'TSO6 on a TUN, no options, ACK only', base: { ...tcp6, options: [], flags: TCP_ACK }, type: VIRTIO_NET_HDR_GSO_TCPV6, mss: 536, eth: false },
    { description: 'a super-packet no larger than one segment', base: { ...tcp4, payload: payloadOf(900) }, type: VIRTIO_NET_HDR_GSO_TCPV4, mss: 1448, eth: true },
    { description: 'USO4: UDP into 3 datagrams', base: { ...tcp4, proto: 'udp' as const, payload: payloadOf(3000, 9) }, type: VIRTIO_NET_HDR_GSO_UDP_L4, mss: 1200, eth: true },
    { description: 'USO6 on a TUN', base: { ...tcp6, proto: 'udp' as const, payload: payloadOf(2500, 5) }, type: VIRTIO_NET_HDR_GSO_UDP_L4, mss: 1000, eth: false },
  ])('$description', ({ base, type, mss, eth }) => {
    const frame = eth ? naiveFrame(naivePacket(base), base.v) : naivePacket(base);
    const got = segment(frame, eth ? 14 : 0, type, mss);
    expect(Array.isArray(got)).toBe(true);
    const want = expectedSegments(base, mss, eth);
    expect((got as Uint8Array[]).length).toBe(want.length);
    (got as Uint8Array[]).forEach((seg, k) => expect(Buffer.from(seg).toString('hex'), `segment ${k}`).toBe(Buffer.from(want[k]).toString('hex')));
  });

  it('flags: PSH and FIN only on the last segment, CWR only on the first, ACK/ECE on all', () => {
    const got = segment(naivePacket(tcp4), 0, VIRTIO_NET_HDR_GSO_TCPV4, 1448) as Uint8Array[];
    const flags = got.map((s) => s[20 + 13]);
    expect(flags).toEqual([TCP_ACK | TCP_CWR | TCP_ECE, TCP_ACK | TCP_ECE, TCP_ACK | TCP_ECE, TCP_ACK | TCP_ECE | TCP_PSH | TCP_FIN]);
    expect(got.map((s) => (s[4] << 8) | s[5])).toEqual([0xfffe, 0xffff, 0, 1]);
    expect(got.map((s) => s.length - 52)).toEqual([1448, 1448, 1448, 656]);
  });

  it.each([
    { description: 'TCPV4 type on an IPv6 packet', frame: () => naivePacket(tcp6), type: VIRTIO_NET_HDR_GSO_TCPV4, code: GSO_UNSUPPORTED },
    { description: 'TCPV6 type on an IPv4 packet', frame: () => naivePacket(tcp4), type: VIRTIO_NET_HDR_GSO_TCPV6, code: GSO_UNSUPPORTED },
    { description: 'UDP_L4 type on TCP', frame: () => naivePacket(tcp4), type: VIRTIO_NET_HDR_GSO_UDP_L4, code: GSO_UNSUPPORTED },
    { description: 'TCPV4 type on UDP', frame: () => naivePacket({ ...tcp4, proto: 'udp' }), type: VIRTIO_NET_HDR_GSO_TCPV4, code: GSO_UNSUPPORTED },
    { description: 'UFO (gso_type 3)', frame: () => naivePacket({ ...tcp4, proto: 'udp' }), type: 3, code: GSO_UNSUPPORTED },
    { description: 'a truncated IP header', frame: () => naivePacket(tcp4).slice(0, 12), type: VIRTIO_NET_HDR_GSO_TCPV4, code: GSO_MALFORMED },
    { description: 'TCP data offset beyond the packet', frame: () => naivePacket(tcp4).slice(0, 40), type: VIRTIO_NET_HDR_GSO_TCPV4, code: GSO_MALFORMED },
  ])('refuses $description without touching the bytes', ({ frame, type, code }) => {
    const f = frame();
    const data = new Uint8Array(SLOT).fill(0xa5);
    data.set(f, HEADROOM);
    const before = data.slice();
    const out = new Int32Array(64 * META_STRIDE);
    expect(segmentGso(data, HEADROOM, f.length, 0, type, 1448, HEADROOM, SLOT, out, 0)).toBe(code);
    expect(Buffer.compare(data, before)).toBe(0);
  });

  it('gso_size 0 is malformed; a slot too small is no-room; a short meta asks to grow', () => {
    const f = naivePacket(tcp4);
    expect(segment(f, 0, VIRTIO_NET_HDR_GSO_TCPV4, 0)).toBe(GSO_MALFORMED);
    expect(segment(f, 0, VIRTIO_NET_HDR_GSO_TCPV4, 100, 5200)).toBe(GSO_NO_ROOM);
    const data = new Uint8Array(SLOT);
    data.set(f, HEADROOM);
    expect(segmentGso(data, HEADROOM, f.length, 0, VIRTIO_NET_HDR_GSO_TCPV4, 1448, HEADROOM, SLOT, new Int32Array(3 * META_STRIDE), 0)).toBe(GSO_NEED_META);
  });
});

describe('checksum completion (NEEDS_CSUM)', () => {
  it.each([
    { description: 'TCP over IPv4 in a TAP frame', p: { ...tcp4, payload: payloadOf(1001) }, eth: true },
    { description: 'TCP over IPv6 in a TUN packet', p: { ...tcp6, payload: payloadOf(64) }, eth: false },
    { description: 'UDP over IPv4', p: { ...tcp4, proto: 'udp' as const, payload: payloadOf(333) }, eth: true },
  ])('$description: partial -> the full checksum', ({ p, eth }) => {
    const partial = naivePacket(p);
    const full = naivePacket({ ...p, csum: 'full' });
    const frame = eth ? naiveFrame(partial, p.v) : partial;
    const l4 = (eth ? 14 : 0) + (p.v === 4 ? 20 : 40);
    expect(completeChecksum(frame, 0, frame.length, l4, p.proto === 'tcp' ? 16 : 6)).toBe(true);
    expect(Buffer.from(frame).toString('hex')).toBe(Buffer.from(eth ? naiveFrame(full, p.v) : full).toString('hex'));
  });

  it('csum_start/offset past the frame: refused, nothing written', () => {
    const f = naivePacket(tcp4);
    const before = f.slice();
    expect(completeChecksum(f, 0, f.length, f.length - 10, 16)).toBe(false);
    expect(f).toEqual(before);
  });
});
