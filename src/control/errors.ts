// Control-plane errors with stable codes. Scripts and the control socket match on `code`,
// never on the message, so codes are append-only; messages may improve freely and must
// say what the user should change.

/** Every code a control-plane error can carry, with what it means. */
export const CONTROL_ERROR_CODES = {
  ERR_USAGE: 'the command line does not form a command (missing command, stray argument, unknown option)',
  ERR_BAD_ADDRESS: 'an address is not a numeric IPv4 or IPv6 address',
  ERR_BAD_PORT: 'a port is not an integer 0..65535',
  ERR_UNKNOWN_SCHEDULER: 'the scheduler name is not one vstun implements',
  ERR_BAD_SCHED_FLAG: 'a scheduler flag is unknown or does not fit the scheduler',
  ERR_WEIGHT_RANGE: 'a weight is not an integer 0..65535',
  ERR_FORWARD_UNSUPPORTED: 'a forwarding method or tunnel type that vstun does not implement was asked for',
  ERR_BAD_TIMEOUT: 'a timeout is not an integer in its allowed range',
  ERR_BAD_NETMASK: 'a persistence netmask is malformed',
  ERR_DUPLICATE_OPTION: 'an option or command was given twice',
  ERR_MISSING_OPTION: 'a command lacks an option it requires',
  ERR_ILLEGAL_OPTION: 'an option does not apply to the command it was given with',
  ERR_OPTION_CONFLICT: 'two options cannot be used together',
  ERR_UNSUPPORTED: 'an ipvsadm feature vstun does not implement (fwmark, sctp, pe)',
  ERR_BAD_SERVICE: 'a virtual service definition is inconsistent (zero port without persistence, ops on TCP)',
  ERR_SERVICE_EXISTS: 'the virtual service already exists',
  ERR_NO_SUCH_SERVICE: 'the virtual service does not exist',
  ERR_SERVER_EXISTS: 'the real server already exists in that service',
  ERR_NO_SUCH_SERVER: 'the real server does not exist in that service',
  ERR_REMOTE: 'the director reported an error whose code this vstunadm does not know (the message keeps it)',
  ERR_UNREACHABLE: 'the control socket cannot be reached (director not running, wrong --control path, no permission)',
  ERR_PROTOCOL: 'the control socket answered something that is not a vstun v1 response',
  ERR_CONFIG: 'the config file is unreadable or invalid; nothing was applied',
  ERR_NO_CONFIG: 'reload was asked of a director started without --config',
  ERR_REJECTED: 'the director cannot apply the rules as a whole (e.g. a limit or an unsupported address family); nothing was applied',
  ERR_INTERNAL: 'an unexpected failure inside the director; please report it',
  ERR_NO_BGP: 'drain/undrain was asked of a director whose config has no bgp: section',
  ERR_BAD_THRESHOLD: 'a connection threshold (-x/-y) is not an integer, or the lower one is above the upper one',
} as const;

export type ControlErrorCode = keyof typeof CONTROL_ERROR_CODES;

// A brand that survives module duplication (two copies of this file in one process).
const kVstunadmError = Symbol.for('vstun.control.VstunadmError');

export interface VstunadmErrorOptions {
  /** 1-based line of `-R` input the error was found on. */
  line?: number;
  cause?: unknown;
}

/** Base of every control-plane error: a stable `code` and a message that says what to fix. */
export class VstunadmError extends Error {
  override name = 'VstunadmError';
  readonly code: ControlErrorCode;
  readonly line: number | undefined;

  constructor(code: ControlErrorCode, message: string, options: VstunadmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.line = options.line;
  }

  get [kVstunadmError](): true {
    return true;
  }

  /** Wire form for the control socket. */
  toJSON(): { code: ControlErrorCode; message: string; line?: number } {
    return this.line === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, line: this.line };
  }
}

/** True for any VstunadmError, even one from another copy of this module. */
export function isVstunadmError(value: unknown): value is VstunadmError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kVstunadmError] === true;
}

/**
 * Rebuilds an error received over the control socket. A code this module does not know
 * becomes ERR_REMOTE, with the original code kept at the front of the message.
 */
export function vstunadmErrorFromJSON(wire: { code?: unknown; message?: unknown; line?: unknown }): VstunadmError {
  const known = typeof wire.code === 'string' && Object.hasOwn(CONTROL_ERROR_CODES, wire.code);
  const code: ControlErrorCode = known ? (wire.code as ControlErrorCode) : 'ERR_REMOTE';
  const text = typeof wire.message === 'string' ? wire.message : CONTROL_ERROR_CODES[code];
  const message = known || typeof wire.code !== 'string' ? text : `${wire.code}: ${text}`;
  const line = typeof wire.line === 'number' ? wire.line : undefined;
  return new VstunadmError(code, message, { line });
}

// Named subclasses for the codes callers construct most, as undici does: `instanceof` and
// `code` agree by construction.

export class UsageError extends VstunadmError {
  override name = 'UsageError';
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

export class BadAddressError extends VstunadmError {
  override name = 'BadAddressError';
  constructor(message: string) {
    super('ERR_BAD_ADDRESS', message);
  }
}

export class BadPortError extends VstunadmError {
  override name = 'BadPortError';
  constructor(message: string) {
    super('ERR_BAD_PORT', message);
  }
}

export class UnknownSchedulerError extends VstunadmError {
  override name = 'UnknownSchedulerError';
  constructor(message: string) {
    super('ERR_UNKNOWN_SCHEDULER', message);
  }
}

export class WeightRangeError extends VstunadmError {
  override name = 'WeightRangeError';
  constructor(message: string) {
    super('ERR_WEIGHT_RANGE', message);
  }
}

export class ForwardUnsupportedError extends VstunadmError {
  override name = 'ForwardUnsupportedError';
  constructor(message: string) {
    super('ERR_FORWARD_UNSUPPORTED', message);
  }
}

export class UnsupportedError extends VstunadmError {
  override name = 'UnsupportedError';
  constructor(message: string) {
    super('ERR_UNSUPPORTED', message);
  }
}
