/**
 * The registrar (RFC 3261 §10.3) with RFC 5626 outbound, RFC 3327 Path and RFC 3581 flows.
 * Pure request → response logic over the location store; authentication is delegated, and the
 * clock is passed in, so it is tested without sockets.
 */
import { getHeader, getHeaderValues, type Peer, type SipRequest, type SipResponse } from '../sip/message.ts';
import { HeaderValueError, parseContact, parseCSeq, parseNameAddr, parseVia } from '../sip/header-values.ts';
import { createResponse } from '../sip/response.ts';
import { parseUri, SipUriError, type SipUri } from '../sip/uri.ts';
import type { Binding, LocationStore } from './location-store.ts';

export interface RegistrarOptions {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContactsPerAor: number;
  /** Is this host one of ours (domain, alias, listen address)? */
  isLocalDomain(host: string): boolean;
  /** Does a user account exist? */
  userExists(username: string): boolean;
}

export class Registrar {
  readonly #store: LocationStore;
  readonly #opts: RegistrarOptions;

  constructor(store: LocationStore, opts: RegistrarOptions) {
    this.#store = store;
    this.#opts = opts;
  }

  /**
   * Process a REGISTER from an authenticated user. `authUser` is the username digest
   * authentication proved; the caller has already challenged unauthenticated requests.
   */
  handle(req: SipRequest, source: Peer, authUser: string, now = Date.now()): SipResponse {
    try {
      return this.#handle(req, source, authUser, now);
    } catch (err) {
      if (err instanceof HeaderValueError || err instanceof SipUriError) return createResponse(req, 400, { reason: `Bad Request (${err.message})` });
      throw err;
    }
  }

  #handle(req: SipRequest, source: Peer, authUser: string, now: number): SipResponse {
    const o = this.#opts;
    // §10.3 step 1: the Request-URI names the domain this registrar is responsible for.
    const ruri = parseUri(req.uri);
    if (!o.isLocalDomain(ruri.host)) return createResponse(req, 403, { reason: 'Forbidden (not our domain)' });

    // Step 5: the To header holds the address-of-record.
    const toValue = getHeader(req, 'To');
    if (!toValue) return createResponse(req, 400, { reason: 'Missing To' });
    const to = parseUri(parseNameAddr(toValue).uri);
    if ((to.scheme !== 'sip' && to.scheme !== 'sips') || !to.user || !o.isLocalDomain(to.host))
      return createResponse(req, 404, { reason: 'Not Found' });
    // Step 4: an authenticated user may only register their own address-of-record.
    if (to.user !== authUser) return createResponse(req, 403, { reason: 'Forbidden (To does not match the authenticated user)' });
    if (!o.userExists(to.user)) return createResponse(req, 404, { reason: 'Not Found' });
    // Every local domain name and alias means the same accounts, so the user name is the key.
    const aor = to.user;

    const callId = getHeader(req, 'Call-ID')!;
    const cseq = parseCSeq(getHeader(req, 'CSeq')!).seq;
    const expiresHeader = getHeader(req, 'Expires');
    let headerExpires: number | undefined;
    if (expiresHeader !== undefined) {
      if (!/^\s*\d{1,10}\s*$/.test(expiresHeader)) return createResponse(req, 400, { reason: 'Bad Expires' });
      headerExpires = Number(expiresHeader);
    }
    const contacts = getHeaderValues(req, 'Contact').map((c) => parseContact(c));
    const paths = getHeaderValues(req, 'Path');
    const supported = new Set(getHeaderValues(req, 'Supported').map((s) => s.toLowerCase()));
    let outboundUsed = false;

    // Step 6: "*" removes every binding, and only with Expires: 0 and no other Contact.
    if (contacts.some((c) => c.star)) {
      if (contacts.length !== 1 || headerExpires !== 0) return createResponse(req, 400, { reason: 'Invalid wildcard Contact' });
      for (const b of this.#store.all(aor)) {
        // Step 7 applies to "*" as well: an older request must not remove newer bindings.
        if (b.callId === callId && b.cseq >= cseq) return createResponse(req, 400, { reason: 'Out-of-order CSeq' });
      }
      this.#store.removeAll(aor);
      return this.#ok(req, aor, now, false);
    }

