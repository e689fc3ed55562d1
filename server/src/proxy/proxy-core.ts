/**
 * The stateful proxy (RFC 3261 §16): request validation (§16.3), route preprocessing (§16.4),
 * target determination from the location service (§16.5), parallel forking with Record-Route
 * (§16.6), response context and best-response choice (§16.7), CANCEL (§16.10) and the
 * stateless forwarding of ACK for 2xx and of stray responses (§16.11, §16.7 "no match").
 *
 * It sits above the transaction layer as its transaction user and never touches a socket.
 */
import type { Logger } from '../logger.ts';
import {
  cloneMessage,
  countHeaderValues,
  firstHeaderValue,
  fromOf,
  getHeader,
  getHeaderValues,
  getHeaderLines,
  isHeaderNamed,
  prependHeader,
  removeHeader,
  requestUri,
  setHeader,
  toOf,
  uriOf,
  type Peer,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type TransportName,
} from '../sip/message.ts';
import { parseNameAddr, parseVia } from '../sip/header-values.ts';
import { createResponse, randomToken } from '../sip/response.ts';
import { createCancel } from '../sip/transaction/client-transaction.ts';
import { parseUri, uriEquals, type SipUri } from '../sip/uri.ts';
import type { Binding, LocationStore } from '../registrar/location-store.ts';
import type { MediaHook, MediaRefusal } from '../media/media-anchor.ts';
import type { FlowTokens } from './flow-token.ts';
import { locateStatic, type Locator } from './locator.ts';
import { roomAnswer, type RoomTarget } from './room-uri.ts';

/** A server transaction as the proxy sees it. */
export interface IncomingRequest {
  readonly request: SipRequest;
  readonly source: Peer;
  respond(res: SipResponse): void;
  /** Send a final non-2xx response to a non-INVITE request without keeping the transaction (RFC 3261 §8.2.7). */
  respondStateless?(res: SipResponse): void;
}

/**
 * Refuse a request that failed the digest check. A plain challenge to a non-INVITE request
 * (a REGISTER without credentials, above all) carries a fresh nonce and is as good when
 * regenerated for a retransmission, so it goes statelessly, as Kamailio sends its challenges:
 * half of a busy registrar's requests are challenged, and each retained transaction would
 * hold memory for Timer J (32 s). An INVITE's challenge keeps its transaction, which absorbs
 * the ACK (a stateless one would let that ACK reach the proxy core as a stray request); so do
 * refusals after failed credentials, so that a retransmission is not counted as a second failure.
 */
export function refuse(stx: IncomingRequest, outcome: { response: SipResponse; fresh?: true }): void {
  if (outcome.fresh && stx.request.method !== 'INVITE' && stx.respondStateless) stx.respondStateless(outcome.response);
  else stx.respond(outcome.response);
}

export interface BranchEvents {
  response(res: SipResponse): void;
  /** Timer B/F fired: the branch behaves as if it received 408 (§16.7 step 1 / §16.8). */
  timeout(): void;
  /** The transport could not send: treated as 503 (§16.9). */
  transportError(): void;
}

/** What the proxy needs from the transaction and transport layers. */
export interface TransactionPort {
  /** Start a client transaction. The request already carries the proxy's Via. */
  sendRequest(req: SipRequest, dest: Peer, events: BranchEvents): void;
  /** Send without a transaction (ACK for 2xx, stray responses). */
  sendStateless(msg: SipMessage, dest: Peer): boolean;
  /** The address the proxy puts in Via/Record-Route for a transport; undefined if it has none. */
  local(transport: TransportName): { host: string; port: number } | undefined;
}

export type CallerCheck =
  | { ok: true; user?: string }
  | { ok: false; response: SipResponse };

