// Control-plane errors of the director, with stable codes the control socket returns.
export type DirectorErrorCode =
  | 'SERVICE_EXISTS'
  | 'SERVICE_NOT_FOUND'
  | 'REAL_SERVER_EXISTS'
  | 'REAL_SERVER_NOT_FOUND'
  | 'BAD_SCHEDULER'
  | 'BAD_ARGUMENT'
  | 'TOO_MANY'
  | 'UNSUPPORTED';

export class DirectorError extends Error {
  constructor(
    readonly code: DirectorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DirectorError';
  }
}
