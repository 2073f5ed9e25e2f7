// Lookups into the director's definitions (the config-shaped service table) by service key and
// by real server, for listings and the BGP announcer that walk every service: a linear search
// per service made `vstunadm -L` and each announcement evaluation quadratic in the number of
// services (10 000 services: 10^8 address comparisons, twice per server for -L). The index is
// built once per definitions array (the reconciler assigns a new array on every change) and
// kept beside it in a WeakMap; an array changed in place is noticed by its length and
// re-indexed.
import type { ServiceConfig } from './config-schema.js';
import { canonicalAddress } from './admin-model.js';

interface Index {
  length: number;
  byKey: Map<string, ServiceConfig>;
}

const indexes = new WeakMap<readonly ServiceConfig[], Index>();
const weights = new WeakMap<ServiceConfig, Map<string, number | undefined>>();

function key(protocol: string, canonicalVip: string, port: number): string {
  return `${protocol} ${canonicalVip} ${port}`;
}

/**
 * The definition of service protocol/vip/port (`vip` canonical, as the registry prints it), or
 * undefined. The first one wins when two spell the same service differently.
 */
export function definitionOf(defs: readonly ServiceConfig[], protocol: string, vip: string, port: number): ServiceConfig | undefined {
  let ix = indexes.get(defs);
  if (ix === undefined || ix.length !== defs.length) {
    ix = { length: defs.length, byKey: new Map() };
    for (const d of defs) {
      const k = key(d.protocol, canonicalAddress(d.vip), d.port);
      if (!ix.byKey.has(k)) ix.byKey.set(k, d);
    }
    indexes.set(defs, ix);
  }
  return ix.byKey.get(key(protocol, vip, port));
}

/**
 * The weight a definition gives real server `address` (canonical): undefined when the server
 * is not in it or has no weight of its own.
 */
export function definedWeight(def: ServiceConfig, address: string): number | undefined {
  let m = weights.get(def);
  if (m === undefined || m.size > def.realServers.length) m = undefined;
  if (m === undefined) {
    m = new Map();
    for (const r of def.realServers) {
      const a = canonicalAddress(r.address);
      if (!m.has(a)) m.set(a, r.weight);
    }
    weights.set(def, m);
  }
  return m.get(address);
}
