// The device seam of the data path: batched reads into a ring with headroom, batched writes
// from the same ring. The native TAP/TUN/raw-socket device and the in-memory fake both
// implement it, so the data path is tested on exactly the code that runs in production.
import { META_STRIDE, META_OFFSET, META_LENGTH, ADDR_STRIDE } from '../native/addon.js';

export { META_STRIDE, META_OFFSET, META_LENGTH, META_FAMILY, META_PORT, ADDR_STRIDE, META_FLAG_VNET_HDR, META_FLAG_CONTINUES } from '../native/addon.js';

/**
 * One batch as read. Packet i occupies data[meta[i*META_STRIDE+META_OFFSET] ..+ length];
 * at least `headroom` bytes in front of it and `slotSize - headroom - length` behind it
 * belong to the packet's slot and may be overwritten (outer headers, in-place replies).
 * The batch is valid only during the onBatch callback.
 */
export interface PacketBatch {
  readonly data: Uint8Array;
  readonly meta: Int32Array;
  readonly addr: Uint8Array;
  readonly count: number;
  readonly headroom: number;
  readonly slotSize: number;
}

export interface DeviceStats {
  rxBatches: number;
  rxPackets: number;
  rxBytes: number;
  rxTruncated: number;
  /** Packets the kernel dropped before we read them: socket receive buffer full (SO_RXQ_OVFL). 0 where the device cannot tell. */
  rxOverflow: number;
  txPackets: number;
  txBytes: number;
  txQueued: number;
  txDropped: number;
  txErrors: number;
}

export interface PacketDevice {
  readonly name: string;
  /** Bytes reserved in front of each received packet. */
  readonly headroom: number;
  /** Bytes per ring slot (headroom + maximum packet + tailroom). */
  readonly slotSize: number;
  /** Starts delivery; `handler` is called once per batch on the JS thread. */
  onBatch(handler: (batch: PacketBatch) => void): void;
  /**
   * Sends packets 0..count-1 described by `meta` (offset/length into `data`; for socket
   * devices the destination in `addr`). Returns how many went out at once; the rest are
   * queued or dropped and counted in stats(). Never throws for a per-packet failure.
   */
  writeBatch(data: Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number;
  pause(): void;
  resume(): void;
  /** Stops I/O and releases the device. Idempotent, never hangs. */
  close(): void;
  stats(): DeviceStats;
}

/** Offset of packet i in a batch (no bounds check: i < count is the caller's contract). */
export function packetOffset(meta: Int32Array, i: number): number {
  return meta[i * META_STRIDE + META_OFFSET];
}

/** Length of packet i in a batch. */
export function packetLength(meta: Int32Array, i: number): number {
  return meta[i * META_STRIDE + META_LENGTH];
}

/** Copies packet i out of a batch (allocates: for tests, logs and pcap only). */
export function copyPacket(batch: PacketBatch, i: number): Uint8Array {
  const off = packetOffset(batch.meta, i);
  return batch.data.slice(off, off + packetLength(batch.meta, i));
}

/** Peer address bytes of packet i (a view, no copy). */
export function packetAddr(batch: PacketBatch, i: number): Uint8Array {
  return batch.addr.subarray(i * ADDR_STRIDE, (i + 1) * ADDR_STRIDE);
}
