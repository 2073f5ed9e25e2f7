// The main thread's side of a multi-queue TAP: it writes (ARP probes for the kernel's MAC,
// path-MTU probes) but never reads, since every queue is read by its worker. The writer
// polls its own dup of the queue fd, so the fd stays the worker's to close.
import type { NativeAddon, NativeWriter } from '../native/addon.js';
import type { DeviceStats, PacketBatch, PacketDevice } from './packet-device.js';

export class TapWriteDevice implements PacketDevice {
  readonly headroom = 0;
  readonly slotSize = 0;
  private readonly writer: NativeWriter;
  private closed = false;

  /** `fd`: a queue of the TAP; `vnetHdrLen`: its virtio-net header length (0: none). Throws the addon's errors. */
  constructor(
    addon: NativeAddon,
    readonly name: string,
    fd: number,
    vnetHdrLen: number,
  ) {
    this.writer = addon.createWriter({ fd, mode: 'write', vnetHdr: vnetHdrLen });
  }

  /** Never delivers: the queue workers read the TAP. */
  onBatch(_handler: (batch: PacketBatch) => void): void {}

  writeBatch(data: Uint8Array, meta: Int32Array, count: number): number {
    return this.closed ? 0 : this.writer.writeBatch(data, meta, count);
  }

  pause(): void {}

  resume(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
  }

  stats(): DeviceStats {
    const w = this.writer.stats();
    return { rxBatches: 0, rxPackets: 0, rxBytes: 0, rxTruncated: 0, rxOverflow: 0, txPackets: w.written, txBytes: w.bytes, txQueued: w.queued, txDropped: w.dropped, txErrors: w.errors };
  }
}
