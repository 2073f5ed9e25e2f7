// Wires path-MTU discovery into the running director: the raw ICMP socket on the host,
// the default tunnel MTU, probes through the TAP, logs of every change, and a `pmtu`
// control op listing the effective MTU per real server.
import type { Logger } from 'pino';
import type { PacketDevice } from '../device/packet-device.js';
import { RawSocketDevice } from '../device/raw-socket-device.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../wire/ip-protocol.js';
import { IPV6_ID_BASE } from './address-id.js';
import type { Director } from './director.js';
import { PathMtuDiscovery } from './pmtu-discovery.js';

export interface PathMtuBindingOptions {
  /** Default tunnel MTU in bytes (config director.tunnelMtu; the TAP's MTU). */
  defaultTunnelMtu: number;
  probeIntervalMs?: number;
  log: Pick<Logger, 'info' | 'warn'>;
}

/**
 * Sets the data path's default tunnel MTU and starts discovery. Without CAP_NET_RAW for the
 * ICMP socket it logs a warning and only probes (configured MTUs still apply).
 */
export function startPathMtuDiscovery(director: Director, tap: PacketDevice, opts: PathMtuBindingOptions): PathMtuDiscovery {
  director.datapath.defaultTunnelMtu = opts.defaultTunnelMtu;
  const pmtu = new PathMtuDiscovery({
    registry: director.registry,
    host: director.host,
    tap,
    defaultTunnelMtu: () => director.datapath.defaultTunnelMtu,
    clock: director.clock,
    probeIntervalMs: opts.probeIntervalMs,
    onChange: (rip, from, to, why) => opts.log.info({ realServer: rip, from, to, why }, 'tunnel path MTU changed'),
  });
  let icmp: RawSocketDevice | null = null;
  try {
    icmp = RawSocketDevice.open({ family: 4, protocol: IPPROTO_ICMP, slots: 64 });
  } catch (err) {
    opts.log.warn({ err: (err as Error).message }, 'no raw ICMP socket: path MTU is learned from nothing; set tunnelMtu per real server where a hop is smaller');
  }
  pmtu.start(icmp);
  if (director.registry.list().some((svc) => svc.servers.some((rs) => rs.address >= IPV6_ID_BASE))) {
    try {
      pmtu.listenV6(RawSocketDevice.open({ family: 6, protocol: IPPROTO_ICMPV6, slots: 64 }));
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'no raw ICMPv6 socket: IPv6 real servers keep their configured tunnel MTU');
    }
  }
  return pmtu;
}

/** `pmtu`: the configured, learned and effective tunnel MTU per real-server address. */
export function registerPmtuOp(control: { register(op: string, handler: () => Record<string, unknown>): unknown }, pmtu: PathMtuDiscovery): void {
  control.register('pmtu', () => ({
    paths: pmtu.snapshot(),
    icmpSeen: pmtu.icmpSeen,
    fragNeededAccepted: pmtu.fragNeededAccepted,
    fragNeededIgnored: pmtu.fragNeededIgnored,
  }));
}
