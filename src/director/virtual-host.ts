// The director is a small host on the TAP link: it owns a link address and a MAC, answers
// ARP for that address (and IPv6 neighbour solicitations for its IPv6 link address, the
// next hop of the kernel's IPv6 VIP routes), and sends every frame to the kernel's MAC (the
// only other host on the link). That MAC is the TAP device's own, read at start and pinned:
// ARP or NDP claiming the kernel's side at any other MAC is forged (anything on the host can
// write frames onto the TAP) and is dropped, so it can never redirect the output. Without a
// pinned MAC (tests, devices that cannot say) the MAC is learned from the ARP and NDP heard.
import { ARP_LENGTH, ARP_OP_REQUEST, ArpView } from '../wire/arp.js';
import { copyMac, ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP } from '../wire/ethernet.js';
import { WIRE_OK } from '../wire/errors.js';
import { finalizeChecksum, pseudoHeaderSumV6At, sumBytes } from '../wire/checksum.js';
import { ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION } from '../wire/icmpv6.js';
import { IPPROTO_ICMPV6 } from '../wire/ip-protocol.js';
import { writeIpv4 } from '../wire/ipv4-address.js';
import { copyIpv6, ipv6Equals, parseIpv6 } from '../wire/ipv6-address.js';
import { Verdict } from './verdicts.js';

export const DEFAULT_LINK_ADDRESS6 = 'fe80::2';
/** Frame length of a neighbour advertisement from handleNeighborSolicitation. */
export const NA_FRAME_LENGTH = ETHERNET_HEADER_LENGTH + 40 + 32;

export class VirtualHost {
  /** The kernel's MAC on the TAP (valid when kernelMacKnown). */
  readonly kernelMac = new Uint8Array(6);
  kernelMacKnown = false;
  /** True when kernelMac came from the device itself: then ARP/NDP never change it. */
  readonly kernelMacPinned: boolean;
  /** The director's IPv6 link address (the kernel routes IPv6 VIPs via it); fe80::2 by default. */
  linkAddress6: Uint8Array = parseIpv6(DEFAULT_LINK_ADDRESS6)!;
  private readonly arp = new ArpView();

  /**
   * @param mac            the director's own MAC (6 bytes)
   * @param linkAddress    the director's link address (uint32)
   * @param kernelAddress  the kernel's address on the TAP (uint32)
   * @param kernelMac      the TAP device's MAC (the kernel's side), pinned; omit to learn it
   */
  constructor(
    readonly mac: Uint8Array,
    readonly linkAddress: number,
    readonly kernelAddress: number,
    kernelMac?: Uint8Array,
  ) {
    this.kernelMacPinned = kernelMac !== undefined;
    if (kernelMac) this.learn(kernelMac, 0);
  }

  learn(mac: Uint8Array, off: number): void {
    copyMac(mac, off, this.kernelMac, 0);
    this.kernelMacKnown = true;
  }

  /** Pins the kernel's MAC to `mac` (the TAP's, read again); returns true when it changed. */
  repin(mac: Uint8Array): boolean {
    if (!this.kernelMacPinned) return false;
    let same = true;
    for (let i = 0; i < 6; i++) if (mac[i] !== this.kernelMac[i]) same = false;
    if (!same) this.learn(mac, 0);
    return !same;
  }

  /** True when data[off..off+6) may be the kernel's MAC: the pinned one, or any while learning. */
  private isKernelMac(data: Uint8Array, off: number): boolean {
    if (!this.kernelMacPinned) return true;
    const k = this.kernelMac;
    for (let i = 0; i < 6; i++) if (data[off + i] !== k[i]) return false;
    return true;
  }

  /**
   * Handles the ARP frame at data[off .. off+len). ARP from the kernel's address at another
   * MAC than the pinned one is forged: DropKernelMacSpoofed, unanswered. Otherwise learns the
   * kernel's MAC (unless pinned) and turns a request for our link address into the reply in
   * place (length 42). Returns ReplyArp, ArpLearned, DropArpIgnored, DropArpMalformed or
   * DropKernelMacSpoofed.
   */
  handleArp(data: Uint8Array, off: number, len: number): Verdict {
    const arp = this.arp;
    if (arp.bind(data, off + ETHERNET_HEADER_LENGTH, len - ETHERNET_HEADER_LENGTH) !== WIRE_OK) return Verdict.DropArpMalformed;
    const fromKernel = arp.senderProtocolAddress === this.kernelAddress;
    if (fromKernel) {
      if (!this.isKernelMac(data, arp.senderHardwareAddressOffset)) return Verdict.DropKernelMacSpoofed;
      if (!this.kernelMacPinned) this.learn(data, arp.senderHardwareAddressOffset);
    }
    if (arp.operation === ARP_OP_REQUEST && arp.targetProtocolAddress === this.linkAddress) {
      arp.makeReplyInPlace(this.mac);
      // Ethernet: back to the asker, from us.
      copyMac(data, arp.targetHardwareAddressOffset, data, off);
      copyMac(this.mac, 0, data, off + 6);
      return Verdict.ReplyArp;
    }
    return fromKernel ? Verdict.ArpLearned : Verdict.DropArpIgnored;
  }

