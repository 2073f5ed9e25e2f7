// TUN/TAP devices over the native addon: one PacketDevice per queue fd. A TAP carries
// Ethernet frames, a TUN bare IP packets (IFF_NO_PI in both cases).
import { loadAddon, type NativeAddon } from '../native/addon.js';
import { NativeRingDevice, type RingOptions } from './native-ring-device.js';

export interface TunTapOpenOptions extends RingOptions {
  /** Interface name; a `%d` template (e.g. 'vstun%d') lets the kernel pick the number. */
  name: string;
  kind: 'tun' | 'tap';
  /** Queues (one fd and one device each); > 1 creates a multi-queue device. Default 1. */
  queues?: number;
  /** MTU to set after opening (bytes of IP packet). */
  mtu?: number;
  /** Bring the link up after opening. Default true. */
  up?: boolean;
  /** Addon to use (tests inject one); defaults to the built addon. */
  addon?: NativeAddon;
}

export class TunTapDevice extends NativeRingDevice {
  private constructor(
    addon: NativeAddon,
    name: string,
    fd: number,
    readonly kind: 'tun' | 'tap',
    /** Index of this queue among the device's queues. */
    readonly queue: number,
    ring: RingOptions,
  ) {
    super(addon, name, fd, 'read', 'write', ring);
  }

  /**
   * Opens (creating if needed) a TUN/TAP and returns one device per queue. The interface
   * exists while any queue is open (not persistent). Throws the addon's errors (code EPERM,
   * ENOENT, EINVAL…) with a message saying what to fix; nothing is left open on failure.
   */
  static open(opts: TunTapOpenOptions): TunTapDevice[] {
    const addon = opts.addon ?? loadAddon();
    const { name, fds } = addon.tunOpen(opts.name, opts.kind, opts.queues ?? 1);
    const devices: TunTapDevice[] = [];
    try {
      if (opts.mtu !== undefined) addon.linkSetMtu(name, opts.mtu);
      if (opts.up ?? true) addon.linkSetUp(name, true);
      for (let q = 0; q < fds.length; q++) devices.push(new TunTapDevice(addon, name, fds[q], opts.kind, q, opts));
    } catch (err) {
      for (const d of devices) d.close();
      for (let q = devices.length; q < fds.length; q++) addon.closeFd(fds[q]);
      throw err;
    }
    return devices;
  }

  /** Wraps an fd already opened with tunOpen (e.g. received from a parent); takes ownership. */
  static fromFd(addon: NativeAddon, name: string, fd: number, kind: 'tun' | 'tap', ring: RingOptions = {}, queue = 0): TunTapDevice {
    return new TunTapDevice(addon, name, fd, kind, queue, ring);
  }
}
