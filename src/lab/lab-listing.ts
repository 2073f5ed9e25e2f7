// `vstunadm -L -n --stats` for the demo and the tests: the real vstunadm binary when this
// build's can list, otherwise the same ipvsadm rendering (src/control/ipvsadm-format.ts)
// of the director's `list` reply, so that the demo always shows the director's table.
import path from 'node:path';
import type { RealServerSnapshot, ServiceSnapshot, TrafficCounters, TrafficRates } from '../control/admin-model.js';
import type { ListFormat } from '../control/ipvsadm-args.js';
import { formatServiceList } from '../control/ipvsadm-format.js';
import { REPO_ROOT, type DirectorHandle } from './lab-daemons.js';
import type { Lab } from './vs-lab.js';

export const STATS_FORMAT: ListFormat = { numeric: true, stats: true, rate: false, thresholds: false, persistentConn: false, exact: false, sort: true, tunInfo: false, json: false };

type Raw = Record<string, any>;

function counters(s: Raw | undefined): TrafficCounters {
  return { conns: s?.conns ?? 0, inpkts: s?.inpkts ?? s?.inPkts ?? 0, outpkts: s?.outpkts ?? s?.outPkts ?? 0, inbytes: s?.inbytes ?? s?.inBytes ?? 0, outbytes: s?.outbytes ?? s?.outBytes ?? 0 };
}

function rates(s: Raw | undefined): TrafficRates {
  return { cps: s?.cps ?? 0, inpps: s?.inpps ?? s?.inPps ?? 0, outpps: s?.outpps ?? s?.outPps ?? 0, inbps: s?.inbps ?? s?.inBps ?? 0, outbps: s?.outbps ?? s?.outBps ?? 0 };
}

/**
 * A `list` reply's service as the admin model's ServiceSnapshot. Accepts the admin model's
 * shape as is, and the director's earlier flat shape (protocol/vip/port, realServers).
 */
export function toServiceSnapshot(s: Raw): ServiceSnapshot {
  if (s.key && Array.isArray(s.servers)) return s as ServiceSnapshot;
  const servers: RealServerSnapshot[] = (s.realServers ?? []).map((r: Raw) => ({
    address: r.address,
    port: r.port || s.port, // VS/TUN keeps the port: an unset one prints as the service port, as ipvsadm does
    weight: r.weight ?? 1,
    forward: 'tunnel',
    effectiveWeight: r.effectiveWeight ?? r.weight ?? 1,
    activeConns: r.activeConns ?? 0,
    inactConns: r.inactConns ?? 0,
    persistConns: r.persistConns ?? 0,
    stats: counters(r.stats),
    rates: rates(r.rates ?? r.stats),
  }));
  return {
    key: { protocol: s.protocol, vip: s.vip, port: s.port },
    scheduler: s.scheduler,
    flags: s.flags ?? [],
    ...(s.persistence ? { persistence: s.persistence, netmask: s.netmask } : {}),
    onePacket: s.onePacket ?? false,
    stats: counters(s.stats),
    rates: rates(s.rates ?? s.stats),
    servers,
  };
}

/** The director's table as `vstunadm -L -n --stats` prints it, with a note when rendered here instead. */
export async function directorListing(lab: Lab, director: DirectorHandle): Promise<string> {
  const vstunadm = path.join(REPO_ROOT, 'dist/cli/vstunadm.js');
  const r = lab.topo.tryExec(lab.director, process.execPath, [vstunadm, '--control', director.controlPath, '-L', '-n', '--stats'], 10_000);
  if (r.status === 0 && r.stdout.includes('IP Virtual Server')) return r.stdout;
  const [status, list] = await Promise.all([director.control('status'), director.control('list')]);
  const services = (list.services as Raw[]).map(toServiceSnapshot);
  const text = formatServiceList({ connTableSize: status.connTable?.capacity ?? 0, services }, STATS_FORMAT);
  const why = (r.stderr || r.stdout).trim().split('\n')[0];
  return `${text}(rendered from the control socket's list: this build's vstunadm could not list${why ? `: ${why}` : ''})\n`;
}
