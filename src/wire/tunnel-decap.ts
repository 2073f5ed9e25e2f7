// Decapsulation for VS/TUN receivers: the outer IPv4 or IPv6 header, GUE, and the inner
// packet, each checked through the views, with no allocation. Two ways to use it:
//   decap()/checkInnerOnly(): a whole packet, outer checksum and fragments checked (tools, tests);
//   outerIpv4()/gue()/innerExact(): one layer at a time, for a receiver that checks the
//     outer source itself between the layers and wants to know which layer failed (the
//     agent, src/agent/decap.ts): the inner packet must fill exactly what the outer carried.
import { verifyChecksum } from './checksum.js';
import {
  E_BAD_CHECKSUM,
  E_BAD_HEADER_LENGTH,
  E_BAD_INNER_PACKET,
  E_BAD_TYPE,
  E_BAD_VERSION,
  E_FRAGMENTED,
  E_TRUNCATED,
  E_UNEXPECTED_PROTOCOL,
  WIRE_OK,
  type WireErrorCode,
} from './errors.js';
import { GUE_HEADER_LENGTH, GueView } from './gue.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from './ip-protocol.js';
import { Ipv4View } from './ipv4.js';
import { IPV6_HEADER_LENGTH, Ipv6View } from './ipv6.js';

/**
 * Reusable decapsulator: decap() validates the outer header (IPv4 with a valid checksum,
 * or IPv6), requires protocol 4 or 41 and no fragmentation, then validates the inner
 * packet, and records where it is. No allocation.
 */
export class IpipDecap {
  /** 4 or 6. */
  outerVersion = 0;
  /** Offset in buf of the outer source address (4 or 16 bytes), for the allowed-director check. */
  outerSourceOffset = 0;
  outerHeaderLength = 0;
  /** 4 or 6. */
  innerVersion = 0;
  innerOffset = 0;
  /** The inner packet's own length (its total/payload length); trailing bytes are ignored. */
  innerLength = 0;
  /** Offset in buf of the inner destination address (4 or 16 bytes), after innerExact. */
  innerDestinationOffset = 0;
  private readonly outer4 = new Ipv4View();
  private readonly outer6 = new Ipv6View();
  private readonly inner4 = new Ipv4View();
  private readonly inner6 = new Ipv6View();
  private readonly gueView = new GueView();

  /**
   * The outer IPv4 header of a packet that must be exactly len bytes, carrying `protocol`
   * (4 or 41). On WIRE_OK, innerOffset/innerLength are its payload. Codes: truncated
   * (shorter than a header), bad-version / bad-header-length / bad-total-length (the
   * header does not describe these bytes), unexpected-protocol.
   */
  outerIpv4(buf: Uint8Array, off: number, len: number, protocol: number): WireErrorCode {
    const o = this.outer4;
    const code = o.bindExact(buf, off, len);
    if (code !== WIRE_OK) return code;
    if (o.protocol !== protocol) return E_UNEXPECTED_PROTOCOL;
    this.outerVersion = 4;
    this.outerSourceOffset = o.sourceOffset;
    this.outerHeaderLength = o.headerLength;
    this.innerOffset = o.payloadOffset;
    this.innerLength = len - o.headerLength;
    return WIRE_OK;
  }

  /**
   * A GUE payload (variant 0 data, or variant 1: the IP packet itself). On WIRE_OK,
   * innerVersion/innerOffset/innerLength say what it carries. Codes: truncated (shorter
   * than the GUE header), bad-header-length (optional fields past the end), bad-type (a
   * control message: nothing to deliver), bad-version (variant 2 or 3),
   * unexpected-protocol (neither IPv4 nor IPv6).
   */
  gue(buf: Uint8Array, off: number, len: number): WireErrorCode {
    const g = this.gueView;
    const code = g.bind(buf, off, len);
    if (code !== WIRE_OK) {
      if (len < 1) return E_TRUNCATED;
      const variant = buf[off] >> 6;
      if (variant === 0) return len < GUE_HEADER_LENGTH ? E_TRUNCATED : E_BAD_HEADER_LENGTH;
      return variant === 1 ? E_UNEXPECTED_PROTOCOL : E_BAD_VERSION;
    }
    if (g.controlMessage) return E_BAD_TYPE;
    const proto = g.protocol;
    if (proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6) return E_UNEXPECTED_PROTOCOL;
    this.innerVersion = proto === IPPROTO_IPIP ? 4 : 6;
    this.innerOffset = g.payloadOffset;
    this.innerLength = g.payloadLength;
    return WIRE_OK;
  }

