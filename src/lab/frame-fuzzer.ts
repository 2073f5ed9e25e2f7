// Frame generators for the fuzz campaign (npm run fuzz): well-formed frames of every protocol
// the director and the agent parse, then mutated (bytes flipped, lengths lied about, cut
// short) or replaced by random bytes. Every frame is at most 1514 bytes (what a TAP or an
// Ethernet link carries) and at least 14 (an Ethernet header: a packet socket refuses less). Sources are taken from a fuzz-only network
// (FUZZ_NET), never the lab client's address, so that fuzz frames never touch the curl loop's flows.
import { internetChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6At, sumBytes, finalizeChecksum } from '../wire/checksum.js';
import { parseIpv4 } from '../wire/ipv4-address.js';
import { parseIpv6 } from '../wire/ipv6-address.js';
import type { SeededRandom } from './seeded-random.js';

const MAX_FRAME = 1514;
const MIN_FRAME = 14;
/** 10.90.0.0/16: where fuzz frames claim to come from. */
const FUZZ_NET = 0x0a5a0000;

export interface DirectorFuzzTarget {
  directorMac: Uint8Array;
  kernelMac: Uint8Array;
  linkAddress: string;
  kernelAddress: string;
  vip: string;
  tcpPort: number;
  udpPort: number;
}

export interface AgentFuzzTarget {
  /** The real server's MAC and the router's (the frame's source) on their link. */
  rsMac: Uint8Array;
  routerMac: Uint8Array;
  rip: string;
  /** The director address the agent accepts (a spoofed source here). */
  dip: string;
  vip: string;
  udpPort: number;
  guePort: number;
}

/** Frames by kind, counted as they are made (the campaign prints them). */
export type KindCounts = Record<string, number>;

abstract class FrameFuzzer {
  protected readonly buf = new Uint8Array(2048);
  readonly kinds: KindCounts = {};

  constructor(protected readonly rng: SeededRandom) {}

  /** The next frame (a view of an internal buffer, valid until the next call). */
  next(): Uint8Array {
    const r = this.rng;
    let kind: string;
    let len: number;
    if (r.chance(0.08)) {
      kind = 'random';
      len = MIN_FRAME + r.int(MAX_FRAME - MIN_FRAME + 1);
      r.fill(this.buf, 0, len);
      if (r.chance(0.5)) this.buf.set(this.dstMac(), 0);
    } else {
      [kind, len] = this.wellFormed();
      if (r.chance(0.45)) {
        kind += '+mutated';
        len = this.mutate(len);
      }
    }
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
    return this.buf.subarray(0, len);
  }

  protected abstract wellFormed(): [string, number];
  protected abstract dstMac(): Uint8Array;

  /** Flips a few bytes, lies in a length field, or cuts the frame short; returns the new length. */
  private mutate(len: number): number {
    const r = this.rng;
    const b = this.buf;
    switch (r.int(4)) {
      case 0:
        for (let i = 1 + r.int(4); i > 0; i--) b[14 + r.int(Math.max(1, len - 14))] ^= 1 << r.int(8);
        return len;
      case 1:
        return Math.max(MIN_FRAME, r.int(len));
      case 2: // an IPv4 total length / IPv6 payload length / UDP length that lies
        b[16 + r.int(2) * 2 + (r.chance(0.5) ? 0 : 1)] = r.int(256);
        return len;
      default: {
        const extra = r.int(64);
        if (len + extra > MAX_FRAME) return len;
        r.fill(b, len, extra);
        return len + extra;
      }
    }
  }

  protected eth(dst: Uint8Array, src: Uint8Array, type: number): number {
    this.buf.set(dst, 0);
    this.buf.set(src, 6);
    this.buf[12] = type >> 8;
    this.buf[13] = type & 0xff;
    return 14;
  }

  protected fuzzSource(): number {
    return (FUZZ_NET | this.rng.int(0x10000)) >>> 0;
  }

  /** IPv4 header at `off` with `optionBytes` of random options; returns the header length. */
  protected ipv4(off: number, src: number, dst: number, protocol: number, payloadLen: number, optionBytes = 0, flagsFrag = 0x4000): number {
    const b = this.buf;
    const ihl = 5 + Math.ceil(optionBytes / 4);
    const hl = ihl * 4;
    b[off] = 0x40 | ihl;
    b[off + 1] = 0;
    put16(b, off + 2, hl + payloadLen);
    put16(b, off + 4, this.rng.int(0x10000));
    put16(b, off + 6, flagsFrag);
    b[off + 8] = 64;
    b[off + 9] = protocol;
    put16(b, off + 10, 0);
    put32(b, off + 12, src);
    put32(b, off + 16, dst);
    if (optionBytes > 0) {
      this.rng.fill(b, off + 20, hl - 20);
      if (this.rng.chance(0.5)) b[off + 20] = this.rng.pick([0, 1, 7, 68, 130, 131, 137, 148]); // EOL, NOP, RR, TS, SEC, LSRR, SSRR, RA
    }
    put16(b, off + 10, internetChecksum(b, off, hl));
    return hl;
  }

