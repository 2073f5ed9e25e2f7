// The director's control-socket ops. Rule changes travel as ipvsadm words (`args` for one
// command, `text` for -R input) and are parsed here by the same parser vstunadm uses, so
// there is one grammar and one validator. Every change goes through the same path:
// parse all → apply to a copy of the definitions → reconcile (validate all, then apply
// all) — so a request either changes everything it asks for or nothing.
//
// Ops: status, list, connections (the director's shapes), ipvs-list, ipvs-connections
// (ipvsadm's shapes), timeouts, set-timeouts, add-service, edit-service,
// delete-service, add-server, edit-server, delete-server, clear, zero, apply, save,
// restore, explain, counters, reload.
import type { ControlRequest, ControlServer } from './control-server.js';
import type { Director } from '../director/director.js';
import { BATCH_SIZE_BUCKETS } from '../director/director.js';
import { formatIpv4 } from '../director/ipv4-text.js';
import { FORWARD_CODE_NAMES } from '../director/forward-method.js';
import type { RealServer } from '../director/real-server.js';
import { VERDICT_NAMES } from '../director/verdicts.js';
import type { VirtualService } from '../director/virtual-service.js';
import { TUNNEL_GUE } from '../director/tunnel-mtu.js';
import { canonicalAddress, IPVS_VERSION, tunnelFields, type ConnectionSnapshot, type ServiceRules, type ServiceSnapshot } from './admin-model.js';
import { applyConfig, reloadConfig, type ControlState } from './config-reload.js';
import { definedWeight, definitionOf } from './definition-index.js';
import { VstunadmError } from './errors.js';
import { explainFlow } from './flow-explainer.js';
import { parseVstunadmArgs, type AdminCommand, type RuleCommand } from './ipvsadm-args.js';
import { parseRestore, type RestoreLine } from './ipvsadm-dump.js';
import { applyCommandsToDefinitions, definitionsOf, definitionToRules } from './service-definitions.js';
import { reconcile } from './service-reconciler.js';
import { kernelDrops } from '../director/kernel-drops.js';

export interface DirectorInfo {
  tap: string;
  startedAt: string;
  metrics?: string;
  pid: number;
}

export type { ControlState };

const RULE_OPS = ['add-service', 'edit-service', 'delete-service', 'add-server', 'edit-server', 'delete-server', 'clear', 'zero', 'set-timeouts'] as const;

/** The services as ipvsadm sees them, with counters and rates (vstunadm -L). */
export function adminSnapshot(director: Director): ServiceSnapshot[] {
  return director.registry.list().map((svc) => {
    const s = svc.stats.snapshot();
    const spec: ServiceSnapshot = {
      key: { protocol: svc.protocolName, vip: svc.vipText, port: svc.port },
      scheduler: svc.schedulerName,
      flags: [...svc.flags],
      onePacket: svc.onePacket,
      stats: { conns: s.conns, inpkts: s.inPkts, outpkts: s.outPkts, inbytes: s.inBytes, outbytes: s.outBytes },
      rates: { cps: s.cps, inpps: s.inPps, outpps: s.outPps, inbps: s.inBps, outbps: s.outBps },
      servers: svc.servers
        .filter((rs) => !rs.removed)
        .map((rs) => {
          const r = rs.stats.snapshot();
          const forward = FORWARD_CODE_NAMES[rs.forward];
          return {
            address: rs.addressText,
            port: forward === 'masq' ? rs.natPort : svc.port,
            weight: configuredWeight(director, svc, rs),
            forward,
            ...tunnelFields(rs.addressText, rs.tunnel === TUNNEL_GUE ? 'gue' : 'ipip', rs.guePort),
            effectiveWeight: rs.available ? rs.weight : 0,
            upperThreshold: rs.upperThreshold,
            lowerThreshold: rs.lowerThreshold,
            activeConns: rs.activeConns,
            inactConns: rs.inactConns,
            persistConns: rs.persistConns,
            stats: { conns: r.conns, inpkts: r.inPkts, outpkts: r.outPkts, inbytes: r.inBytes, outbytes: r.outBytes },
            rates: { cps: r.cps, inpps: r.inPps, outpps: r.outPps, inbps: r.inBps, outbps: r.outBps },
          };
        }),
    };
    if (svc.persistenceMs > 0) {
      spec.persistence = svc.persistenceMs / 1000;
      if (svc.netmask !== 0xffffffff) spec.netmask = formatIpv4(svc.netmask);
    }
    return spec;
  });
}