  /**
   * The inner packet of IP `version`, which must fill exactly the avail bytes the outer
   * carried. Codes: truncated (shorter than a header), bad-version, bad-header-length
   * (IPv4 IHL), bad-total-length (its length is not avail), bad-checksum (IPv4 header).
   * On WIRE_OK, innerOffset/innerLength/innerDestinationOffset describe it.
   */
  innerExact(buf: Uint8Array, off: number, avail: number, version: number): WireErrorCode {
    if (version === 4) {
      const v = this.inner4;
      const code = v.bindExact(buf, off, avail);
      if (code !== WIRE_OK) return code;
      if (!v.checksumValid) return E_BAD_CHECKSUM;
      this.innerDestinationOffset = v.destinationOffset;
    } else {
      const v = this.inner6;
      const code = v.bindExact(buf, off, avail);
      if (code !== WIRE_OK) return code;
      this.innerDestinationOffset = v.destinationOffset;
    }
    this.innerVersion = version;
    this.innerOffset = off;
    this.innerLength = avail;
    return WIRE_OK;
  }

  /**
   * Decapsulates the packet at buf[off .. off+len). Returns 0 and fills the fields, or a
   * WireError code: the outer header's own code (truncated, bad-version, ...),
   * bad-checksum, unexpected-protocol (not 4/41), fragmented (outer fragment: reassembly
   * is the kernel's job), or bad-inner-packet (inner version does not match the protocol,
   * or the inner header is invalid or longer than the outer payload).
   */
  decap(buf: Uint8Array, off: number, len: number): WireErrorCode {
    if (off < 0 || len < 1 || off + len > buf.length) return E_TRUNCATED;
    const version = buf[off] >> 4;
    let protocol: number;
    let innerOff: number;
    let innerAvail: number;
    if (version === 4) {
      const o = this.outer4;
      const code = o.bind(buf, off, len);
      if (code !== WIRE_OK) return code;
      if (!verifyChecksum(buf, off, o.headerLength)) return E_BAD_CHECKSUM;
      if (o.isFragment) return E_FRAGMENTED;
      protocol = o.protocol;
      innerOff = o.payloadOffset;
      innerAvail = o.payloadLength;
      this.outerSourceOffset = o.sourceOffset;
      this.outerHeaderLength = o.headerLength;
    } else if (version === 6) {
      const o = this.outer6;
      const code = o.bind(buf, off, len);
      if (code !== WIRE_OK) return code;
      if (o.isFragment) return E_FRAGMENTED;
      protocol = o.upperProtocol;
      innerOff = o.upperOffset;
      innerAvail = o.upperLength;
      this.outerSourceOffset = o.sourceOffset;
      this.outerHeaderLength = innerOff - off;
    } else {
      return E_BAD_VERSION;
    }
    if (protocol !== IPPROTO_IPIP && protocol !== IPPROTO_IPV6) return E_UNEXPECTED_PROTOCOL;
    const code = this.checkInner(buf, innerOff, innerAvail, protocol === IPPROTO_IPIP ? 4 : 6);
    if (code !== WIRE_OK) return code;
    this.outerVersion = version;
    return WIRE_OK;
  }

  /**
   * Validates a bare inner packet (e.g. from an IPv6 raw socket, which strips the outer
   * header) whose outer protocol was `protocol`. Same codes as decap.
   */
  checkInnerOnly(buf: Uint8Array, off: number, len: number, protocol: number): WireErrorCode {
    if (protocol !== IPPROTO_IPIP && protocol !== IPPROTO_IPV6) return E_UNEXPECTED_PROTOCOL;
    if (off < 0 || off + len > buf.length) return E_TRUNCATED;
    return this.checkInner(buf, off, len, protocol === IPPROTO_IPIP ? 4 : 6);
  }

  private checkInner(buf: Uint8Array, off: number, avail: number, expectVersion: number): WireErrorCode {
    if (avail < 1 || buf[off] >> 4 !== expectVersion) return E_BAD_INNER_PACKET;
    if (expectVersion === 4) {
      if (this.inner4.bind(buf, off, avail) !== WIRE_OK) return E_BAD_INNER_PACKET;
      if (!verifyChecksum(buf, off, this.inner4.headerLength)) return E_BAD_INNER_PACKET;
      this.innerLength = this.inner4.totalLength;
    } else {
      if (this.inner6.bind(buf, off, avail) !== WIRE_OK) return E_BAD_INNER_PACKET;
      this.innerLength = IPV6_HEADER_LENGTH + this.inner6.payloadLength;
    }
    this.innerVersion = expectVersion;
    this.innerOffset = off;
    return WIRE_OK;
  }
}
