// The director's control-socket ops: status, list, connections, set-timeouts. The control-
// plane issue registers more on the same server (service/real-server edits, zero, …).
import type { ControlServer } from '../control/control-server.js';
import type { Director } from './director.js';

export interface DirectorInfo {
  tap: string;
  startedAt: string;
  metrics?: string;
  pid: number;
}

export function registerDirectorOps(server: ControlServer, director: Director, info: DirectorInfo): void {
  server
    .register('status', () => {
      const s = director.snapshot();
      return {
        daemon: 'vstun-director',
        ...info,
        uptimeS: Math.round(process.uptime()),
        framesIn: s.framesIn,
        verdicts: s.verdicts,
        connTable: s.connTable,
        kernelMacKnown: s.kernelMacKnown,
        services: s.services.length,
        timeouts: s.timeouts,
      };
    })
    .register('list', () => ({ services: director.snapshot().services, timeouts: director.timeouts.get() }))
    .register('connections', (req) => ({ connections: director.connections(typeof req.limit === 'number' ? req.limit : 10_000) }))
    .register('set-timeouts', (req) => {
      const pick = (k: string) => {
        const v = req[k];
        if (v === undefined) return undefined;
        if (typeof v !== 'number') throw Object.assign(new Error(`${k} must be a number of seconds`), { code: 'BAD_ARGUMENT' });
        return v;
      };
      try {
        return { timeouts: director.setTimeouts({ tcp: pick('tcp'), tcpfin: pick('tcpfin'), udp: pick('udp') }) };
      } catch (err) {
        if (err instanceof RangeError) throw Object.assign(new Error(err.message), { code: 'BAD_ARGUMENT' });
        throw err;
      }
    });
}
