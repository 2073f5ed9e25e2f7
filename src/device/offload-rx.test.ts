import fc from 'fast-check';
import { ringBatch } from '../../test/fixtures/offload/ring-batch.js';
import { describe, expect, it } from 'vitest';
import { META_LENGTH, META_OFFSET, META_STRIDE } from '../native/addon.js';
import { TCP_ACK, TCP_PSH } from '../wire/tcp.js';
import { VIRTIO_NET_HDR_GSO_TCPV4, VirtioNetHdr } from '../wire/virtio-net-hdr.js';
import { naiveFrame, naivePacket, payloadOf, V4A, V4B, type NaivePacket } from '../../test/fixtures/offload/naive-packets.js';
import { OffloadRx } from './offload-rx.js';

const VLEN = 12;
const HEADROOM = 128;
const SLOT = 128 * 1024;

/** A ring as the reader fills it: packet i (virtio header + frame) at i * SLOT + HEADROOM. */
function ring(packets: Uint8Array[]): { data: Uint8Array; meta: Int32Array } {
  return ringBatch(packets, HEADROOM, SLOT);
}

function withHeader(h: Partial<VirtioNetHdr>, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(VLEN + frame.length);
  VirtioNetHdr.emit({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, ...h }, out, 0, VLEN);
  out.set(frame, VLEN);
  return out;
}

const base: NaivePacket = { v: 4, proto: 'tcp', src: V4A, dst: V4B, sport: 5000, dport: 80, id: 9, seq: 100, ack: 1, flags: TCP_ACK | TCP_PSH, payload: payloadOf(3000), csum: 'partial' };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('OffloadRx: a batch as the TAP delivers it', () => {
  it('segments the super-packet, completes the partial checksum, passes the plain frame, drops and counts the runt', () => {
    const tso = withHeader({ flags: 1, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, naiveFrame(naivePacket(base), 4));
    const partial = withHeader({ flags: 1, csumStart: 34, csumOffset: 16 }, naiveFrame(naivePacket({ ...base, payload: payloadOf(100) }), 4));
    const plain = withHeader({}, naiveFrame(naivePacket({ ...base, payload: payloadOf(10), csum: 'full' }), 4));
    const runt = new Uint8Array(8);
    const { data, meta } = ring([tso, runt, partial, plain]);
    const rx = new OffloadRx(VLEN, 14, HEADROOM, SLOT, 4);
    const n = rx.process(data, meta, 4);
    const got = Array.from({ length: n }, (_, k) => hex(data.subarray(rx.meta[k * META_STRIDE + META_OFFSET], rx.meta[k * META_STRIDE + META_OFFSET] + rx.meta[k * META_STRIDE + META_LENGTH])));
    const seg = (k: number, len: number, flags: number) => hex(naiveFrame(naivePacket({ ...base, csum: 'full', id: 9 + k, seq: 100 + k * 1448, flags, payload: base.payload.slice(k * 1448, k * 1448 + len) }), 4));
    expect(got).toEqual([
      seg(0, 1448, TCP_ACK),
      seg(1, 1448, TCP_ACK),
      seg(2, 104, TCP_ACK | TCP_PSH),
      hex(naiveFrame(naivePacket({ ...base, payload: payloadOf(100), csum: 'full' }), 4)),
      hex(naiveFrame(naivePacket({ ...base, payload: payloadOf(10), csum: 'full' }), 4)),
    ]);
    expect(rx.stats).toMatchObject({ gsoPackets: 1, gsoSegments: 3, csumCompleted: 1, dropBadVnetHeader: 1 });
  });

  it('records the segments it cut (and only those) for the writer: by exact IP offset, in this array, until the next batch', () => {
    const tso = withHeader({ flags: 1, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, naiveFrame(naivePacket(base), 4));
    const partial = withHeader({ flags: 1, csumStart: 34, csumOffset: 16 }, naiveFrame(naivePacket({ ...base, payload: payloadOf(100) }), 4));
    const plain = withHeader({}, naiveFrame(naivePacket({ ...base, payload: payloadOf(10), csum: 'full' }), 4));
    const ipAt = (rx: OffloadRx, k: number) => rx.meta[k * META_STRIDE + META_OFFSET] + 14;
    const { data, meta } = ring([tso, partial, plain]);
    const off = new OffloadRx(VLEN, 14, HEADROOM, SLOT, 3);
    expect(off.process(data.slice(), meta, 3)).toBe(5);
    expect([0, 1, 2, 3, 4].map((k) => off.ownChecksumAt(data, ipAt(off, k)))).toEqual([false, false, false, false, false]); // not asked to record

    const rx = new OffloadRx(VLEN, 14, HEADROOM, SLOT, 3);
    rx.recordOwnChecksums();
    expect(rx.process(data, meta, 3)).toBe(5);
    // Three segments of the super-packet; the completed partial packet and the plain one are not ours to vouch for.
    expect([0, 1, 2, 3, 4].map((k) => rx.ownChecksumAt(data, ipAt(rx, k)))).toEqual([true, true, true, false, false]);
    expect(rx.ownChecksumAt(data, ipAt(rx, 1) + 1)).toBe(false);
    expect(rx.ownChecksumAt(data.slice(), ipAt(rx, 1))).toBe(false);
    const seg1 = ipAt(rx, 1);
    const next = ring([plain, plain, plain]);
    data.set(next.data.subarray(0, 3 * SLOT));
    expect(rx.process(data, next.meta, 3)).toBe(3);
    expect(rx.ownChecksumAt(data, seg1)).toBe(false);
    expect([0, 1, 2].map((k) => rx.ownChecksumAt(data, ipAt(rx, k)))).toEqual([false, false, false]);
  });

  it('random headers and bytes: never throws, every packet it passes on lies inside its own slot', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            flags: fc.integer({ min: 0, max: 3 }),
            gsoType: fc.constantFrom(0, 1, 3, 4, 5, 0x81, 7),
            gsoSize: fc.integer({ min: 0, max: 70000 }),
            csumStart: fc.integer({ min: 0, max: 70000 }),
            csumOffset: fc.integer({ min: 0, max: 70000 }),
            tcp: fc.boolean(),
            bytes: fc.uint8Array({ minLength: 0, maxLength: 3000 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (pkts) => {
          const frames = pkts.map((p) => {
            const frame = p.tcp ? naiveFrame(naivePacket({ ...base, payload: p.bytes }), 4) : Uint8Array.from([...new Uint8Array(14), ...p.bytes]);
            return withHeader({ flags: p.flags, gsoType: p.gsoType, gsoSize: p.gsoSize & 0xffff, csumStart: p.csumStart & 0xffff, csumOffset: p.csumOffset & 0xffff, hdrLen: 0 }, frame);
          });
          const { data, meta } = ring(frames);
          const rx = new OffloadRx(VLEN, 14, HEADROOM, SLOT, frames.length);
          const n = rx.process(data, meta, frames.length);
          for (let k = 0; k < n; k++) {
            const off = rx.meta[k * META_STRIDE + META_OFFSET];
            const len = rx.meta[k * META_STRIDE + META_LENGTH];
            expect(len).toBeGreaterThan(0);
            expect(Math.floor(off / SLOT)).toBe(Math.floor((off + len - 1) / SLOT));
            expect(off % SLOT).toBeGreaterThanOrEqual(HEADROOM);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
