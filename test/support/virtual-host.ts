// A minimal host living on a TAP link, for end-to-end device tests: it answers ARP for its
// IPv4 address and ICMP echo requests sent to it, rewriting each frame in place in the
// device's ring and sending all replies of a batch with one writeBatch — the same pattern
// the director uses. Everything else is counted and ignored.
import { ArpView, ARP_OP_REQUEST } from '../../src/wire/arp.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { EthernetView, ETHERTYPE_ARP, ETHERTYPE_IPV4, copyMac } from '../../src/wire/ethernet.js';
import { Ipv4View } from '../../src/wire/ipv4.js';
import { IPPROTO_ICMP } from '../../src/wire/ip-protocol.js';
import { META_LENGTH, META_OFFSET, META_STRIDE, type PacketBatch, type PacketDevice } from '../../src/device/packet-device.js';

// ICMP header (RFC 792): type, code, checksum, then identifier/sequence for echo.
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;
const ICMP_HEADER_LENGTH = 8;

export interface VirtualHostCounters {
  frames: number;
  arpReplies: number;
  echoReplies: number;
  /** Frames not for us, not ARP/IPv4, or malformed. */
  ignored: number;
}

export class VirtualHost {
  readonly counters: VirtualHostCounters = { frames: 0, arpReplies: 0, echoReplies: 0, ignored: 0 };
  /** The kernel's MAC as last seen in a frame addressed to us (learned from ARP). */
  peerMac: Uint8Array | undefined;
  private readonly eth = new EthernetView();
  private readonly arp = new ArpView();
  private readonly ip = new Ipv4View();
  private readonly replyMeta: Int32Array;

  /**
   * @param mac our 6-byte MAC
   * @param address our IPv4 address as an unsigned 32-bit number
   */
  constructor(
    private readonly device: PacketDevice,
    readonly mac: Uint8Array,
    readonly address: number,
    slots = 256,
  ) {
    this.replyMeta = new Int32Array(slots * META_STRIDE);
  }

  start(): void {
    this.device.onBatch((batch) => this.handle(batch));
  }

  private handle(batch: PacketBatch): void {
    const { data, meta } = batch;
    let replies = 0;
    for (let i = 0; i < batch.count; i++) {
      this.counters.frames++;
      const off = meta[i * META_STRIDE + META_OFFSET];
      const len = meta[i * META_STRIDE + META_LENGTH];
      const replyLen = this.answer(data, off, len);
      if (replyLen === 0) {
        this.counters.ignored++;
        continue;
      }
      this.replyMeta[replies * META_STRIDE + META_OFFSET] = off;
      this.replyMeta[replies * META_STRIDE + META_LENGTH] = replyLen;
      replies++;
    }
    if (replies > 0) this.device.writeBatch(data, this.replyMeta, replies);
  }

  /** Rewrites the frame at data[off..off+len) into its reply; returns the reply length or 0. */
  private answer(data: Uint8Array, off: number, len: number): number {
    const eth = this.eth;
    if (eth.bind(data, off, len) !== 0) return 0;
    const type = eth.etherType;
    if (type === ETHERTYPE_ARP) {
      const arp = this.arp;
      if (arp.bind(data, eth.payloadOffset, eth.payloadLength) !== 0) return 0;
      if (arp.operation !== ARP_OP_REQUEST || arp.targetProtocolAddress !== this.address) return 0;
      this.peerMac = data.slice(arp.senderHardwareAddressOffset, arp.senderHardwareAddressOffset + 6);
      arp.makeReplyInPlace(this.mac);
      this.turnAround(data);
      this.counters.arpReplies++;
      return len;
    }
    if (type !== ETHERTYPE_IPV4 || !eth.destinationEquals(this.mac)) return 0;
    const ip = this.ip;
    if (ip.bind(data, eth.payloadOffset, eth.payloadLength) !== 0) return 0;
    if (ip.destination !== this.address || ip.protocol !== IPPROTO_ICMP || ip.isFragment) return 0;
    const icmp = ip.payloadOffset;
    const icmpLen = ip.payloadLength;
    if (icmpLen < ICMP_HEADER_LENGTH || data[icmp] !== ICMP_ECHO_REQUEST) return 0;
    // Echo reply: same identifier, sequence and data; addresses swapped; checksums redone.
    data[icmp] = ICMP_ECHO_REPLY;
    data[icmp + 2] = 0;
    data[icmp + 3] = 0;
    const sum = internetChecksum(data, icmp, icmpLen);
    data[icmp + 2] = sum >>> 8;
    data[icmp + 3] = sum & 0xff;
    const from = ip.source;
    ip.source = this.address;
    ip.destination = from;
    ip.timeToLive = 64;
    ip.fillChecksum();
    this.turnAround(data);
    this.counters.echoReplies++;
    return eth.payloadOffset - off + ip.totalLength;
  }

  /** Sends the frame back where it came from, from our MAC. */
  private turnAround(data: Uint8Array): void {
    const eth = this.eth;
    copyMac(data, eth.sourceOffset, data, eth.destinationOffset);
    copyMac(this.mac, 0, data, eth.sourceOffset);
  }
}
