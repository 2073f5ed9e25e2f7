// FTP control connections of VS/NAT services (TCP port 21, IPv4; IPVS loads ip_vs_ftp for
// port 21 the same way), called by emit-methods.ts after the NAT rewrite of a control
// segment, while the frame is still in the ring:
//   server → client  a 227 line's address becomes the VIP's (the frame grows or shrinks in
//                    place, its head moving into or out of the headroom); 227 and 229 make
//                    the client's next connection to VIP:port expected (ftp-data.ts); the
//                    server's sequence number moves by the text's length changes so far
//   client → server  the acknowledgement (and SACK edges) move back by the same amount; PORT and EPRT
//                    naming the client's own address make the server's connection back to
//                    client:port expected
// A rewritten segment's TCP checksum is recomputed (its payload moved); a sequence or
// acknowledgement change alone is an incremental update (RFC 1624). Connections whose text
// never changed length hold no state here.
import { ConnTable, KIND_TCP, newConnEntry } from '../conn-table.js';
import { FTP_ACTIVE, FTP_PASSIVE, type FtpExpectations, FtpSeqShifts, newFtpAddress, PASV_TEXT_MAX, parseEprtCommand, parseEpsvReply, parsePasvReply, parsePortCommand, writePasvText } from '../ftp-helper.js';
import type { RealServer } from '../real-server.js';
import { TCP_ACK, TCP_SYN, TcpState } from '../tcp-state.js';
import type { Timeouts } from '../timeouts.js';
import { Verdict } from '../verdicts.js';
import type { VirtualService } from '../virtual-service.js';
import { internetChecksum, pseudoHeaderSumV4At, updateChecksum32 } from '../../wire/checksum.js';
import { IPPROTO_TCP } from '../../wire/ip-protocol.js';
import { rewriteIpv4TotalLength } from '../../wire/ipv4.js';
import { findTcpOption, TCP_HEADER_LENGTH, TCP_OPT_SACK } from '../../wire/tcp.js';
import type { PacketRecord } from './packet-record.js';
import { GO_ON, type StageResult } from './stage.js';

/** How long an announced data connection may take to open, ms. */
export const FTP_EXPECT_MS = 60_000;

const TCP_SEQ = 4;
const TCP_ACK_NUMBER = 8;
const TCP_CHECKSUM = 16;
const IPV4_SOURCE = 12;
const IPV4_DESTINATION = 16;

function read32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function write32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Replaces a 32-bit TCP field and updates the checksum incrementally. */
function setTcp32(b: Uint8Array, l4: number, field: number, value: number): void {
  const old = read32(b, l4 + field);
  if (old === value) return;
  write32(b, l4 + field, value);
  const ck = updateChecksum32((b[l4 + TCP_CHECKSUM] << 8) | b[l4 + TCP_CHECKSUM + 1], old, value);
  b[l4 + TCP_CHECKSUM] = ck >>> 8;
  b[l4 + TCP_CHECKSUM + 1] = ck;
}

/** Recomputes the TCP checksum of the IPv4 segment the record describes. */
function recomputeTcpChecksum(rec: PacketRecord): void {
  const data = rec.data;
  const l4 = rec.l4Offset;
  const ip = rec.ipOffset;
  data[l4 + TCP_CHECKSUM] = 0;
  data[l4 + TCP_CHECKSUM + 1] = 0;
  const ck = internetChecksum(data, l4, rec.l4Length, pseudoHeaderSumV4At(data, ip + IPV4_SOURCE, ip + IPV4_DESTINATION, IPPROTO_TCP, rec.l4Length));
  data[l4 + TCP_CHECKSUM] = ck >>> 8;
  data[l4 + TCP_CHECKSUM + 1] = ck;
}