export interface ProxyOptions {
  logger: Logger;
  port: TransactionPort;
  location: LocationStore;
  flowTokens: FlowTokens;
  locator: Locator;
  /** Are this host (a name, IPv4 or bracketed IPv6) and port this proxy? (§16.4) */
  isMyself(host: string, port: number | undefined): boolean;
  /** Is this host one of the domains the proxy is responsible for? (§16.5) */
  isLocalDomain(host: string): boolean;
  userExists(user: string): boolean;
  /** Digest check of the caller (407 challenge on failure); called only when policy requires it. */
  authenticate(req: SipRequest, source: Peer): CallerCheck;
  /** Timer C (§16.8), ms. */
  timerC?: number;
  /**
   * Media anchoring for calls between browsers and phones (server/src/media/media-anchor.ts): it
   * sees each forwarded INVITE/UPDATE/ACK and each response first and may rewrite their SDP.
   * Without it bodies pass untouched, as RFC 3261 §16.6 has a proxy do.
   */
  media?: MediaHook;
  /**
   * Group-call rooms (./room-uri.ts): a Request-URI sip:ROOM@DOMAIN that names a live room and
   * no user is answered here (302 to the room's page) instead of being looked up.
   */
  rooms?: { lookup(user: string): RoomTarget | undefined };
  /** Pseudonym for names in logs (server/src/logger.ts identity()). */
  pseudonym?: (value: string) => string | undefined;
}

/** Methods that create dialogs and so get Record-Route (§16.6 step 4; RFC 6665 for SUBSCRIBE). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

interface Branch {
  request: SipRequest;
  dest: Peer;
  final?: SipResponse;
  provisional: boolean;
  cancelled: boolean;
  timerC?: NodeJS.Timeout;
}

/** The response context of one proxied request (§16.7). */
class ResponseContext {
  readonly branches: Branch[] = [];
  finalSent = false;
  /** Set while the branches are being created: a branch that fails at once must not end the context early. */
  forking = false;
  readonly stx: IncomingRequest;
  constructor(stx: IncomingRequest) {
    this.stx = stx;
  }
}

export class ProxyCore {
  readonly #o: ProxyOptions;
  readonly #log: Logger;
  /** Live INVITE contexts by the upstream transaction's request, for CANCEL (§16.10). */
  readonly #contexts = new WeakMap<SipRequest, ResponseContext>();
  #active = 0;

