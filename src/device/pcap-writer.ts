// Classic libpcap capture files (the format tcpdump -r and Wireshark read), for debugging
// the data path: records are packed into one preallocated buffer and flushed with a
// synchronous write when it fills up, so capturing allocates nothing per packet.
//
// File: 24-byte global header, then per packet a 16-byte record header + captured bytes.
//   magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0, sigfigs 0,
//   snaplen, linktype.   Record: ts_sec, ts_usec, incl_len, orig_len.
import fs from 'node:fs';
import { META_LENGTH, META_OFFSET, META_STRIDE, type PacketBatch } from './packet-device.js';

export const LINKTYPE_ETHERNET = 1;
/** Raw IP: version taken from the first nibble (IPv4 or IPv6). */
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;

const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

export interface PcapWriterOptions {
  /** LINKTYPE_ETHERNET for TAP frames, LINKTYPE_RAW for TUN / raw-socket IP packets. */
  linkType: number;
  /** Longest stored prefix of a packet in bytes (the rest is cut, orig_len keeps the real size). Default 65535. */
  snapLength?: number;
  /** Bytes buffered before a write to the file. Default 1 MiB. */
  bufferSize?: number;
}

export class PcapWriter {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private used = 0;
  private closed = false;
  /** Packets recorded (including those still buffered). */
  packets = 0;

  private constructor(
    private readonly fd: number,
    readonly linkType: number,
    readonly snapLength: number,
    bufferSize: number,
  ) {
    this.buf = new Uint8Array(Math.max(bufferSize, RECORD_HEADER_LENGTH + snapLength));
    this.view = new DataView(this.buf.buffer);
    this.view.setUint32(0, PCAP_MAGIC_MICROS, true);
    this.view.setUint16(4, 2, true);
    this.view.setUint16(6, 4, true);
    this.view.setInt32(8, 0, true);
    this.view.setUint32(12, 0, true);
    this.view.setUint32(16, snapLength, true);
    this.view.setUint32(20, linkType, true);
    this.used = GLOBAL_HEADER_LENGTH;
  }

  /** Creates (truncates) `file` and writes the global header. Throws fs errors (ENOENT, EACCES) as is. */
  static open(file: string, opts: PcapWriterOptions): PcapWriter {
    const snap = opts.snapLength ?? 65535;
    if (!Number.isInteger(snap) || snap < 1 || snap > 262144) throw new RangeError(`snapLength must be an integer from 1 to 262144, got ${snap}`);
    if (!Number.isInteger(opts.linkType) || opts.linkType < 0) throw new RangeError(`linkType must be a LINKTYPE_* number, got ${opts.linkType}`);
    const fd = fs.openSync(file, 'w');
    const w = new PcapWriter(fd, opts.linkType, snap, opts.bufferSize ?? 1 << 20);
    w.flush();
    return w;
  }

  /**
   * Records data[off .. off+len) with a timestamp (milliseconds since the epoch, fractional
   * allowed; default now). Writing after close() is ignored.
   */
  writePacket(data: Uint8Array, off: number, len: number, timeMs = performance.timeOrigin + performance.now()): void {
    if (this.closed) return;
    const incl = len < this.snapLength ? len : this.snapLength;
    if (this.used + RECORD_HEADER_LENGTH + incl > this.buf.length) this.flush();
    const sec = Math.floor(timeMs / 1000);
    const usec = Math.floor((timeMs - sec * 1000) * 1000);
    const v = this.view;
    const at = this.used;
    v.setUint32(at, sec, true);
    v.setUint32(at + 4, usec, true);
    v.setUint32(at + 8, incl, true);
    v.setUint32(at + 12, len, true);
    const out = this.buf;
    const base = at + RECORD_HEADER_LENGTH - off;
    for (let i = off, end = off + incl; i < end; i++) out[base + i] = data[i]; // no subarray view per packet
    this.used = at + RECORD_HEADER_LENGTH + incl;
    this.packets++;
  }

  /** Records packets 0..count-1 of a batch, all with the same timestamp. */
  writeBatch(batch: PacketBatch, timeMs = performance.timeOrigin + performance.now()): void {
    for (let i = 0; i < batch.count; i++) {
      this.writePacket(batch.data, batch.meta[i * META_STRIDE + META_OFFSET], batch.meta[i * META_STRIDE + META_LENGTH], timeMs);
    }
  }

  /** Writes buffered records to the file. */
  flush(): void {
    let done = 0;
    while (done < this.used) done += fs.writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
