// The part every native device shares: a NativeReader delivering batches from a ring and a
// NativeWriter sending from caller buffers, over one fd. The batch object handed to the data
// path is allocated once; each wake-up only changes its `count`.
import type { NativeAddon, NativeReader, NativeWriter } from '../native/addon.js';
import type { DeviceStats, PacketBatch, PacketDevice } from './packet-device.js';

/** A PacketBatch whose count the device updates in place before each callback. */
class RingBatch implements PacketBatch {
  count = 0;
  constructor(
    readonly data: Uint8Array,
    readonly meta: Int32Array,
    readonly addr: Uint8Array,
    readonly headroom: number,
    readonly slotSize: number,
  ) {}
}

export interface RingOptions {
  /** Maximum packets per batch. Default 256. */
  slots?: number;
  /** Bytes reserved in front of each packet for outer headers. Default 128. */
  headroom?: number;
  /** Bytes per slot including headroom. Default 2048 + headroom rounded up to 64. */
  slotSize?: number;
  /** Packets held while the fd is not writable. Default 4096. */
  backlog?: number;
}

export abstract class NativeRingDevice implements PacketDevice {
  readonly headroom: number;
  readonly slotSize: number;
  private readonly reader: NativeReader;
  private readonly writer: NativeWriter;
  private readonly batch: RingBatch;
  private closed = false;

  protected constructor(
    protected readonly addon: NativeAddon,
    readonly name: string,
    /** The fd this device owns and closes. */
    readonly fd: number,
    readMode: 'read' | 'recvmmsg',
    writeMode: 'write' | 'sendmmsg',
    ring: RingOptions,
  ) {
    this.reader = addon.createReader({ fd, mode: readMode, slots: ring.slots, headroom: ring.headroom, slotSize: ring.slotSize });
    try {
      this.writer = addon.createWriter({ fd, mode: writeMode, backlog: ring.backlog });
    } catch (err) {
      this.reader.close();
      throw err;
    }
    this.headroom = this.reader.headroom;
    this.slotSize = this.reader.slotSize;
    this.batch = new RingBatch(new Uint8Array(this.reader.data), this.reader.meta, this.reader.addr, this.headroom, this.slotSize);
  }

  /** Starts delivery. One handler per device; a second call throws. */
  onBatch(handler: (batch: PacketBatch) => void): void {
    const batch = this.batch;
    this.reader.start((count) => {
      batch.count = count;
      handler(batch);
    });
  }

  writeBatch(data: Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number {
    return this.writer.writeBatch(data, meta, count, addr);
  }

  pause(): void {
    this.reader.pause();
  }

  resume(): void {
    this.reader.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    this.writer.close();
    this.addon.closeFd(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): DeviceStats {
    const r = this.reader.stats();
    const w = this.writer.stats();
    return {
      rxBatches: r.batches,
      rxPackets: r.packets,
      rxBytes: r.bytes,
      rxTruncated: r.truncated,
      rxOverflow: r.overflow,
      txPackets: w.written,
      txBytes: w.bytes,
      txQueued: w.queued,
      txDropped: w.dropped,
      txErrors: w.errors,
    };
  }

  /** Reader and writer counters as the addon reports them (read errors, lastErrno, backlog depth). */
  nativeStats(): { reader: ReturnType<NativeReader['stats']>; writer: ReturnType<NativeWriter['stats']> } {
    return { reader: this.reader.stats(), writer: this.writer.stats() };
  }
}
