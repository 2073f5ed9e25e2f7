// keepalived.conf's LVS part → vstun's director config. Each keyword is either carried
// (mapped to a vstun field), or named in a note with its file:line saying why it is not:
// nothing is dropped silently. The result is plain data in the shape of director.yaml;
// the caller validates it with the director's own loader before writing it.
//
// keepalived's defaults are made explicit where vstun's differ: delay_loop 60 s,
// connect_timeout 5 s, servers start UP unless `alpha`, one success brings a server up,
// `retry` failures are retried before it goes down (so fall = retry + 1), retry defaults
// 1 (DNS_CHECK 3, MISC_CHECK 0), delay_before_retry 3 s for HTTP_GET/SSL_GET, delay_loop for
// DNS_CHECK, 1 s otherwise.
import { canonicalAddress } from '../control/admin-model.js';
import { formatConfigPath, ServiceConfig } from '../control/config-schema.js';
import { SCHEDULER_NAMES } from '../director/schedulers/scheduler.js';
import { splitCommandLine } from '../health/command-line.js';
import { DNS_QUERY_TYPES } from '../health/health-config.js';
import type { ParsedConf, Source, Statement } from './conf-parser.js';

export type NoteKind = 'refused' | 'not-carried' | 'approximated' | 'ignored' | 'syntax';

export interface ImportNote extends Source {
  kind: NoteKind;
  message: string;
}

type Json = Record<string, unknown>;

export interface ImportResult {
  /** director.yaml as data: `services`, and `director.timeouts` from global_defs lvs_timeouts. */
  config: { director?: Json; services: Json[] };
  notes: ImportNote[];
}

/** Addresses expanded from one virtual_server_group range at most (a /16 would make 65536 services). */
const MAX_GROUP_RANGE = 256;
const KEEPALIVED_DELAY_LOOP = 60;
const KEEPALIVED_CONNECT_TIMEOUT = 5;
const KEEPALIVED_PERSISTENCE = 360;

/** Checker settings that a virtual_server gives its real servers and a real server its checkers. */
interface CheckDefaults {
  delayLoop?: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  alpha?: boolean;
  virtualHost?: string;
}

/** How the service's packets reach a server. */
interface Forwarding {
  tunnel: 'ipip' | 'gue';
  guePort?: number;
}

const SERVICE_NOT_CARRIED: Record<string, string> = {
  ha_suspend: 'vstun checks servers whether or not the VIP is up',
  smtp_alert: 'vstun sends no e-mail; use notify scripts or the metrics',
  snmp_name: 'vstun has no SNMP agent; see /metrics',
  ip_family: 'only used for fwmark services, which vstun does not have',
  persistence_engine: 'persistence engines (sip) are not implemented',
  omega: 'vstun runs no notify or quorum scripts at shutdown',
  'flag-1': 'only the named flags sh-port, sh-fallback, mh-port, mh-fallback are implemented',
  'flag-2': 'only the named flags sh-port, sh-fallback, mh-port, mh-fallback are implemented',
  'flag-3': 'only the named flags sh-port, sh-fallback, mh-port, mh-fallback are implemented',
  sorry_server_inhibit: 'the sorry server is always removed, draining, when quorum returns',
  sorry_server_lvs_method: 'the sorry server is tunnelled like the real servers',
  warmup: 'vstun always starts each server`s first check at a random point within one interval',
  lb_flags: 'old keepalived flag word; give the flags as keywords (sh-port, mh-fallback, …)',
  lvs_flags: 'old keepalived flag word; give the flags as keywords (sh-port, mh-fallback, …)',
  net_mask: 'not a keepalived 2 keyword (persistence_granularity is)',
  nat_mask: 'not a keepalived 2 keyword (persistence_granularity is)',
};

const SERVER_NOT_CARRIED: Record<string, string> = {
  smtp_alert: 'vstun sends no e-mail; use notify scripts or the metrics',
  snmp_name: 'vstun has no SNMP agent; see /metrics',
  warmup: SERVICE_NOT_CARRIED.warmup,
};

const CHECKER_NOT_CARRIED: Record<string, string> = {
  bind_port: 'checks use an ephemeral source port',
  bind_if: 'checks pick the interface by route',
  fwmark: 'check packets are not marked',
  log_all_failures: 'every check result is in the health op and the logs',
  warmup: SERVICE_NOT_CARRIED.warmup,
  http_protocol: 'HTTP checks speak HTTP/1.1 with Connection: close',
  fast_recovery: 'all URLs of a server are checked together in every round',
  enable_sni: 'HTTPS checks send the virtualhost (else none) as SNI',
  tls_compliant: 'HTTPS checks close TLS the way Node does',
  misc_dynamic: 'the weight does not follow the script`s exit code; exit 0 = up, other = down',
  user: 'scripts run as the director`s user',
  min_reply_length: 'any reply passes a udp check',
  max_reply_length: 'any reply passes a udp check',
};

const URL_NOT_CARRIED: Record<string, string> = {
  digest: 'vstun does not compare a body digest; use status_code or regex',
  regex_no_match: 'a regex must match; an inverted match is not implemented',
  regex_options: 'the regex is a JavaScript regular expression without PCRE options',
  regex_stack: 'not needed by JavaScript regular expressions',
  regex_min_offset: 'the whole body is searched',
  regex_max_offset: 'the whole body is searched',
  tls_compliant: CHECKER_NOT_CARRIED.tls_compliant,
};

