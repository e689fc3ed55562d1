/**
 * The signed-in phone: one sip.js UserAgent on SIP over secure WebSocket (RFC 7118) to the server
 * the page came from, registered with digest authentication (RFC 3261 §22, one MD5 challenge
 * chosen among several, ./digest-challenges.ts), and the calls it places and receives.
 *
 * When the WebSocket drops, the phone reconnects with exponential backoff (./backoff.ts),
 * registers again, and asks every connected call for an ICE restart (Call.restartIce), whose
 * re-INVITE travels over the new connection.
 *
 * Incoming calls while another call is live get 486 Busy Here (RFC 3261 §21.4.24), except an
 * INVITE with Replaces for one of our calls (RFC 3891: the far end completes an attended
 * transfer), which takes that call's place without ringing.
 */
import { Invitation, Inviter, Registerer, RegistererState, UserAgent, type Referral, type Session } from 'sip.js';
import { E2EE_HEADER, type MediaProtectionFactory } from '../media/media-protection.ts';
import { E2EE_REQUIRED_STATUS, E2EE_REQUIRED_WARNING, offerPrivacy } from '../privacy/incoming-offer.ts';
import { Emitter } from '../util/emitter.ts';
import { Backoff } from './backoff.ts';
import { Call, inviterOptions } from './call.ts';
import { parseDialTarget } from './dial-target.ts';
import { groupCallPath, takeRedirectContacts } from './group-redirect.ts';
import { preferAnswerableChallenge } from './digest-challenges.ts';
import { e2eeAnsweredCallId } from './e2ee-announcement.ts';
import type { DtmfPreference } from './dtmf.ts';
import { identityOf, type Identity } from './identity.ts';
import { sessionDescriptionHandlerFactory } from './session-media.ts';

export type PhoneStatus = 'connecting' | 'registered' | 'reconnecting' | 'signed-out';

export interface PhoneOptions {
  /** wss://host:port of the SIP WebSocket (the page's own origin). */
  server: string;
  /** SIP domain (digest realm) of the accounts. */
  domain: string;
  username: string;
  password: string;
  displayName?: string;
  protection?: MediaProtectionFactory;
  iceServers?: RTCIceServer[];
  dtmfPreference?: () => DtmfPreference;
  /** The user's setting: decline, before ringing, calls that will not be end-to-end encrypted. */
  requireE2ee?: () => boolean;
  /** sip.js log lines (SIP messages when traceSip), for diagnostics. */
  log?: (line: string) => void;
}

export type PhoneEvents = {
  status: [status: PhoneStatus];
  /** A call was added: placed by us, by a transfer, or ringing in. */
  call: [call: Call];
  /** A call was refused because we were busy (486): it still belongs in the history. */
  missed: [identity: Identity, reason: 'busy' | 'e2ee-required'];
};

