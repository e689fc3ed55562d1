/**
 * Coded errors, in the style of fastify's FST_ERR_*: a stable `code` for programs, a message for
 * people, and where it applies the SIP or HTTP status a caller should answer with.
 */
export class SottoError extends Error {
  override name = 'SottoError';
  readonly code: string;
  readonly status: number | undefined;
  constructor(code: string, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** A mistake in how the command line was used: printed without a stack trace, exit code 2. */
export class UsageError extends SottoError {
  override name = 'UsageError';
  constructor(message: string) {
    super('SOTTO_ERR_USAGE', message);
  }
}
