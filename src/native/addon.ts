// Typed face of the N-API addon in native/ (built by node-gyp into build/Release).
//
// Ring layout shared by readers and writers (no allocation per packet):
//   data  : one ArrayBuffer of `slots * slotSize` bytes. Slot i starts at i * slotSize.
//           A reader stores packet i at  i * slotSize + headroom, leaving `headroom`
//           bytes in front of it so an outer header can be written in place.
//   meta  : Int32Array, META_STRIDE ints per packet:
//           [META_OFFSET] byte offset of the packet in data
//           [META_LENGTH] length in bytes
//           [META_FAMILY] 0 (no address), 4 or 6: family of the peer address in addr
//           [META_PORT]   peer port (UDP sockets) or 0
//   addr  : Uint8Array, ADDR_STRIDE (16) bytes per packet: peer address. IPv4 uses the
//           first 4 bytes. Readers fill it from recvmmsg's msg_name; writers on
//           unconnected sockets take the destination from it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const META_STRIDE = 4;
export const META_OFFSET = 0;
export const META_LENGTH = 1;
export const META_FAMILY = 2;
export const META_PORT = 3;
export const ADDR_STRIDE = 16;
/**
 * TUN/TAP writers opened with `vnetHdr`: set this bit in a packet's META_FAMILY word when the
 * packet starts with its own virtio-net header; otherwise the writer prepends a zero one.
 */
export const META_FLAG_VNET_HDR = 1;
/**
 * TUN/TAP writers: set in a packet's META_FAMILY word when its bytes continue the packet
 * before it (a scatter write: one writev of the first entry and every continuation after
 * it, up to MAX_GATHER_SPANS spans). Lets a caller send a super-packet made of spans of
 * the ring without copying them together. A continuation with nothing before it is an error.
 */
export const META_FLAG_CONTINUES = 2;
/** Most spans one gathered packet may have (the first entry and its continuations). */
export const MAX_GATHER_SPANS = 128;

export interface ReaderOptions {
  /** File descriptor to read from. Set non-blocking by the addon. */
  fd: number;
  /** 'read' for TUN/TAP (read(2) per packet), 'recvmmsg' for sockets. */
  mode: 'read' | 'recvmmsg';
  /** Number of slots (= maximum packets per batch). Default 256. */
  slots?: number;
  /** Bytes per slot, headroom included. Default 2048 + headroom rounded to 64. */
  slotSize?: number;
  /** Bytes reserved in front of each packet. Default 128. */
  headroom?: number;
}

export interface ReaderStats {
  batches: number;
  packets: number;
  bytes: number;
  /** Packets longer than slotSize - headroom (dropped; MSG_TRUNC or short read). */
  truncated: number;
  /** Read errors other than EAGAIN (see lastErrno). */
  errors: number;
  /** Packets the kernel dropped because the socket's receive buffer was full (SO_RXQ_OVFL; recvmmsg mode only). */
  overflow: number;
  /** errno name of the last read error, '' when none. */
  lastErrno: string;
  /** True when polling stopped after a hard read error (the fd went bad); resume() retries. */
  stalled: boolean;
}

/** Reads packets from an fd in batches into a shared ring; one JS callback per batch. */
export interface NativeReader {
  /** The fd given to createReader (the reader polls its own dup of it, closed by close()). */
  readonly fd: number;
  readonly data: ArrayBuffer;
  readonly meta: Int32Array;
  readonly addr: Uint8Array;
  readonly slots: number;
  readonly slotSize: number;
  readonly headroom: number;
  /**
   * Starts polling. `onBatch(count)` is called on the JS thread after each wake-up that
   * read at least one packet; packets 0..count-1 are described by meta/addr and stay valid
   * until the callback returns (the next batch reuses the slots).
   */
  start(onBatch: (count: number) => void): void;
  pause(): void;
  resume(): void;
  /** Stops polling and releases the poll handle. Never blocks. Does not close the caller's fd. */
  close(): void;
  stats(): ReaderStats;
}