export class SignInError extends Error {
  override name = 'SignInError';
  readonly reason: 'credentials' | 'unreachable' | 'refused';
  constructor(reason: SignInError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Registration lifetime asked for (s); sip.js refreshes before it runs out. */
const EXPIRES = 600;

export class Phone {
  readonly events = new Emitter<PhoneEvents>();
  readonly aor: string;
  readonly username: string;
  readonly domain: string;
  readonly #o: PhoneOptions;
  readonly #ua: UserAgent;
  readonly #registerer: Registerer;
  readonly #backoff = new Backoff();
  #status: PhoneStatus = 'connecting';
  #calls: Call[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the next reconnection attempt is due (ms since epoch), while reconnecting. */
  retryAt: number | undefined;
  #signingOut = false;
  /** Call-IDs whose 2xx to our INVITE announced end-to-end encryption. */
  readonly #e2eeAnswered = new Set<string>();
  /** Contact values of 3xx responses that sip.js cannot parse (a group call page), by Call-ID. */
  readonly #redirects = new Map<string, string[]>();

  private constructor(o: PhoneOptions) {
    this.#o = o;
    this.username = o.username;
    this.domain = o.domain;
    this.aor = `sip:${o.username}@${o.domain}`;
    const uri = UserAgent.makeURI(this.aor);
    if (!uri) throw new SignInError('refused', `“${o.username}” is not a valid user name.`);
    this.#ua = new UserAgent({
      uri,
      authorizationUsername: o.username,
      authorizationPassword: o.password,
      ...(o.displayName ? { displayName: o.displayName } : {}),
      transportOptions: { server: o.server, connectionTimeout: 5, traceSip: !!o.log },
      sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory({
        iceServers: o.iceServers ?? [],
        iceGatheringTimeoutMs: 2000,
        protectionFor: (session) => (session.data instanceof Call ? session.data.protection() : undefined),
      }),
      // sip.js does not reconnect by itself (reconnectionAttempts defaults to 0): we do, with backoff.
      noAnswerTimeout: 60,
      sipExtensionReplaces: 'Supported' as never,
      userAgentString: 'Sotto web client',
      logBuiltinEnabled: false,
      logConfiguration: false,
      logLevel: o.log ? 'log' : 'error',
      logConnector: (level, category, _label, content) => o.log?.(`[${level}] ${category} ${content}`),
      delegate: {
        onConnect: () => void this.#onConnected(),
        onDisconnect: (error) => this.#onDisconnected(error),
        onInvite: (invitation) => this.#onInvite(invitation),
      },
    });
    // sip.js keeps only the last challenge of a 401/407 and answers only MD5: see there.
    const transport = this.#ua.transport;
    const deliver = transport.onMessage;
    transport.onMessage = (message: string) => {
      const e2ee = e2eeAnsweredCallId(message, E2EE_HEADER);
      if (e2ee) this.#e2eeAnswered.add(e2ee);
      const taken = takeRedirectContacts(message);
      if (taken.redirect) {
        // Bounded: a 3xx for a Call-ID that is not ours must not make the map grow.
        if (this.#redirects.size >= 16) this.#redirects.delete(this.#redirects.keys().next().value!);
        this.#redirects.set(taken.redirect.callId, taken.redirect.contacts);
      }
      deliver?.(preferAnswerableChallenge(taken.message));
    };
    // RFC 5768 §4.2: +sip.ice says this UA does ICE (WebRTC); the server bridges calls from
    // phones to it (server/src/media) and leaves browser-to-browser calls direct.
    this.#registerer = new Registerer(this.#ua, { expires: EXPIRES, extraContactHeaderParams: ['+sip.ice'] });
  }

  /** Connect and register; rejects with a SignInError that says what went wrong. */
  static async signIn(o: PhoneOptions): Promise<Phone> {
    const phone = new Phone(o);
    try {
      await phone.#ua.start();
    } catch {
      await phone.#ua.stop().catch(() => undefined);
      throw new SignInError('unreachable', 'Cannot reach the server. Check your connection and try again.');
    }
    try {
      await phone.#register();
    } catch (err) {
      await phone.#ua.stop().catch(() => undefined);
      throw err;
    }
    phone.#setStatus('registered');
    return phone;
  }

  get status(): PhoneStatus {
    return this.#status;
  }

  get calls(): readonly Call[] {
    return this.#calls;
  }

  /** The live calls, most recent first. */
  get liveCalls(): Call[] {
    return this.#calls.filter((c) => c.live).reverse();
  }

  /** Call a user name or SIP address. Throws with a message for input that is not one. */
  async call(input: string, o: { video: boolean }): Promise<Call> {
    const target = parseDialTarget(input, this.domain);
    if (!target.ok) throw new Error(target.error);
    const call = Call.outgoing(this.#ua, target.uri, this.#callOptions(identityOf(undefined, { scheme: 'sip', user: target.user, host: target.host }, this.domain), o.video));
    this.#add(call);
    void call.start().catch(() => undefined);
    return call;
  }

  /** Resolve a transfer target typed by the user to a SIP URI (or throw with a message). */
  targetUri(input: string): { uri: string; label: string } {
    const t = parseDialTarget(input, this.domain);
    if (!t.ok) throw new Error(t.error);
    return { uri: t.uri, label: identityOf(undefined, { scheme: 'sip', user: t.user, host: t.host }, this.domain).label };
  }

  /** Try to reconnect now (e.g. the browser says it is online again). */
  reconnectNow(): void {
    if (this.#status !== 'reconnecting') return;
    clearTimeout(this.#retryTimer);
    this.#attemptReconnect();
  }

  /** Hang up every call, unregister, close the WebSocket. */
  async signOut(): Promise<void> {
    this.#signingOut = true;
    clearTimeout(this.#retryTimer);
    await Promise.allSettled(this.liveCalls.map((c) => c.hangUp()));
    if (this.#ua.isConnected()) {
      await Promise.race([this.#registerer.unregister().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    }
    await this.#ua.stop().catch(() => undefined);
    this.#setStatus('signed-out');
  }

  // --- registration and reconnection ---------------------------------------------------------

  #register(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        this.#registerer.stateChange.removeListener(onState);
        if (err) reject(err);
        else resolve();
      };
      const onState = (s: RegistererState) => {
        if (s === RegistererState.Registered) settle();
      };
      this.#registerer.stateChange.addListener(onState);
      this.#registerer
        .register({
          requestDelegate: {
            onAccept: () => settle(),
            onReject: (res) => {
              const code = res.message.statusCode ?? 0;
              settle(
                code === 401 || code === 407 || code === 403
                  ? new SignInError('credentials', 'Wrong user name or password.')
                  : new SignInError('refused', `The server refused the registration (${code} ${res.message.reasonPhrase ?? ''}).`),
              );
            },
          },
        })
        .catch((err: unknown) => settle(new SignInError('unreachable', String(err))));
    });
  }

  async #onConnected(): Promise<void> {
    // The first connection is handled by signIn(); this is for the ones after a drop.
    if (this.#status !== 'reconnecting' || this.#signingOut) return;
    try {
      await this.#register();
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#backoff.reset();
    this.retryAt = undefined;
    this.#setStatus('registered');
    // Tell every call where we are now; ICE may need new candidates too.
    for (const c of this.liveCalls) void c.restartIce();
  }

  #onDisconnected(error?: Error): void {
    if (this.#signingOut || this.#status === 'signed-out') return;
    // While reconnecting, the failed attempt's own rejection schedules the next one.
    if (this.#status !== 'registered') return;
    // sip.js reports an error only when the connection dropped unasked.
    if (!error) return;
    this.#setStatus('reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#signingOut) return;
    clearTimeout(this.#retryTimer);
    const wait = this.#backoff.next();
    this.retryAt = Date.now() + wait;
    this.events.emit('status', this.#status);
    this.#retryTimer = setTimeout(() => this.#attemptReconnect(), wait);
  }

  #attemptReconnect(): void {
    if (this.#signingOut) return;
    this.retryAt = undefined;
    this.#ua.reconnect().catch(() => this.#scheduleReconnect());
  }

  #setStatus(s: PhoneStatus): void {
    if (this.#status === s) return;
    this.#status = s;
    this.events.emit('status', s);
  }

  // --- calls ---------------------------------------------------------------------------------

  #callOptions(peer: Identity, video: boolean) {
    return {
      localUri: this.aor,
      peer,
      video,
      protection: this.#o.protection,
      answeredWithE2ee: (callId: string) => this.#e2eeAnswered.has(callId),
      dtmfPreference: this.#o.dtmfPreference ?? (() => 'auto' as const),
      groupCallPath: (callId: string, contacts: string[]) => {
        const lifted = this.#redirects.get(callId) ?? [];
        this.#redirects.delete(callId);
        return groupCallPath([...lifted, ...contacts], { origin: location.origin }, this.domain);
      },
    };
  }

  #add(call: Call): void {
    this.#calls.push(call);
    call.events.on('referred', (referral) => this.#followReferral(call, referral));
    call.events.on('ended', () => {
      if (call.session instanceof Inviter) this.#e2eeAnswered.delete(call.session.request.callId);
      // Keep ended calls only as long as the page needs them (history is stored elsewhere).
      setTimeout(() => (this.#calls = this.#calls.filter((c) => c !== call)), 0);
    });
    this.events.emit('call', call);
  }

  #onInvite(invitation: Invitation): void {
    const from = invitation.remoteIdentity;
    const peer = identityOf(from.displayName, { scheme: from.uri.scheme ?? 'sip', user: from.uri.user, host: from.uri.host }, this.domain);
    // Decided on the INVITE alone, before anything rings or any media is set up: whether the
    // caller announced E2EE (and we can do it), else what its SDP offer asks for. Applies to
    // every incoming INVITE, transfers with Replaces included: the setting is about the media.
    if (this.#o.requireE2ee?.()) {
      const privacy = offerPrivacy({ announcedE2ee: invitation.request.hasHeader(E2EE_HEADER), canE2ee: !!this.#o.protection, offerSdp: invitation.body });
      if (!privacy.e2ee) {
        void invitation.reject({ statusCode: E2EE_REQUIRED_STATUS, extraHeaders: [`Warning: ${E2EE_REQUIRED_WARNING}`] }).catch(() => undefined);
        this.events.emit('missed', peer, 'e2ee-required');
        return;
      }
    }
    const replaced = (invitation.replacee as Session | undefined)?.data;
    if (replaced instanceof Call && replaced.live) {
      // RFC 3891 §3: the new dialog replaces ours; sip.js BYEs the old one once we accept.
      const call = Call.incoming(invitation, this.#callOptions(peer, replaced.video));
      replaced.markReplaced();
      this.#add(call);
      void call.answer(replaced.video).catch(() => undefined);
      return;
    }
    if (this.liveCalls.length > 0) {
      void invitation.reject({ statusCode: 486 });
      this.events.emit('missed', peer, 'busy');
      return;
    }
    this.#add(Call.incoming(invitation, this.#callOptions(peer, false)));
  }

  #followReferral(from: Call, referral: Referral): void {
    const uri = referral.referTo.uri;
    const peer = identityOf(referral.referTo.displayName, { scheme: uri.scheme ?? 'sip', user: uri.user, host: uri.host }, this.domain);
    const o = inviterOptions(from.video, !!this.#o.protection);
    // makeInviter adds Replaces and Referred-By to these headers (RFC 3891, RFC 3892).
    const inviter = referral.makeInviter({ ...o, extraHeaders: [...(o.extraHeaders ?? [])] });
    const call = Call.referred(inviter, this.#callOptions(peer, from.video));
    this.#add(call);
    void call.start().catch(() => undefined);
  }
}
