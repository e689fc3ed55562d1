/**
 * Client transactions (RFC 3261 §17.1) as updated by RFC 6026.
 *
 * A client transaction sends one request, retransmits it over unreliable transports, matches the
 * responses the transaction manager hands it (§17.1.3), filters them and passes the ones the TU
 * needs upward. It is pure logic: it sends through `env.send` and schedules through
 * `env.timers`; it never opens a socket or a Node timer.
 */
import type { HeaderField, Peer, SipRequest, SipResponse } from '../message.ts';
import { getHeader, getHeaderLines, isReliable, topViaValue } from '../message.ts';
import { parseCSeq } from '../header-values.ts';
import { createResponse } from '../response.ts';
import { checkedTransition, transmit, type TimerHandle, type TransactionEnv } from './timers.ts';

/** What a client transaction reports to the TU that created it (one user object per transaction). */
export interface ClientTransactionUser {
  /**
   * A response the TU must see: every provisional and the first final response; for INVITE also
   * every 2xx retransmission or 2xx from another fork received in Accepted (RFC 6026 §8.4), which
   * a proxy forwards upstream statelessly. Retransmitted non-2xx finals are absorbed.
   */
  onResponse(response: SipResponse, tx: ClientTransaction): void;
  /**
   * Timer B or F fired with no final response. The TU must act as if it had received
   * `response`, a 408 built from the request (§8.1.3.1, §16.7 step 2 / §16.8 for a proxy).
   */
  onTimeout(tx: ClientTransaction, response: SipResponse): void;
  /**
   * The transport failed to send the request, a retransmission or an ACK (§17.1.4). If no final
   * response had been passed up yet, `response` is a 503 built from the request that the TU
   * must treat as received (§8.1.3.1, §16.9); otherwise it is undefined and there is nothing left
   * for the TU to do.
   */
  onTransportError(tx: ClientTransaction, error: unknown, response: SipResponse | undefined): void;
  /** The transaction entered Terminated and has been forgotten; always the last call. */
  onTerminated?(tx: ClientTransaction): void;
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

// ---------------------------------------------------------------------------------------------
// INVITE client transaction (§17.1.1, RFC 6026 §8.4)
// ---------------------------------------------------------------------------------------------

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/**
 * Legal transitions (Figure 5 of RFC 3261 as changed by RFC 6026 §8.4):
 *
 *   calling    → proceeding (1xx), completed (300-699), accepted (2xx), terminated (Timer B, transport error)
 *   proceeding → completed (300-699), accepted (2xx), terminated (transport error)
 *   completed  → terminated (Timer D, transport error)
 *   accepted   → terminated (Timer M)
 */
const INVITE_CLIENT_TRANSITIONS: Readonly<Record<InviteClientState, readonly InviteClientState[]>> = {
  calling: ['proceeding', 'completed', 'accepted', 'terminated'],
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export class InviteClientTransaction {
  /** Matching key given by the transaction manager (branch + CSeq method, §17.1.3); '' standalone. */
  readonly key: string;
  readonly request: SipRequest;
  readonly destination: Peer;
  readonly #env: TransactionEnv;
  readonly #user: ClientTransactionUser;
  #state: InviteClientState = 'calling';
  /** Timer A. */
  #retransmitTimer: TimerHandle | undefined;
  /** Timer B in Calling, then Timer D (Completed) or Timer M (Accepted). */
  #timer: TimerHandle | undefined;
  /** Current Timer A interval; 0 until started. */
  #interval = 0;
  /** The ACK for the non-2xx final response, built once and resent for its retransmissions. */
  #ack: SipRequest | undefined;

  constructor(env: TransactionEnv, request: SipRequest, destination: Peer, user: ClientTransactionUser, key = '') {
    if (request.method !== 'INVITE') throw new TypeError('InviteClientTransaction needs an INVITE');
    this.#env = env;
    this.request = request;
    this.destination = destination;
    this.#user = user;
    this.key = key;
  }

  get kind(): 'invite-client' {
    return 'invite-client';
  }

  get state(): InviteClientState {
    return this.#state;
  }

  /** The ACK sent for a 300-699 response, once there is one. */
  get ack(): SipRequest | undefined {
    return this.#ack;
  }

  /** Enter Calling: send the request, start Timer A (unreliable transports only) and Timer B (§17.1.1.2). */
  start(): void {
    if (this.#interval !== 0 || this.#state !== 'calling') throw new Error('transaction already started');
    const v = this.#env.values;
    this.#interval = v.A;
    if (!isReliable(this.destination.transport)) {
      this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerA());
    }
    this.#timer = this.#env.timers.schedule(v.B, () => this.#onTimerB());
    transmit(this.#env, this.request, this.destination, this);
  }

  /** A response matched to this transaction by the transaction manager (§17.1.3). */
  receiveResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.#state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          if (this.#state === 'calling') {
            // §17.1.1.2: no more retransmissions in Proceeding, and Timer B only guards Calling.
            this.#transition('proceeding');
            this.#cancelTimers();
          }
          this.#user.onResponse(response, this);
        } else if (status < 300) {
          // RFC 6026 §8.4: Accepted, so that 2xx retransmissions still reach the TU until Timer M.
          this.#transition('accepted');
          this.#cancelTimers();
          this.#timer = this.#env.timers.schedule(this.#env.values.M, () => this.#onTimerM());
          this.#user.onResponse(response, this);
        } else {
          // §17.1.1.2: Completed; pass the response up and ACK it; Timer D absorbs retransmissions.
          this.#transition('completed');
          this.#cancelTimers();
          this.#ack = createAck(this.request, response);
          const reliable = isReliable(this.destination.transport);
          if (!reliable) this.#timer = this.#env.timers.schedule(this.#env.values.D, () => this.#onTimerD());
          this.#user.onResponse(response, this);
          // (`this.state`, not `this.#state`: the callbacks may have changed it behind TS's narrowing.)
          if (this.state !== 'completed') return; // the TU terminated us meanwhile
          transmit(this.#env, this.#ack, this.destination, this);
          // Timer D is 0 on reliable transports: there are no retransmissions to absorb.
          if (reliable && this.state === 'completed') this.#terminate();
        }
        return;
      case 'completed':
        // §17.1.1.2: retransmitted final responses are answered with the ACK, not passed up.
        if (status >= 300 && this.#ack !== undefined) transmit(this.#env, this.#ack, this.destination, this);
        return;
      case 'accepted':
        // RFC 6026 §8.4: 2xx (retransmissions, or from other forks) go to the TU; nothing else does.
        if (status >= 200 && status < 300) this.#user.onResponse(response, this);
        return;
      case 'terminated':
        return;
    }
  }

  /** The transport failed to deliver a message of this transaction (§17.1.4). */
  transportError(error: unknown): void {
    if (this.#state === 'terminated' || this.#state === 'accepted') return;
    const beforeFinal = this.#state === 'calling' || this.#state === 'proceeding';
    this.#enterTerminated();
    this.#user.onTransportError(this, error, beforeFinal ? createResponse(this.request, 503) : undefined);
    this.#user.onTerminated?.(this);
  }

  /** Abandon the transaction at once (shutdown): no more sends, no TU callback except onTerminated. */
  terminate(): void {
    if (this.#state !== 'terminated') this.#terminate();
  }

  #onTimerA(): void {
    this.#retransmitTimer = undefined;
    if (this.#state !== 'calling') return;
    // §17.1.1.2: each time Timer A fires, retransmit and double it (no cap: B ends it).
    this.#interval *= 2;
    this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerA());
    transmit(this.#env, this.request, this.destination, this);
  }

  #onTimerB(): void {
    this.#timer = undefined;
    if (this.#state !== 'calling') return;
    // §17.1.1.2: Timer B in Calling → inform the TU of the timeout, Terminated; no ACK.
    this.#enterTerminated();
    this.#user.onTimeout(this, createResponse(this.request, 408));
    this.#user.onTerminated?.(this);
  }

  #onTimerD(): void {
    this.#timer = undefined;
    if (this.#state === 'completed') this.#terminate();
  }

  #onTimerM(): void {
    this.#timer = undefined;
    if (this.#state === 'accepted') this.#terminate();
  }

  #transition(to: InviteClientState): void {
    this.#state = checkedTransition(INVITE_CLIENT_TRANSITIONS, this.#state, to, 'INVITE client transaction');
  }

  #cancelTimers(): void {
    const timers = this.#env.timers;
    timers.cancel(this.#retransmitTimer);
    timers.cancel(this.#timer);
    this.#retransmitTimer = this.#timer = undefined;
  }

  /** Terminated: "the client transaction MUST be destroyed the instant it enters" it (RFC 6026 §8.4). */
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
// Non-INVITE client transaction (§17.1.2)
// ---------------------------------------------------------------------------------------------

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * Legal transitions (Figure 6 of RFC 3261):
 *
 *   trying     → proceeding (1xx), completed (200-699), terminated (Timer F, transport error)
 *   proceeding → completed (200-699), terminated (Timer F, transport error)
 *   completed  → terminated (Timer K)
 */
const NON_INVITE_CLIENT_TRANSITIONS: Readonly<Record<NonInviteClientState, readonly NonInviteClientState[]>> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteClientTransaction {
  /** Matching key given by the transaction manager (branch + CSeq method, §17.1.3); '' standalone. */
  readonly key: string;
  readonly request: SipRequest;
  readonly destination: Peer;
  readonly #env: TransactionEnv;
  readonly #user: ClientTransactionUser;
  #state: NonInviteClientState = 'trying';
  /** Timer E. */
  #retransmitTimer: TimerHandle | undefined;
  /** Timer F in Trying/Proceeding, then Timer K in Completed. */
  #timer: TimerHandle | undefined;
  /** Current Timer E interval; 0 until started. */
  #interval = 0;

  constructor(env: TransactionEnv, request: SipRequest, destination: Peer, user: ClientTransactionUser, key = '') {
    if (request.method === 'INVITE' || request.method === 'ACK') {
      throw new TypeError(`a non-INVITE client transaction cannot send ${request.method}`);
    }
    this.#env = env;
    this.request = request;
    this.destination = destination;
    this.#user = user;
    this.key = key;
  }

  get kind(): 'non-invite-client' {
    return 'non-invite-client';
  }

  get state(): NonInviteClientState {
    return this.#state;
  }

  /** Enter Trying: send the request, start Timer E (unreliable transports only) and Timer F (§17.1.2.2). */
  start(): void {
    if (this.#interval !== 0 || this.#state !== 'trying') throw new Error('transaction already started');
    const v = this.#env.values;
    this.#interval = v.E;
    if (!isReliable(this.destination.transport)) {
      this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerE());
    }
    this.#timer = this.#env.timers.schedule(v.F, () => this.#onTimerF());
    transmit(this.#env, this.request, this.destination, this);
  }

  /** A response matched to this transaction by the transaction manager (§17.1.3). */
  receiveResponse(response: SipResponse): void {
    const state = this.#state;
    if (state === 'completed' || state === 'terminated') return; // §17.1.2.2: retransmissions absorbed
    if (response.status < 200) {
      // §17.1.2.2: Trying → Proceeding; Timer E keeps running and resets to T2 next time it fires.
      if (state === 'trying') this.#transition('proceeding');
      this.#user.onResponse(response, this);
      return;
    }
    // Final response: Completed; Timer K (T4 on UDP, 0 on reliable) absorbs retransmissions.
    this.#transition('completed');
    this.#cancelTimers();
    const reliable = isReliable(this.destination.transport);
    if (!reliable) this.#timer = this.#env.timers.schedule(this.#env.values.K, () => this.#onTimerK());
    this.#user.onResponse(response, this);
    if (reliable && this.#state === 'completed') this.#terminate();
  }

  /** The transport failed to deliver the request or a retransmission (§17.1.4). */
  transportError(error: unknown): void {
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return;
    this.#enterTerminated();
    this.#user.onTransportError(this, error, createResponse(this.request, 503));
    this.#user.onTerminated?.(this);
  }

  /** Abandon the transaction at once (shutdown): no more sends, no TU callback except onTerminated. */
  terminate(): void {
    if (this.#state !== 'terminated') this.#terminate();
  }

  #onTimerE(): void {
    this.#retransmitTimer = undefined;
    const state = this.#state;
    if (state !== 'trying' && state !== 'proceeding') return;
    // §17.1.2.2: in Trying the interval doubles up to T2; in Proceeding it is T2.
    const t2 = this.#env.values.T2;
    this.#interval = state === 'proceeding' ? t2 : Math.min(2 * this.#interval, t2);
    this.#retransmitTimer = this.#env.timers.schedule(this.#interval, () => this.#onTimerE());
    transmit(this.#env, this.request, this.destination, this);
  }

  #onTimerF(): void {
    this.#timer = undefined;
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return;
    // §17.1.2.2: Timer F → inform the TU of the timeout, Terminated.
    this.#enterTerminated();
    this.#user.onTimeout(this, createResponse(this.request, 408));
    this.#user.onTerminated?.(this);
  }

  #onTimerK(): void {
    this.#timer = undefined;
    if (this.#state === 'completed') this.#terminate();
  }

  #transition(to: NonInviteClientState): void {
    this.#state = checkedTransition(NON_INVITE_CLIENT_TRANSITIONS, this.#state, to, 'non-INVITE client transaction');
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
// Requests built from the original request
// ---------------------------------------------------------------------------------------------

export { topViaValue } from '../message.ts';

/** Via, Route and Max-Forwards of a request built hop-by-hop from `original` (§17.1.1.3, §9.1). */
function hopHeaders(original: SipRequest): HeaderField[] {
  const headers: HeaderField[] = [];
  // A single Via equal to the top Via of the original request.
  const via = topViaValue(original);
  if (via !== undefined) headers.push({ name: 'Via', value: via });
  // The original request's Route header fields, if any.
  for (const route of getHeaderLines(original, 'Route')) headers.push({ name: 'Route', value: route });
  headers.push({ name: 'Max-Forwards', value: getHeader(original, 'Max-Forwards') ?? '70' });
  return headers;
}

function cseqNumber(original: SipRequest): number {
  const cseq = getHeader(original, 'CSeq');
  if (cseq === undefined) throw new TypeError('request without CSeq');
  return parseCSeq(cseq).seq;
}

/**
 * The ACK for a 300-699 response to `invite` (§17.1.1.3): same Request-URI, Call-ID and From as
 * the INVITE, To from the response (with its tag), CSeq with the INVITE's number and method ACK,
 * one Via equal to the INVITE's top Via, the INVITE's Route header fields. It is part of the
 * INVITE transaction and goes to the same destination.
 */
export function createAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = hopHeaders(invite);
  const from = getHeader(invite, 'From');
  const to = getHeader(response, 'To') ?? getHeader(invite, 'To');
  const callId = getHeader(invite, 'Call-ID');
  if (from !== undefined) headers.push({ name: 'From', value: from });
  if (to !== undefined) headers.push({ name: 'To', value: to });
  if (callId !== undefined) headers.push({ name: 'Call-ID', value: callId });
  headers.push({ name: 'CSeq', value: `${cseqNumber(invite)} ACK` });
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

/**
 * A CANCEL for `request` (§9.1): same Request-URI, Call-ID, From, To and CSeq number, method
 * CANCEL, one Via equal to the request's top Via (so it matches the same server transaction
 * downstream, §9.2), the request's Route header fields. The TU sends it in a new non-INVITE
 * client transaction to the same destination, and only once a provisional response has been
 * received (§9.1).
 */
export function createCancel(request: SipRequest): SipRequest {
  const headers = hopHeaders(request);
  for (const name of ['From', 'To', 'Call-ID'] as const) {
    const value = getHeader(request, name);
    if (value !== undefined) headers.push({ name, value });
  }
  headers.push({ name: 'CSeq', value: `${cseqNumber(request)} CANCEL` });
  return { kind: 'request', method: 'CANCEL', uri: request.uri, headers, body: Buffer.alloc(0) };
}