  /** TCP or UDP header + payload at `off` with a correct checksum over an IPv4 pseudo header. */
  protected l4v4(off: number, src: number, dst: number, protocol: 6 | 17, sport: number, dport: number, payloadLen: number): number {
    const b = this.buf;
    const hl = protocol === 6 ? 20 : 8;
    put16(b, off, sport);
    put16(b, off + 2, dport);
    if (protocol === 6) {
      put32(b, off + 4, this.rng.next());
      put32(b, off + 8, this.rng.next());
      b[off + 12] = 0x50;
      b[off + 13] = this.rng.chance(0.5) ? 0x02 : this.rng.int(256); // SYN, or any flags
      put16(b, off + 14, 65535);
      put16(b, off + 16, 0);
      put16(b, off + 18, 0);
    } else {
      put16(b, off + 4, hl + payloadLen);
      put16(b, off + 6, 0);
    }
    this.rng.fill(b, off + hl, payloadLen);
    const sum = sumBytes(b, off, hl + payloadLen, pseudoHeaderSumV4(src, dst, protocol, hl + payloadLen));
    put16(b, off + (protocol === 6 ? 16 : 6), finalizeChecksum(sum) || (protocol === 17 ? 0xffff : 0));
    return hl + payloadLen;
  }
}

/** Frames for the director's TAP: what a hostile or broken kernel side could hand it. */
export class DirectorFrameFuzzer extends FrameFuzzer {
  private readonly vip: number;
  private readonly link: number;
  private readonly kernel: number;
  private static readonly BROADCAST = new Uint8Array(6).fill(0xff);

  constructor(
    private readonly t: DirectorFuzzTarget,
    rng: SeededRandom,
  ) {
    super(rng);
    this.vip = parseIpv4(t.vip)!;
    this.link = parseIpv4(t.linkAddress)!;
    this.kernel = parseIpv4(t.kernelAddress)!;
  }

  protected dstMac(): Uint8Array {
    return this.rng.chance(0.8) ? this.t.directorMac : DirectorFrameFuzzer.BROADCAST;
  }

  /** A MAC that is not the kernel's (the director pins the kernel's; a forged one must change nothing). */
  private srcMac(): Uint8Array {
    if (this.rng.chance(0.7)) return this.t.kernelMac;
    const m = new Uint8Array(6);
    this.rng.fill(m, 0, 6);
    m[0] &= 0xfe;
    return m;
  }

