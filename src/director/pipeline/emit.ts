// Stage 4, emit: writes what goes out for a packet that has its server, and sets the
// record's output span. The forwarding method is the server's; today every server is
// reached through a tunnel (IPIP, 6in4, 4in6, 6in6 or GUE: encap-tunnel.ts). A packet too
// big for the tunnel that may not be fragmented gets a "too big" answer instead
// (emit-too-big.ts); the director's own answers are in emit-local.ts.
//
// Where VS/NAT and VS/DR fit: a per-server method chooses the writer in forward() (rewrite
// the destination, or keep the packet and change only the Ethernet header), and a record
// with direction DIRECTION_REPLY is a server's answer to rewrite back to VIP:vport.
import { IPV6_ID_BASE } from '../address-id.js';
import { FORWARD_DR, FORWARD_NAT } from '../forward-method.js';
import type { MethodEmitter } from './emit-methods.js';
import { frameOverhead, type TunnelEncapsulator } from '../encap-tunnel.js';
import { IPV4_TCP_HEADERS, IPV6_TCP_HEADERS, type MssClamper } from '../mss-clamp.js';
import type { RealServer } from '../real-server.js';
import { TCP_SYN } from '../tcp-state.js';
import { usableInnerMtu } from '../tunnel-mtu.js';
import { Verdict } from '../verdicts.js';
import type { VirtualHost } from '../virtual-host.js';
import type { VirtualService } from '../virtual-service.js';
import { IPPROTO_TCP } from '../../wire/ip-protocol.js';
import type { IpIdentification, TooBigReplies } from './emit-too-big.js';
import { FAMILY_V4, type PacketRecord } from './packet-record.js';
import { ACTION_CONNECTION } from './stage.js';

export class Emitter {
  /** Default tunnel MTU (bytes) for servers and services that set none: the TAP's MTU. */
  defaultTunnelMtu = 1500;

  constructor(
    private readonly host: VirtualHost,
    private readonly encap: TunnelEncapsulator,
    private readonly tooBig: TooBigReplies,
    private readonly mss: MssClamper,
    private readonly ids: IpIdentification,
    /** NAT and DR servers' writers (emit-methods.ts). */
    private readonly methods: MethodEmitter,
  ) {}

  /**
   * Sends the packet to rec.rs with rec.forwardVerdict, unless it is too big for the
   * tunnel: then a DF IPv4 packet gets "fragmentation needed" and an IPv6 packet "packet
   * too big" back (never for ICMP errors or later fragments, which go out with the outer
   * DF clear so the path may fragment them), and an IPv4 packet without DF goes out with
   * the outer DF clear. rec.svc null: a health probe, not counted as service traffic.
   */
  forward(rec: PacketRecord): Verdict {
    const rs = rec.rs!;
    const method = rs.forward;
    if (method === FORWARD_NAT) return this.methods.nat(rec);
    if (method === FORWARD_DR) return this.methods.dr(rec);
    const svc = rec.svc;
    const outerV6 = rs.address >= IPV6_ID_BASE;
    if (rec.action === ACTION_CONNECTION && rec.protocol === IPPROTO_TCP && (rec.tcpFlags & TCP_SYN) !== 0 && svc!.mssClamp) this.clampMss(rec, rs, svc, outerV6);
    if (rec.headroom < frameOverhead(rs)) return Verdict.DropNoHeadroom;
    if (!this.host.kernelMacKnown) return Verdict.DropNoKernelMac;
    const usable = usableInnerMtu(rs, svc, this.defaultTunnelMtu, outerV6);
    if (rec.total > usable && rec.dontFragment) {
      if (rec.forwardVerdict === Verdict.Forward) return this.tooBig.reply(rec, usable);
      return this.tunnel(rec, svc, rs, false);
    }
    return this.tunnel(rec, svc, rs, rec.dontFragment);
  }

  /** A SYN's MSS option lowered to what fits the tunnel (a method apart: forward stays small enough to inline). */
  private clampMss(rec: PacketRecord, rs: RealServer, svc: VirtualService | null, outerV6: boolean): void {
    const headers = rec.family === FAMILY_V4 ? IPV4_TCP_HEADERS : IPV6_TCP_HEADERS;
    this.mss.clamp(rec.data, rec.l4Offset, rec.l4Length, usableInnerMtu(rs, svc, this.defaultTunnelMtu, outerV6) - headers);
  }

  private tunnel(rec: PacketRecord, svc: VirtualService | null, rs: RealServer, outerDf: boolean): Verdict {
    const total = rec.total;
    if (svc !== null) {
      svc.stats.inPkts++;
      svc.stats.inBytes += total;
      rs.stats.inPkts++;
      rs.stats.inBytes += total;
    }
    const host = this.host;
    rec.outOffset = this.encap.encap(rec, outerDf, this.ids.next(), host);
    rec.outLength = total + frameOverhead(rs);
    return rec.forwardVerdict;
  }
}