export interface WriterOptions {
  fd: number;
  /** 'write' for TUN/TAP, 'sendmmsg' for sockets (destination from addr when present). */
  mode: 'write' | 'sendmmsg';
  /** Packets held while the fd is not writable; overflow is counted in `dropped`. Default 4096. */
  backlog?: number;
  /** 'write' mode on a TUN/TAP opened with a virtio-net header: its length (10, 12 or 24), else 0. */
  vnetHdr?: number;
}

export interface WriterStats {
  written: number;
  bytes: number;
  /** Packets copied to the backlog because the fd returned EAGAIN. */
  queued: number;
  /** Packets dropped because the backlog was full. */
  dropped: number;
  /** Packets the kernel refused with an error other than EAGAIN (e.g. EMSGSIZE, ENETUNREACH). */
  errors: number;
  lastErrno: string;
  backlogDepth: number;
}

/** Writes batches of packets described by a meta array; never throws per packet. */
export interface NativeWriter {
  /**
   * Writes packets 0..count-1 described by `meta` (offset/length into `data`) and, for
   * 'sendmmsg', the destination in `addr`/meta family/port. Returns how many were sent
   * immediately; the rest go to the backlog (copied) or are dropped and counted.
   */
  writeBatch(data: ArrayBuffer | Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number;
  close(): void;
  stats(): WriterStats;
}

export interface TunOpenResult {
  /** The kernel's name for the device (a `%d` template gets resolved). */
  name: string;
  /** One fd per queue. */
  fds: number[];
  /** Bytes of virtio-net header in front of every frame (0: opened without IFF_VNET_HDR). */
  vnetHdrLen: number;
}

export interface TunOpenOptions {
  /** Open with IFF_VNET_HDR and this header length (10, 12 or 24); 0 or absent: no header. */
  vnetHdr?: number;
}

export interface RawSocketOptions {
  /** SO_RCVBUFFORCE in bytes. */
  rcvbuf?: number;
  /** SO_SNDBUFFORCE in bytes. */
  sndbuf?: number;
  /** SO_BINDTODEVICE. */
  bindDevice?: string;
  /** IP_HDRINCL (IPv4 only): the caller writes the IP header. */
  hdrincl?: boolean;
}

export interface UdpSocketOptions {
  rcvbuf?: number;
  sndbuf?: number;
  bindDevice?: string;
  /** SO_REUSEPORT so that several sockets can share the port (one per worker). */
  reusePort?: boolean;
}

export interface NativeLoopDelaySampler {
  /**
   * Fills `out` (at least bounds + 6 numbers): per-bucket sample counts (bounds + 1, the last
   * above every bound), the sum of delays in seconds, the sample count, then the window
   * since the last reset: its count, sum and largest delay in seconds.
   */
  read(out: Float64Array, resetWindow: boolean): void;
  /** Stops sampling; idempotent. */
  close(): void;
}

export interface NativeAddon {
  /** Opens a TUN or TAP device (IFF_NO_PI). `queues` > 1 sets IFF_MULTI_QUEUE. */
  tunOpen(name: string, kind: 'tun' | 'tap', queues: number, options?: TunOpenOptions): TunOpenResult;
  /**
   * TUNSETOFFLOAD on a queue fd (the set applies to the device): true when the kernel took
   * `flags`, else the errno name (EINVAL: a bit this kernel does not know). Throws only for
   * an fd that is not a TUN/TAP.
   */
  tunSetOffload(fd: number, flags: number): true | string;
  /**
   * TUNSETVNETHDRSZ: the virtio-net header length (10, 12 or 24) of every later read and
   * write on the device (all its queues). Throws the errno when the kernel refuses.
   */
  tunSetVnetHdrSize(fd: number, bytes: number): void;
  linkSetMtu(ifname: string, mtu: number): void;
  linkGetMtu(ifname: string): number;
  linkSetUp(ifname: string, up: boolean): void;
  linkIsUp(ifname: string): boolean;
  /** 6 bytes. */
  linkSetMac(ifname: string, mac: Uint8Array): void;
  linkGetMac(ifname: string): Uint8Array;
  /** Sends `state` (sd_notify lines) as one datagram to the AF_UNIX socket `socketPath` (a path, or "@name" abstract). Throws on failure. */
  sdNotify(socketPath: string, state: string): void;
  /** CLOCK_MONOTONIC in microseconds (MONOTONIC_USEC= of RELOADING=1). */
  monotonicUsec(): number;
  /**
   * Starts an event-loop delay sampler: a periodic timerfd every `intervalUs` (100 µs..10 s)
   * on this thread's loop, each sample counted in the bucket of the first bound (ns,
   * ascending, 1..32 of them) it does not exceed. Never keeps the process alive. Throws
   * RangeError/TypeError for bad arguments, an errno error when the timerfd cannot be made.
   */
  createLoopDelaySampler(intervalUs: number, boundsNs: Float64Array): NativeLoopDelaySampler;
  /** Sets the primary IPv4 address and prefix length (SIOCSIFADDR + SIOCSIFNETMASK). */
  linkSetIpv4(ifname: string, address: string, prefixLength: number): void;
  /** Adds an IPv6 address (SIOCSIFADDR on an AF_INET6 socket). */
  linkAddIpv6(ifname: string, address: string, prefixLength: number): void;
  linkSetTxQueueLen(ifname: string, length: number): void;
  linkIndex(ifname: string): number;
  /** SOCK_RAW socket of family 4|6 for `protocol`; returns the fd. */
  rawSocketOpen(family: 4 | 6, protocol: number, options?: RawSocketOptions): number;
  /** UDP socket bound to address:port; returns the fd. */
  udpSocketOpen(family: 4 | 6, address: string, port: number, options?: UdpSocketOptions): number;
  /** Local address of a socket (getsockname), e.g. to learn the port picked for port 0. */
  socketAddress(fd: number): { family: 4 | 6; address: string; port: number };
  /** close(2), ignoring EBADF on an already-closed fd. */
  closeFd(fd: number): void;
  createReader(options: ReaderOptions): NativeReader;
  createWriter(options: WriterOptions): NativeWriter;
  /**
   * One's-complement sum of bytes[off..off+len) as big-endian 16-bit words, folded to 16 bits,
   * not complemented (= foldSum(sumBytes(...)) of src/wire/checksum.ts). Throws RangeError for
   * a range outside the array.
   */
  checksumSum(bytes: Uint8Array, off: number, len: number): number;
  /**
   * Sends one netlink request (`request`: one message whose nlmsg_len is its length, 16..4096
   * bytes) on a fresh socket of `protocol` (NETLINK_ROUTE 0, NETLINK_NETFILTER 12) from the
   * thread pool, and resolves with the answer's messages of the request's sequence number up
   * to NLMSG_DONE / NLMSG_ERROR (or the one reply), at most 16 MiB. Rejects with an errno
   * error (ETIMEDOUT after 5 s of silence); throws RangeError/TypeError for bad arguments.
   */
  netlinkRequest(protocol: number, request: Uint8Array): Promise<Uint8Array>;
  /**
   * Loads eBPF socket-filter instructions (8 bytes each, at most 4096) as a TAP steering
   * program; returns its fd. Throws an errno error (with the verifier's last lines when it
   * refused the program).
   */
  bpfLoadSteering(insns: Uint8Array): number;
  /** TUNSETSTEERINGEBPF on a queue fd: attaches `progFd` (replacing the last one atomically); -1 detaches. Throws an errno error. */
  tunSetSteering(queueFd: number, progFd: number): void;
  /** Runs a loaded program once over an Ethernet frame (BPF_PROG_TEST_RUN); returns its return value. Throws an errno error. */
  bpfTestRun(progFd: number, frame: Uint8Array): number;
}

/** Error thrown by the addon: `code` is errno's name (e.g. 'EPERM'), `target` the device or socket. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  target: string;
}

let cached: NativeAddon | undefined;

/** Loads build/Release/vstun_native.node; throws with a hint to run `npm install` if missing. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(here, '..', '..', 'build', 'Release', 'vstun_native.node');
  const require = createRequire(import.meta.url);
  try {
    cached = require(file) as NativeAddon;
  } catch (err) {
    const e = new Error(
      `cannot load the vstun native addon at ${file}: ${(err as Error).message}. ` +
        'Run `npm install` (it builds the addon with node-gyp; needs python3, make and g++).',
    );
    (e as NodeJS.ErrnoException).code = 'ADDON_MISSING';
    throw e;
  }
  return cached;
}
