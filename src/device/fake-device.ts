// In-memory PacketDevice for tests: inject() lays frames into a ring exactly as the native
// reader does (same slot size, same headroom, same meta/addr layout) and delivers them as
// one batch; writeBatch() records copies of what the data path sent.
import {
  ADDR_STRIDE,
  META_FAMILY,
  META_FLAG_CONTINUES,
  META_LENGTH,
  META_OFFSET,
  META_PORT,
  META_STRIDE,
  type DeviceStats,
  type PacketBatch,
  type PacketDevice,
} from './packet-device.js';

export interface FakeDeviceOptions {
  name?: string;
  slots?: number;
  headroom?: number;
  slotSize?: number;
  /** Refuse writes after this many packets per batch (simulates a full backlog). */
  writeLimit?: number;
}

export interface WrittenPacket {
  bytes: Uint8Array;
  /** Destination family and address for socket devices (family 0 when none given). */
  family: number;
  addr: Uint8Array;
  port: number;
}

/** One injected packet; `addr`/`family`/`port` mimic recvmmsg's peer address. */
export interface InjectedPacket {
  bytes: Uint8Array;
  family?: 4 | 6;
  addr?: Uint8Array;
  port?: number;
}

export class FakeDevice implements PacketDevice {
  readonly name: string;
  readonly headroom: number;
  readonly slotSize: number;
  readonly slots: number;
  readonly written: WrittenPacket[] = [];
  private readonly data: Uint8Array;
  private readonly meta: Int32Array;
  private readonly addr: Uint8Array;
  private readonly batch: { data: Uint8Array; meta: Int32Array; addr: Uint8Array; count: number; headroom: number; slotSize: number };
  private handler: ((batch: PacketBatch) => void) | undefined;
  private paused = false;
  private closed = false;
  private readonly writeLimit: number;
  private readonly counters: DeviceStats = {
    rxBatches: 0,
    rxPackets: 0,
    rxBytes: 0,
    rxTruncated: 0,
    rxOverflow: 0,
    txPackets: 0,
    txBytes: 0,
    txQueued: 0,
    txDropped: 0,
    txErrors: 0,
  };

  constructor(opts: FakeDeviceOptions = {}) {
    this.name = opts.name ?? 'fake0';
    this.slots = opts.slots ?? 256;
    this.headroom = opts.headroom ?? 128;
    this.slotSize = opts.slotSize ?? 2048 + this.headroom;
    this.writeLimit = opts.writeLimit ?? Number.POSITIVE_INFINITY;
    this.data = new Uint8Array(this.slots * this.slotSize);
    this.meta = new Int32Array(this.slots * META_STRIDE);
    this.addr = new Uint8Array(this.slots * ADDR_STRIDE);
    this.batch = { data: this.data, meta: this.meta, addr: this.addr, count: 0, headroom: this.headroom, slotSize: this.slotSize };
  }

  onBatch(handler: (batch: PacketBatch) => void): void {
    this.handler = handler;
  }

  /**
   * Delivers packets to the handler in batches of at most `slots`, like the native reader
   * (oversized packets are counted as truncated and skipped). Slots are scribbled with 0xee
   * first so that code reading stale bytes fails visibly. Returns the number delivered.
   */
  inject(packets: ReadonlyArray<Uint8Array | InjectedPacket>): number {
    if (this.closed) throw new Error(`${this.name}: inject after close`);
    let delivered = 0;
    let n = 0;
    const flush = () => {
      if (n === 0) return;
      this.batch.count = n;
      this.counters.rxBatches++;
      if (this.handler && !this.paused) this.handler(this.batch);
      delivered += n;
      n = 0;
    };
    for (const p of packets) {
      const pkt = p instanceof Uint8Array ? { bytes: p } : p;
      if (pkt.bytes.length > this.slotSize - this.headroom) {
        this.counters.rxTruncated++;
        continue;
      }
      const base = n * this.slotSize;
      this.data.fill(0xee, base, base + this.slotSize);
      const off = base + this.headroom;
      this.data.set(pkt.bytes, off);
      const m = n * META_STRIDE;
      this.meta[m + META_OFFSET] = off;
      this.meta[m + META_LENGTH] = pkt.bytes.length;
      this.meta[m + META_FAMILY] = pkt.family ?? 0;
      this.meta[m + META_PORT] = pkt.port ?? 0;
      this.addr.fill(0, n * ADDR_STRIDE, (n + 1) * ADDR_STRIDE);
      if (pkt.addr) this.addr.set(pkt.addr.subarray(0, ADDR_STRIDE), n * ADDR_STRIDE);
      this.counters.rxPackets++;
      this.counters.rxBytes += pkt.bytes.length;
      n++;
      if (n === this.slots) flush();
    }
    flush();
    return delivered;
  }

  writeBatch(data: Uint8Array, meta: Int32Array, count: number, addr?: Uint8Array): number {
    let sent = 0;
    // The packet continuations extend (a scatter write's spans, as the native writer's writev),
    // and whether the entry they follow was counted as dropped or bad already.
    let head: WrittenPacket | undefined;
    let headFailed = false;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = meta[m + META_OFFSET];
      const len = meta[m + META_LENGTH];
      const bad = off < 0 || len < 0 || off + len > data.length;
      if (meta[m + META_FAMILY] === META_FLAG_CONTINUES) {
        if (head !== undefined && !bad) {
          const joined = new Uint8Array(head.bytes.length + len);
          joined.set(head.bytes);
          joined.set(data.subarray(off, off + len), head.bytes.length);
          head.bytes = joined;
          this.counters.txBytes += len;
        } else if (!headFailed) {
          this.counters.txErrors++;
        }
        continue;
      }
      head = undefined;
      headFailed = true;
      if (this.closed || sent >= this.writeLimit) {
        this.counters.txDropped++;
        continue;
      }
      if (bad) {
        this.counters.txErrors++;
        continue;
      }
      headFailed = false;
      head = {
        bytes: data.slice(off, off + len),
        family: meta[m + META_FAMILY],
        addr: addr ? addr.slice(i * ADDR_STRIDE, (i + 1) * ADDR_STRIDE) : new Uint8Array(ADDR_STRIDE),
        port: meta[m + META_PORT],
      };
      this.written.push(head);
      this.counters.txPackets++;
      this.counters.txBytes += len;
      sent++;
    }
    return sent;
  }

  /** Returns and forgets everything written so far. */
  /** Counts `n` packets as dropped by the kernel before they were read (a full socket buffer). */
  kernelDropped(n: number): void {
    this.counters.rxOverflow += n;
  }

  takeWritten(): WrittenPacket[] {
    return this.written.splice(0, this.written.length);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    this.closed = true;
    this.handler = undefined;
  }

  stats(): DeviceStats {
    return { ...this.counters };
  }
}
