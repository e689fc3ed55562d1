/**
 * Server transactions (RFC 3261 §17.2) as updated by RFC 6026.
 *
 * A server transaction receives one request (and its retransmissions, matched by the transaction
 * manager per §17.2.3), takes the TU's responses through `respond()`, sends them, retransmits
 * INVITE final responses over unreliable transports and answers retransmitted requests with the
 * last response. It is pure logic: it sends through `env.send` and schedules through `env.timers`.
 */
import type { Peer, SipRequest, SipResponse } from '../message.ts';
import { isReliable, releaseViews } from '../message.ts';
import { createResponse } from '../response.ts';
import { checkedTransition, transmit, type TimerHandle, type TransactionEnv } from './timers.ts';

/**
 * What a server transaction reports upward. The transaction manager passes one shared adapter
 * that forwards to its {@link TransactionUser}; a standalone transaction may have none.
 */
export interface ServerTransactionUser {
  /**
   * A transaction failure: Timer H fired with no ACK for a non-2xx final response (§17.2.1), or
   * the transport failed to send a response (§17.2.4; `error` is the cause). In Proceeding and
   * Completed the transaction is then terminated; in Accepted it stays (RFC 6026 §8.7).
   */
  onError?(tx: ServerTransaction, reason: 'timeout' | 'transport', error: unknown): void;
  /** An ACK matched to an INVITE server transaction in Accepted: "ACK: to TU" (RFC 6026 §8.7). */
  onAck?(tx: InviteServerTransaction, ack: SipRequest, source: Peer): void;
  /** The transaction entered Terminated and has been forgotten; always the last call. */
  onTerminated?(tx: ServerTransaction): void;
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

const NO_USER: ServerTransactionUser = Object.freeze({});

// ---------------------------------------------------------------------------------------------
// INVITE server transaction (§17.2.1, RFC 6026 §8.5-§8.7)
// ---------------------------------------------------------------------------------------------

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/**
 * Legal transitions (Figure 7 of RFC 3261 as changed by RFC 6026 §8.7):
 *
 *   proceeding → completed (300-699 from TU), accepted (2xx from TU), terminated (transport error)
 *   completed  → confirmed (ACK), terminated (Timer H, transport error)
 *   confirmed  → terminated (Timer I)
 *   accepted   → terminated (Timer L)
 */
const INVITE_SERVER_TRANSITIONS: Readonly<Record<InviteServerState, readonly InviteServerState[]>> = {
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['confirmed', 'terminated'],
  confirmed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export class InviteServerTransaction {
  /** Matching key given by the transaction manager (§17.2.3); '' standalone. */
  readonly key: string;
  readonly request: SipRequest;
  /** Where the request came from. */
  readonly source: Peer;
  /** Where responses go (§18.2.2; by default the source). */
  readonly destination: Peer;
  readonly #env: TransactionEnv;
  readonly #user: ServerTransactionUser;
  #state: InviteServerState = 'proceeding';
  #lastResponse: SipResponse | undefined;
  /** Timer G. */
  #retransmitTimer: TimerHandle | undefined;
  /** The 100 Trying delay in Proceeding, then Timer H (Completed), I (Confirmed) or L (Accepted). */
  #timer: TimerHandle | undefined;
  /** Current Timer G interval. */
  #interval = 0;

  constructor(
    env: TransactionEnv,
    request: SipRequest,
    source: Peer,
    user: ServerTransactionUser = NO_USER,
    key = '',
    destination: Peer = source,
  ) {
    if (request.method !== 'INVITE') throw new TypeError('InviteServerTransaction needs an INVITE');
    this.#env = env;
    this.request = request;
    this.source = source;
    this.destination = destination;
    this.#user = user;
    this.key = key;
  }

  get kind(): 'invite-server' {
    return 'invite-server';
  }

  get state(): InviteServerState {
    return this.#state;
  }

  /** The last response sent (including an automatic 100 Trying), if any. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  /**
   * Enter Proceeding (§17.2.1): arm the 100 Trying that is sent unless the TU responds within
   * `values.trying` (200 ms by default; 0 sends it now).
   */
  start(): void {
    const delay = this.#env.values.trying;
    if (delay === 0) this.#sendTrying();
    else if (Number.isFinite(delay)) this.#timer = this.#env.timers.schedule(delay, () => this.#onTrying());
  }

  /**
   * Send a response from the TU (§17.2.1). Returns false, sending nothing, when the state does
   * not take it: a final response after a final one (except further 2xx in Accepted, which
   * RFC 6026 §8.7 sends — the UAS core's 2xx retransmissions, or a proxy's 2xx from other forks).
   */
  respond(response: SipResponse): boolean {
    const status = response.status;
    if (status < 100 || status > 699) throw new RangeError(`invalid status ${status}`);
    switch (this.#state) {
      case 'proceeding':
        this.#env.timers.cancel(this.#timer); // TU responded: no automatic 100 Trying
        this.#timer = undefined;
        this.#lastResponse = response;
        if (status < 200) {
          // stays in Proceeding
        } else if (status < 300) {
          // RFC 6026 §8.5: Accepted, Timer L; the TU (not the transaction) retransmits 2xx.
          releaseViews(this.request);
          this.#transition('accepted');
          this.#timer = this.#env.timers.schedule(this.#env.values.L, () => this.#onTimerL());
        } else {
          // §17.2.1: Completed; Timer G retransmits on unreliable transports, Timer H waits for the ACK.
          releaseViews(this.request);
          this.#transition('completed');
          if (!isReliable(this.destination.transport)) {
            this.#interval = this.#env.values.G;
            this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerG());
          }
          this.#timer = this.#env.timers.schedule(this.#env.values.H, () => this.#onTimerH());
        }
        transmit(this.#env, response, this.destination, this);
        return true;
      case 'accepted':
        if (status < 200 || status >= 300) return false;
        this.#lastResponse = response;
        transmit(this.#env, response, this.destination, this);
        return true;
      default:
        return false;
    }
  }

  /** A retransmission of the INVITE, matched by the transaction manager (§17.2.1). */
  receiveRequest(_request: SipRequest): void {
    // Proceeding: resend the most recent provisional response; Completed: the final response.
    // Confirmed absorbs, and so does Accepted (RFC 6026 §8.7).
    if ((this.#state === 'proceeding' || this.#state === 'completed') && this.#lastResponse !== undefined) {
      transmit(this.#env, this.#lastResponse, this.destination, this);
    }
  }

  /** An ACK matched to this transaction by the transaction manager (§17.2.1, §17.2.3). */
  receiveAck(ack: SipRequest, source: Peer = this.source): void {
    switch (this.#state) {
      case 'completed':
        // §17.2.1: Confirmed; stop G and H; Timer I absorbs ACK retransmissions (0 on reliable).
        this.#transition('confirmed');
        this.#cancelTimers();
        if (isReliable(this.destination.transport)) this.#terminate();
        else this.#timer = this.#env.timers.schedule(this.#env.values.I, () => this.#onTimerI());
        return;
      case 'accepted':
        // RFC 6026 §8.7: an ACK in Accepted goes to the TU (it is the ACK for the 2xx).
        this.#user.onAck?.(this, ack, source);
        return;
      default:
        return; // Proceeding: not ours yet; Confirmed: retransmitted ACK, absorbed.
    }
  }

  /** The transport failed to send a response (§17.2.4). */
  transportError(error: unknown): void {
    switch (this.#state) {
      case 'proceeding':
      case 'completed':
        this.#enterTerminated();
        this.#user.onError?.(this, 'transport', error);
        this.#user.onTerminated?.(this);
        return;
      case 'accepted':
        // RFC 6026 §8.7: inform the TU and stay in Accepted.
        this.#user.onError?.(this, 'transport', error);
        return;
      default:
        return;
    }
  }

  /** Abandon the transaction at once (shutdown): no more sends, no callback except onTerminated. */
  terminate(): void {
    if (this.#state !== 'terminated') this.#terminate();
  }

  #sendTrying(): void {
    const trying = createResponse(this.request, 100);
    this.#lastResponse = trying;
    transmit(this.#env, trying, this.destination, this);
  }

  #onTrying(): void {
    this.#timer = undefined;
    if (this.#state === 'proceeding' && this.#lastResponse === undefined) this.#sendTrying();
  }

  #onTimerG(): void {
    this.#retransmitTimer = undefined;
    if (this.#state !== 'completed' || this.#lastResponse === undefined) return;
    // §17.2.1: retransmit and reset G to MIN(2*G, T2).
    this.#interval = Math.min(2 * this.#interval, this.#env.values.T2);
    this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerG());
    transmit(this.#env, this.#lastResponse, this.destination, this);
  }

  #onTimerH(): void {
    this.#timer = undefined;
    if (this.#state !== 'completed') return;
    // §17.2.1: the ACK never came; Terminated, and the TU is told of a transaction failure.
    this.#enterTerminated();
    this.#user.onError?.(this, 'timeout', undefined);
    this.#user.onTerminated?.(this);
  }

  #onTimerI(): void {
    this.#timer = undefined;
    if (this.#state === 'confirmed') this.#terminate();
  }

  #onTimerL(): void {
    this.#timer = undefined;
    if (this.#state === 'accepted') this.#terminate();
  }

  #transition(to: InviteServerState): void {
    this.#state = checkedTransition(INVITE_SERVER_TRANSITIONS, this.#state, to, 'INVITE server transaction');
  }

  #cancelTimers(): void {
    const timers = this.#env.timers;
    timers.cancel(this.#retransmitTimer);
    timers.cancel(this.#timer);
    this.#retransmitTimer = this.#timer = undefined;
  }

  #enterTerminated(): void {
    this.#transition('terminated');
    this.#cancelTimers();
    this.#env.terminated?.(this);
  }

  #terminate(): void {
    this.#enterTerminated();
    this.#user.onTerminated?.(this);
  }
}

// ---------------------------------------------------------------------------------------------
// Non-INVITE server transaction (§17.2.2)
// ---------------------------------------------------------------------------------------------

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * Legal transitions (Figure 8 of RFC 3261):
 *
 *   trying     → proceeding (1xx from TU), completed (200-699 from TU)
 *   proceeding → completed (200-699 from TU), terminated (transport error)
 *   completed  → terminated (Timer J, transport error)
 *
 * (Trying → Terminated is not in the figure; it is allowed for shutdown and for a transport
 * error on the final response when Timer J is 0.)
 */
const NON_INVITE_SERVER_TRANSITIONS: Readonly<Record<NonInviteServerState, readonly NonInviteServerState[]>> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteServerTransaction {
  /** Matching key given by the transaction manager (§17.2.3); '' standalone. */
  readonly key: string;
  readonly request: SipRequest;
  /** Where the request came from. */
  readonly source: Peer;
  /** Where responses go (§18.2.2; by default the source). */
  readonly destination: Peer;
  readonly #env: TransactionEnv;
  readonly #user: ServerTransactionUser;
  #state: NonInviteServerState = 'trying';
  #lastResponse: SipResponse | undefined;
  /** Timer J. */
  #timer: TimerHandle | undefined;

  constructor(
    env: TransactionEnv,
    request: SipRequest,
    source: Peer,
    user: ServerTransactionUser = NO_USER,
    key = '',
    destination: Peer = source,
  ) {
    if (request.method === 'INVITE' || request.method === 'ACK') {
      throw new TypeError(`a non-INVITE server transaction cannot take ${request.method}`);
    }
    this.#env = env;
    this.request = request;
    this.source = source;
    this.destination = destination;
    this.#user = user;
    this.key = key;
  }

  get kind(): 'non-invite-server' {
    return 'non-invite-server';
  }

  get state(): NonInviteServerState {
    return this.#state;
  }

  /** The last response sent, if any. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  /** Trying needs no timer (§17.2.2); present for symmetry with the INVITE server transaction. */
  start(): void {}

  /**
   * Send a response from the TU (§17.2.2). Returns false, sending nothing, once a final response
   * has been sent: "any other final responses passed by the TU ... MUST be discarded".
   */
  respond(response: SipResponse): boolean {
    const status = response.status;
    if (status < 100 || status > 699) throw new RangeError(`invalid status ${status}`);
    const state = this.#state;
    if (state !== 'trying' && state !== 'proceeding') return false;
    this.#lastResponse = response;
    if (status < 200) {
      if (state === 'trying') this.#transition('proceeding');
      transmit(this.#env, response, this.destination, this);
      return true;
    }
    // Completed; Timer J (64*T1 on UDP, 0 on reliable) absorbs request retransmissions.
    releaseViews(this.request);
    this.#transition('completed');
    transmit(this.#env, response, this.destination, this);
    if (this.#state !== 'completed') return true; // a transport error ended it
    // Timer J is 0 on reliable transports. On UDP, Completed holds nothing but the final response
    // to answer retransmissions: the manager may keep just that (a fraction of this object and
    // its request), and this transaction ends at once.
    if (isReliable(this.destination.transport) || (this.key !== '' && this.#env.holdCompleted?.(this.key, response, this.destination))) this.#terminate();
    else this.#timer = this.#env.timers.schedule(this.#env.values.J, () => this.#onTimerJ());
    return true;
  }

  /**
   * Send a final non-2xx response and end the transaction at once, as a stateless UAS does
   * (RFC 3261 §8.2.7). For a response the TU would regenerate just as well for a retransmission
   * of the request (a digest challenge, with a fresh nonce), keeping the transaction for Timer
   * J only holds memory: under load half of all transactions are challenges. A retransmission
   * then counts as a new request and is challenged again. Returns false, sending nothing, when
   * a final response was already sent.
   */
  respondStateless(response: SipResponse): boolean {
    if (response.status < 300 || response.status > 699) throw new RangeError(`a stateless response must be a final non-2xx, not ${response.status}`);
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return false;
    this.#lastResponse = response;
    this.#enterTerminated();
    transmit(this.#env, response, this.destination, this);
    this.#user.onTerminated?.(this);
    return true;
  }

  /** A retransmission of the request, matched by the transaction manager (§17.2.2). */
  receiveRequest(_request: SipRequest): void {
    // Trying: discarded. Proceeding: last provisional response. Completed: the final response.
    if (this.#state !== 'trying' && this.#state !== 'terminated' && this.#lastResponse !== undefined) {
      transmit(this.#env, this.#lastResponse, this.destination, this);
    }
  }

  /** The transport failed to send a response (§17.2.4). */
  transportError(error: unknown): void {
    if (this.#state === 'terminated') return;
    this.#enterTerminated();
    this.#user.onError?.(this, 'transport', error);
    this.#user.onTerminated?.(this);
  }

  /** Abandon the transaction at once (shutdown): no more sends, no callback except onTerminated. */
  terminate(): void {
    if (this.#state !== 'terminated') this.#terminate();
  }

  #onTimerJ(): void {
    this.#timer = undefined;
    if (this.#state === 'completed') this.#terminate();
  }

  #transition(to: NonInviteServerState): void {
    this.#state = checkedTransition(NON_INVITE_SERVER_TRANSITIONS, this.#state, to, 'non-INVITE server transaction');
  }

  #enterTerminated(): void {
    this.#transition('terminated');
    this.#env.timers.cancel(this.#timer);
    this.#timer = undefined;
    this.#env.terminated?.(this);
  }

  #terminate(): void {
    this.#enterTerminated();
    this.#user.onTerminated?.(this);
  }
}