  protected wellFormed(): [string, number] {
    const r = this.rng;
    const b = this.buf;
    switch (r.int(9)) {
      case 0: {
        const off = this.eth(this.dstMac(), this.srcMac(), r.pick([0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, r.int(0x10000)]));
        const n = r.int(200);
        r.fill(b, off, n);
        return ['ethernet', off + n];
      }
      case 1: {
        const off = this.eth(this.dstMac(), this.srcMac(), 0x0806);
        put16(b, off, r.chance(0.9) ? 1 : r.int(0x10000));
        put16(b, off + 2, r.chance(0.9) ? 0x0800 : r.int(0x10000));
        b[off + 4] = r.chance(0.9) ? 6 : r.int(256);
        b[off + 5] = r.chance(0.9) ? 4 : r.int(256);
        put16(b, off + 6, r.pick([1, 2, r.int(0x10000)]));
        b.set(this.srcMac(), off + 8);
        put32(b, off + 14, r.chance(0.5) ? this.fuzzSource() : this.kernel);
        r.fill(b, off + 18, 6);
        put32(b, off + 24, r.chance(0.6) ? this.link : r.next());
        return ['arp', off + 28];
      }
      case 2:
      case 3: {
        const protocol = r.chance(0.5) ? 6 : 17;
        const off = this.eth(this.t.directorMac, this.t.kernelMac, 0x0800);
        const src = this.fuzzSource();
        const dst = r.chance(0.85) ? this.vip : r.chance(0.5) ? this.link : r.next();
        const dport = r.chance(0.8) ? (protocol === 6 ? this.t.tcpPort : this.t.udpPort) : r.int(0x10000);
        const payload = r.int(protocol === 6 ? 64 : 400);
        const opts = r.chance(0.2) ? 4 * (1 + r.int(10)) : 0;
        const hl = this.ipv4(off, src, dst, protocol, (protocol === 6 ? 20 : 8) + payload, opts);
        const l4 = this.l4v4(off + hl, src, dst, protocol, 1024 + r.int(60000), dport, payload);
        return [protocol === 6 ? 'ipv4-tcp' : 'ipv4-udp', off + hl + l4];
      }
      case 4: {
        // Fragments: first (MF), middle and last pieces, of flows to the VIP.
        const off = this.eth(this.t.directorMac, this.t.kernelMac, 0x0800);
        const payload = 8 * (1 + r.int(60));
        const fragOff = r.chance(0.4) ? 0 : 1 + r.int(1000);
        const mf = r.chance(0.6) ? 0x2000 : 0;
        const hl = this.ipv4(off, this.fuzzSource(), this.vip, r.pick([6, 17, 1]), payload, 0, mf | fragOff);
        r.fill(b, off + hl, payload);
        return ['ipv4-fragment', off + hl + payload];
      }
      case 5: {
        // ICMP errors whose quote is garbage, cut short, or a plausible flow to the VIP.
        const off = this.eth(this.t.directorMac, this.t.kernelMac, 0x0800);
        const quote = r.int(120);
        const hl = this.ipv4(off, this.fuzzSource(), r.chance(0.8) ? this.vip : this.link, 1, 8 + quote);
        const icmp = off + hl;
        b[icmp] = r.pick([3, 11, 12, 5, 4, 0, 8, r.int(256)]);
        b[icmp + 1] = r.int(16);
        put16(b, icmp + 2, 0);
        put32(b, icmp + 4, r.chance(0.5) ? 1400 : r.next());
        if (quote >= 28 && r.chance(0.6)) {
          this.ipv4(icmp + 8, this.vip, this.fuzzSource(), r.pick([6, 17]), quote - 20);
          r.fill(b, icmp + 28, quote - 20);
        } else {
          r.fill(b, icmp + 8, quote);
        }
        put16(b, icmp + 2, internetChecksum(b, icmp, 8 + quote));
        return ['icmp-error', icmp + 8 + quote];
      }
      case 6: {
        // IPv4 carrying IPIP, GRE, IPv6-in-IPv4 or anything else.
        const off = this.eth(this.t.directorMac, this.t.kernelMac, 0x0800);
        const n = r.int(300);
        const hl = this.ipv4(off, this.fuzzSource(), r.chance(0.7) ? this.vip : this.link, r.pick([4, 41, 47, 50, 132, r.int(256)]), n);
        r.fill(b, off + hl, n);
        return ['ipv4-other', off + hl + n];
      }
      case 7:
        return ['ipv6-ext-chain', this.ipv6Chain()];
      default:
        return ['ndp', this.ndp()];
    }
  }

  /** IPv6 with a chain of extension headers (hop-by-hop, routing, fragment, destination, AH) and an upper layer. */
  private ipv6Chain(): number {
    const r = this.rng;
    const b = this.buf;
    const off = this.eth(this.t.directorMac, this.t.kernelMac, 0x86dd);
    const ip = off;
    b[ip] = 0x60;
    b[ip + 1] = 0;
    b[ip + 2] = 0;
    b[ip + 3] = 0;
    b[ip + 7] = 64;
    b.set(parseIpv6(`fd90::${r.int(0xffff).toString(16)}`)!, ip + 8);
    b.set(parseIpv6(r.chance(0.7) ? 'fd70:100::10' : 'fe80::2')!, ip + 24);
    let p = ip + 40;
    let nextAt = ip + 6;
    for (let i = r.int(6); i > 0 && p < 1200; i--) {
      const nh = r.pick([0, 43, 44, 60, 51]);
      b[nextAt] = nh;
      nextAt = p;
      if (nh === 44) {
        r.fill(b, p, 8);
        p += 8;
      } else {
        const units = r.int(4);
        r.fill(b, p, 8 * (units + 1));
        b[p + 1] = nh === 51 ? units * 2 : units; // AH counts 4-byte units minus 2
        p += 8 * (units + 1);
      }
    }
    const upper = r.pick([6, 17, 58, 59, r.int(256)]);
    b[nextAt] = upper;
    const n = r.int(200);
    r.fill(b, p, n);
    if (upper === 58 && n >= 8) {
      put16(b, p + 2, 0);
      const sum = pseudoHeaderSumV6At(b, ip + 8, ip + 24, 58, n);
      put16(b, p + 2, internetChecksum(b, p, n, sum));
    }
    put16(b, ip + 4, p + n - ip - 40);
    return p + n;
  }

