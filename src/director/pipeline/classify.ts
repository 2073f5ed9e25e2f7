// Stage 2, classify: what the packet is to the director. Its own addresses (link address,
// IPv6 multicast) go to the local replies; then a VIP, a later fragment, an ICMP message
// (echo, or an error whose quoted flow replaces the packet's), a tunnel health probe
// (pinned to its server), and finally the service of a TCP/UDP flow. Sets rec.svc when it
// knows it, rec.flowHash, and the action track and emit carry out.
import { hash2 } from '../flow-hash.js';
import type { ProbePinTable } from '../probe-pins.js';
import type { ServiceRegistry } from '../service-registry.js';
import { Verdict } from '../verdicts.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ip-protocol.js';
import { FRAGMENT_LATER, ICMP_ECHO_REQUEST, ICMP_ERROR, ICMP_NONE, ICMP_SHORT, type PacketRecord } from './packet-record.js';
import type { QuotedFlowParser } from './parse-quoted.js';
import { ACTION_CONNECTION, ACTION_ECHO, ACTION_ICMP_ERROR, ACTION_LATER_FRAGMENT, ACTION_PROBE, GO_ON, type StageResult } from './stage.js';

/** Seed of the flow hash that feeds the GUE source port and the IPv6 flow label. */
const FLOW_HASH_SEED = 0x6e7;

export class Classifier {
  /** Tunnel health-check pins (set by health-binding.ts when a probe source is configured). */
  probePins: ProbePinTable | null = null;
  constructor(
    private readonly registry: ServiceRegistry,
    private readonly quoted: QuotedFlowParser,
  ) {}

  /** For a packet not addressed to the director itself (rec.toDirector false). */
  classify(rec: PacketRecord): StageResult {
    if (rec.vaddr < 0 || !this.registry.isVip(rec.vaddr)) return Verdict.DropNotVip;
    rec.svc = null;
    if (rec.fragment === FRAGMENT_LATER) {
      rec.flowHash = hash2(FLOW_HASH_SEED, rec.clientKey, rec.vaddr) | 0;
      return decide(rec, ACTION_LATER_FRAGMENT, Verdict.ForwardFragment);
    }
    if (rec.l4Offset < 0) return Verdict.DropBadL4Header;
    if (rec.icmpKind !== ICMP_NONE) return this.icmp(rec);
    const protocol = rec.protocol;
    if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) return Verdict.DropProtocol;
    if (!rec.l4Sane) return Verdict.DropBadL4Header;
    // Tunnel health probes go to their pinned RS, never through the table or the scheduler.
    // (The probe source is IPv4; an IPv6 client's caddr is -1 here.)
    const pins = this.probePins;
    if (pins !== null && rec.caddr === pins.source && pins.isProbePort(rec.cport)) return this.probe(rec, pins);
    const svc = this.registry.lookup(protocol, rec.vaddr, rec.vport);
    if (svc === undefined) return Verdict.DropNoService;
    rec.svc = svc;
    rec.flowHash = flowHash(rec);
    return decide(rec, ACTION_CONNECTION, Verdict.Forward);
  }

  // The rarer cases are methods of their own: the common path stays small enough for the
  // compiler to inline it into the batch loop (its inlining budget counts bytecode).

  /** An ICMP message to a VIP: echo, or an error whose quoted flow replaces the packet's. */
  private icmp(rec: PacketRecord): StageResult {
    const icmp = rec.icmpKind;
    if (icmp === ICMP_SHORT) return Verdict.DropBadL4Header;
    if (icmp === ICMP_ECHO_REQUEST) return decide(rec, ACTION_ECHO, Verdict.ReplyIcmpEcho);
    if (icmp !== ICMP_ERROR) return Verdict.DropIcmpUnsupported;
    const v = this.quoted.parse(rec);
    if (v !== GO_ON) return v;
    rec.flowHash = flowHash(rec);
    return decide(rec, ACTION_ICMP_ERROR, Verdict.ForwardIcmpError);
  }

  /** A tunnel health probe: to its pinned server. */
  private probe(rec: PacketRecord, pins: ProbePinTable): StageResult {
    rec.flowHash = hash2(FLOW_HASH_SEED, rec.cport, rec.vport) | 0;
    const pinned = pins.target(rec.protocol, rec.cport, rec.vaddr, rec.vport);
    if (pinned === undefined) return Verdict.DropProbeUnpinned;
    rec.rs = pinned;
    return decide(rec, ACTION_PROBE, Verdict.Forward);
  }
}

function decide(rec: PacketRecord, action: number, verdict: Verdict): StageResult {
  rec.action = action;
  rec.forwardVerdict = verdict;
  return GO_ON;
}

/** Hash of (client, ports): the client as clientKey, the same on every director. */
function flowHash(rec: PacketRecord): number {
  return hash2(FLOW_HASH_SEED, rec.clientKey, ((rec.cport << 16) | rec.vport) >>> 0) | 0;
}
