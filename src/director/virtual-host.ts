// The director is a small host on the TAP link: it owns a link address and a MAC, answers
// ARP for that address, and learns the kernel's MAC (the only other host on the link) from
// the ARP it hears. Every frame it sends goes to the kernel's MAC.
import { ARP_LENGTH, ARP_OP_REQUEST, ArpView } from '../wire/arp.js';
import { copyMac, ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP } from '../wire/ethernet.js';
import { WIRE_OK } from '../wire/errors.js';
import { writeIpv4 } from '../wire/ipv4-address.js';
import { Verdict } from './verdicts.js';

export class VirtualHost {
  /** The kernel's MAC on the TAP (valid when kernelMacKnown). */
  readonly kernelMac = new Uint8Array(6);
  kernelMacKnown = false;
  private readonly arp = new ArpView();

  /**
   * @param mac            the director's own MAC (6 bytes)
   * @param linkAddress    the director's link address (uint32)
   * @param kernelAddress  the kernel's address on the TAP (uint32)
   */
  constructor(
    readonly mac: Uint8Array,
    readonly linkAddress: number,
    readonly kernelAddress: number,
    kernelMac?: Uint8Array,
  ) {
    if (kernelMac) this.learn(kernelMac, 0);
  }

  learn(mac: Uint8Array, off: number): void {
    copyMac(mac, off, this.kernelMac, 0);
    this.kernelMacKnown = true;
  }

  /**
   * Handles the ARP frame at data[off .. off+len). Learns the kernel's MAC from anything it
   * sends, and turns a request for our link address into the reply in place (length 42).
   * Returns ReplyArp, ArpLearned, DropArpIgnored or DropArpMalformed.
   */
  handleArp(data: Uint8Array, off: number, len: number): Verdict {
    const arp = this.arp;
    if (arp.bind(data, off + ETHERNET_HEADER_LENGTH, len - ETHERNET_HEADER_LENGTH) !== WIRE_OK) return Verdict.DropArpMalformed;
    const fromKernel = arp.senderProtocolAddress === this.kernelAddress;
    if (fromKernel) this.learn(data, arp.senderHardwareAddressOffset);
    if (arp.operation === ARP_OP_REQUEST && arp.targetProtocolAddress === this.linkAddress) {
      arp.makeReplyInPlace(this.mac);
      // Ethernet: back to the asker, from us.
      copyMac(data, arp.targetHardwareAddressOffset, data, off);
      copyMac(this.mac, 0, data, off + 6);
      return Verdict.ReplyArp;
    }
    return fromKernel ? Verdict.ArpLearned : Verdict.DropArpIgnored;
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
