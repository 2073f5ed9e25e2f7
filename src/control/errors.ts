// Control-plane errors with stable codes. Scripts and the control socket match on `code`,
// never on the message, so codes are append-only; messages may improve freely and must
// say what the user should change.

export { CONTROL_ERROR_CODES, type ControlErrorCode } from '../errors.js';
import { CONTROL_ERROR_CODES, VstunError, type ControlErrorCode } from '../errors.js';

// A brand that survives module duplication (two copies of this file in one process).
const kVstunadmError = Symbol.for('vstun.control.VstunadmError');

export interface VstunadmErrorOptions {
  /** 1-based line of `-R` input the error was found on. */
  line?: number;
  cause?: unknown;
}

/** Base of every control-plane error: a stable `code` and a message that says what to fix. */
export class VstunadmError extends VstunError<ControlErrorCode> {
  override name = 'VstunadmError';
  readonly line: number | undefined;

  constructor(code: ControlErrorCode, message: string, options: VstunadmErrorOptions = {}) {
    super(code, message, { cause: options.cause });
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
