// TUN/TAP devices over the native addon: one PacketDevice per queue fd. A TAP carries
// Ethernet frames, a TUN bare IP packets (IFF_NO_PI in both cases).
import { loadAddon, type NativeAddon } from '../native/addon.js';
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_UDP_TUNNEL_GSO, TUN_F_USO4, TUN_F_USO6, VIRTIO_NET_HDR_MRG_LENGTH, VIRTIO_NET_HDR_TUNNEL_LENGTH } from '../wire/virtio-net-hdr.js';
import { GueTunnelFraming } from './gue-tunnel-gso.js';
import { TcpCoalescer } from '../agent/gro-coalesce.js';
import { NativeRingDevice, type RingOptions, type VnetOptions } from './native-ring-device.js';
import type { OffloadRxStats } from './offload-rx.js';
import type { PacketDevice } from './packet-device.js';

/** Offload sets tried in order; the first the kernel takes wins (USO needs Linux 6.2+). */
export const OFFLOAD_PROBE_ORDER: readonly number[] = [
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
  TUN_F_CSUM,
];

/** Names of the TUNSETOFFLOAD bits set in `flags`, for logs. */
export function offloadFlagNames(flags: number): string[] {
  const names: [number, string][] = [[TUN_F_CSUM, 'csum'], [TUN_F_TSO4, 'tso4'], [TUN_F_TSO6, 'tso6'], [TUN_F_USO4, 'uso4'], [TUN_F_USO6, 'uso6'], [TUN_F_UDP_TUNNEL_GSO, 'udp-tunnel-gso']];
  return names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/**
 * Ring defaults with offloads: a slot must hold a 64 KiB super-packet and, after in-place
 * segmentation, its segments each with headroom (gso-segment.ts); 128 slots of 128 KiB.
 */
const OFFLOAD_SLOTS = 128;
const OFFLOAD_SLOT_SIZE = 128 << 10;

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
  /**
   * Open with a virtio-net header and ask the kernel for checksum and segmentation offloads
   * (TUNSETOFFLOAD, the largest set it takes). Received super-packets are segmented and
   * partial checksums completed before the data path sees them. Default false.
   */
  offload?: boolean;
  /**
   * With `offload`: also probe GSO over UDP tunnels (TUNSETOFFLOAD with TUN_F_UDP_TUNNEL_GSO,
   * Linux 6.17+). When the kernel takes it, the header grows to 24 bytes and writes of
   * GUE-encapsulated TCP segments are joined into tunnel super-packets that the kernel cuts
   * (see gue-tunnel-gso.ts). Default false.
   */
  tunnelGso?: boolean;
}

/** What openQueues found. */
export interface OpenedQueues {
  name: string;
  fds: number[];
  vnetHdrLen: number;
  /** The TUNSETOFFLOAD bits the kernel took; TUN_F_UDP_TUNNEL_GSO means tunnel super-packets may be written. */
  offloadFlags: number;
  /** Asked for tunnelGso and the kernel refused it: the errno name (for the fallback's log line). */
  tunnelGsoRefused?: string;
}

/**
 * Probes GSO over UDP tunnels on a TUN/TAP already given `flags` (with TSO): TUNSETOFFLOAD
 * with TUN_F_UDP_TUNNEL_GSO added, which a kernel without the feature refuses (EINVAL for an
 * unknown bit). Taken: the header becomes 24 bytes (the size is what makes the kernel read
 * the tunnel offsets of what we write), and `flags` is set again without the bit, so the
 * kernel never hands us tunnel super-packets to read (it cuts them before the TAP instead).
 * Returns true, or why not (an errno name).
 */