const TOP_LEVEL_IGNORED: Record<string, string> = {
  vrrp_instance: 'VRRP is not part of vstun: announce the VIPs with BGP (BIRD) from each director',
  vrrp_sync_group: 'VRRP is not part of vstun',
  vrrp_script: 'VRRP is not part of vstun',
  vrrp_track_process: 'VRRP is not part of vstun',
  vrrp_track_file: 'VRRP is not part of vstun',
  track_file: 'track files are not read by vstun',
  garp_group: 'VRRP is not part of vstun',
  static_ipaddress: 'vstun sets up only its TAP, VIP routes and sysctls',
  static_routes: 'vstun sets up only its TAP, VIP routes and sysctls',
  static_rules: 'vstun sets up only its TAP, VIP routes and sysctls',
  static_track_group: 'VRRP is not part of vstun',
  linkbeat_use_polling: 'not used by vstun',
  bfd_instance: 'BFD is not implemented',
  SSL: 'HTTPS checks use no client certificate',
};

export class KeepalivedImporter {
  readonly notes: ImportNote[] = [];
  private readonly groups = new Map<string, Statement>();
  private readonly services: Json[] = [];
  private readonly serviceKeys = new Set<string>();
  private director: Json | undefined;

  constructor(private readonly conf: ParsedConf) {
    for (const n of conf.notes) this.note(n, 'syntax', n.message);
  }

  run(): ImportResult {
    const top = this.conf.statements;
    for (const st of top) if (st.keyword === 'virtual_server_group') this.groups.set(st.args[0] ?? '', st);
    for (const st of top) this.topLevel(st);
    const config: ImportResult['config'] = { services: this.services };
    if (this.director) config.director = this.director;
    return { config, notes: this.notes };
  }

  private note(at: Source, kind: NoteKind, message: string): void {
    this.notes.push({ file: at.file, line: at.line, kind, message });
  }

  private notCarried(st: Statement, why: string): void {
    this.note(st, 'not-carried', `${st.keyword}${st.args.length ? ` ${st.args.join(' ')}` : ''}: not carried (${why})`);
  }

