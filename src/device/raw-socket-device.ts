// Socket devices over the native addon, batched with recvmmsg/sendmmsg:
//  - RawSocketDevice: SOCK_RAW for one IP protocol (IPPROTO_IPIP = 4 for the agent's
//    user-space decap). IPv4 raw sockets deliver the whole packet, IP header included.
//  - UdpSocketDevice: a bound UDP socket (GUE decap, one per worker with reusePort).
// Received packets carry the peer address in meta family/port + addr; writes take the
// destination from there (family 0 means a connected socket).
import { loadAddon, type NativeAddon, type RawSocketOptions, type UdpSocketOptions } from '../native/addon.js';
import { NativeRingDevice, type RingOptions } from './native-ring-device.js';

export const IPPROTO_IPIP = 4;
export const IPPROTO_IPV6 = 41;

export interface RawSocketOpenOptions extends RingOptions, RawSocketOptions {
  family: 4 | 6;
  protocol: number;
  addon?: NativeAddon;
}

export class RawSocketDevice extends NativeRingDevice {
  private constructor(
    addon: NativeAddon,
    name: string,
    fd: number,
    readonly family: 4 | 6,
    readonly protocol: number,
    ring: RingOptions,
  ) {
    super(addon, name, fd, 'recvmmsg', 'sendmmsg', ring);
  }

  /** Opens a raw socket; throws the addon's errors (EPERM: needs CAP_NET_RAW; ENODEV: bad bindDevice). */
  static open(opts: RawSocketOpenOptions): RawSocketDevice {
    const addon = opts.addon ?? loadAddon();
    const fd = addon.rawSocketOpen(opts.family, opts.protocol, {
      rcvbuf: opts.rcvbuf,
      sndbuf: opts.sndbuf,
      bindDevice: opts.bindDevice,
      hdrincl: opts.hdrincl,
    });
    const name = `raw${opts.family}/proto${opts.protocol}${opts.bindDevice ? `@${opts.bindDevice}` : ''}`;
    try {
      return new RawSocketDevice(addon, name, fd, opts.family, opts.protocol, opts);
    } catch (err) {
      addon.closeFd(fd);
      throw err;
    }
  }
}

export interface UdpSocketOpenOptions extends RingOptions, UdpSocketOptions {
  family: 4 | 6;
  /** Local address to bind ('0.0.0.0' / '::' for any). */
  address: string;
  /** Local port (0 picks one). */
  port: number;
  addon?: NativeAddon;
}

export class UdpSocketDevice extends NativeRingDevice {
  private constructor(
    addon: NativeAddon,
    name: string,
    fd: number,
    readonly family: 4 | 6,
    ring: RingOptions,
  ) {
    super(addon, name, fd, 'recvmmsg', 'sendmmsg', ring);
  }

  /** Opens a bound UDP socket; throws the addon's errors (EADDRINUSE, EADDRNOTAVAIL…). */
  static open(opts: UdpSocketOpenOptions): UdpSocketDevice {
    const addon = opts.addon ?? loadAddon();
    const fd = addon.udpSocketOpen(opts.family, opts.address, opts.port, {
      rcvbuf: opts.rcvbuf,
      sndbuf: opts.sndbuf,
      bindDevice: opts.bindDevice,
      reusePort: opts.reusePort,
    });
    const name = opts.family === 4 ? `udp ${opts.address}:${opts.port}` : `udp [${opts.address}]:${opts.port}`;
    try {
      return new UdpSocketDevice(addon, name, fd, opts.family, opts);
    } catch (err) {
      addon.closeFd(fd);
      throw err;
    }
  }
}
