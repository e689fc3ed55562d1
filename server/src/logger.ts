/**
 * pino JSON logs that never carry secrets, and by default no identities either.
 *
 * Secrets (passwords, digest responses, nonces, HA1, keys, Authorization headers) are removed by
 * pino's redaction wherever they appear under the listed keys. Identities (usernames, addresses)
 * are written through `identity()`, which replaces them by a short keyed pseudonym unless the
 * operator turns `log.identities` on: the same user maps to the same pseudonym for the life of
 * the process, so logs can still be followed, but they do not name anyone.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'authorization',
  'proxyAuthorization',
  'response',
  'nonce',
  'cnonce',
  'ha1',
  'key',
  'keys',
  'token',
];

export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), ...SECRET_KEYS.map((k) => `*.*.${k}`)];

export interface LoggerOptions {
  level: string;
  identities: boolean;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { svc: 'sotto' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    opts.destination,
  );
}

const pseudonymKey = randomBytes(32);
let showIdentities = false;

/** Choose whether identity() returns identities as they are (operator opt-in) or pseudonyms. */
export function setIdentityLogging(on: boolean): void {
  showIdentities = on;
}

/** A loggable stand-in for a username, URI or address. */
export function identity(value: string | undefined): string | undefined {
  if (value === undefined || showIdentities) return value;
  return 'id:' + createHmac('sha256', pseudonymKey).update(value).digest('base64url').slice(0, 10);
}