/**
 * The operator's weight, from the definitions: with health checks rs.weight is the effective
 * weight (slow start, agent feedback, 0 while down). Servers not defined (a sorry server
 * standing in) show their registry weight.
 */
function configuredWeight(director: Director, svc: VirtualService, rs: RealServer): number {
  const def = definitionOf(definitionsOf(director), svc.protocolName, svc.vipText, svc.port);
  return (def && definedWeight(def, rs.addressText)) ?? rs.weight;
}

/** The connection table as -L -c lists it. */
export async function adminConnections(director: Director, limit: number): Promise<ConnectionSnapshot[]> {
  return (await director.listConnections(limit)).map((c) => ({
    protocol: c.protocol === 'TCP' ? 'tcp' : 'udp',
    expires: c.expiresIn,
    state: c.state,
    client: { address: c.client, port: c.clientPort },
    virtual: { address: c.virtual, port: c.virtualPort },
    server: { address: c.realServer, port: c.virtualPort },
  }));
}

/** The rules (-S): the definitions as ipvsadm rules, configured weights. */
export function adminRules(director: Director): ServiceRules[] {
  return definitionsOf(director).map(definitionToRules);
}

/** Drop reasons and other per-frame verdicts, plus table and batch figures (vstunadm counters). */
export function directorCounters(director: Director) {
  const verdicts: Record<string, number> = {};
  VERDICT_NAMES.forEach((name, i) => (verdicts[name] = director.datapath.verdicts[i] ?? 0));
  const buckets: Record<string, number> = {};
  BATCH_SIZE_BUCKETS.forEach((b, i) => (buckets[`le${b}`] = director.batchSizeCounts[i]));
  buckets.larger = director.batchSizeCounts[BATCH_SIZE_BUCKETS.length];
  return {
    framesIn: director.datapath.framesIn,
    verdicts,
    connTable: director.tableStats(),
    batches: { count: director.batchCount, packets: director.batchPacketSum, sizes: buckets },
    /** Dropped by the kernel before the director read them (TAP queue full, nftables guard); not in framesIn. */
    kernelDrops: kernelDrops(director),
  };
}

function argsOf(req: ControlRequest): string[] {
  const a = req.args;
  if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) {
    throw new VstunadmError('ERR_USAGE', `op ${req.op} needs "args": the ipvsadm words of the command, e.g. ["-A","-t","10.0.0.1:80","-s","rr"]`);
  }
  return a as string[];
}

/** Parses args and checks the command is the one the op names. */
function commandOf(req: ControlRequest, kinds: readonly string[]): AdminCommand {
  const cmd = parseVstunadmArgs(argsOf(req));
  if (!kinds.includes(cmd.kind)) throw new VstunadmError('ERR_USAGE', `op ${req.op} got a ${cmd.kind} command; send it as op ${cmd.kind}`);
  return cmd;
}

/**
 * Applies rule commands as one change, after any change in flight (director.exclusive):
 * rules first (validated whole, host routes included), then -Z and --set in order. Returns
 * what changed; throws VstunadmError with nothing changed.
 */
export function applyRuleCommandsToDirector(director: Director, state: ControlState, commands: ReadonlyArray<RuleCommand | RestoreLine>) {
  return director.exclusive(() => applyRuleCommandsNow(director, state, commands));
}