  constructor(opts: ProxyOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ part: 'proxy' });
  }

  /** Response contexts not yet finished: for metrics and leak tests. */
  get activeContexts(): number {
    return this.#active;
  }

  /** A new request that the registrar or the core did not answer. */
  handleRequest(stx: IncomingRequest): void {
    const req = stx.request;
    const respond = (status: number, reason?: string, headers?: { name: string; value: string }[]) =>
      stx.respond(createResponse(req, status, { ...(reason ? { reason } : {}), ...(headers ? { headers } : {}) }));

    // §16.3 step 3: Max-Forwards.
    const mf = getHeader(req, 'Max-Forwards');
    if (mf !== undefined && Number(mf) === 0) return respond(483);
    // §16.3 step 4 / RFC 5393: a request that already went through us unchanged is a loop.
    const loopHash = this.#loopHash(req);
    if (this.#isLoop(req, loopHash)) return respond(482);
    // §16.3 step 5: we support no option tags that a proxy must understand.
    if (getHeader(req, 'Proxy-Require') !== undefined) {
      const proxyRequire = getHeaderValues(req, 'Proxy-Require');
      if (proxyRequire.length) return respond(420, undefined, [{ name: 'Unsupported', value: proxyRequire.join(', ') }]);
    }

    const routed = this.#preprocessRoutes(req);
    // A To tag means a request inside a dialog (a missing To throws here as a malformed one does).
    const toTag = (toOf(req) ?? parseNameAddr('')).params.get('tag');
    const inDialog = toTag !== undefined && toTag !== null;
    if (inDialog && routed.flow) routed.flow = this.#currentFlow(req, routed.flow);

    let targets: { uri: string; dest?: Peer; binding?: Binding }[];
    let ruri: SipUri;
    try {
      ruri = requestUri(req);
    } catch {
      return respond(416);
    }
    const nextRoute = firstHeaderValue(req, 'Route');

    if (nextRoute !== undefined || routed.flow) {
      // Loose routing (§16.4/§16.6 step 6) or a dialog request whose flow we recorded: the
      // route set is the dialog's, fixed at its creation; an initial request with a preloaded
      // Route to elsewhere is a relay attempt and must come from an authenticated local user.
      if (!inDialog && !routed.ours) {
        const check = this.#authorizeRelay(req, stx.source);
        if (!check.ok) return refuse(stx, check);
      }
      targets = [{ uri: req.uri, ...(routed.flow ? { dest: routed.flow } : {}) }];
    } else if (this.#o.isMyself(ruri.host, ruri.port)) {
      // A live room's URI. An account of the same name wins (rooms cannot take a user's name,
      // but a user may be added later): accounts last, rooms come and go.
      const room = ruri.user ? this.#o.rooms?.lookup(ruri.user) : undefined;
      if (room && !this.#o.userExists(room.room)) return this.#answerForRoom(stx, room, inDialog);
      // §16.5: a request for one of our users goes to every registered contact.
      if (!inDialog) {
        const check = this.#authorizeLocalCall(req, stx.source);
        if (!check.ok) return refuse(stx, check);
      }
      const user = ruri.user;
      if (!user) return respond(404);
      const bindings = this.#o.location.lookup(user);
      if (bindings.length === 0) return respond(this.#o.userExists(user) ? 480 : 404);
      targets = bindings.map((b) => ({ uri: b.contact, binding: b, ...(b.flow ? { dest: b.flow } : {}) }));
    } else {
      // Another domain, or a Contact address in a dialog: forward to the Request-URI.
      if (!inDialog) {
        const check = this.#authorizeRelay(req, stx.source);
        if (!check.ok) return refuse(stx, check);
      }
      targets = [{ uri: req.uri }];
    }

    // Credentials for our realm stop here (§22.3): they are of no use downstream.
    removeHeader(req, 'Proxy-Authorization');

    const ctx = new ResponseContext(stx);
    if (req.method === 'INVITE') this.#contexts.set(req, ctx);
    this.#active++;
    ctx.forking = true;
    try {
      for (const t of targets) this.#fork(ctx, t.uri, t.binding, t.dest, inDialog, loopHash);
    } finally {
      ctx.forking = false;
    }
    // Branches may all have failed synchronously (no route to any of them).
    this.#maybeFinish(ctx);
  }

  /**
   * The proxy acts as the room's redirect server (room-uri.ts). The 302 passes the same policy
   * as a call to a local user: a caller whose From is in our domain must authenticate (407), so
   * nobody probes rooms as one of our users without the password; a caller from elsewhere
   * arrives as who it says, as for any local user (a room's link is meant to be shared). Nothing
   * is forwarded, so the no-open-relay rule has nothing to check: the response goes back to the
   * caller only.
   */
  #answerForRoom(stx: IncomingRequest, room: RoomTarget, inDialog: boolean): void {
    const req = stx.request;
    const answer = roomAnswer(req.method, inDialog, room);
    if (answer.authenticate) {
      const check = this.#authorizeLocalCall(req, stx.source);
      if (!check.ok) return refuse(stx, check);
    }
    if (answer.status === 302) this.#log.info({ room: this.#o.pseudonym?.(room.room) ?? room.room, method: req.method }, 'request for a group-call room redirected to its page');
    stx.respond(createResponse(req, answer.status, { reason: answer.reason, headers: [...answer.headers] }));
  }

  /** §16.10: CANCEL for a pending INVITE; `invite` is the matching server transaction if any. */
  handleCancel(cancel: IncomingRequest, invite: IncomingRequest | undefined): void {
    const ctx = invite ? this.#contexts.get(invite.request) : undefined;
    if (!ctx) {
      cancel.respond(createResponse(cancel.request, 481));
      return;
    }
    cancel.respond(createResponse(cancel.request, 200));
    for (const b of ctx.branches) this.#cancelBranch(b);
  }

  /** ACK for a 2xx travels end to end outside any transaction (§13.2.2.4, §16.11). */
  handleAck(ack: SipRequest): void {
    const mf = Number(getHeader(ack, 'Max-Forwards') ?? 70);
    if (!(mf > 0)) return;
    const routed = this.#preprocessRoutes(ack);
    if (routed.flow) routed.flow = this.#currentFlow(ack, routed.flow);
    // We record-route every INVITE, so the ACK for a 2xx we forwarded carries our Route. One
    // without it matched none of our transactions: the ACK for a non-2xx we sent whose branch
    // is wrong (sipp's scenarios do that), or a relay attempt. Forwarding it could only loop
    // back to us or relay for a stranger, so it ends here (as in Kamailio's usual config).
    if (!routed.ours) {
      this.#log.debug('ACK without our Route dropped');
      return;
    }
    const fwd = cloneMessage(ack);
    setHeader(fwd, 'Max-Forwards', String(mf - 1));
    removeHeader(fwd, 'Proxy-Authorization');
    const send = (dest: Peer | undefined) => {
      if (!dest || this.#o.isMyself(dest.address, dest.port)) return;
      this.#pushVia(fwd, dest.transport, `z9hG4bK${randomToken(8)}`);
      this.#o.port.sendStateless(fwd, dest);
    };
    const route = () => {
      const dest = this.#resolve(fwd, routed.flow);
      if (dest instanceof Promise) void dest.then(send);
      else send(dest);
    };
    // An ACK may carry the answer to an offer in a 2xx (§13.2.1), which media anchoring rewrites.
    const media = this.#o.media?.ack(fwd);
    if (media) void media.then(route);
    else route();
  }

  /**
   * A response that matches no client transaction. RFC 6026 §8.4 replaced RFC 3261's stateless
   * forwarding of such responses: 2xx retransmissions now reach the proxy through the INVITE
   * client transaction's Accepted state, and a stray response is dropped (which also stops the
   * proxy from reflecting forged responses at third parties).
   */
  handleStrayResponse(res: SipResponse): void {
    this.#log.debug({ status: res.status }, 'stray response dropped');
  }

  // --- forwarding -----------------------------------------------------------

  #fork(ctx: ResponseContext, targetUri: string, binding: Binding | undefined, flow: Peer | undefined, inDialog: boolean, loopHash: string): void {
    const req = ctx.stx.request;
    const fwd = cloneMessage(req);
    // §16.6 step 2-3: Request-URI and Max-Forwards.
    fwd.uri = targetUri;
    const mf = getHeader(req, 'Max-Forwards');
    setHeader(fwd, 'Max-Forwards', String(mf === undefined ? 70 : Number(mf) - 1));
    // RFC 3327 §5.3: the registered Path becomes the route toward the contact.
    if (binding?.path.length) {
      for (const p of [...binding.path].reverse()) prependHeader(fwd, 'Route', p);
    }
    const branch: Branch = { request: fwd, dest: { transport: 'udp', address: '', port: 0 }, provisional: false, cancelled: false };
    ctx.branches.push(branch);
    const send = (dest: Peer | undefined) => {
      if (!dest) {
        branch.final = createResponse(req, binding ? 480 : 404, { reason: binding ? 'Temporarily Unavailable (flow gone)' : 'Not Found (no route)' });
        this.#maybeFinish(ctx);
        return;
      }
      // A contact or route that leads back to this proxy would only loop (§16.3 step 4).
      if (this.#o.isMyself(dest.address, dest.port)) {
        branch.final = createResponse(req, 482);
        this.#maybeFinish(ctx);
        return;
      }
      branch.dest = dest;
      // §16.6 step 4: Record-Route on dialog-creating requests, two entries when the transport
      // changes (or when a side needs a flow token) so each side sees an address it can reach.
      if (!inDialog && DIALOG_CREATING.has(req.method)) this.#recordRoute(fwd, ctx.stx.source, dest, req, binding?.flow ? dest : undefined);
      // §16.6 step 8: our Via, with a branch unique to this client transaction that carries
      // the loop hash (§16.3 step 4): the same request coming back through us is a loop, a
      // spiral (changed Request-URI) is not.
      this.#pushVia(fwd, dest.transport, `z9hG4bK${loopHash}.${randomToken(6)}`);
      this.#o.port.sendRequest(fwd, dest, {
        response: (res) => this.#mediaThenResponse(ctx, branch, res),
        timeout: () => this.#onBranchFailure(ctx, branch, 408),
        transportError: () => this.#onBranchFailure(ctx, branch, 503),
      });
      if (req.method === 'INVITE' && this.#o.timerC !== 0) {
        // §16.8 Timer C: an INVITE branch that rings forever is cancelled.
        branch.timerC = setTimeout(() => {
          if (branch.final) return;
          if (branch.provisional) this.#cancelBranch(branch);
          else this.#onBranchFailure(ctx, branch, 408);
        }, this.#o.timerC ?? 180_000);
        branch.timerC.unref();
      }
    };
    // Media anchoring may rewrite the body first, which takes a moment when it sets up mediasoup
    // objects, or refuse the branch (488 for an offer it cannot bridge). A CANCEL that came
    // meanwhile ends the branch before anything was sent (487, as §9.2 has the UAS answer).
    const forward = (dest: Peer | undefined) => {
      const media = dest && !this.#o.isMyself(dest.address, dest.port) ? this.#o.media?.request({ fwd, source: ctx.stx.source, binding, inDialog, branch }) : undefined;
      if (!media) return send(dest);
      media
        .catch((err: unknown): MediaRefusal => {
          this.#log.error({ err }, 'media anchoring failed');
          return { status: 500, reason: 'Server Internal Error' };
        })
        .then((refusal) => {
          if (!refusal && !branch.cancelled) return send(dest);
          if (!refusal) this.#o.media?.branchFailed(branch);
          const headers = refusal?.warning ? [{ name: 'Warning', value: refusal.warning }] : undefined;
          branch.final = refusal ? createResponse(req, refusal.status, { reason: refusal.reason, ...(headers ? { headers } : {}) }) : createResponse(req, 487);
          this.#maybeFinish(ctx);
        });
    };
    // A literal address, a flow or a failure is known at once; only DNS makes us wait.
    const dest = this.#resolve(fwd, flow);
    if (!(dest instanceof Promise)) {
      forward(dest);
      return;
    }
    dest.then(forward, (err: unknown) => {
      this.#log.warn({ err }, 'next-hop resolution failed');
      branch.final = createResponse(req, 503);
      this.#maybeFinish(ctx);
    });
  }

  /**
   * Where a forwarded request goes: a recorded flow, the top Route, or the Request-URI (§16.6
   * step 7, RFC 3263). A promise only when DNS has to be asked.
   */
  #resolve(fwd: SipRequest, flow: Peer | undefined): Peer | undefined | Promise<Peer | undefined> {
    const route = firstHeaderValue(fwd, 'Route');
    if (route === undefined && flow) return flow;
    let uri: SipUri;
    try {
      uri = parseUri(route !== undefined ? parseNameAddr(route).uri : fwd.uri);
    } catch {
      return undefined;
    }
    // A strict router (no lr) as next hop would need the URI swap of §16.6 step 6; loose routing is assumed.
    const s = locateStatic(uri);
    if (s) return s;
    const t = uri.params.get('transport')?.toLowerCase();
    if (t === 'ws' || t === 'wss') return undefined; // a browser is reachable only over its flow
    return this.#o.locator.locate(uri).then((found) => found[0]);
  }

  #recordRoute(fwd: SipRequest, source: Peer, dest: Peer, orig: SipRequest, destFlow: Peer | undefined): void {
    const inLocal = this.#o.port.local(source.transport);
    const outLocal = this.#o.port.local(dest.transport);
    if (!inLocal || !outLocal) return;
    // A UA's own first hop is us when the request has a single Via: record its flow so requests
    // later in the dialog reach it even behind NAT or over a WebSocket (RFC 5626 §5.3).
    const inToken = countHeaderValues(orig, 'Via', 2) === 1 ? this.#o.flowTokens.encode(source) : undefined;
    const outToken = destFlow ? this.#o.flowTokens.encode(destFlow) : undefined;
    const rr = (local: { host: string; port: number }, t: TransportName, token: string | undefined) =>
      `<sip:${token ? `${token}@` : ''}${formatHost(local.host)}:${local.port};transport=${t};lr>`;
    if (source.transport === dest.transport && !inToken && !outToken) {
      prependHeader(fwd, 'Record-Route', rr(outLocal, dest.transport, undefined));
      return;
    }
    // Double Record-Route (RFC 5658): the entry nearer the callee is on top.
    prependHeader(fwd, 'Record-Route', rr(inLocal, source.transport, inToken));
    prependHeader(fwd, 'Record-Route', rr(outLocal, dest.transport, outToken));
  }

  #pushVia(msg: SipRequest, transport: TransportName, branch: string): void {
    const local = this.#o.port.local(transport) ?? { host: '127.0.0.1', port: 5060 };
    prependHeader(msg, 'Via', `SIP/2.0/${transport.toUpperCase()} ${formatHost(local.host)}:${local.port};branch=${branch}`);
  }

  /** Hash of the fields that identify a request for loop detection (RFC 3261 §16.6 step 8). */
  #loopHash(req: SipRequest): string {
    let h = 0x811c9dc5;
    const feed = (s: string | undefined) => {
      if (s === undefined) return;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      h = Math.imul(h ^ 0x7c, 0x01000193);
    };
    feed(req.uri);
    feed(getHeader(req, 'Call-ID'));
    feed(getHeader(req, 'From'));
    feed(getHeader(req, 'To'));
    const cseq = getHeader(req, 'CSeq');
    if (cseq !== undefined) {
      // The sequence number: what split(/\s+/)[0] gives, without the array.
      const ws = cseq.search(/\s/);
      feed(ws < 0 ? cseq : cseq.slice(0, ws));
    }
    for (const f of req.headers) if (isHeaderNamed(f.name, 'Route')) feed(f.value);
    for (const f of req.headers) if (isHeaderNamed(f.name, 'Proxy-Require')) feed(f.value);
    return (h >>> 0).toString(36);
  }

  #isLoop(req: SipRequest, hash: string): boolean {
    // Only a request that has been through a proxy before (a second Via) can be looping.
    if (countHeaderValues(req, 'Via', 2) < 2) return false;
    const vias = getHeaderValues(req, 'Via');
    for (const v of vias.slice(1)) {
      let via;
      try {
        via = parseVia(v);
      } catch {
        continue;
      }
      const branch = via.params.get('branch');
      if (branch && branch.startsWith(`z9hG4bK${hash}.`) && this.#isOurVia(via)) return true;
    }
    return false;
  }

  /**
   * The flow a request inside a dialog should take toward its UA. RFC 5626 §5.3 sends it to the
   * flow its token names (430 when that flow is gone), but the token was fixed into the route set
   * when the dialog began (RFC 3261 §12.1.1), and a browser whose WebSocket dropped reconnects on a
   * new connection and registers the same Contact again. When the Request-URI (the UA's Contact,
   * its remote target) is registered now for the addressee (To) over another connection, that
   * registration says where the UA is: the request follows it, and the call survives the
   * reconnection. Otherwise the token's flow stands.
   */
  #currentFlow(req: SipRequest, flow: Peer): Peer {
    if (flow.connectionId === undefined) return flow;
    let user: string | undefined;
    try {
      const to = uriOf(req, (toOf(req) ?? parseNameAddr('')).uri);
      if (this.#o.isLocalDomain(to.host)) user = to.user;
    } catch {
      return flow;
    }
    if (!user) return flow;
    for (const b of this.#o.location.lookup(user)) {
      if (b.flow?.connectionId !== undefined && b.flow.connectionId !== flow.connectionId && uriEquals(b.contact, req.uri)) return b.flow;
    }
    return flow;
  }

  /**
   * §16.4: remove the Route entries that name us (two with double Record-Route). The flow token
   * in the last one we remove names the flow toward the next hop.
   */
  #preprocessRoutes(req: SipRequest): { ours: boolean; flow?: Peer } {
    if (getHeader(req, 'Route') === undefined) return NOT_ROUTED;
    const routes = getHeaderValues(req, 'Route');
    let n = 0;
    let last: SipUri | undefined;
    for (; n < routes.length; n++) {
      let uri: SipUri;
      try {
        uri = uriOf(req, parseNameAddr(routes[n]!).uri);
      } catch {
        break;
      }
      if (!this.#o.isMyself(uri.host, uri.port)) break;
      last = uri;
    }
    if (n === 0) return NOT_ROUTED;
    setRoutes(req, routes.slice(n));
    // The flow is the one named by the last entry removed.
    const flow = last?.user ? this.#o.flowTokens.decode(last.user) : undefined;
    return flow ? { ours: true, flow } : { ours: true };
  }

  // --- policy -----------------------------------------------------------------

  /** Out-of-dialog requests to local users: local callers must authenticate; others arrive as who they say. */
  #authorizeLocalCall(req: SipRequest, source: Peer): CallerCheck {
    if (req.method === 'ACK' || req.method === 'CANCEL') return { ok: true };
    if (!this.#fromIsLocal(req)) return { ok: true };
    return this.#o.authenticate(req, source);
  }

  /** A request for another domain: only authenticated local users may send one (no open relay). */
  #authorizeRelay(req: SipRequest, source: Peer): CallerCheck {
    if (req.method === 'ACK') return { ok: true };
    if (!this.#fromIsLocal(req)) return { ok: false, response: createResponse(req, 403, { reason: 'Forbidden (relaying denied)' }) };
    return this.#o.authenticate(req, source);
  }

  #fromIsLocal(req: SipRequest): boolean {
    try {
      return this.#o.isLocalDomain(uriOf(req, (fromOf(req) ?? parseNameAddr('')).uri).host);
    } catch {
      return false;
    }
  }

  #isOurVia(via: ReturnType<typeof parseVia>): boolean {
    return this.#o.isMyself(via.host, via.port);
  }

  // --- responses (§16.7) ---------------------------------------------------

  #onResponse(ctx: ResponseContext, branch: Branch, res: SipResponse): void {
    // Step 3: remove our Via.
    const fwd = cloneMessage(res);
    popTopVia(fwd);
    if (res.status < 200) {
      branch.provisional = true;
      if (branch.cancelled) this.#sendCancel(branch);
      // Step 5: 101-199 are forwarded at once; 100 is hop by hop.
      if (res.status > 100 && !ctx.finalSent) ctx.stx.respond(fwd);
      return;
    }
    if (res.status < 300) {
      // 2xx to INVITE: forward every one (each is a different dialog, §16.7 step 5) and cancel the rest.
      if (!branch.final) branch.final = fwd;
      this.#clearTimerC(branch);
      if (!ctx.finalSent) {
        ctx.finalSent = true;
        this.#done(ctx);
      }
      ctx.stx.respond(fwd);
      for (const b of ctx.branches) if (b !== branch) this.#cancelBranch(b);
      return;
    }
    if (branch.final) return;
    branch.final = fwd;
    this.#clearTimerC(branch);
    // A 6xx ends the search: cancel the other branches (§16.7 step 5).
    if (res.status >= 600) for (const b of ctx.branches) if (b !== branch) this.#cancelBranch(b);
    this.#maybeFinish(ctx);
  }

  /** Media anchoring sees a response first (it may rewrite its SDP); then §16.7 goes on. */
  #mediaThenResponse(ctx: ResponseContext, branch: Branch, res: SipResponse): void {
    const media = this.#o.media?.response(branch, res);
    if (!media) this.#onResponse(ctx, branch, res);
    else void media.then(() => this.#onResponse(ctx, branch, res));
  }

  #onBranchFailure(ctx: ResponseContext, branch: Branch, status: 408 | 503): void {
    if (branch.final) return;
    this.#o.media?.branchFailed(branch);
    this.#clearTimerC(branch);
    branch.final = createResponse(ctx.stx.request, status);
    this.#maybeFinish(ctx);
  }

  /** Step 6: when every branch has a final response, send the best one upstream. */
  #maybeFinish(ctx: ResponseContext): void {
    if (ctx.finalSent || ctx.forking) return;
    if (ctx.branches.some((b) => !b.final)) return;
    ctx.finalSent = true;
    this.#done(ctx);
    const finals = ctx.branches.map((b) => b.final!);
    if (finals.length === 0) {
      ctx.stx.respond(createResponse(ctx.stx.request, 480));
      return;
    }
    const rank = (s: number) => (s >= 600 ? 0 : s);
    let best = finals[0]!;
    for (const f of finals) if (rank(f.status) < rank(best.status)) best = f;
    // §16.7 step 6: 401/407 challenges from every branch are collected into the chosen one.
    if (best.status === 401 || best.status === 407) {
      const out = cloneMessage(best);
      for (const f of finals) {
        if (f === best) continue;
        for (const name of ['WWW-Authenticate', 'Proxy-Authenticate']) for (const v of getHeaderLines(f, name)) out.headers.push({ name, value: v });
      }
      best = out;
    }
    // A 503 means this proxy could not find a route; upstream would retry elsewhere wrongly.
    if (best.status === 503) best = { ...cloneMessage(best), status: 500, reason: 'Server Internal Error' };
    ctx.stx.respond(best);
  }

  #done(ctx: ResponseContext): void {
    this.#active--;
    this.#contexts.delete(ctx.stx.request);
  }

  #cancelBranch(b: Branch): void {
    if (b.final || b.cancelled || b.request.method !== 'INVITE') return;
    b.cancelled = true;
    // §9.1: no CANCEL before a provisional response; it is sent when one arrives.
    if (b.provisional) this.#sendCancel(b);
  }

  /** §9.1: CANCEL mirrors the INVITE's Request-URI, Call-ID, From, To, CSeq number, top Via and Route. */
  #sendCancel(b: Branch): void {
    this.#o.port.sendRequest(createCancel(b.request), b.dest, { response: () => {}, timeout: () => {}, transportError: () => {} });
  }

  #clearTimerC(b: Branch): void {
    if (b.timerC) clearTimeout(b.timerC);
  }
}

