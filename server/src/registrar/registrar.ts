/**
 * The registrar (RFC 3261 §10.3) with RFC 5626 outbound, RFC 3327 Path and RFC 3581 flows.
 * Pure request → response logic over the location store; authentication is delegated, and the
 * clock is passed in, so it is tested without sockets.
 */
import {
  cseqOf,
  getHeader,
  getHeaderValues,
  requestUri,
  toOf,
  topVia,
  uriOf,
  type HeaderField,
  type Peer,
  type SipRequest,
  type SipResponse,
} from '../sip/message.ts';
import { HeaderValueError, parseContact, type ContactAddress } from '../sip/header-values.ts';
import { createResponse } from '../sip/response.ts';
import { SipUriError, type SipUri } from '../sip/uri.ts';
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
    const ruri = requestUri(req);
    if (!o.isLocalDomain(ruri.host)) return createResponse(req, 403, { reason: 'Forbidden (not our domain)' });

    // Step 5: the To header holds the address-of-record.
    const toValue = getHeader(req, 'To');
    if (!toValue) return createResponse(req, 400, { reason: 'Missing To' });
    const to = uriOf(req, toOf(req)!.uri);
    if ((to.scheme !== 'sip' && to.scheme !== 'sips') || !to.user || !o.isLocalDomain(to.host))
      return createResponse(req, 404, { reason: 'Not Found' });
    // Step 4: an authenticated user may only register their own address-of-record.
    if (to.user !== authUser) return createResponse(req, 403, { reason: 'Forbidden (To does not match the authenticated user)' });
    if (!o.userExists(to.user)) return createResponse(req, 404, { reason: 'Not Found' });
    // Every local domain name and alias means the same accounts, so the user name is the key.
    const aor = to.user;

    const callId = getHeader(req, 'Call-ID')!;
    const cseq = cseqOf(req).seq;
    const expiresHeader = getHeader(req, 'Expires');
    let headerExpires: number | undefined;
    if (expiresHeader !== undefined) {
      if (!/^\s*\d{1,10}\s*$/.test(expiresHeader)) return createResponse(req, 400, { reason: 'Bad Expires' });
      headerExpires = Number(expiresHeader);
    }
    const contacts = getHeaderValues(req, 'Contact').map((c) => parseContact(c));
    const paths = getHeaderValues(req, 'Path');
    // Whether the UA supports outbound: looked at only when a contact asks for it.
    let supportsOutbound: boolean | undefined;
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
    const changes: Change[] = [];
    const via = topVia(req);
    for (const c of contacts) {
      if (c.star) continue;
      const uri = uriOf(req, c.uri);
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
      const outbound = instance !== undefined && regId !== undefined && (supportsOutbound ??= supports(req, 'outbound'));
      if (outbound) outboundUsed = true;
      const key = outbound ? `ob:${instance}:${regId}` : instance !== undefined ? `gruu:${instance}` : `uri:${normalizeUri(uri)}`;

      const existing = this.#store.get(aor, key);
      if (existing && existing.callId === callId) {
        if (existing.cseq > cseq) return createResponse(req, 400, { reason: 'Out-of-order CSeq' });
        // The same Call-ID and CSeq is this very request again (§8.1.3.3: a UA increments CSeq
        // for each new request): a retransmission that reached a transaction layer which had not
        // seen it, e.g. another worker of a cluster. Answer it as the first time, changing nothing.
        if (existing.cseq === cseq) continue;
      }
      if (expires === 0) {
        changes.push({ key });
        continue;
      }
      // Send later requests back along the flow when the UA needs it: outbound, a connection
      // (the only way into a browser), or a NAT'ed UDP phone that asked for rport (RFC 3581).
      const useFlow = outbound || source.transport !== 'udp' || via.params.has('rport');
      const binding: Binding = {
        aor,
        contact: c.uri,
        key,
        q,
        expiresAt: now + expires * 1000,
        callId,
        cseq,
        path: paths,
        contactParams: contactParams(c),
      };
      if (instance !== undefined) binding.instanceId = instance;
      if (regId !== undefined) binding.regId = regId;
      if (useFlow) binding.flow = { ...source };
      changes.push({ key, binding });
    }

    if (this.#countAfter(aor, changes, now) > o.maxContactsPerAor) return createResponse(req, 403, { reason: 'Forbidden (too many contacts)' });

    for (const ch of changes) {
      if (ch.binding) this.#store.upsert(ch.binding);
      else this.#store.remove(aor, ch.key);
    }
    return this.#ok(req, aor, now, outboundUsed, paths);
  }

  /**
   * Number of unexpired bindings of `aor` once `changes` are applied: each key ends up bound or
   * not according to the last change that names it, other keys as they are now.
   */
  #countAfter(aor: string, changes: readonly Change[], now: number): number {
    let n = 0;
    for (const b of this.#store.all(aor)) {
      if (b.expiresAt <= now) continue;
      let named = false;
      for (const ch of changes) if (ch.key === b.key) named = true;
      if (!named) n++;
    }
    for (let i = 0; i < changes.length; i++) {
      const ch = changes[i]!;
      let last = true;
      for (let j = i + 1; j < changes.length; j++) if (changes[j]!.key === ch.key) last = false;
      if (last && ch.binding) n++;
    }
    return n;
  }

  /** §10.3 step 8: the 200 lists every current binding with its remaining time. */
  #ok(req: SipRequest, aor: string, now: number, outbound: boolean, paths: string[] = []): SipResponse {
    const headers: HeaderField[] = [];
    for (const b of this.#store.lookup(aor, now)) {
      headers.push({
        name: 'Contact',
        value: `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}${b.q !== 1 ? `;q=${b.q}` : ''}${b.contactParams}`,
      });
    }
    // RFC 3327 §5.3: the Path headers are echoed back in the 2xx.
    for (const p of paths) headers.push({ name: 'Path', value: p });
    // RFC 5626 §6: tell the UA its flow is being used for outbound.
    if (outbound) headers.push({ name: 'Require', value: 'outbound' });
    headers.push({ name: 'Supported', value: 'path, outbound' });
    headers.push({ name: 'Date', value: httpDate(now) });
    return createResponse(req, 200, { headers });
  }
}

type Change = { key: string; binding?: Binding };

/** Does the request's Supported list this option tag (case-insensitively)? */
function supports(req: SipRequest, tag: string): boolean {
  for (const s of getHeaderValues(req, 'Supported')) if (s.toLowerCase() === tag) return true;
  return false;
}

/** The Contact's header parameters other than expires and q, as written back in the 200. */
function contactParams(c: ContactAddress): string {
  let s = '';
  for (const [k, v] of c.params) if (k !== 'expires' && k !== 'q') s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Date header value (RFC 3261 §20.17, RFC 1123 form), formatted once per second. */
let dateSecond = Number.NaN;
let dateText = '';
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** URI comparison key close to §19.1.4: scheme, user, host (lower-cased), port, transport. */
function normalizeUri(u: SipUri): string {
  const transport = u.params.get('transport');
  return `${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? ''};${transport ? transport.toLowerCase() : ''}`;
}