  private topLevel(st: Statement): void {
    if (st.keyword.startsWith('@') || st.keyword.startsWith('$')) {
      this.note(st, 'not-carried', `${st.keyword}: conditional lines (@id) and parameters ($NAME=) are not expanded; this line is not read`);
      return;
    }
    switch (st.keyword) {
      case 'virtual_server':
        this.virtualServer(st);
        return;
      case 'virtual_server_group':
        if (st.args.length === 0) this.note(st, 'syntax', 'virtual_server_group without a name');
        return; // expanded where a virtual_server uses it; an unused group is harmless
      case 'global_defs':
        this.globalDefs(st);
        return;
    }
    const why = TOP_LEVEL_IGNORED[st.keyword];
    this.note(st, 'ignored', `${st.keyword}${st.args[0] ? ` ${st.args[0]}` : ''}: ignored (${why ?? 'not part of keepalived`s LVS configuration'})`);
  }

  private globalDefs(st: Statement): void {
    const ignored: string[] = [];
    for (const g of st.block ?? []) {
      if (g.keyword === 'lvs_timeouts') this.lvsTimeouts(g);
      else if (g.keyword.startsWith('lvs_sync_daemon')) this.notCarried(g, 'vstun does not synchronise connections between directors; use mh so every director picks the same server');
      else if (g.keyword === 'lvs_flush' || g.keyword === 'lvs_flush_onstop') this.notCarried(g, 'vstun owns its whole table: it starts empty and is removed on exit');
      else ignored.push(g.keyword);
    }
    if (ignored.length) this.note(st, 'ignored', `global_defs: ${ignored.join(', ')}: ignored (not LVS settings)`);
  }

  private lvsTimeouts(st: Statement): void {
    const t: Json = {};
    for (let i = 0; i + 1 < st.args.length; i += 2) {
      const name = st.args[i];
      const v = this.integer(st, st.args[i + 1], 0, 31_536_000, `lvs_timeouts ${name}`);
      if (v === undefined) continue;
      if (name === 'tcp' || name === 'tcpfin' || name === 'udp') t[name] = v;
      else this.note(st, 'not-carried', `lvs_timeouts ${name}: not carried (vstun has tcp, tcpfin and udp timeouts)`);
    }
    if (st.args.length % 2 === 1) this.note(st, 'syntax', `lvs_timeouts: "${st.args.at(-1)}" has no value`);
    if (Object.keys(t).length) this.director = { timeouts: t };
  }

  // ---- virtual servers -------------------------------------------------------------------

  /** The VIP:port pairs a virtual_server line stands for; empty when refused. */
  private virtualAddresses(st: Statement): Array<{ vip: string; port: number | undefined; at: Source }> {
    const [a, b] = st.args;
    if (a === 'fwmark') {
      this.note(st, 'refused', `virtual_server fwmark ${b ?? ''}: refused: vstun has no firewall-mark services; define one virtual_server per VIP and port`);
      return [];
    }
    if (a === 'group') {
      const group = this.groups.get(b ?? '');
      if (!group) {
        this.note(st, 'refused', `virtual_server group ${b ?? ''}: refused: no virtual_server_group ${b ?? ''} is defined`);
        return [];
      }
      const out: Array<{ vip: string; port: number | undefined; at: Source }> = [];
      for (const e of group.block ?? []) {
        if (e.keyword === 'fwmark') {
          this.note(e, 'refused', `virtual_server_group ${b} entry fwmark ${e.args[0] ?? ''}: refused: vstun has no firewall-mark services`);
          continue;
        }
        const port = e.args[0] === undefined ? undefined : this.integer(e, e.args[0], 0, 65535, 'port');
        if (e.args[0] !== undefined && port === undefined) continue;
        for (const vip of this.expandRange(e, e.keyword)) out.push({ vip, port, at: e });
      }
      return out;
    }
    const vip = this.address(st, a);
    if (vip === undefined) return [];
    const port = b === undefined ? undefined : this.integer(st, b, 0, 65535, 'port');
    if (b !== undefined && port === undefined) return [];
    return [{ vip, port, at: st }];
  }

  /** A group entry: one address, a.b.c.d-e, a-b (full addresses) or a CIDR prefix. */
  private expandRange(at: Statement, text: string): string[] {
    const v6 = text.includes(':');
    const bits = v6 ? 128n : 32n;
    const toBig = (s: string): bigint | undefined => {
      try {
        const c = canonicalAddress(s);
        if (c.includes(':') !== v6) return undefined;
        if (!v6) return c.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
        const [head, tail = ''] = c.split('::');
        const h = head ? head.split(':') : [];
        const t = tail ? tail.split(':') : [];
        const words = c.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
        return words.reduce((acc, w) => (acc << 16n) | BigInt(parseInt(w, 16)), 0n);
      } catch {
        return undefined;
      }
    };
    const fromBig = (n: bigint): string => {
      if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
      const words: string[] = [];
      for (let s = 112n; s >= 0n; s -= 16n) words.push(((n >> s) & 0xffffn).toString(16));
      return canonicalAddress(words.join(':'));
    };
    let first: bigint | undefined;
    let last: bigint | undefined;
    const cidr = /^(.+)\/(\d+)$/.exec(text);
    const dash = text.lastIndexOf('-');
    if (cidr) {
      first = toBig(cidr[1]);
      const len = BigInt(cidr[2]);
      if (first !== undefined && len <= bits) {
        const host = (1n << (bits - len)) - 1n;
        first &= ~host;
        last = first | host;
      }
    } else if (dash > 0) {
      const lo = text.slice(0, dash);
      const hi = text.slice(dash + 1);
      first = toBig(lo);
      if (/^[0-9a-fA-F]{1,4}$/.test(hi) && first !== undefined) {
        // a.b.c.d-e / x::y-z: the end replaces the last octet (group).
        const shift = v6 ? 16n : 8n;
        const mask = (1n << shift) - 1n;
        last = (first & ~mask) | BigInt(v6 ? parseInt(hi, 16) : Number(hi));
        if (!v6 && Number(hi) > 255) last = undefined;
      } else last = toBig(hi);
    } else {
      const one = this.address(at, text);
      return one === undefined ? [] : [one];
    }
    if (first === undefined || last === undefined || last < first) {
      this.note(at, 'refused', `virtual_server_group entry ${text}: refused: not an address, a.b.c.d-e range or prefix`);
      return [];
    }
    if (last - first + 1n > BigInt(MAX_GROUP_RANGE)) {
      this.note(at, 'refused', `virtual_server_group entry ${text}: refused: ${last - first + 1n} addresses; at most ${MAX_GROUP_RANGE} per entry are expanded into services`);
      return [];
    }
    const out: string[] = [];
    for (let n = first; n <= last; n++) out.push(fromBig(n));
    return out;
  }

  private virtualServer(st: Statement): void {
    const addresses = this.virtualAddresses(st);
    if (addresses.length === 0) return;
    const body = st.block ?? [];
    const svc: Json = {};
    const hc: Json = {};
    const defaults: CheckDefaults = {};
    const flags: string[] = [];
    let forwarding: Forwarding = { tunnel: 'ipip' };
    let methodSeen = false;
    let protocol: 'tcp' | 'udp' = 'tcp';
    let persistence: number | undefined;
    let granularity: { text: string; at: Statement } | undefined;
    let sorry: { address: string; port?: number; at: Statement } | undefined;
    let onePacketAt: Statement | undefined;
    const realServers: Statement[] = [];
    for (const o of body) {
      const [a0] = o.args;
      switch (o.keyword) {
        case 'real_server':
          realServers.push(o);
          break;
        case 'lb_algo':
        case 'lvs_sched':
          if ((SCHEDULER_NAMES as readonly string[]).includes(a0 ?? '')) svc.scheduler = a0;
          else this.note(o, 'not-carried', `${o.keyword} ${a0 ?? ''}: not carried ("${a0 ?? ''}" is not a scheduler: ${SCHEDULER_NAMES.join(' ')}); the service uses wlc`);
          break;
        case 'lb_kind':
        case 'lvs_method':
          methodSeen = true;
          forwarding = this.forwarding(o) ?? forwarding;
          break;
        case 'protocol':
          if (a0 === 'TCP' || a0 === 'UDP') protocol = a0 === 'TCP' ? 'tcp' : 'udp';
          else {
            this.note(o, 'refused', `virtual_server ${st.args.join(' ')}: refused: protocol ${a0 ?? ''} is not carried (vstun balances TCP and UDP)`);
            return;
          }
          break;
        case 'persistence_timeout':
          persistence = a0 === undefined ? KEEPALIVED_PERSISTENCE : this.integer(o, a0, 0, 31_536_000, 'persistence_timeout');
          break;
        case 'persistence_granularity':
          granularity = { text: a0 ?? '', at: o };
          break;
        case 'sorry_server': {
          const address = this.address(o, a0);
          if (address === undefined) break;
          const port = o.args[1] === undefined ? undefined : this.integer(o, o.args[1], 0, 65535, 'sorry_server port');
          sorry = { address, ...(port === undefined ? {} : { port }), at: o };
          break;
        }
        case 'quorum':
          if ((hc.quorum = this.integer(o, a0, 1, 2 ** 31 - 1, 'quorum')) === undefined) delete hc.quorum;
          break;
        case 'hysteresis':
          if ((hc.hysteresis = this.integer(o, a0, 0, 2 ** 31 - 1, 'hysteresis')) === undefined) delete hc.hysteresis;
          break;
        case 'quorum_up':
        case 'quorum_down':
          this.script(o, hc, o.keyword === 'quorum_up' ? 'quorumUp' : 'quorumDown');
          break;
        case 'inhibit_on_failure':
          hc.inhibitOnFailure = this.bool(o);
          break;
        case 'ops':
          onePacketAt = o;
          break;
        case 'sh-port':
        case 'sh-fallback':
        case 'mh-port':
        case 'mh-fallback':
          flags.push(o.keyword);
          break;
        default:
          if (!this.checkDefault(o, defaults)) {
            const why = SERVICE_NOT_CARRIED[o.keyword];
            if (why) this.notCarried(o, why);
            else this.note(o, 'not-carried', `${o.keyword}: not carried (not a virtual_server keyword vstun knows)`);
          }
      }
    }
    if (!methodSeen) this.note(st, 'approximated', `virtual_server ${st.args.join(' ')}: keepalived's default forwarding method NAT is not carried yet; vstun tunnels (TUN, IPIP) to each real server, which must decapsulate (vstun-agent)`);
    const sched = (svc.scheduler as string | undefined) ?? 'wlc';
    const okFlags = flags.filter((f) => {
      if (f.startsWith(`${sched}-`)) return true;
      this.note(body.find((o) => o.keyword === f)!, 'not-carried', `${f}: not carried (a flag of the ${f.slice(0, 2)} scheduler; this service uses ${sched})`);
      return false;
    });
    if (onePacketAt && protocol !== 'udp') this.note(onePacketAt, 'not-carried', 'ops: not carried (one-packet scheduling is for UDP services)');
    const ports = [...new Set(addresses.map((x) => x.port ?? 0))];
    const seen = new Set<string>();
    const servers: Array<{ out: Json; checks: Json[] }> = [];
    for (const r of realServers) {
      const x = this.realServer(r, defaults, forwarding, ports);
      if (x === undefined) continue;
      const address = x.out.address as string;
      if (seen.has(address)) {
        this.note(r, 'refused', `real_server ${address}: refused: already in this virtual_server (VS/TUN keeps the port, so one address is one server)`);
        continue;
      }
      seen.add(address);
      servers.push(x);
    }
    if (sorry) {
      const port = addresses[0].port;
      if (sorry.port !== undefined && port !== undefined && sorry.port !== port) {
        this.note(sorry.at, 'approximated', `sorry_server port ${sorry.port}: VS/TUN keeps the destination port, so the sorry server gets the service port`);
      }
      hc.sorryServer = { address: sorry.address };
    }
    this.finishHealth(hc, defaults, servers);
    for (const { vip, port, at } of addresses) {
      const out: Json = { protocol, vip, port: port ?? 0 };
      if (svc.scheduler) out.scheduler = svc.scheduler;
      if (okFlags.length) out.flags = okFlags;
      if (persistence !== undefined && persistence > 0) out.persistence = persistence;
      if (granularity) {
        if (persistence === undefined || persistence === 0) this.note(granularity.at, 'not-carried', `persistence_granularity ${granularity.text}: not carried (only used with persistence_timeout)`);
        else if (!isGranularity(granularity.text, vip.includes(':'))) this.note(granularity.at, 'not-carried', `persistence_granularity ${granularity.text}: not carried (a netmask like 255.255.255.0 or a prefix length${vip.includes(':') ? ' 1..128' : ' 0..32'})`);
        else out.netmask = granularity.text;
      }
      if (port === undefined && !(persistence! > 0)) {
        this.note(at, 'refused', `virtual_server ${vip} without a port: refused: an all-ports service needs persistence_timeout`);
        continue;
      }
      if (onePacketAt && protocol === 'udp') out.onePacket = true;
      if (Object.keys(hc).length) out.healthCheck = hc;
      out.realServers = servers.map((s) => s.out);
      if (!this.acceptable(out, granularity?.at ?? at)) continue;
      const key = `${protocol}:${vip}:${port ?? 0}`;
      if (this.serviceKeys.has(key)) {
        this.note(at, 'refused', `virtual_server ${protocol.toUpperCase()} ${vip} ${port ?? 0}: refused: the same service is already defined above`);
        continue;
      }
      this.serviceKeys.add(key);
      this.services.push(structuredClone(out));
    }
  }

  /**
   * The director's own schema has the last word on one service: a granularity it refuses is
   * dropped (named); anything else it refuses drops the service, naming the problems.
   */
  private acceptable(out: Json, at: Source): boolean {
    let r = ServiceConfig.safeParse(out);
    if (!r.success && r.error.issues.some((i) => i.path[0] === 'netmask')) {
      const why = r.error.issues.find((i) => i.path[0] === 'netmask')!.message;
      this.note(at, 'not-carried', `persistence_granularity ${String(out.netmask)}: not carried (${why})`);
      delete out.netmask;
      r = ServiceConfig.safeParse(out);
    }
    if (r.success) return true;
    const problems = r.error.issues.map((i) => `${formatConfigPath(i.path)}: ${i.message}`).join('; ');
    this.note(at, 'refused', `virtual_server ${String(out.protocol).toUpperCase()} ${String(out.vip)} ${String(out.port)}: refused: the director would not accept it (${problems})`);
    return false;
  }

  /** Sets service-level check fields and hoists identical per-server checks into the service. */
  private finishHealth(hc: Json, defaults: CheckDefaults, servers: Array<{ out: Json; checks: Json[] }>): void {
    const anyChecked = servers.some((s) => s.checks.length > 0);
    if (!anyChecked) {
      // No checkers: keepalived keeps the servers up; the service still needs the health
      // machinery for its quorum, scripts or sorry server.
      if (Object.keys(hc).length === 0) return;
      hc.kind = 'none';
    }
    hc.interval = defaults.delayLoop ?? KEEPALIVED_DELAY_LOOP;
    hc.rise = 1;
    if (defaults.alpha !== true) hc.startUp = true;
    const shapes = new Set(servers.map((s) => JSON.stringify(s.checks)));
    if (shapes.size === 1 && servers.length > 0 && anyChecked) {
      // Every server has the same checks: say them once, on the service.
      const checks = servers[0].checks;
      if (checks.length === 1) Object.assign(hc, checks[0]);
      else {
        hc.checks = checks;
        liftCommon(hc, checks);
      }
      for (const s of servers) stripChecks(s.out);
    } else if (anyChecked) {
      for (const s of servers) {
        const sh = (s.out.healthCheck ??= {}) as Json;
        if (s.checks.length === 0) sh.kind = 'none';
        if (Array.isArray(sh.checks)) liftCommon(sh, sh.checks as Json[]);
        dropInherited(sh, hc);
      }
    }
  }

  /** lb_kind / lvs_method: TUN [type ipip|gue port N|gre [csum…]]; NAT and DR are named. */
  private forwarding(o: Statement): Forwarding | undefined {
    const [method, ...rest] = o.args;
    if (method === 'NAT' || method === 'DR') {
      this.note(o, 'approximated', `${o.keyword} ${method}: forwarding method ${method} is not carried yet; vstun tunnels (TUN, IPIP) to each real server, which must decapsulate (vstun-agent)`);
      return { tunnel: 'ipip' };
    }
    if (method !== 'TUN') {
      this.note(o, 'approximated', `${o.keyword} ${method ?? ''}: not a forwarding method (NAT, DR, TUN); vstun tunnels with IPIP`);
      return { tunnel: 'ipip' };
    }
    if (rest.length === 0) return { tunnel: 'ipip' };
    if (rest[0] !== 'type') {
      this.note(o, 'not-carried', `${o.keyword} ${o.args.join(' ')}: "${rest.join(' ')}" not carried (expected: type ipip|gue port N|gre)`);
      return { tunnel: 'ipip' };
    }
    const type = rest[1];
    const extra = rest.slice(type === 'gue' ? 4 : 2);
    if (extra.length) this.note(o, 'not-carried', `${o.keyword}: ${extra.join(' ')}: not carried (vstun's GUE has no checksum options)`);
    if (type === 'ipip') return { tunnel: 'ipip' };
    if (type === 'gue') {
      const port = rest[2] === 'port' ? this.integer(o, rest[3], 1, 65535, 'GUE port') : undefined;
      if (port === undefined) {
        this.note(o, 'syntax', `${o.keyword} TUN type gue needs "port N"; the server uses IPIP`);
        return { tunnel: 'ipip' };
      }
      return { tunnel: 'gue', guePort: port };
    }
    this.note(o, 'not-carried', `${o.keyword} TUN type ${type ?? ''}: not carried (vstun tunnels with ipip or gue); IPIP is used`);
    return { tunnel: 'ipip' };
  }

  /** delay_loop, connect_timeout, retry (nb_get_retry), delay_before_retry, alpha, virtualhost; true when `o` was one of them. */
  private checkDefault(o: Statement, d: CheckDefaults): boolean {
    const a = o.args[0];
    switch (o.keyword) {
      case 'virtualhost':
        d.virtualHost = a;
        return true;
      case 'alpha':
        d.alpha = this.bool(o);
        return true;
      case 'delay_loop':
        d.delayLoop = this.seconds(o, a) ?? d.delayLoop;
        return true;
      case 'connect_timeout':
        d.connectTimeout = this.seconds(o, a) ?? d.connectTimeout;
        return true;
      case 'retry':
      case 'nb_get_retry':
        d.retry = this.integer(o, a, 0, 99, o.keyword) ?? d.retry;
        return true;
      case 'delay_before_retry':
        d.delayBeforeRetry = this.seconds(o, a) ?? d.delayBeforeRetry;
        return true;
    }
    return false;
  }

  // ---- real servers ----------------------------------------------------------------------

  private realServer(st: Statement, inherited: CheckDefaults, svcForwarding: Forwarding, servicePorts: number[]): { out: Json; checks: Json[] } | undefined {
    const address = this.address(st, st.args[0]);
    if (address === undefined) return undefined;
    const rsPort = st.args[1] === undefined ? undefined : this.integer(st, st.args[1], 0, 65535, 'real_server port');
    const out: Json = { address };
    const hc: Json = {};
    const defaults: CheckDefaults = { ...inherited };
    let forwarding = svcForwarding;
    const checkers: Statement[] = [];
    for (const o of st.block ?? []) {
      const a0 = o.args[0];
      switch (o.keyword) {
        case 'weight': {
          const w = this.integer(o, a0, 0, 65535, 'weight');
          if (w !== undefined) out.weight = w;
          break;
        }
        case 'inhibit_on_failure':
          hc.inhibitOnFailure = this.bool(o);
          break;
        case 'notify_up':
        case 'notify_down':
          this.script(o, hc, o.keyword === 'notify_up' ? 'notifyUp' : 'notifyDown');
          break;
        case 'uthreshold':
        case 'lthreshold': {
          const v = this.integer(o, a0, 0, 2 ** 31 - 1, o.keyword);
          if (v !== undefined) out[o.keyword === 'uthreshold' ? 'upperThreshold' : 'lowerThreshold'] = v;
          break;
        }
        case 'lvs_method':
        case 'lb_kind':
          forwarding = this.forwarding(o) ?? forwarding;
          break;
        case 'TCP_CHECK':
        case 'HTTP_GET':
        case 'SSL_GET':
        case 'MISC_CHECK':
        case 'DNS_CHECK':
        case 'SMTP_CHECK':
        case 'PING_CHECK':
        case 'UDP_CHECK':
          checkers.push(o);
          break;
        case 'FILE_CHECK':
        case 'BFD_CHECK':
          this.note(o, 'not-carried', `${o.keyword}: not carried (${o.keyword === 'FILE_CHECK' ? 'track files are' : 'BFD is'} not implemented); the server's other checks still apply`);
          break;
        default:
          if (!this.checkDefault(o, defaults)) {
            const why = SERVER_NOT_CARRIED[o.keyword];
            if (why) this.notCarried(o, why);
            else this.note(o, 'not-carried', `${o.keyword}: not carried (not a real_server keyword vstun knows)`);
          }
      }
    }
    if ((out.lowerThreshold as number | undefined) !== undefined && (out.lowerThreshold as number) > ((out.upperThreshold as number | undefined) ?? 0)) {
      this.note(st, 'not-carried', `lthreshold ${out.lowerThreshold}: not carried (it is above uthreshold ${(out.upperThreshold as number | undefined) ?? 0}; IPVS refuses that too)`);
      delete out.lowerThreshold;
    }
    if (forwarding.tunnel === 'gue') {
      out.tunnel = 'gue';
      out.guePort = forwarding.guePort;
    }
    const checkPort = rsPort !== undefined && rsPort !== 0 && servicePorts.some((p) => p !== rsPort) ? rsPort : undefined;
    const checks = checkers.flatMap((c) => this.checker(c, defaults, address, checkPort));
    if (checkPort !== undefined) {
      const to = servicePorts.filter((p) => p !== 0);
      const traffic = `VS/TUN keeps the destination port, so traffic goes to the service's port${to.length > 1 ? 's' : ''} ${to.join(', ') || '(any)'}`;
      const used = checks.some((c) => c.port === checkPort);
      this.note(st, 'approximated', `real_server ${address} ${rsPort}: ${traffic}${used ? `; the server's checks use port ${rsPort}` : ''}`);
    }
    if (checks.length > 1) {
      // One round runs them all: the shortest interval and retry interval, the largest fall.
      const min = (k: string) => Math.min(...checks.map((c) => c[k] as number));
      const interval = min('interval');
      const retryInterval = min('retryInterval');
      const fall = Math.max(...checks.map((c) => c.fall as number));
      const differ = checks.some((c) => c.interval !== interval || c.fall !== fall || c.retryInterval !== retryInterval);
      if (differ) this.note(st, 'approximated', `real_server ${address}: its ${checks.length} checks run together every ${interval} s (retry after ${retryInterval} s), down after ${fall} failed rounds`);
      for (const c of checks) Object.assign(c, { interval, fall, retryInterval });
    }
    if (Object.keys(hc).length) out.healthCheck = hc;
    if (checks.length === 1) out.healthCheck = { ...hc, ...checks[0] };
    else if (checks.length > 1) out.healthCheck = { ...hc, checks };
    return { out, checks };
  }

  private checker(st: Statement, inherited: CheckDefaults, rsAddress: string, rsCheckPort: number | undefined): Json[] {
    const d: CheckDefaults = { ...inherited };
    const kind = { TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', MISC_CHECK: 'exec', DNS_CHECK: 'dns', SMTP_CHECK: 'smtp', PING_CHECK: 'ping', UDP_CHECK: 'udp' }[st.keyword] as string;
    const c: Json = { kind };
    const urls: Statement[] = [];
    const hosts: Statement[] = [];
    let misc: Statement | undefined;
    let miscTimeout: number | undefined;
    for (const o of st.block ?? []) {
      const a0 = o.args[0];
      if (this.checkDefault(o, d)) continue;
      switch (o.keyword) {
        case 'connect_ip': {
          const ip = this.address(o, a0);
          if (ip !== undefined && ip !== rsAddress) c.host = ip;
          break;
        }
        case 'connect_port': {
          const p = this.integer(o, a0, 1, 65535, 'connect_port');
          if (p !== undefined) c.port = p;
          break;
        }
        case 'bindto':
        case 'bind_to': {
          const ip = this.address(o, a0);
          if (ip !== undefined) c.bindAddress = ip;
          break;
        }
        case 'sni_name':
          if (kind === 'https') d.virtualHost ??= a0;
          else this.notCarried(o, 'only for SSL_GET');
          break;
        case 'url':
          urls.push(o);
          break;
        case 'host':
          hosts.push(o);
          break;
        case 'helo_name':
          c.heloName = a0;
          break;
        case 'misc_path':
          misc = o;
          break;
        case 'misc_timeout':
          miscTimeout = this.seconds(o, a0);
          break;
        case 'type':
          if (kind === 'dns' && (DNS_QUERY_TYPES as readonly string[]).includes((a0 ?? '').toUpperCase())) c.dnsType = (a0 ?? '').toUpperCase();
          else this.notCarried(o, kind === 'dns' ? `DNS type must be one of ${DNS_QUERY_TYPES.join(' ')}` : `only for DNS_CHECK`);
          break;
        case 'name':
          if (kind === 'dns' && a0) c.dnsName = a0;
          else this.notCarried(o, kind === 'dns' ? 'a DNS name is needed' : 'only for DNS_CHECK');
          break;
        case 'payload':
          this.udpPayload(o, c);
          break;
        case 'require_reply':
          if (o.args.length) this.notCarried(o, 'any reply passes a udp check; the reply bytes are not compared');
          break;
        default: {
          const why = CHECKER_NOT_CARRIED[o.keyword];
          if (why) this.notCarried(o, why);
          else this.note(o, 'not-carried', `${o.keyword}: not carried (not a ${st.keyword} keyword vstun knows)`);
        }
      }
    }
    if (kind === 'udp' && !(st.block ?? []).some((o) => o.keyword === 'require_reply')) {
      this.note(st, 'approximated', 'UDP_CHECK without require_reply passes in keepalived unless an ICMP error comes back; vstun\'s udp check needs a reply');
    }
    if (kind === 'exec') {
      const argv = misc ? splitCommandLine(misc.args.join(' ')) : null;
      if (!misc || argv === null || argv.length === 0) {
        this.note(st, 'not-carried', `MISC_CHECK: not carried (${misc ? 'misc_path is not a command line' : 'no misc_path'})`);
        return [];
      }
      c.script = argv[0];
      if (argv.length > 1) c.args = argv.slice(1);
      if (miscTimeout !== undefined) d.connectTimeout = miscTimeout;
    }
    if (c.port === undefined && rsCheckPort !== undefined && kind !== 'exec' && kind !== 'ping') c.port = rsCheckPort;
    if (kind === 'smtp' && c.port === undefined) c.port = 25;
    this.timing(c, d, kind);
    if (kind === 'http' || kind === 'https') {
      if (urls.length === 0) {
        this.note(st, 'approximated', `${st.keyword} without url: checks path / for status 200-299`);
        return [{ ...c, path: '/', expectStatus: ['200-299'], ...(d.virtualHost ? { virtualHost: d.virtualHost } : {}) }];
      }
      return urls.map((u) => this.url(u, c, d));
    }
    if (kind === 'smtp' && hosts.length > 0) return hosts.map((h) => this.smtpHost(h, c, rsAddress));
    return [c];
  }

  private timing(c: Json, d: CheckDefaults, kind: string): void {
    const interval = d.delayLoop ?? KEEPALIVED_DELAY_LOOP;
    const retry = d.retry ?? (kind === 'dns' ? 3 : kind === 'exec' ? 0 : 1);
    const before = d.delayBeforeRetry ?? (kind === 'http' || kind === 'https' ? 3 : kind === 'dns' ? interval : 1);
    c.interval = interval;
    c.timeout = d.connectTimeout ?? KEEPALIVED_CONNECT_TIMEOUT;
    c.fall = retry + 1;
    c.retryInterval = before;
    if (d.alpha === false || d.alpha === undefined) c.startUp = true;
    else c.startUp = false;
  }

  private url(u: Statement, base: Json, d: CheckDefaults): Json {
    const c: Json = { ...base, path: '/', expectStatus: ['200-299'] };
    let vhost = d.virtualHost;
    for (const o of u.block ?? []) {
      switch (o.keyword) {
        case 'path':
          if (o.args[0]?.startsWith('/')) c.path = o.args[0];
          else this.notCarried(o, 'a path must start with "/"');
          break;
        case 'status_code': {
          const codes = o.args.filter((s) => /^\d{3}(-\d{3})?$/.test(s));
          if (codes.length !== o.args.length || codes.length === 0) this.note(o, 'not-carried', `status_code ${o.args.join(' ')}: not carried in part (codes are NNN or NNN-NNN)`);
          if (codes.length) c.expectStatus = codes.map((s) => (s.includes('-') ? s : Number(s)));
          break;
        }
        case 'virtualhost':
          vhost = o.args[0];
          break;
        case 'regex':
          try {
            new RegExp(o.args[0] ?? '');
            c.bodyRegex = o.args[0];
          } catch {
            this.notCarried(o, 'not a JavaScript regular expression');
          }
          break;
        default: {
          const why = URL_NOT_CARRIED[o.keyword];
          if (why) this.notCarried(o, why);
          else this.note(o, 'not-carried', `${o.keyword}: not carried (not a url keyword vstun knows)`);
        }
      }
    }
    if (vhost) c.virtualHost = vhost;
    return c;
  }

  private smtpHost(h: Statement, base: Json, rsAddress: string): Json {
    const c: Json = { ...base };
    for (const o of h.block ?? []) {
      const a0 = o.args[0];
      if (o.keyword === 'connect_ip') {
        const ip = this.address(o, a0);
        if (ip !== undefined && ip !== rsAddress) c.host = ip;
        else if (ip === rsAddress) delete c.host;
      } else if (o.keyword === 'connect_port') {
        const p = this.integer(o, a0, 1, 65535, 'connect_port');
        if (p !== undefined) c.port = p;
      } else if (o.keyword === 'bindto' || o.keyword === 'bind_to') {
        const ip = this.address(o, a0);
        if (ip !== undefined) c.bindAddress = ip;
      } else {
        const why = CHECKER_NOT_CARRIED[o.keyword];
        this.note(o, 'not-carried', `${o.keyword}: not carried (${why ?? 'not an SMTP_CHECK host keyword vstun knows'})`);
      }
    }
    return c;
  }

  /** keepalived's free-form hex (spaces between groups) to "hex:…" when it is plain pairs of digits. */
  private udpPayload(o: Statement, c: Json): void {
    const digits = o.args.join('');
    if (/^([0-9a-fA-F]{2})+$/.test(digits)) c.payload = `hex:${digits.toLowerCase()}`;
    else this.notCarried(o, 'only whole bytes of hex digits are carried (keepalived pads odd groups; write every byte as two digits)');
  }

  // ---- values ----------------------------------------------------------------------------

  private script(o: Statement, into: Json, field: string): void {
    const line = o.args[0];
    if (!line || splitCommandLine(line) === null) {
      this.note(o, 'not-carried', `${o.keyword}: not carried (no script)`);
      return;
    }
    into[field] = line;
    if (o.args.length > 1) this.note(o, 'not-carried', `${o.keyword} user ${o.args.slice(1).join(' ')}: the user/group is not carried; scripts run as the director's user`);
  }

  private address(at: Source, text: string | undefined): string | undefined {
    try {
      if (text === undefined) throw new Error('missing');
      return canonicalAddress(text);
    } catch {
      this.note(at, 'refused', `"${text ?? ''}" is not an IPv4 or IPv6 address; the line is not carried`);
      return undefined;
    }
  }

  private integer(at: Source, text: string | undefined, min: number, max: number, what: string): number | undefined {
    const v = Number(text);
    if (text === undefined || !/^\d+$/.test(text) || v < min || v > max) {
      this.note(at, 'not-carried', `${what} "${text ?? ''}": not carried (an integer ${min}..${max})`);
      return undefined;
    }
    return v;
  }

  /** A <TIMER>: seconds, fractions allowed; > 0. */
  private seconds(at: Statement, text: string | undefined): number | undefined {
    const v = Number(text);
    if (text === undefined || !/^\d+(\.\d+)?$/.test(text) || v <= 0 || v > 86400) {
      this.note(at, 'not-carried', `${at.keyword} "${text ?? ''}": not carried (seconds, > 0)`);
      return undefined;
    }
    return v;
  }

  /** A keyword alone (true) or with a <BOOL>. */
  private bool(o: Statement): boolean {
    const a = (o.args[0] ?? 'true').toLowerCase();
    if (['on', 'true', 'yes'].includes(a)) return true;
    if (['off', 'false', 'no'].includes(a)) return false;
    this.note(o, 'syntax', `${o.keyword} ${o.args[0]}: not a boolean (on|off|true|false|yes|no); taken as true`);
    return true;
  }
}

/** An IPv4 persistence granularity: a contiguous dotted mask or a prefix length 0..32 (IPv6: left to the schema). */
function isGranularity(text: string, v6: boolean): boolean {
  if (v6) return true; // the schema says which prefix lengths an IPv6 VIP takes
  if (/^\d{1,3}$/.test(text)) return Number(text) <= 32;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) return false;
  const inv = ~m.slice(1).reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** The timing fields every imported check carries; said once where they are all equal. */
const TIMING_FIELDS = ['interval', 'timeout', 'fall', 'retryInterval', 'startUp'] as const;

/** Moves timing fields that every entry of `checks` shares up to `container` (entries inherit them). */
function liftCommon(container: Json, checks: Json[]): void {
  for (const k of TIMING_FIELDS) {
    const v = checks[0]?.[k];
    if (v === undefined || !checks.every((c) => c[k] === v)) continue;
    container[k] = v;
    for (const c of checks) delete c[k];
  }
}

/** Drops the timing fields a server's section would inherit unchanged from its service's. */
function dropInherited(server: Json, service: Json): void {
  for (const k of TIMING_FIELDS) if (server[k] !== undefined && server[k] === service[k]) delete server[k];
}

/** Removes the check fields hoisted into the service from one server's healthCheck. */
function stripChecks(server: Json): void {
  const hc = server.healthCheck as Json | undefined;
  if (!hc) return;
  const keep: Json = {};
  for (const k of ['inhibitOnFailure', 'notifyUp', 'notifyDown']) if (hc[k] !== undefined) keep[k] = hc[k];
  if (Object.keys(keep).length) server.healthCheck = keep;
  else delete server.healthCheck;
}

/** Imports a parsed keepalived.conf. */
export function importKeepalived(conf: ParsedConf): ImportResult {
  return new KeepalivedImporter(conf).run();
}