export class FtpControl {
  private readonly address = newFtpAddress();
  private readonly text = new Uint8Array(PASV_TEXT_MAX);
  /**
   * Control connection (client, cport → VIP, vport) → its shift record (in the rs field).
   * The table and the records are allocated with the first length change.
   */
  private keys: ConnTable | null = null;
  /** The entry being inserted (refilled each time). */
  private readonly entry = newConnEntry();
  private shifts: FtpSeqShifts | null = null;
  private free: Int32Array | null = null;
  private freeTop = 0;

  /** @param capacity most control connections with a length change at once */
  constructor(
    private readonly expectations: FtpExpectations,
    private readonly timeouts: Timeouts,
    readonly capacity = 4096,
  ) {}

  /** Control connections holding a sequence shift. */
  get size(): number {
    return this.keys === null ? 0 : this.keys.size;
  }

  /** A client's control segment (TCP, IPv4), already rewritten to the server. Never fails. */
  fromClient(rec: PacketRecord, svc: VirtualService, rs: RealServer): void {
    const data = rec.data;
    const l4 = rec.l4Offset;
    const flags = rec.tcpFlags;
    const now = rec.now;
    const keys = this.keys;
    if (keys !== null && keys.size > 0) {
      const slot = keys.lookup(KIND_TCP, rec.caddr, rec.cport, svc.vip, svc.port, now);
      if (slot >= 0) {
        if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
          // A new connection on the same ports: the old one's shift is gone with it.
          keys.remove(slot);
        } else {
          if ((flags & TCP_ACK) !== 0) this.unmapAcks(rec, this.shifts!, keys.rsAt(slot));
          keys.setExpires(slot, now + this.timeouts.forState(TcpState.Established));
        }
      }
    }
    const off = l4 + ((data[l4 + 12] >> 4) << 2);
    const end = rec.ipOffset + rec.total;
    const a = this.address;
    // The client's own address only: a PORT naming another host (FTP bounce) opens nothing.
    if ((parsePortCommand(data, off, end, a) || parseEprtCommand(data, off, end, a)) && a.address === rec.caddr) {
      this.expectations.expect(FTP_ACTIVE, rec.caddr, a.port, svc.id, rs.id, now + FTP_EXPECT_MS, now);
    }
  }

  /**
   * A server's control segment (TCP, IPv4), its source already rewritten to VIP:vport.
   * GO_ON, or a drop: drop-no-headroom when a longer 227 line does not fit in front of the
   * frame, drop-table-full when no shift record is free.
   */
  fromServer(rec: PacketRecord, svc: VirtualService, rs: RealServer): StageResult {
    const data = rec.data;
    const now = rec.now;
    const client = rec.vaddr;
    const cport = rec.vport;
    let slot = this.keys !== null && this.keys.size > 0 ? this.keys.lookup(KIND_TCP, client, cport, svc.vip, svc.port, now) : -1;
    const seq = read32(data, rec.l4Offset + TCP_SEQ);
    const off = rec.l4Offset + ((data[rec.l4Offset + 12] >> 4) << 2);
    const end = rec.ipOffset + rec.total;
    const a = this.address;
    let rewritten = false;
    if (parsePasvReply(data, off, end, a)) {
      const n = writePasvText(this.text, svc.vip, a.port);
      const change = n - (a.end - a.start);
      if (change > rec.headroom) return Verdict.DropNoHeadroom;
      if (change !== 0 && slot < 0) {
        slot = this.newRecord(client, cport, svc, now);
        if (slot < 0) return Verdict.DropTableFull;
      }
      if (change !== 0) {
        // The head (frame start .. address) moves by -change; the text ends where the old one did.
        const f = rec.frameOffset;
        data.copyWithin(f - change, f, a.start);
        rec.frameOffset -= change;
        rec.frameLength += change;
        rec.headroom -= change;
        rec.ipOffset -= change;
        rec.sourceOffset -= change;
        rec.l4Offset -= change;
        rec.l4Length += change;
        rec.total += change;
        rewriteIpv4TotalLength(data, rec.ipOffset, rec.total);
        this.shifts!.rewrote(this.keys!.rsAt(slot), seq, change);
      }
      for (let k = 0, at = a.end - n; k < n; k++) data[at + k] = this.text[k];
      rewritten = true;
      this.expectations.expect(FTP_PASSIVE, client, a.port, svc.id, rs.id, now + FTP_EXPECT_MS, now);
    } else if (parseEpsvReply(data, off, end, a)) {
      this.expectations.expect(FTP_PASSIVE, client, a.port, svc.id, rs.id, now + FTP_EXPECT_MS, now);
    }
    const l4 = rec.l4Offset;
    if (slot >= 0) {
      const keys = this.keys!;
      const r = keys.rsAt(slot);
      keys.setExpires(slot, now + this.timeouts.forState(TcpState.Established));
      const mapped = this.shifts!.mapSeq(r, seq);
      if (!rewritten) setTcp32(data, l4, TCP_SEQ, mapped);
      else write32(data, l4 + TCP_SEQ, mapped);
    }
    // The payload moved: recompute the TCP checksum over the segment.
    if (rewritten) recomputeTcpChecksum(rec);
    return GO_ON;
  }

  /**
   * The client's acknowledgement, and the edges of its SACK blocks (RFC 2018), mapped back
   * to the server's numbering. SACK edges may sit at odd offsets, where a 32-bit
   * incremental update does not apply: then the checksum is recomputed.
   */
  private unmapAcks(rec: PacketRecord, shifts: FtpSeqShifts, r: number): void {
    const data = rec.data;
    const l4 = rec.l4Offset;
    setTcp32(data, l4, TCP_ACK_NUMBER, shifts.unmapAck(r, read32(data, l4 + TCP_ACK_NUMBER)));
    const headerEnd = l4 + ((data[l4 + 12] >> 4) << 2);
    const o = headerEnd > l4 + TCP_HEADER_LENGTH ? findTcpOption(data, l4 + TCP_HEADER_LENGTH, headerEnd, TCP_OPT_SACK) : -1;
    if (o < 0) return;
    let changed = false;
    for (let b = o + 2; b + 4 <= o + data[o + 1]; b += 4) {
      const edge = read32(data, b);
      const back = shifts.unmapAck(r, edge);
      if (back !== edge) {
        write32(data, b, back);
        changed = true;
      }
    }
    if (changed) recomputeTcpChecksum(rec);
  }

  /** A shift record for a control connection, keyed as the client sees it; the key's slot, or -1. */
  private newRecord(client: number, cport: number, svc: VirtualService, now: number): number {
    if (this.keys === null) {
      // One record more than entries: a record is taken before the insert may evict (free) one.
      const records = this.capacity + 1;
      const free = new Int32Array(records);
      for (let i = 0; i < records; i++) free[i] = records - 1 - i;
      this.free = free;
      this.freeTop = records;
      this.shifts = new FtpSeqShifts(records);
      this.keys = new ConnTable(this.capacity, { released: (r) => (free[this.freeTop++] = r) });
    }
    const free = this.free!;
    if (this.freeTop === 0) return -1;
    const r = free[--this.freeTop];
    this.shifts!.reset(r);
    const e = this.entry;
    e.kind = KIND_TCP;
    e.caddr = client;
    e.cport = cport;
    e.vaddr = svc.vip;
    e.vport = svc.port;
    e.svcId = svc.id;
    e.rsId = r;
    e.state = TcpState.Established;
    e.expires = now + this.timeouts.forState(TcpState.Established);
    const slot = this.keys.insert(e, now);
    if (slot < 0) free[this.freeTop++] = r;
    return slot;
  }

  sweep(now: number, maxSlots: number): void {
    if (this.keys !== null && this.keys.size > 0) this.keys.sweep(now, maxSlots);
  }

  clear(): void {
    this.keys?.clear();
  }
}
