// Control-plane errors of the director, with stable codes (src/errors.ts maps each to the
// control protocol's).
import { VstunError, type DirectorErrorCode } from '../errors.js';

export type { DirectorErrorCode } from '../errors.js';

export class DirectorError extends VstunError<DirectorErrorCode> {
  override name = 'DirectorError';
}
