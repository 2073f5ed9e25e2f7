// Control-plane errors of the health subsystem, with stable codes (listed with their
// meaning and control code in src/errors.ts). Messages name the service and server and say
// what to change in the config.
import { VstunError, type HealthErrorCode } from '../errors.js';

export type { HealthErrorCode } from '../errors.js';

export class HealthError extends VstunError<HealthErrorCode> {
  override name = 'HealthError';
}
