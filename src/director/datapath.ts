// The director's per-batch data path. Each frame from the TAP gets exactly one verdict
// (forward, reply, or drop with a reason) and one count; forwarded and reply frames are
// described in an output meta array and written with one writeBatch per batch. Nothing is
// allocated per packet and nothing throws per packet.
//
// Every frame, IPv4 or IPv6, is described by one preallocated PacketRecord that flows
// through four stages (src/director/pipeline/):
//   parse    (parse.ts)     the record from the headers, through the src/wire views
//   classify (classify.ts)  VIP, service, probe pin, fragment, ICMP error → quoted flow
//   track    (track.ts)     connection table and scheduling: the real server
//   emit     (emit.ts)      the tunnel, or a "too big" answer (emit-too-big.ts); the
//                           director's own answers (ARP, NDP, echo) are emit-local.ts
import { META_LENGTH, META_OFFSET, META_STRIDE, type PacketBatch, type PacketDevice } from '../device/packet-device.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import type { ConnTable } from './conn-table.js';
import { TunnelEncapsulator } from './encap-tunnel.js';
import { FragmentCache } from './fragment-cache.js';
import { IcmpRateLimiter } from './icmp-rate-limit.js';
import { MssClamper } from './mss-clamp.js';
import { Classifier } from './pipeline/classify.js';
import { Emitter } from './pipeline/emit.js';
import { LocalReplies } from './pipeline/emit-local.js';
import { IpIdentification, TooBigReplies } from './pipeline/emit-too-big.js';
import { PacketRecord } from './pipeline/packet-record.js';
import { Parser } from './pipeline/parse.js';
import { QuotedFlowParser } from './pipeline/parse-quoted.js';
import { ACTION_ECHO, GO_ON } from './pipeline/stage.js';
import { Tracker } from './pipeline/track.js';
import { MethodEmitter } from './pipeline/emit-methods.js';
import { NatReplies } from './pipeline/nat-reply.js';
import { FtpControl } from './pipeline/ftp-control.js';
import { FtpData } from './pipeline/ftp-data.js';
import { FtpExpectations } from './ftp-helper.js';
import { NatReplyTable } from './nat-conn.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborResolver, type NeighborMemory } from './neighbor-resolver.js';
import type { ProbePinTable } from './probe-pins.js';
import type { ServiceRegistry } from './service-registry.js';
import type { Timeouts } from './timeouts.js';
import { TX_FAILED_INDEX, Verdict, VERDICT_COUNT, VERDICT_SENDS } from './verdicts.js';
import type { VirtualHost } from './virtual-host.js';

export interface DatapathOptions {
  /** Answer ICMP echo to VIPs and the link address (default true). */
  icmpEcho: boolean;
  /** Create entries for TCP packets that are not SYNs (IPVS sloppy_tcp). */
  sloppyTcp: boolean;
  /** Slots checked for expiry per batch. */
  sweepPerBatch: number;
  /** VS/DR's neighbour table shared with the other queues (neighbor-resolver.ts); absent: a private one. */
  neighborMemory?: NeighborMemory;
}

export class Datapath {
  /** Count per verdict (index = Verdict). */
  readonly verdicts = new Float64Array(VERDICT_COUNT);
  framesIn = 0;
  private txMeta = new Int32Array(256 * META_STRIDE);
  /** Set when a frame was dropped for lack of the kernel's MAC: the owner sends an ARP probe. */
  needKernelMac = false;
  /** Per-client budget for the "too big" errors the director sends. */
  readonly icmpLimiter = new IcmpRateLimiter();
  readonly mss = new MssClamper();
  readonly fragments = new FragmentCache();
  /** The one packet description, overwritten per frame. */
  private readonly rec = new PacketRecord();
  private readonly parser: Parser;
  private readonly classifier: Classifier;
  private readonly tracker: Tracker;
  private readonly emitter: Emitter;
  private readonly local: LocalReplies;
  private readonly natReplies: NatReplies;
  /** VS/NAT's reply index (RIP:rport → client:cport), beside the connection table. */
  readonly natTable: NatReplyTable;
  /** VS/DR: the real servers' MACs; the owner sends the ARP requests it asks for. */
  readonly neighbors: NeighborResolver;
  /** NAT/DR writers; also writes the resolver's ARP requests (writeRequest). */
  readonly methods: MethodEmitter;
  /** The FTP helper of NAT services on port 21: control connections and data connections. */
  readonly ftpControl: FtpControl;
  readonly ftpData: FtpData;