export function probeTunnelGso(addon: NativeAddon, fd: number, flags: number): true | string {
  const r = addon.tunSetOffload(fd, flags | TUN_F_UDP_TUNNEL_GSO);
  if (r !== true) return r;
  try {
    addon.tunSetVnetHdrSize(fd, VIRTIO_NET_HDR_TUNNEL_LENGTH);
  } catch (err) {
    addon.tunSetOffload(fd, flags);
    return (err as { code?: string }).code ?? 'EINVAL';
  }
  const back = addon.tunSetOffload(fd, flags);
  if (back !== true) {
    addon.tunSetVnetHdrSize(fd, VIRTIO_NET_HDR_MRG_LENGTH);
    return back;
  }
  return true;
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
    vnet?: VnetOptions,
    /** The TUNSETOFFLOAD bits the kernel took (0: none; see offloadFlagNames). */
    readonly offloadFlags = 0,
  ) {
    super(addon, name, fd, 'read', 'write', ring, vnet);
    if (kind === 'tap' && vnet?.hdrLen === VIRTIO_NET_HDR_TUNNEL_LENGTH && (offloadFlags & TUN_F_UDP_TUNNEL_GSO) !== 0) {
      // Segments the reader cut from the kernel's super-packets carry checksums just computed
      // over bytes the kernel made or verified: joining them again needs no second sum.
      const rx = this.offloadRx!;
      rx.recordOwnChecksums();
      this.tunnelGso = new TcpCoalescer(VIRTIO_NET_HDR_TUNNEL_LENGTH, new GueTunnelFraming(), (data, l3) => rx.ownChecksumAt(data, l3));
      this.tunnelGsoWriter = {
        writeBatch: (data, meta, count) => {
          this.tunnelGsoSent = this.writePlain(data, meta, count);
          return this.tunnelGsoSent;
        },
      };
    }
  }

  /** Joins GUE-tunnelled TCP segments into tunnel super-packets on write (null: writes go as they are). */
  readonly tunnelGso: TcpCoalescer | null = null;
  private readonly tunnelGsoWriter: Pick<PacketDevice, 'writeBatch'> | null = null;
  /** What the writer returned for the last coalesced batch (packets of it sent at once). */
  private tunnelGsoSent = 0;

  override offloadStats(): OffloadRxStats | null {
    const st = super.offloadStats();
    if (st !== null && this.tunnelGso !== null) {
      st.tunnelGsoPackets = this.tunnelGso.stats.superPackets;
      st.tunnelGsoSegments = this.tunnelGso.stats.mergedSegments;
      st.tunnelGsoOwnChecksums = this.tunnelGso.stats.ownChecksums;
    }
    return st;
  }

  private writePlain(data: Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number {
    return super.writeBatch(data, meta, count, addr);
  }

  /**
   * Writes the batch; with tunnel GSO on, GUE TCP segments of one flow that follow each other
   * go out as one super-packet. Returns the packets of the batch sent at once (a super-packet
   * counts its segments; when the writer could not send everything, a packet short is
   * counted per unsent write, a lower bound).
   */
  override writeBatch(data: Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number {
    const gso = this.tunnelGso;
    if (gso === null || count < 2) return this.writePlain(data, meta, count, addr);
    const handed = gso.writeTo(this.tunnelGsoWriter!, data, meta, count);
    return this.tunnelGsoSent >= handed ? count : Math.max(0, count - (handed - this.tunnelGsoSent));
  }

  /** Bytes of virtio-net header on this fd (0: opened without offloads). */
  get vnetHdrLen(): number {
    return this.offloadRx?.vnetHdrLen ?? 0;
  }

  /**
   * Opens (creating if needed) a TUN/TAP and returns one device per queue. The interface
   * exists while any queue is open (not persistent). Throws the addon's errors (code EPERM,
   * ENOENT, EINVAL…) with a message saying what to fix; nothing is left open on failure.
   */
  static open(opts: TunTapOpenOptions): TunTapDevice[] {
    const addon = opts.addon ?? loadAddon();
    const q = TunTapDevice.openQueues(opts);
    const devices: TunTapDevice[] = [];
    try {
      for (let i = 0; i < q.fds.length; i++) devices.push(TunTapDevice.fromFd(addon, q.name, q.fds[i], opts.kind, opts, i, q.vnetHdrLen, q.offloadFlags));
    } catch (err) {
      for (const d of devices) d.close();
      for (let i = devices.length; i < q.fds.length; i++) addon.closeFd(q.fds[i]);
      throw err;
    }
    return devices;
  }

  /**
   * Opens the device as open() does (offloads, MTU, link up) but returns the bare queue fds,
   * for queues read in other threads (TunTapDevice.fromFd there). The caller owns the fds.
   */
  static openQueues(opts: TunTapOpenOptions): OpenedQueues {
    const addon = opts.addon ?? loadAddon();
    const opened = addon.tunOpen(opts.name, opts.kind, opts.queues ?? 1, { vnetHdr: opts.offload ? VIRTIO_NET_HDR_MRG_LENGTH : 0 });
    const { name, fds } = opened;
    try {
      let vnetHdrLen = opened.vnetHdrLen;
      let offloadFlags = vnetHdrLen > 0 ? (OFFLOAD_PROBE_ORDER.find((f) => addon.tunSetOffload(fds[0], f) === true) ?? 0) : 0;
      let tunnelGsoRefused: string | undefined;
      if (opts.tunnelGso && (offloadFlags & (TUN_F_TSO4 | TUN_F_TSO6)) !== 0) {
        const r = probeTunnelGso(addon, fds[0], offloadFlags);
        if (r === true) {
          vnetHdrLen = VIRTIO_NET_HDR_TUNNEL_LENGTH;
          offloadFlags |= TUN_F_UDP_TUNNEL_GSO;
        } else tunnelGsoRefused = r;
      } else if (opts.tunnelGso) tunnelGsoRefused = 'no TSO';
      if (opts.mtu !== undefined) addon.linkSetMtu(name, opts.mtu);
      if (opts.up ?? true) addon.linkSetUp(name, true);
      return { name, fds, vnetHdrLen, offloadFlags, tunnelGsoRefused };
    } catch (err) {
      for (const fd of fds) addon.closeFd(fd);
      throw err;
    }
  }

  /**
   * Wraps an fd already opened with tunOpen (e.g. a queue handed to a worker thread); takes
   * ownership. `vnetHdrLen` > 0: the fd was opened with that virtio-net header (tunOpen's
   * vnetHdrLen) and `offloadFlags` are the TUNSETOFFLOAD bits the device took.
   */
  static fromFd(addon: NativeAddon, name: string, fd: number, kind: 'tun' | 'tap', ring: RingOptions = {}, queue = 0, vnetHdrLen = 0, offloadFlags = 0): TunTapDevice {
    if (vnetHdrLen === 0) return new TunTapDevice(addon, name, fd, kind, queue, ring);
    const vnet = { hdrLen: vnetHdrLen, l3Offset: kind === 'tap' ? 14 : 0 };
    return new TunTapDevice(addon, name, fd, kind, queue, { ...ring, slots: ring.slots ?? OFFLOAD_SLOTS, slotSize: ring.slotSize ?? OFFLOAD_SLOT_SIZE }, vnet, offloadFlags);
  }
}
