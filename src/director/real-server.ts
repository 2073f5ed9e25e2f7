// A real server (IPVS "destination") as one service sees it: address, weight, its share of
// connections, and traffic counters. The data path reads and bumps the numeric fields in
// place; the control plane changes weight and flags.
import { parseIpv6 } from '../wire/ipv6-address.js';
import { IPV6_ID_BASE } from './address-id.js';
import { FORWARD_TUNNEL, type ForwardCode } from './forward-method.js';
import { formatIpv4 } from './ipv4-text.js';
import { TrafficStats } from './rate-estimator.js';

export class RealServer {
  /** Connections whose TCP state is ESTABLISHED (ipvsadm ActiveConn). */
  activeConns = 0;
  /** All other connections, UDP included (ipvsadm InActConn). */
  inactConns = 0;
  /** Persistence templates pointing here. */
  persistConns = 0;
  /** Set by overload thresholds or health checks: no new connections, like weight 0. */
  overloaded = false;
  /** Deleted from its service; its connections drain, and the id is reused once they are gone. */
  removed = false;
  readonly stats = new TrafficStats();
  /** How packets reach it (forward-method.ts: FORWARD_TUNNEL, FORWARD_NAT or FORWARD_DR). */
  forward: ForwardCode = FORWARD_TUNNEL;
  /** VS/NAT: the port client packets are rewritten to (the service's unless mapped). */
  natPort = 0;
  /** Encapsulation toward this server (tunnel-mtu.ts: TUNNEL_IPIP or TUNNEL_GUE). */
  tunnel = 0;
  /** GUE destination UDP port (used when tunnel is GUE). */
  guePort = 6080;
  /** Configured tunnel MTU in bytes; 0 inherits the service's, then the director's. */
  tunnelMtu = 0;
  /** Path MTU learned by discovery (pmtu-discovery.ts) in bytes; 0 = nothing learned. */
  pathMtu = 0;
  /** Connection thresholds (ipvsadm -x / -y); 0 = none. See noteConnectionCount(). */
  upperThreshold = 0;
  lowerThreshold = 0;

  /**
   * @param id      index in the director's real-server registry (what the connection table stores)
   * @param address IPv4 as an unsigned 32-bit number
   * @param port    0 in VS/TUN (the port is never rewritten); kept for listings and hashing
   * @param weight  0..65535; 0 is quiescent
   * @param dip     outer source address for packets to this server (uint32)
   * @param addressText the address as text (required for an IPv6 address id)
   */
  constructor(
    readonly id: number,
    readonly serviceId: number,
    readonly address: number,
    readonly port: number,
    public weight: number,
    public dip: number,
    addressText?: string,
  ) {
    this.addressText = addressText ?? formatIpv4(address);
    this.address6 = address >= IPV6_ID_BASE ? parseIpv6(this.addressText) : null;
    this.dip6 = this.address6 !== null ? new Uint8Array(16) : null;
  }

  /** The 16 bytes of an IPv6 server (what consistent hashing keys on: ids differ between directors); null for IPv4. */
  readonly address6: Uint8Array | null;

  /**
   * An IPv6 server's DIP as 16 bytes, for the outer header (null for IPv4): filled by the
   * encapsulator from the address table when dip6Of differs from dip, so that a packet
   * copies bytes instead of reading the table (dip may change at run time).
   */
  readonly dip6: Uint8Array | null;
  /** The dip id whose bytes dip6 holds; -1 before the first packet. */
  dip6Of = -1;

  /** Canonical text of the address (dotted quad or RFC 5952). */
  readonly addressText: string;

  /** May take new connections. */
  get available(): boolean {
    return this.weight > 0 && !this.overloaded && !this.removed;
  }

  /** IPVS's ip_vs_dest_conn_overhead: active connections weigh 256 inactive ones. */
  get overhead(): number {
    return this.activeConns * 256 + this.inactConns;
  }

  /**
   * Re-judges the overload flag from the connection count (active + inactive, templates
   * not counted), as IPVS does when a connection is bound or released: overloaded at
   * count >= upper; clear again below lower, or, with no lower, below 3/4 of upper.
   */
  noteConnectionCount(): void {
    const conns = this.activeConns + this.inactConns;
    if (this.upperThreshold > 0 && conns >= this.upperThreshold) this.overloaded = true;
    else if (!this.overloaded) return;
    else if (this.lowerThreshold > 0) this.overloaded = conns >= this.lowerThreshold;
    else if (this.upperThreshold > 0) this.overloaded = conns * 4 >= this.upperThreshold * 3;
    else this.overloaded = false;
  }

  /** New thresholds (ipvsadm -e, a reload); the flag follows the current count at once. */
  setThresholds(upper: number, lower: number): void {
    if (upper === this.upperThreshold && lower === this.lowerThreshold) return;
    this.upperThreshold = upper;
    this.lowerThreshold = lower;
    this.overloaded = upper > 0 && this.activeConns + this.inactConns >= upper;
  }

  /** True when no connection or template refers to it any more. */
  get idle(): boolean {
    return this.activeConns === 0 && this.inactConns === 0 && this.persistConns === 0;
  }
}
