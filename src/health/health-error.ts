// Control-plane errors of the health subsystem, with stable codes. Messages name the
// service and server and say what to change in the config.

export type HealthErrorCode =
  | 'HEALTH_BAD_CONFIG' // the healthCheck section does not match the schema
  | 'HEALTH_MISSING_FIELD' // a field the chosen kind needs is absent (exec without script)
  | 'HEALTH_NO_TUNNEL_PROBER' // a tunnel check, but the director has no probe source configured
  | 'HEALTH_UNKNOWN_SERVICE' // an operation names a service the manager does not know
  | 'HEALTH_UNKNOWN_SERVER' // an operation names a server the manager does not know
  | 'HEALTH_DUPLICATE'; // a service or server is added twice

export class HealthError extends Error {
  override name = 'HealthError';

  constructor(
    readonly code: HealthErrorCode,
    message: string,
  ) {
    super(message);
  }
}
