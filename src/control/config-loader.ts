// Reads and validates the director's YAML config. Nothing is applied here: a config that
// fails any check is rejected whole, with one line per problem (path: what is wrong).
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { VstunError, type ConfigErrorCode } from '../errors.js';
import { MAX_CONFIG_BYTES, MAX_SERVICES } from './config-checks.js';
import { DirectorConfig, formatConfigPath } from './config-schema.js';
import { parseJsonConfig } from './json-config.js';
import { parseLargeYaml } from './large-yaml.js';

export class ConfigError extends VstunError<ConfigErrorCode> {
  override name = 'ConfigError';

  constructor(
    code: ConfigErrorCode,
    message: string,
    /** One entry per problem, "path: message". */
    readonly problems: string[] = [],
  ) {
    super(code, message);
  }
}

/** Validates an already-parsed value (e.g. from YAML or JSON). Throws ConfigError. */
export function validateDirectorConfig(value: unknown, source = 'config'): DirectorConfig {
  // Refuse an oversized table before validating each entry of it.
  const services = (value as { services?: unknown } | null)?.services;
  if (Array.isArray(services) && services.length > MAX_SERVICES) {
    const problem = `services: has ${services.length} services; at most ${MAX_SERVICES} are allowed`;
    throw new ConfigError('CONFIG_INVALID', `${source} is invalid:\n  ${problem}`, [problem]);
  }
  const res = DirectorConfig.safeParse(value ?? {});
  if (res.success) return res.data;
  const problems = res.error.issues.map((iss) => {
    let msg = iss.message;
    if (iss.code === 'unrecognized_keys') msg = `unknown key(s) ${iss.keys.map((k) => `"${k}"`).join(', ')}; check the spelling`;
    else if (iss.code === 'invalid_type' && msg.startsWith('Invalid input')) msg = `expected ${iss.expected}`;
    return `${formatConfigPath(iss.path)}: ${msg}`;
  });
  throw new ConfigError('CONFIG_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`, problems);
}

/**
 * Parses YAML text and validates it. Throws ConfigError with the YAML line on syntax errors.
 * A text that is one JSON object (JSON is YAML too) is parsed as JSON: two hundred times
 * faster for a large generated table (json-config.ts). A large YAML text is read by js-yaml
 * first, ten times faster; whatever it refuses is read again by `yaml` (large-yaml.ts).
 */
export function parseDirectorConfig(text: string, source = 'config'): DirectorConfig {
  let json: { value: unknown } | undefined;
  try {
    json = parseJsonConfig(text);
  } catch (err) {
    throw new ConfigError('CONFIG_YAML', `${source}: ${(err as Error).message}`);
  }
  if (json !== undefined) return validateDirectorConfig(json.value, source);
  const large = parseLargeYaml(text);
  if (large !== undefined) return validateDirectorConfig(large.value, source);
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new ConfigError('CONFIG_YAML', `${source}: YAML syntax error${where}: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    // yaml refuses documents whose aliases expand past a bound (a "billion laughs" bomb).
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError('CONFIG_YAML', `${source}: YAML refused: ${(err as Error).message}; expand the aliases (*name) or use fewer of them`);
  }
  return validateDirectorConfig(value, source);
}

/** Reads and validates a config file of at most MAX_CONFIG_BYTES (16 MiB), checked before reading. */
export function loadDirectorConfig(path: string): DirectorConfig {
  return parseDirectorConfig(readConfigText(path), path);
}

/** A config file's text, refused (ConfigError) over MAX_CONFIG_BYTES before it is read. */
export function readConfigText(path: string): string {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError('CONFIG_UNREADABLE', `config ${path} is ${size} bytes; config files may be at most ${MAX_CONFIG_BYTES} bytes (16 MiB)`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read config ${path}: ${(err as Error).message}`);
  }
  return text;
}
