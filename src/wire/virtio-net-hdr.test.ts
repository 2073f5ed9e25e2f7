import { describe, expect, it } from 'vitest';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4,
  VirtioNetHdr,
  VirtioNetHdrView,
} from './virtio-net-hdr.js';

// Hand-written bytes: the legacy header is little-endian on the hosts we run on.
const golden = [
  {
    description: 'TSO4 super-packet from a TAP (Ethernet 14 + IPv4 20 + TCP 32)',
    bytes: [0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00],
    value: { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16 },
  },
  {
    description: 'TSO6 with ECN from a TUN (IPv6 40 + TCP 20)',
    bytes: [0x01, 0x84, 0x3c, 0x00, 0x94, 0x05, 0x28, 0x00, 0x10, 0x00],
    value: { flags: 1, gsoType: VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, hdrLen: 60, gsoSize: 1428, csumStart: 40, csumOffset: 16 },
  },
  {
    description: 'USO over IPv4 (UDP checksum at +6)',
    bytes: [0x01, 0x05, 0x2a, 0x00, 0xc8, 0x04, 0x22, 0x00, 0x06, 0x00],
    value: { flags: 1, gsoType: VIRTIO_NET_HDR_GSO_UDP_L4, hdrLen: 42, gsoSize: 1224, csumStart: 34, csumOffset: 6 },
  },
  {
    description: 'a plain frame: all zero',
    bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    value: { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 },
  },
];

describe('virtio-net header', () => {
  it.each(golden)('$description: parses and re-emits byte for byte (10 and 12 bytes)', ({ bytes, value }) => {
    const buf = Uint8Array.from(bytes);
    expect(VirtioNetHdr.parse(buf)).toEqual({ ok: true, value, byteLength: 10 });
    const out = new Uint8Array(10).fill(0xee);
    expect(VirtioNetHdr.emit(value, out)).toBe(10);
    expect(Array.from(out)).toEqual(bytes);
    // The 12-byte form at an offset: num_buffers written as 0, bytes around untouched.
    const wide = new Uint8Array(3 + 12 + 3).fill(0xee);
    VirtioNetHdr.emit(value, wide, 3, 12);
    expect(Array.from(wide)).toEqual([0xee, 0xee, 0xee, ...bytes, 0, 0, 0xee, 0xee, 0xee]);
    expect(VirtioNetHdr.parse(wide, 3, 12)).toEqual({ ok: true, value, byteLength: 12 });
  });

  it('the view reads and writes each field in place', () => {
    const buf = new Uint8Array(14);
    const v = new VirtioNetHdrView();
    expect(v.bind(buf, 2, 12)).toBe(0);
    v.flags = 1;
    v.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
    v.hdrLen = 0x1234;
    v.gsoSize = 0xabcd;
    v.csumStart = 34;
    v.csumOffset = 16;
    expect(Array.from(buf)).toEqual([0, 0, 1, 1, 0x34, 0x12, 0xcd, 0xab, 34, 0, 16, 0, 0, 0]);
    expect([v.needsCsum, v.gsoType, v.hdrLen, v.gsoSize, v.csumStart, v.csumOffset, v.numBuffers]).toEqual([true, 1, 0x1234, 0xabcd, 34, 16, 0]);
    buf[12] = 3;
    expect(v.numBuffers).toBe(3);
    v.clear();
    expect(Array.from(buf)).toEqual(new Array(14).fill(0));
  });

  it('the 24-byte tunnel form (virtio_net_hdr_v1_hash_tunnel): TSO4 inside GUE over IPv4, offsets at bytes 20 and 22', () => {
    // Ethernet 14 + IPv4 20 + UDP 8 + GUE 4 + inner IPv4 20 + TCP 32; hand-written little-endian bytes.
    const bytes = [0x01, 0x21, 0x62, 0x00, 0x78, 0x05, 0x42, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22, 0x00, 0x2e, 0x00];
    const value = { flags: 1, gsoType: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4, hdrLen: 98, gsoSize: 1400, csumStart: 66, csumOffset: 16, outerThOffset: 34, innerNhOffset: 46 };
    expect(VirtioNetHdr.parse(Uint8Array.from(bytes), 0, 24)).toEqual({ ok: true, value, byteLength: 24 });
    const out = new Uint8Array(24).fill(0xee);
    expect(VirtioNetHdr.emit(value, out, 0, 24)).toBe(24);
    expect(Array.from(out)).toEqual(bytes);
    const v = new VirtioNetHdrView();
    expect(v.bind(out, 0, 24)).toBe(0);
    expect([v.outerThOffset, v.innerNhOffset, v.gsoSize, v.csumStart]).toEqual([34, 46, 1400, 66]);
    // The shorter forms have no such fields: reading gives 0, writing touches nothing.
    const short = new Uint8Array(12);
    expect(v.bind(short, 0, 12)).toBe(0);
    v.outerThOffset = 34;
    expect([v.outerThOffset, Array.from(short)]).toEqual([0, new Array(12).fill(0)]);
  });

  it.each([
    { description: 'a tunnel bit in the 12-byte form', buf: Uint8Array.from([1, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), length: 12, error: 'bad-type' },
    { description: 'both tunnel families at once', buf: Uint8Array.from([1, 0x61, ...new Array(22).fill(0)]), length: 24, error: 'bad-type' },
    { description: '23 bytes for the 24-byte form', buf: new Uint8Array(23), length: 24, error: 'truncated' },
  ])('$description -> $error', ({ buf, length, error }) => {
    expect(VirtioNetHdr.parse(buf, 0, length)).toEqual({ ok: false, error });
  });

  it.each([
    { description: '9 bytes', buf: new Uint8Array(9), length: 10, error: 'truncated' },
    { description: '11 bytes for the 12-byte form', buf: new Uint8Array(11), length: 12, error: 'truncated' },
    { description: 'a length of 8', buf: new Uint8Array(16), length: 8, error: 'bad-length' },
    { description: 'gso_type 2 (not defined)', buf: Uint8Array.from([0, 2, 0, 0, 0, 0, 0, 0, 0, 0]), length: 10, error: 'bad-type' },
  ])('$description -> $error', ({ buf, length, error }) => {
    expect(VirtioNetHdr.parse(buf, 0, length)).toEqual({ ok: false, error });
  });

  it('emit refuses a buffer without room instead of writing past it', () => {
    expect(() => VirtioNetHdr.emit(golden[0].value, new Uint8Array(12), 4, 10)).toThrow(RangeError);
  });
});
