// A virtual service (IPVS "service"): protocol + VIP + port (0 = every port), a scheduler,
// persistence, and the real servers behind it, in the order they were added.
import { IPV6_ID_BASE } from './address-id.js';
import { formatIpv4 } from './ipv4-text.js';
import { TrafficStats } from './rate-estimator.js';
import type { RealServer } from './real-server.js';
import type { Scheduler, SchedulerFlag, SchedulerName } from './schedulers/index.js';

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export type ServiceProtocol = 'tcp' | 'udp';

/** What the control plane says about a service (addresses as dotted quads). */
export interface VirtualServiceSpec {
  protocol: ServiceProtocol;
  vip: string;
  /** 0..65535; 0 = every port of the VIP. */
  port: number;
  scheduler: SchedulerName;
  flags?: SchedulerFlag[];
  /** Persistence timeout in seconds; 0 = none (ipvsadm -p). */
  persistence?: number;
  /** Persistence granularity (ipvsadm -M), dotted or prefix length; default 255.255.255.255. */
  netmask?: string;
  /** One-packet scheduling for UDP (ipvsadm -o): no connection entry. */
  onePacket?: boolean;
}

/** The FTP control port (RFC 959), for which the NAT path runs the FTP helper. */
export const FTP_CONTROL_PORT = 21;

export class VirtualService {
  servers: RealServer[] = [];
  readonly stats = new TrafficStats();
  /** Clamp the MSS option of SYNs so client segments fit the tunnel (on by default). */
  mssClamp = true;
  /** Tunnel MTU for this service's servers in bytes; 0 inherits the director's. */
  tunnelMtu = 0;
  /** Schedule mid-flow TCP packets that have no entry (IPVS sloppy_tcp, for this service). */
  sloppy = false;

  constructor(
    readonly id: number,
    /** PROTO_TCP or PROTO_UDP. */
    readonly protocol: number,
    /** uint32 */
    readonly vip: number,
    readonly port: number,
    public scheduler: Scheduler,
    public schedulerName: SchedulerName,
    public flags: SchedulerFlag[],
    /** Milliseconds; 0 = no persistence. */
    public persistenceMs: number,
    /** uint32 mask applied to the client address for templates. */
    public netmask: number,
    public onePacket: boolean,
    /** The VIP as text (required for an IPv6 address id). */
    vipText?: string,
  ) {
    this.vipText = vipText ?? formatIpv4(vip);
    this.ftp = protocol === PROTO_TCP && port === FTP_CONTROL_PORT && vip < IPV6_ID_BASE;
  }

  /**
   * An IPv4 TCP service on port 21: the FTP helper follows its NAT servers' control
   * connections (IPVS loads ip_vs_ftp for port 21 by default): pipeline/ftp-control.ts.
   */
  readonly ftp: boolean;

  /** Canonical text of the VIP (dotted quad or RFC 5952). */
  readonly vipText: string;

  get protocolName(): ServiceProtocol {
    return this.protocol === PROTO_TCP ? 'tcp' : 'udp';
  }

  /** "TCP  10.0.0.1:80" style key used in errors and listings. */
  get label(): string {
    return `${this.protocolName}:${this.vipText}:${this.port}`;
  }

  /** The service as the control plane states it (ipvsadm -A's fields; the netmask dotted). */
  spec(): Required<VirtualServiceSpec> {
    return {
      protocol: this.protocolName,
      vip: this.vipText,
      port: this.port,
      scheduler: this.schedulerName,
      flags: [...this.flags],
      persistence: this.persistenceMs / 1000,
      netmask: formatIpv4(this.netmask),
      onePacket: this.onePacket,
    };
  }

  /** Tells the scheduler the current server list (after any add/edit/delete). */
  refresh(): void {
    this.scheduler.update(this.servers.filter((rs) => !rs.removed));
  }
}

/** Key of a service in the lookup map (fits in 53 bits; vip is an address id below 2^33). */
export function serviceKey(protocol: number, vip: number, port: number): number {
  return (protocol === PROTO_TCP ? 1 : 2) * 2 ** 49 + vip * 65536 + port;
}
