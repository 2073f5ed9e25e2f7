// Emit helper: the "too big" answer to a client whose packet does not fit the tunnel and
// may not be fragmented. IPv4 gets ICMP fragmentation needed, IPv6 Packet Too Big (with
// at least 1280 as the MTU), from the VIP, rate-limited per client (icmp-too-big.ts
// writes both messages in the headroom in front of the packet).
import { IcmpRateLimiter } from '../icmp-rate-limit.js';
import { FRAG_NEEDED_HEADROOM, fragNeededFrameLength, PACKET_TOO_BIG_HEADROOM, packetTooBigFrameLength, writeFragNeededV4, writePacketTooBigV6 } from '../icmp-too-big.js';
import { MIN_TUNNEL_MTU_V6 } from '../tunnel-mtu.js';
import { Verdict } from '../verdicts.js';
import type { VirtualHost } from '../virtual-host.js';
import { FAMILY_V4, type PacketRecord } from './packet-record.js';

/** The outer IPv4 identification the director writes (tunnel headers, its own ICMP errors): wraps at 16 bits. */
export class IpIdentification {
  private value = 0;
  next(): number {
    const id = this.value;
    this.value = (id + 1) & 0xffff;
    return id;
  }
}

export class TooBigReplies {
  constructor(
    private readonly host: VirtualHost,
    private readonly limiter: IcmpRateLimiter,
    private readonly ids: IpIdentification,
  ) {}

  /** Answers rec's packet with `usable` (bytes) as the MTU it should fit. */
  reply(rec: PacketRecord, usable: number): Verdict {
    const host = this.host;
    if (rec.family === FAMILY_V4) {
      if (rec.headroom < FRAG_NEEDED_HEADROOM) return Verdict.DropNoHeadroom;
      if (!this.limiter.allow(IcmpRateLimiter.keyV4(rec.clientKey), rec.now)) return Verdict.DropTooBigRateLimited;
      rec.outOffset = writeFragNeededV4(rec.data, rec.ipOffset, rec.ipHeaderLength, rec.total, usable, this.ids.next(), host.mac, host.kernelMac);
      rec.outLength = fragNeededFrameLength(rec.ipHeaderLength, rec.total);
      return Verdict.ReplyIcmpTooBig;
    }
    if (rec.headroom < PACKET_TOO_BIG_HEADROOM) return Verdict.DropNoHeadroom;
    if (!this.limiter.allow(rec.clientKey, rec.now)) return Verdict.DropTooBigRateLimited;
    rec.outOffset = writePacketTooBigV6(rec.data, rec.ipOffset, rec.total, usable < MIN_TUNNEL_MTU_V6 ? MIN_TUNNEL_MTU_V6 : usable, host.mac, host.kernelMac);
    rec.outLength = packetTooBigFrameLength(rec.total);
    return Verdict.ReplyIcmpTooBig;
  }
}