  constructor(
    registry: ServiceRegistry,
    private readonly table: ConnTable,
    timeouts: Timeouts,
    host: VirtualHost,
    readonly options: DatapathOptions,
  ) {
    const addresses = registry.addresses;
    const ids = new IpIdentification();
    this.parser = new Parser(host, addresses);
    this.classifier = new Classifier(registry, new QuotedFlowParser(addresses));
    this.natTable = new NatReplyTable(table.capacity, addresses);
    this.neighbors = new NeighborResolver(DEFAULT_NEIGHBOR_OPTIONS, options.neighborMemory);
    const ftpExpected = new FtpExpectations();
    this.ftpControl = new FtpControl(ftpExpected, timeouts);
    this.methods = new MethodEmitter(host, addresses, this.neighbors, this.ftpControl);
    this.ftpData = new FtpData(registry, ftpExpected, timeouts, this.methods);
    this.natReplies = new NatReplies(registry, table, this.natTable, timeouts, addresses, this.methods);
    this.tracker = new Tracker(registry, table, timeouts, this.fragments, addresses, options, this.natTable);
    this.emitter = new Emitter(host, new TunnelEncapsulator(addresses), new TooBigReplies(host, this.icmpLimiter, ids), this.mss, ids, this.methods);
    this.local = new LocalReplies(host, options);
  }

  /** Tunnel health-check pins (set by health-binding.ts when a probe source is configured). */
  get probePins(): ProbePinTable | null {
    return this.classifier.probePins;
  }
  set probePins(pins: ProbePinTable | null) {
    this.classifier.probePins = pins;
  }

  /** Default tunnel MTU (bytes) for servers and services that set none: the TAP's MTU. */
  get defaultTunnelMtu(): number {
    return this.emitter.defaultTunnelMtu;
  }
  set defaultTunnelMtu(mtu: number) {
    this.emitter.defaultTunnelMtu = mtu;
  }

  /** Processes one batch at time `now` (ms, monotonic) and writes the output in one call. */
  processBatch(batch: PacketBatch, device: PacketDevice, now: number): void {
    const count = batch.count;
    if (this.txMeta.length < count * META_STRIDE) this.txMeta = new Int32Array(count * META_STRIDE);
    const rec = this.rec;
    rec.data = batch.data;
    rec.headroom = batch.headroom;
    rec.now = now;
    const meta = batch.meta;
    const tx = this.txMeta;
    let out = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      rec.frameOffset = meta[m + META_OFFSET];
      rec.frameLength = meta[m + META_LENGTH];
      const v = this.handle(rec);
      this.verdicts[v]++;
      if (VERDICT_SENDS[v] === 1) {
        const t = out * META_STRIDE;
        tx[t + META_OFFSET] = rec.outOffset;
        tx[t + META_LENGTH] = rec.outLength;
        out++;
      } else if (v === Verdict.DropNoKernelMac) {
        this.needKernelMac = true;
      }
    }
    this.framesIn += count;
    if (out > 0) {
      const sent = device.writeBatch(batch.data, tx, out);
      if (sent < out) this.verdicts[TX_FAILED_INDEX] += out - sent;
    }
    if (this.options.sweepPerBatch > 0) {
      this.table.sweep(now, this.options.sweepPerBatch);
      if (this.natTable.size > 0) this.natTable.sweep(now, this.options.sweepPerBatch);
      if (this.ftpData.active) this.ftpData.sweep(now, this.options.sweepPerBatch);
      if (this.ftpControl.size > 0) this.ftpControl.sweep(now, this.options.sweepPerBatch);
    }
  }

  /** One frame → one verdict, through the stages; rec.outOffset/outLength for forward and reply verdicts. */
  private handle(rec: PacketRecord): Verdict {
    let v = this.parser.frame(rec);
    if (v !== GO_ON) return v;
    const etherType = rec.etherType;
    if (etherType === ETHERTYPE_ARP) return this.methods.learnNeighbor(rec) ? Verdict.ArpLearned : this.local.arp(rec);
    if (etherType === ETHERTYPE_IPV4) v = this.parser.ipv4(rec);
    else if (etherType === ETHERTYPE_IPV6) v = this.parser.ipv6(rec);
    else return Verdict.DropEthertype;
    if (v !== GO_ON) return v;
    this.parser.transport(rec);
    if (rec.toDirector) return this.local.toDirector(rec);
    v = this.classifier.classify(rec);
    // Not for a VIP: maybe a NAT server's reply on its way back to the client, or an FTP
    // server's data connection; no service on a VIP port: maybe an FTP passive connection.
    if (v === Verdict.DropNotVip) {
      v = this.natReplies.reply(rec);
      return v === Verdict.DropNotVip && this.ftpData.active ? this.ftpData.fromServer(rec) : v;
    }
    if (v === Verdict.DropNoService && this.ftpData.active) return this.ftpData.toServer(rec);
    if (v !== GO_ON) return v;
    if (rec.action === ACTION_ECHO) return this.local.echo(rec);
    v = this.tracker.track(rec);
    if (v !== GO_ON) return v;
    return this.emitter.forward(rec);
  }
}
