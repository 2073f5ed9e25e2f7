// The agent's validated configuration, built from the CLI's raw strings. Everything is
// checked here, before anything touches the host: bad arguments change nothing.
import { AgentError } from './agent-error.js';
import { parseAddressOrCidr, type AddressPrefix } from './address-match.js';
import type { ListenAddress } from './agent-http.js';
import type { RequestedMode } from './kernel-mode.js';
import type { LogSink } from '../log/log-sink.js';
import { defaultAgentStateFile } from '../host/instance-paths.js';

export const DEFAULT_LISTEN = '127.0.0.1:9470';
export const DEFAULT_TUN = 'vstun-in';
export const DEFAULT_GUE_PORT = 6080;

export interface AgentConfig {
  vips: AddressPrefix[];
  directors: AddressPrefix[];
  mode: RequestedMode;
  /** null: no HTTP endpoint (--listen none). */
  listen: ListenAddress | null;
  tun: string;
  /** UDP port for GUE; 0 disables GUE. */
  guePort: number;
  stateFile: string;
  /** false with --no-setup: VIPs and sysctls are left to the operator. */
  setup: boolean;
  /** Explicit uplinks; empty: every non-loopback link that is up. */
  uplinks: string[];
  /** Open the TUN with a virtio-net header and write coalesced TCP super-packets (GRO); false with --no-offload. */
  offload: boolean;
  /** Where the log lines go (set by the CLI); its drop count is served in /metrics. */
  logSink?: LogSink;
}

export interface RawAgentOptions {
  vip?: string[];
  director?: string[];
  mode?: string;
  listen?: string;
  tun?: string;
  guePort?: string;
  stateFile?: string;
  setup?: boolean;
  uplink?: string[];
  offload?: boolean;
}

const bad = (msg: string) => new AgentError('AGENT_BAD_ARGUMENT', msg);

/** `HOST:PORT`, `[V6]:PORT` or `none`. */
export function parseListen(s: string): ListenAddress | null {
  if (s === 'none') return null;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) throw bad(`--listen ${JSON.stringify(s)}: expected HOST:PORT, [IPV6]:PORT or none (e.g. ${DEFAULT_LISTEN})`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw bad(`--listen ${JSON.stringify(s)}: port must be 1..65535`);
  return { host: m[1], port };
}

/** Linux interface names: 1..15 bytes, no slash, colon or whitespace. */
export function checkInterfaceName(name: string, flag: string): string {
  if (!/^[^\s/:]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw bad(`${flag} ${JSON.stringify(name)} is not a valid interface name (1 to 15 characters, no '/', ':' or spaces)`);
  }
  return name;
}

export function buildAgentConfig(raw: RawAgentOptions): AgentConfig {
  const vips = (raw.vip ?? []).map((v) => parseAddressOrCidr(v, '--vip', false));
  if (vips.length === 0) throw bad('give at least one --vip ADDR (the virtual IP this real server serves)');
  const seen = new Set<string>();
  for (const v of vips) {
    if (seen.has(v.text)) throw bad(`--vip ${v.text} is given twice`);
    seen.add(v.text);
  }
  const directors = (raw.director ?? []).map((d) => parseAddressOrCidr(d, '--director', true));
  const mode = raw.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'kernel' && mode !== 'userspace' && mode !== 'dr') throw bad(`--mode ${JSON.stringify(mode)}: expected auto, kernel, userspace or dr`);
  // DR accepts nothing encapsulated, so it needs no director sources.
  if (directors.length === 0 && mode !== 'dr') {
    throw bad('give at least one --director ADDR|CIDR: only IPIP from these sources is decapsulated (anything else would let anyone inject packets to the VIP)');
  }
  const guePortText = raw.guePort ?? String(DEFAULT_GUE_PORT);
  if (!/^\d+$/.test(guePortText) || Number(guePortText) > 65535) throw bad(`--gue-port ${JSON.stringify(guePortText)}: expected 0 (off) or a port 1..65535`);
  // Default: one per network namespace (src/host/instance-paths.ts), so agents in several namespaces never share it.
  const stateFile = raw.stateFile ?? defaultAgentStateFile();
  if (!stateFile.startsWith('/')) throw bad(`--state-file ${JSON.stringify(stateFile)}: give an absolute path`);
  return {
    vips,
    directors,
    mode,
    listen: parseListen(raw.listen ?? DEFAULT_LISTEN),
    tun: checkInterfaceName(raw.tun ?? DEFAULT_TUN, '--tun'),
    guePort: Number(guePortText),
    stateFile,
    setup: raw.setup ?? true,
    uplinks: (raw.uplink ?? []).map((u) => checkInterfaceName(u, '--uplink')),
    offload: raw.offload ?? true,
  };
}
