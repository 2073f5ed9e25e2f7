// Where track sends a later fragment whose first fragment it has not seen (lost, reordered,
// evicted from the fragment cache): a fragment after the first carries no ports, so it goes
// by the VIP's service for its protocol and a hash of (client, VIP, protocol), the same for
// every such fragment of a datagram, so that they meet at one server.
import type { RealServer } from '../real-server.js';
import type { ServiceRegistry } from '../service-registry.js';
import type { VirtualService } from '../virtual-service.js';

/** The VIP's service for a portless fragment: the all-ports service, else the first one. */
export function serviceForFragment(registry: ServiceRegistry, protocol: number, vip: number): VirtualService | undefined {
  const any = registry.lookup(protocol, vip, 0);
  if (any !== undefined) return any;
  const list = registry.services;
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (s !== undefined && s.vip === vip && s.protocol === protocol) return s;
  }
  return undefined;
}

/** The available server at position hash (uint32) mod (available count); null when none is. */
export function pickByHash(svc: VirtualService, hash: number): RealServer | null {
  const servers = svc.servers;
  let n = 0;
  for (let i = 0; i < servers.length; i++) if (servers[i].available) n++;
  if (n === 0) return null;
  let k = hash % n;
  for (let i = 0; i < servers.length; i++) {
    if (!servers[i].available) continue;
    if (k === 0) return servers[i];
    k--;
  }
  return null;
}