async function applyRuleCommandsNow(director: Director, state: ControlState, commands: ReadonlyArray<RuleCommand | RestoreLine>) {
  const desired = applyCommandsToDefinitions(definitionsOf(director), commands, state.config.director);
  // Check -Z targets and timeouts before anything is applied.
  const after = new Set(desired.map((d) => `${d.protocol}:${canonicalAddress(d.vip)}:${d.port}`));
  for (const e of commands) {
    const c = 'command' in e ? e.command : e;
    if (c.kind === 'zero' && c.service && !after.has(`${c.service.protocol}:${c.service.vip}:${c.service.port}`)) {
      throw new VstunadmError('ERR_NO_SUCH_SERVICE', `-Z: service ${c.service.protocol}:${c.service.vip}:${c.service.port} does not exist`);
    }
  }
  const summary = await reconcile(director, desired, state.config.director.expireNodestConn);
  for (const e of commands) {
    const c = 'command' in e ? e.command : e;
    if (c.kind === 'zero') director.zeroCounters(c.service);
    else if (c.kind === 'set-timeouts') director.setTimeouts(c.timeouts);
  }
  return { summary, timeouts: director.timeouts.get() };
}

/** Registers every op on `server`. */
export function registerDirectorOps(server: ControlServer, director: Director, info: DirectorInfo, state: ControlState): void {
  server
    .register('status', () => {
      const s = director.snapshot();
      return {
        daemon: 'vstun-director',
        ...info,
        uptimeS: Math.round(process.uptime()),
        config: state.configPath ?? null,
        framesIn: s.framesIn,
        verdicts: s.verdicts,
        connTable: s.connTable,
        kernelMacKnown: s.kernelMacKnown,
        services: s.services.length,
        timeouts: s.timeouts,
      };
    })
    // The director's own shapes (scripts, the lab) ...
    .register('list', () => ({ services: director.snapshot().services, timeouts: director.timeouts.get() }))
    .register('connections', async (req) => ({ connections: await director.listConnections(typeof req.limit === 'number' ? req.limit : 10_000) }))
    // ... and ipvsadm's (vstunadm -L, -L -c).
    .register('ipvs-list', () => ({ version: IPVS_VERSION, connTableSize: director.tableStats().capacity, services: adminSnapshot(director), timeouts: director.timeouts.get() }))
    .register('ipvs-connections', async (req) => ({ connections: await adminConnections(director, typeof req.limit === 'number' ? req.limit : 100_000) }))
    .register('timeouts', () => ({ timeouts: director.timeouts.get() }))
    .register('save', () => ({ services: adminRules(director) }))
    .register('counters', () => directorCounters(director))
    .register('explain', async (req) => {
      const cmd = commandOf(req, ['explain']) as Extract<AdminCommand, { kind: 'explain' }>;
      // With queue workers the entries are in their tables.
      return { explanation: director.queues !== null ? await director.queues.explain(cmd.service, cmd.client) : explainFlow(director, cmd.service, cmd.client) };
    })
    .register('restore', (req) => {
      if (typeof req.text !== 'string') throw new VstunadmError('ERR_USAGE', 'op restore needs "text": the -R input, one ipvsadm command per line');
      return applyRuleCommandsToDirector(director, state, parseRestore(req.text));
    })
    .register('apply', (req) => {
      const lines = req.commands;
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) throw new VstunadmError('ERR_USAGE', 'op apply needs "commands": a list of ipvsadm rule lines');
      return applyRuleCommandsToDirector(director, state, parseRestore((lines as string[]).join('\n')));
    })
    .register('reload', async () => ({ reload: await reloadConfig(director, state) }));
  for (const op of RULE_OPS) {
    server.register(op, (req) => {
      if (op === 'set-timeouts' && req.args === undefined) {
        // Structured form: {"tcp":900,"tcpfin":120,"udp":300}; 0 or absent leaves one unchanged.
        const pick = (k: string): number => {
          const v = req[k] ?? 0;
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 86_400 * 31) throw new VstunadmError('ERR_BAD_TIMEOUT', `${k} must be whole seconds 0..${86_400 * 31}`);
          return v;
        };
        return applyRuleCommandsToDirector(director, state, [{ kind: 'set-timeouts', timeouts: { tcp: pick('tcp'), tcpfin: pick('tcpfin'), udp: pick('udp') } }]);
      }
      if ((op === 'zero' || op === 'clear') && req.args === undefined) return applyRuleCommandsToDirector(director, state, [{ kind: op }]);
      return applyRuleCommandsToDirector(director, state, [commandOf(req, [op]) as RuleCommand]);
    });
  }
}

export { applyConfig };
