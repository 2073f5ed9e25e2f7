// The one description of a frame that the director's stages pass along (katran's
// packet_description is the model): parse writes what the headers say, classify names the
// flow and the service, track the real server, emit the span to send. One preallocated
// record per Datapath, overwritten per frame: nothing is allocated per packet, and the
// stages take the record instead of long argument lists or result fields.
//
//   parse.ts → classify.ts → track.ts → emit.ts       (stage.ts: the verdict-or-go-on type)
//
// Addresses are address ids (address-id.ts): an IPv4 address is its own uint32, an IPv6
// one a slot of the director's table (>= 2^32). Family differences stay in parse (how the
// fields are read) and emit (how replies and outer headers are written).
import type { RealServer } from '../real-server.js';
import { Verdict } from '../verdicts.js';
import type { VirtualService } from '../virtual-service.js';
import { ACTION_CONNECTION } from './stage.js';

export const FAMILY_V4 = 4;
export const FAMILY_V6 = 6;

/** Fragment position: not a fragment, the first one (carries the ports), or a later one. */
export const FRAGMENT_NONE = 0;
export const FRAGMENT_FIRST = 1;
export const FRAGMENT_LATER = 2;

/** What the family's ICMP header says, once parse has looked (ICMP_NONE: not ICMP, or no header). */
export const ICMP_NONE = 0;
/** Fewer than the 8 header bytes. */
export const ICMP_SHORT = 1;
export const ICMP_ECHO_REQUEST = 2;
/** An error quoting a packet (IPv4 types 3, 11, 12; every ICMPv6 error). */
export const ICMP_ERROR = 3;
export const ICMP_NEIGHBOR_SOLICITATION = 4;
export const ICMP_OTHER = 5;

/**
 * Which way the packet travels. Every packet today is client → VIP; a VS/NAT reply
 * (real server → client, rewritten back to VIP:vport) would be DIRECTION_REPLY, so that
 * track looks the entry up from the other side and emit rewrites instead of tunnelling.
 */
export const DIRECTION_TO_SERVER = 0;
export const DIRECTION_REPLY = 1;

const EMPTY = new Uint8Array(0);

export class PacketRecord {
  // The frame (set by the batch loop).
  data: Uint8Array = EMPTY;
  frameOffset = 0;
  frameLength = 0;
  /** Bytes in front of the frame that belong to it (for headers written in front). */
  headroom = 0;
  /** Batch time, ms (monotonic). */
  now = 0;
  direction = DIRECTION_TO_SERVER;

  // Link and network layer (parse).
  etherType = 0;
  family = 0;
  ipOffset = 0;
  /** IPv4 header length (20..60); 40 for IPv6 (extension headers are part of the payload). */
  ipHeaderLength = 0;
  /** The IP packet's length: IPv4 total length, IPv6 40 + payload length. */
  total = 0;
  /** DSCP/ECN byte (IPv4 TOS, IPv6 traffic class), copied to the outer header. */
  tos = 0;
  /** Inner DF: the IPv4 bit; always true for IPv6, which routers never fragment. */
  dontFragment = false;
  fragment = FRAGMENT_NONE;
  /** Fragment identification (IPv4 16 bits, IPv6 32 bits). */
  fragmentId = 0;
  /** The destination is the director itself: its link address (or, IPv6, a multicast group). */
  toDirector = false;
  /** Offset of the source address bytes (4 or 16). */
  sourceOffset = 0;
  /** Upper-layer protocol (after IPv6 extension headers). */
  ipProtocol = 0;
  /** Upper-layer header offset (-1 when there is none: a later IPv6 fragment) and length. */
  l4Offset = -1;
  l4Length = 0;
  icmpKind = ICMP_NONE;
  /** TCP/UDP header sane (TCP data offset within the segment, UDP length within the datagram). */
  l4Sane = false;
  tcpFlags = 0;

  // The flow (parse fills it from the packet; classify replaces it by the quoted flow of an ICMP error).
  protocol = 0;
  /** Client address id; -1 while an IPv6 client has none (track gives it one). */
  caddr = -1;
  /** 32 bits naming the client on every director: the IPv4 address, or the IPv6 address's hash. */
  clientKey = 0;
  cport = 0;
  /** Virtual address id; -1 when it is no address the director holds. */
  vaddr = -1;
  vport = 0;
  /** Hash of the flow (signed int32), for the GUE source port and the IPv6 flow label. */
  flowHash = 0;

  // Where it goes (classify, track).
  /** What the packet needs (an ACTION_* of stage.ts), decided by classify. */
  action = ACTION_CONNECTION;
  /** The verdict the packet gets when it goes out (Forward, ForwardFragment, ForwardIcmpError, ReplyIcmpEcho). */
  forwardVerdict: Verdict = Verdict.Forward;
  /** null for a health probe: not counted as service or server traffic. */
  svc: VirtualService | null = null;
  rs: RealServer | null = null;

  // What goes out (emit): the frame to write for forward and reply verdicts.
  outOffset = 0;
  outLength = 0;
}
