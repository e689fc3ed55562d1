/**
 * Digest authentication as the registrar (401, RFC 3261 §22.2) and the proxy (407, §22.3) apply
 * it: verify, challenge (stale=true when only the nonce was unusable, RFC 7616 §3.3), and count
 * failures per source for the temporary ban.
 */
import type { Logger } from '../logger.ts';
import { identity } from '../logger.ts';
import type { BanList } from '../security/ban-list.ts';
import type { Peer, SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { DigestAuthenticator } from './digest.ts';

/**
 * `fresh` marks a plain challenge (no credentials, or only a stale nonce): nothing was checked
 * and failed, so answering a retransmission with another challenge changes nothing.
 */
export type AuthOutcome = { ok: true; user: string } | { ok: false; response: SipResponse; fresh?: true };

export class SipAuth {
  readonly #digest: DigestAuthenticator;
  readonly #bans: BanList;
  readonly #log: Logger;
  readonly #stats = { ok: 0, challenged: 0, failed: 0, bans: 0 };

  readonly #onBan: ((address: string, until: number) => void) | undefined;

  constructor(digest: DigestAuthenticator, bans: BanList, logger: Logger, onBan?: (address: string, until: number) => void) {
    this.#digest = digest;
    this.#bans = bans;
    this.#log = logger.child({ part: 'auth' });
    this.#onBan = onBan;
  }

  get stats(): Readonly<Record<'ok' | 'challenged' | 'failed' | 'bans', number>> {
    return this.#stats;
  }

  check(req: SipRequest, source: Peer, status: 401 | 407, now = Date.now()): AuthOutcome {
    const header = status === 401 ? 'Authorization' : 'Proxy-Authorization';
    const result = this.#digest.verifyRequest(req, now, header);
    switch (result.kind) {
      case 'ok':
        this.#stats.ok++;
        return { ok: true, user: result.username };
      case 'missing':
        this.#stats.challenged++;
        return { ok: false, response: this.#digest.challengeResponse(req, status, now), fresh: true };
      case 'stale':
        this.#stats.challenged++;
        return { ok: false, response: this.#digest.challengeResponse(req, status, now, { stale: true }), fresh: true };
      case 'failed': {
        this.#stats.failed++;
        if (this.#bans.recordFailure(source.address, now)) {
          this.#stats.bans++;
          this.#onBan?.(source.address, this.#bans.bannedUntil(source.address, now) ?? now);
          this.#log.warn({ source: identity(source.address), transport: source.transport }, 'source banned after repeated authentication failures');
        } else {
          this.#log.info({ source: identity(source.address), reason: result.reason, method: req.method }, 'authentication failed');
        }
        if (result.reason === 'malformed' || result.reason === 'uri-mismatch')
          return { ok: false, response: createResponse(req, 400, { reason: `Bad Request (${result.reason === 'malformed' ? 'malformed credentials' : 'digest uri does not match'})` }) };
        return { ok: false, response: this.#digest.challengeResponse(req, status, now) };
      }
    }
  }
}
