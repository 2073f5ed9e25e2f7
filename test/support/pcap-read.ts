// Reading the captures e2e tests take with tcpdump -w (classic libpcap, Ethernet link type),
// and turning GUE-tunnelled frames into a raw-IP capture of their inner packets, so that
// tshark (which has no GUE dissector) validates the inner IP and TCP checksums.
import { readFileSync } from 'node:fs';
import { LINKTYPE_RAW, PcapWriter } from '../../src/device/pcap-writer.js';

export interface PcapFrame {
  bytes: Uint8Array;
  /** Length on the wire (the capture may hold less). */
  origLength: number;
}

/** The frames of a classic pcap file (either byte order); throws for another link type than Ethernet. */
export function pcapFrames(file: string): PcapFrame[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${file}: link type ${u32(20)}, expected 1 (Ethernet)`);
  const out: PcapFrame[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    out.push({ bytes: new Uint8Array(b.subarray(o + 16, o + 16 + incl)), origLength: u32(o + 12) });
    o += 16 + incl;
  }
  return out;
}

/** A GUE frame taken apart: Ethernet + IPv4 + UDP + GUE (variant 0 or 1), then the inner IP packet. */
export interface GueFrame {
  /** Offset of the outer UDP header and of the inner IP header in the frame. */
  udp: number;
  inner: number;
  udpChecksum: number;
}

/** Parses an Ethernet + IPv4 + UDP frame to `port` carrying GUE; null for anything else. */
export function parseGueFrame(f: Uint8Array, port: number): GueFrame | null {
  if (f.length < 14 + 20 + 8 + 1 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] >> 4 !== 4 || f[23] !== 17) return null;
  const udp = 14 + ((f[14] & 0x0f) << 2);
  if (((f[udp + 2] << 8) | f[udp + 3]) !== port) return null;
  const g = udp + 8;
  const variant = f[g] >> 6;
  const inner = variant === 1 ? g : variant === 0 ? g + 4 + ((f[g] & 0x1f) << 2) : -1;
  if (inner < 0 || inner >= f.length) return null;
  return { udp, inner, udpChecksum: (f[udp + 6] << 8) | f[udp + 7] };
}

/** Writes the inner IP packets of `frames` (GUE to `port`) as a raw-IP pcap; returns how many. */
export function writeInnerPcap(frames: PcapFrame[], port: number, file: string): number {
  const w = PcapWriter.open(file, { linkType: LINKTYPE_RAW });
  let n = 0;
  try {
    for (const fr of frames) {
      const g = parseGueFrame(fr.bytes, port);
      if (g === null) continue;
      w.writePacket(fr.bytes, g.inner, fr.bytes.length - g.inner);
      n++;
    }
  } finally {
    w.close();
  }
  return n;
}
