// Applying the YAML config to a running director: at start, on SIGHUP and on the `reload`
// op. Only the difference is applied (see service-reconciler.ts), so connections of
// services and servers that stay keep flowing. A config that fails validation, or that
// the director cannot hold, changes nothing. Settings that only take effect at start (TAP,
// addresses, table sizes) are reported as needing a restart rather than half-applied.
import type { Director } from '../director/director.js';
import { createHash } from 'node:crypto';
import { ConfigError, parseDirectorConfig, readConfigText } from './config-loader.js';
import type { DirectorConfig } from './config-schema.js';
import { VstunadmError } from './errors.js';
import { reconcile, type ReconcileSummary } from './service-reconciler.js';

/** The control plane's own state next to the director's. */
export interface ControlState {
  /** The --config file, if the director was started with one. */
  configPath: string | undefined;
  /** The config last applied (defaults when started without a file). */
  config: DirectorConfig;
  /** SHA-256 of the file text `config` was parsed from, when it came from configPath. */
  configDigest?: string;
}

/** SHA-256 of a config file's text. */
export function configDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface ReloadResult extends ReconcileSummary {
  timeouts: { tcp: number; tcpfin: number; udp: number };
  /** director.* keys that changed in the file but apply only at the next start. */
  needsRestart: string[];
}

const START_ONLY = ['tap', 'dip', 'linkAddress', 'kernelAddress', 'linkPrefixLength', 'mac', 'control', 'metrics', 'connTableSize', 'mhTableSize', 'icmpEcho', 'sloppyTcp', 'tunnelMtu', 'logLevel', 'guard', 'offload', 'tunnelGso', 'queues'] as const;

/**
 * Applies an already-validated config's services and timeouts, after any change in flight
 * (director.exclusive). Throws VstunadmError; nothing changes then.
 */
export function applyConfig(director: Director, state: ControlState, config: DirectorConfig, digest?: string): Promise<ReloadResult> {
  return director.exclusive(() => applyConfigNow(director, state, config, digest));
}

async function applyConfigNow(director: Director, state: ControlState, config: DirectorConfig, digest: string | undefined): Promise<ReloadResult> {
  const summary = await reconcile(director, config.services, config.director.expireNodestConn);
  const timeouts = director.setTimeouts(config.director.timeouts);
  const needsRestart = START_ONLY.filter((k) => JSON.stringify(state.config.director[k]) !== JSON.stringify(config.director[k])).map((k) => `director.${k}`);
  if (JSON.stringify(state.config.bgp) !== JSON.stringify(config.bgp)) needsRestart.push('bgp');
  state.config = config;
  state.configDigest = digest;
  return { ...summary, timeouts, needsRestart };
}

/** Re-reads state.configPath and applies the difference. Throws VstunadmError (ERR_NO_CONFIG, ERR_CONFIG, …). */
export async function reloadConfig(director: Director, state: ControlState): Promise<ReloadResult> {
  if (state.configPath === undefined) throw new VstunadmError('ERR_NO_CONFIG', 'this director was started without --config, so there is no file to reload; use vstunadm -R to change rules');
  let config: DirectorConfig;
  let digest: string;
  try {
    const text = readConfigText(state.configPath);
    digest = configDigest(text);
    // The file as last applied: its parse and validation are known (a YAML table of 10 000
    // services costs seconds to parse). Still reconciled: a reload undoes vstunadm's changes.
    config = digest === state.configDigest ? state.config : parseDirectorConfig(text, state.configPath);
  } catch (err) {
    if (err instanceof ConfigError) throw new VstunadmError('ERR_CONFIG', `${err.message}\nnothing was changed; fix the file and reload again`);
    throw err;
  }
  return applyConfig(director, state, config, digest);
}
