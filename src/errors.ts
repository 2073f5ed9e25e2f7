// Every error vstun raises outside the data path: one base class, VstunError, and one
// namespace of codes. The control protocol's codes (ERR_*) are what the control socket
// answers and vstunadm prints; the codes the director (unprefixed), the agent (AGENT_*),
// the health checks (HEALTH_*) and the config loader (CONFIG_*) raise each map to one of
// them, in tables the compiler checks: a new code without its control code does not build.
// Codes are append-only: scripts match on them, never on messages.

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
  ERR_BAD_REQUEST: 'a control-socket request is not a JSON object on one line',
  ERR_BAD_VERSION: 'a control-socket request names a protocol version other than 1',
  ERR_UNKNOWN_OP: 'a control-socket request names an op the director does not have',
  ERR_TOO_MANY_CLIENTS: 'the control socket already serves as many clients as it allows; try again',
  ERR_REQUEST_TOO_LARGE: 'a control-socket request line is longer than the socket accepts',
} as const;

export type ControlErrorCode = keyof typeof CONTROL_ERROR_CODES;

/** The director's own codes and the control code each is reported as. */
export const DIRECTOR_ERROR_CODES = {
  SERVICE_EXISTS: 'ERR_SERVICE_EXISTS',
  SERVICE_NOT_FOUND: 'ERR_NO_SUCH_SERVICE',
  REAL_SERVER_EXISTS: 'ERR_SERVER_EXISTS',
  REAL_SERVER_NOT_FOUND: 'ERR_NO_SUCH_SERVER',
  BAD_SCHEDULER: 'ERR_UNKNOWN_SCHEDULER',
  BAD_ARGUMENT: 'ERR_BAD_SERVICE',
  TOO_MANY: 'ERR_REJECTED',
  UNSUPPORTED: 'ERR_UNSUPPORTED',
} as const satisfies Record<string, ControlErrorCode>;
export type DirectorErrorCode = keyof typeof DIRECTOR_ERROR_CODES;

/** The agent's codes (its errors reach the operator through its CLI, never the control socket). */
export const AGENT_ERROR_CODES = {
  AGENT_BAD_ARGUMENT: 'ERR_USAGE', // a flag's value cannot be parsed or is out of range
  AGENT_KERNEL_MODE_UNAVAILABLE: 'ERR_UNSUPPORTED', // --mode kernel on a kernel without the ipip module
  AGENT_NO_RAW_SOCKET: 'ERR_REJECTED', // no permission (CAP_NET_RAW) to open the decap sockets
  AGENT_SETUP_FAILED: 'ERR_REJECTED', // a host change failed; everything done so far was undone
  AGENT_LISTEN_FAILED: 'ERR_REJECTED', // the HTTP endpoint cannot bind
} as const satisfies Record<string, ControlErrorCode>;
export type AgentErrorCode = keyof typeof AGENT_ERROR_CODES;

/** The health subsystem's codes. */
export const HEALTH_ERROR_CODES = {
  HEALTH_BAD_CONFIG: 'ERR_CONFIG', // the healthCheck section does not match the schema
  HEALTH_MISSING_FIELD: 'ERR_CONFIG', // a field the chosen kind needs is absent (exec without script)
  HEALTH_NO_TUNNEL_PROBER: 'ERR_REJECTED', // a tunnel check, but the director has no probe source configured
  HEALTH_UNKNOWN_SERVICE: 'ERR_NO_SUCH_SERVICE', // an operation names a service the manager does not know
  HEALTH_UNKNOWN_SERVER: 'ERR_NO_SUCH_SERVER', // an operation names a server the manager does not know
  HEALTH_DUPLICATE: 'ERR_REJECTED', // a service or server is added twice
} as const satisfies Record<string, ControlErrorCode>;
export type HealthErrorCode = keyof typeof HEALTH_ERROR_CODES;

/** The config loader's codes. */
export const CONFIG_ERROR_CODES = {
  CONFIG_UNREADABLE: 'ERR_CONFIG',
  CONFIG_YAML: 'ERR_CONFIG',
  CONFIG_INVALID: 'ERR_CONFIG',
} as const satisfies Record<string, ControlErrorCode>;
export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

/** Every code a VstunError can carry. */
export type VstunErrorCode = ControlErrorCode | DirectorErrorCode | AgentErrorCode | HealthErrorCode | ConfigErrorCode;

const TO_CONTROL: { readonly [C in VstunErrorCode]: ControlErrorCode } = {
  ...(Object.fromEntries(Object.keys(CONTROL_ERROR_CODES).map((c) => [c, c])) as { [C in ControlErrorCode]: C }),
  ...DIRECTOR_ERROR_CODES,
  ...AGENT_ERROR_CODES,
  ...HEALTH_ERROR_CODES,
  ...CONFIG_ERROR_CODES,
};

/** The control protocol's code for any vstun error code. */
export function controlCodeOf(code: VstunErrorCode): ControlErrorCode {
  return TO_CONTROL[code];
}

/** Base of every vstun error: a stable `code` and a message that says what to fix. */
export class VstunError<C extends VstunErrorCode = VstunErrorCode> extends Error {
  override name = 'VstunError';

  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }

  /** The code the control socket reports this error with. */
  get controlCode(): ControlErrorCode {
    return controlCodeOf(this.code);
  }
}
