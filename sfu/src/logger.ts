/**
 * The logging the SFU needs, as an interface: pino's Logger (server/src/logger.ts) satisfies it,
 * tests pass a silent one. Callers log identities only through the server's identity()
 * pseudonyms, and never keys, tokens, passwords or E2EE blobs.
 */
export interface SfuLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: SfuLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