  /** Neighbour discovery: solicitations for the director's link-local, adverts, router messages, random options. */
  private ndp(): number {
    const r = this.rng;
    const b = this.buf;
    const solicited = parseIpv6('ff02::1:ff00:2')!;
    const off = this.eth(r.chance(0.5) ? this.t.directorMac : new Uint8Array([0x33, 0x33, 0xff, 0, 0, 2]), this.srcMac(), 0x86dd);
    const ip = off;
    b[ip] = 0x60;
    b.fill(0, ip + 1, ip + 4);
    b[ip + 6] = 58;
    b[ip + 7] = r.chance(0.9) ? 255 : r.int(256);
    b.set(parseIpv6(r.chance(0.5) ? 'fe80::1' : `fe80::${r.int(0xffff).toString(16)}`)!, ip + 8);
    b.set(r.chance(0.5) ? solicited : parseIpv6('fe80::2')!, ip + 24);
    const icmp = ip + 40;
    b[icmp] = r.pick([133, 134, 135, 136, 137]);
    b[icmp + 1] = r.chance(0.9) ? 0 : r.int(256);
    put16(b, icmp + 2, 0);
    b.fill(0, icmp + 4, icmp + 8);
    if (b[icmp] === 136) b[icmp + 4] = r.int(256); // R/S/O flags
    b.set(parseIpv6(r.chance(0.6) ? 'fe80::2' : 'fe80::1')!, icmp + 8);
    let len = 24;
    for (let i = r.int(3); i > 0; i--) {
      const units = r.chance(0.9) ? 1 : r.int(3); // 0 is illegal: must be dropped
      b[icmp + len] = r.pick([1, 2, 3, 5, r.int(256)]);
      b[icmp + len + 1] = units;
      r.fill(b, icmp + len + 2, Math.max(6, units * 8 - 2));
      len += Math.max(8, units * 8);
    }
    put16(b, ip + 4, len);
    const sum = pseudoHeaderSumV6At(b, ip + 8, ip + 24, 58, len);
    put16(b, icmp + 2, internetChecksum(b, icmp, len, sum));
    return icmp + len;
  }
}

/** Frames for a real server's link: IPIP and GUE packets the agent's sockets receive, most of them bad. */
export class AgentFrameFuzzer extends FrameFuzzer {
  private readonly rip: number;
  private readonly dip: number;
  private readonly vip: number;

  constructor(
    private readonly t: AgentFuzzTarget,
    rng: SeededRandom,
  ) {
    super(rng);
    this.rip = parseIpv4(t.rip)!;
    this.dip = parseIpv4(t.dip)!;
    this.vip = parseIpv4(t.vip)!;
  }

  protected dstMac(): Uint8Array {
    return this.t.rsMac;
  }

  protected wellFormed(): [string, number] {
    const r = this.rng;
    const b = this.buf;
    const off = this.eth(this.t.rsMac, this.t.routerMac, 0x0800);
    const spoofed = r.chance(0.3);
    const outerSrc = spoofed ? this.fuzzSource() : this.dip;
    const kind = r.int(4);
    if (kind === 3) {
      // GUE: a UDP header to the GUE port, then garbage or a GUE header with a random version/flags.
      const n = r.int(200);
      const hl = this.ipv4(off, outerSrc, this.rip, 17, 8 + n);
      const udp = off + hl;
      put16(b, udp, 40000 + r.int(20000));
      put16(b, udp + 2, this.t.guePort);
      put16(b, udp + 4, 8 + n);
      put16(b, udp + 6, 0);
      r.fill(b, udp + 8, n);
      return [spoofed ? 'gue-spoofed' : 'gue-garbage', udp + 8 + n];
    }
    // IPIP: the inner packet is valid to the VIP, to a non-VIP, or garbage.
    const innerDst = kind === 0 ? this.vip : kind === 1 ? this.fuzzSource() : this.vip;
    const payload = r.int(300);
    const innerLen = 20 + 8 + payload;
    const hl = this.ipv4(off, outerSrc, this.rip, 4, innerLen);
    const inner = off + hl;
    const src = this.fuzzSource();
    this.ipv4(inner, src, innerDst, 17, 8 + payload);
    this.l4v4(inner + 20, src, innerDst, 17, 1024 + r.int(60000), this.t.udpPort, payload);
    if (kind === 2) {
      // Break the inner header: version, IHL, checksum or total length.
      const what = r.int(4);
      if (what === 0) b[inner] = (r.int(16) << 4) | 5;
      else if (what === 1) b[inner] = 0x40 | r.int(16);
      else if (what === 2) b[inner + 10] ^= 0xff;
      else put16(b, inner + 2, r.int(0x10000));
    }
    const name = spoofed ? 'ipip-spoofed' : kind === 0 ? 'ipip-vip' : kind === 1 ? 'ipip-non-vip' : 'ipip-bad-inner';
    return [name, inner + innerLen];
  }
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}