function setRoutes(req: SipRequest, routes: string[]): void {
  removeHeader(req, 'Route');
  for (const r of routes) req.headers.push({ name: 'Route', value: r });
}

/** Remove the first Via value (which may share a field line with others). */
function popTopVia(msg: SipMessage): void {
  // Usual case: one Via per field line, all in a row, spelled "Via", values trimmed. Then the
  // general rebuild below comes down to removing the first of them.
  const headers = msg.headers;
  const first = headers.findIndex((h) => h.name === 'Via');
  if (first >= 0) {
    let simple = true;
    let end = first;
    while (end < headers.length && headers[end]!.name === 'Via') {
      const v = headers[end]!.value;
      if (v.length === 0 || v.indexOf(',') >= 0 || v.trim() !== v) simple = false;
      end++;
    }
    for (let j = end; simple && j < headers.length; j++) if (isHeaderNamed(headers[j]!.name, 'Via')) simple = false;
    for (let j = 0; simple && j < first; j++) if (isHeaderNamed(headers[j]!.name, 'Via')) simple = false;
    if (simple) {
      headers.splice(first, 1);
      return;
    }
  }
  const vias = getHeaderValues(msg, 'Via');
  const i = msg.headers.findIndex((h) => h.name === 'Via');
  removeHeader(msg, 'Via');
  const rest = vias.slice(1).map((value) => ({ name: 'Via', value }));
  msg.headers.splice(i < 0 ? 0 : i, 0, ...rest);
}

const NOT_ROUTED: { ours: boolean; flow?: Peer } = Object.freeze({ ours: false });

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