    // Validate every contact first so that a bad one changes nothing (step 7 is all or nothing).
    type Change = { key: string; binding?: Binding };
    const changes: Change[] = [];
    const topVia = parseVia(getHeaderValues(req, 'Via')[0]!);
    for (const c of contacts) {
      if (c.star) continue;
      const uri = parseUri(c.uri);
      // §10.2.1.1: the Contact's expires parameter wins over the Expires header.
      let expires = c.expires ?? headerExpires ?? o.defaultExpires;
      // §10.3 step 6 and §20.23: a nonzero interval below the minimum is refused with 423.
      if (expires !== 0 && expires < o.minExpires)
        return createResponse(req, 423, { headers: [{ name: 'Min-Expires', value: String(o.minExpires) }] });
      expires = Math.min(expires, o.maxExpires);
      const q = c.q ?? 1;
      const instance = c.params.get('+sip.instance') ?? undefined;
      const regIdRaw = c.params.get('reg-id') ?? undefined;
      const regId = regIdRaw !== undefined && /^\d{1,10}$/.test(regIdRaw) ? Number(regIdRaw) : undefined;
      // RFC 5626 §6: outbound applies with both +sip.instance and reg-id, on a UA that says it supports it.
      const outbound = instance !== undefined && regId !== undefined && supported.has('outbound');
      if (outbound) outboundUsed = true;
      const key = outbound ? `ob:${instance}:${regId}` : instance !== undefined ? `gruu:${instance}` : `uri:${normalizeUri(uri)}`;

      const existing = this.#store.get(aor, key);
      if (existing && existing.callId === callId && existing.cseq >= cseq) return createResponse(req, 400, { reason: 'Out-of-order CSeq' });
      if (expires === 0) {
        changes.push({ key });
        continue;
      }
      // Send later requests back along the flow when the UA needs it: outbound, a connection
      // (the only way into a browser), or a NAT'ed UDP phone that asked for rport (RFC 3581).
      const useFlow = outbound || source.transport !== 'udp' || topVia.params.has('rport');
      const contactParams = [...c.params]
        .filter(([k]) => k !== 'expires' && k !== 'q')
        .map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`))
        .join('');
      changes.push({
        key,
        binding: {
          aor,
          contact: c.uri,
          key,
          q,
          expiresAt: now + expires * 1000,
          callId,
          cseq,
          ...(instance !== undefined ? { instanceId: instance } : {}),
          ...(regId !== undefined ? { regId } : {}),
          path: paths,
          ...(useFlow ? { flow: { ...source } } : {}),
          contactParams,
        },
      });
    }

    const current = new Set(this.#store.lookup(aor, now).map((b) => b.key));
    for (const ch of changes) ch.binding ? current.add(ch.key) : current.delete(ch.key);
    if (current.size > o.maxContactsPerAor) return createResponse(req, 403, { reason: 'Forbidden (too many contacts)' });

    for (const ch of changes) {
      if (ch.binding) this.#store.upsert(ch.binding);
      else this.#store.remove(aor, ch.key);
    }
    return this.#ok(req, aor, now, outboundUsed, paths);
  }

  /** §10.3 step 8: the 200 lists every current binding with its remaining time. */
  #ok(req: SipRequest, aor: string, now: number, outbound: boolean, paths: string[] = []): SipResponse {
    const headers = this.#store.lookup(aor, now).map((b) => ({
      name: 'Contact',
      value: `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}${b.q !== 1 ? `;q=${b.q}` : ''}${b.contactParams}`,
    }));
    // RFC 3327 §5.3: the Path headers are echoed back in the 2xx.
    for (const p of paths) headers.push({ name: 'Path', value: p });
    // RFC 5626 §6: tell the UA its flow is being used for outbound.
    if (outbound) headers.push({ name: 'Require', value: 'outbound' });
    headers.push({ name: 'Supported', value: 'path, outbound' });
    headers.push({ name: 'Date', value: new Date(now).toUTCString() });
    return createResponse(req, 200, { headers });
  }
}

/** URI comparison key close to §19.1.4: scheme, user, host (lower-cased), port, transport. */
function normalizeUri(u: SipUri): string {
  const transport = u.params.get('transport');
  return `${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? ''};${transport ? transport.toLowerCase() : ''}`;
}