  /**
   * Handles an ICMPv6 neighbour solicitation (IPv6 header at `ip`, ICMPv6 at `icmp`, icmpLen
   * bytes; the caller checked next header 58). A solicitation for our IPv6 link address
   * becomes the solicited, override advertisement in place (RFC 4861 §7.2.4), frame length
   * 14 + 40 + 32. The kernel is the only other host on the link: a solicitation from another
   * MAC than the pinned one is forged (DropKernelMacSpoofed); without a pin the kernel's MAC is
   * learned from it.
   */
  handleNeighborSolicitation(data: Uint8Array, off: number, ip: number, icmp: number, icmpLen: number): Verdict {
    // RFC 4861 §7.1.1: hop limit 255 (never forwarded), code 0, at least 24 bytes.
    if (data[icmp] !== ICMPV6_NEIGHBOR_SOLICITATION || data[ip + 7] !== 255 || data[icmp + 1] !== 0 || icmpLen < 24) return Verdict.DropNdpIgnored;
    if (!this.isKernelMac(data, off + 6)) return Verdict.DropKernelMacSpoofed;
    if (!this.kernelMacPinned) this.learn(data, off + 6);
    if (!ipv6Equals(data, icmp + 8, this.linkAddress6, 0)) return Verdict.DropNdpIgnored;
    // Destination: the solicitor, or all-nodes when it has no address yet (DAD).
    let unspecified = true;
    for (let k = 0; k < 16; k++) if (data[ip + 8 + k] !== 0) unspecified = false;
    if (unspecified) {
      data.fill(0, ip + 24, ip + 40);
      data[ip + 24] = 0xff;
      data[ip + 25] = 0x02;
      data[ip + 39] = 1;
    } else {
      copyIpv6(data, ip + 8, data, ip + 24);
    }
    copyIpv6(this.linkAddress6, 0, data, ip + 8);
    data[ip] = 0x60;
    data[ip + 1] = 0;
    data[ip + 2] = 0;
    data[ip + 3] = 0;
    data[ip + 4] = 0;
    data[ip + 5] = 32;
    data[ip + 6] = IPPROTO_ICMPV6;
    data[ip + 7] = 255;
    data[icmp] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
    data[icmp + 1] = 0;
    data[icmp + 2] = 0;
    data[icmp + 3] = 0;
    data[icmp + 4] = unspecified ? 0x20 : 0x60; // Solicited (unless DAD) + Override
    data[icmp + 5] = 0;
    data[icmp + 6] = 0;
    data[icmp + 7] = 0;
    // Target stays; then the target link-layer address option (type 2, 1 x 8 bytes).
    data[icmp + 24] = 2;
    data[icmp + 25] = 1;
    copyMac(this.mac, 0, data, icmp + 26);
    const c = finalizeChecksum(sumBytes(data, icmp, 32, pseudoHeaderSumV6At(data, ip + 8, ip + 24, IPPROTO_ICMPV6, 32)));
    data[icmp + 2] = c >>> 8;
    data[icmp + 3] = c;
    copyMac(data, off + 6, data, off);
    copyMac(this.mac, 0, data, off + 6);
    return Verdict.ReplyNdp;
  }

  /** Writes a broadcast ARP request for the kernel's address at data[off]; returns its length (42). */
  writeKernelProbe(data: Uint8Array, off: number): number {
    data.fill(0xff, off, off + 6);
    copyMac(this.mac, 0, data, off + 6);
    data[off + 12] = ETHERTYPE_ARP >>> 8;
    data[off + 13] = ETHERTYPE_ARP & 0xff;
    const a = off + ETHERNET_HEADER_LENGTH;
    data[a] = 0;
    data[a + 1] = 1; // Ethernet
    data[a + 2] = 0x08;
    data[a + 3] = 0x00; // IPv4
    data[a + 4] = 6;
    data[a + 5] = 4;
    data[a + 6] = 0;
    data[a + 7] = ARP_OP_REQUEST;
    copyMac(this.mac, 0, data, a + 8);
    writeIpv4(data, a + 14, this.linkAddress);
    data.fill(0, a + 18, a + 24);
    writeIpv4(data, a + 24, this.kernelAddress);
    return ETHERNET_HEADER_LENGTH + ARP_LENGTH;
  }
}
