/**
 * The transaction layer's front door (RFC 3261 §17): matches incoming requests to server
 * transactions (§17.2.3) and responses to client transactions (§17.1.3), creates transactions,
 * and reports to the TU (registrar, proxy core) whatever the transactions do not absorb.
 *
 * Pure logic: messages come in through `receiveRequest` / `receiveResponse` (the transport layer
 * calls them with already parsed messages), go out through the injected `send`, and every timer
 * runs on the injected {@link TimerService} (a {@link TimerWheel} by default).
 */
import type { Peer, SipMessage, SipRequest, SipResponse } from '../message.ts';
import { cseqOf, getHeader, topVia, topViaValue } from '../message.ts';
import type { Via } from '../header-values.ts';
import {
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransaction,
  type ClientTransactionUser,
} from './client-transaction.ts';
import {
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransaction,
  type ServerTransactionUser,
} from './server-transaction.ts';
import {
  TimerWheel,
  timerValues,
  type SendFn,
  type TimerConfig,
  type TimerHandle,
  type TimerService,
  type TimerValues,
  type TransactionEnv,
  type TransactionKind,
} from './timers.ts';

export type Transaction = ClientTransaction | ServerTransaction;

/** RFC 3261 branch magic cookie (§8.1.1.7): its absence means an RFC 2543 peer (§17.2.3). */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** What the transaction layer reports to the TU (besides the per-client-transaction callbacks). */
export interface TransactionUser {
  /**
   * A request that matched no transaction (§17.2.3). A server transaction has been created for
   * it (Proceeding/Trying); answer through `tx.respond(response)`. For a CANCEL, find the INVITE
   * it cancels with `findInviteServerTransactionForCancel` (§9.2).
   */
  onRequest(request: SipRequest, tx: ServerTransaction): void;
  /**
   * An ACK that is not absorbed by an INVITE server transaction: one that matches no transaction
   * (normally the ACK for a 2xx, which is its own transaction, §17.1.1.3 / §13.2.2.4; a proxy
   * forwards it statelessly, §16.10), or one matching an INVITE server transaction in Accepted
   * (RFC 6026 §8.7), then `tx` is that transaction.
   */
  onAck(ack: SipRequest, source: Peer, tx: InviteServerTransaction | undefined): void;
  /**
   * A response that matched no client transaction (§17.1.3, §18.1.2), e.g. a 2xx retransmission
   * arriving after Timer M. The core decides whether to forward it statelessly (§16.7) or drop it.
   */
  onStrayResponse(response: SipResponse, source: Peer): void;
  /** A server transaction failure: Timer H (no ACK, §17.2.1) or a transport error (§17.2.4). */
  onServerTransactionError?(tx: ServerTransaction, reason: 'timeout' | 'transport', error: unknown): void;
  /** A server transaction terminated and was forgotten. */
  onServerTransactionTerminated?(tx: ServerTransaction): void;
  /** A message the layer could not match because its Via or CSeq is missing or malformed; it was dropped. */
  onInvalidMessage?(message: SipMessage, source: Peer, error: unknown): void;
}

export interface TransactionManagerOptions {
  send: SendFn;
  tu: TransactionUser;
  /** Default: a new {@link TimerWheel} owned (and cleared on close) by the manager. */
  timers?: TimerService;
  /** T1, T2, T4, D, 100 Trying delay; defaults per RFC 3261. */
  timerConfig?: Partial<TimerConfig>;
  /**
   * Where responses of a server transaction go (§18.2.2). Default: the peer the request came
   * from (connection, or source address and port as RFC 3581 rport would have it); the
   * transport layer may still apply its own §18.2.2 rules when it sends.
   */
  responseDestination?: (request: SipRequest, source: Peer) => Peer;
  /**
   * Keep a completed non-INVITE server transaction on an unreliable transport as just its final
   * response (RFC 3261 §17.2.2: in Completed it only answers retransmissions with that response,
   * for Timer J = 64*T1). A registrar under load holds a REGISTER transaction for each of the
   * last 32 s; as full objects with their requests, those made garbage collection a large and
   * growing share of the work (and what was left over from one benchmark step slowed the next).
   * Default false: the transactions keep their full state machine (as the unit tests observe it).
   */
  compactCompleted?: boolean;
}

/** What is kept of a completed non-INVITE server transaction (compactCompleted). */
interface CompletedEntry {
  readonly response: SipMessage;
  readonly destination: Peer;
  /** Sweep generation when it completed. */
  readonly gen: number;
}

/** The compact entries are swept every J / COMPLETED_SLICES and dropped after more than J. */
const COMPLETED_SLICES = 8;

export interface TransactionCounts {
  inviteClient: number;
  nonInviteClient: number;
  inviteServer: number;
  nonInviteServer: number;
  total: number;
}

/** The parts of a request §17.2.3 matches on. */
interface RequestKeys {
  /** Key of the server transaction this request would create or belongs to (ACK: its INVITE's). */
  key: string;
  /** RFC 2543 only: the INVITE key without the To tag, for ACK and CANCEL, and the request's To tag. */
  invitePrefix?: string;
  toTag?: string;
}

export class TransactionManager {
  readonly timers: TimerService;
  readonly values: TimerValues;
  readonly #env: TransactionEnv;
  readonly #tu: TransactionUser;
  readonly #ownsTimers: boolean;
  readonly #responseDestination: ((request: SipRequest, source: Peer) => Peer) | undefined;
  readonly #server = new Map<string, ServerTransaction>();
  readonly #client = new Map<string, ClientTransaction>();
  /** INVITE server transactions by Call-ID, CSeq number and From tag, for #matchAckByDialog. */
  readonly #inviteByDialog = new Map<string, InviteServerTransaction>();
  readonly #serverUser: ServerTransactionUser;
  readonly #completed = new Map<string, CompletedEntry>();
  #completedGen = 0;
  #completedSweep: TimerHandle | undefined;
  #inviteClient = 0;
  #nonInviteClient = 0;
  #inviteServer = 0;
  #nonInviteServer = 0;

  constructor(options: TransactionManagerOptions) {
    this.#ownsTimers = options.timers === undefined;
    this.timers = options.timers ?? new TimerWheel();
    this.values = timerValues(options.timerConfig);
    this.#tu = options.tu;
    this.#responseDestination = options.responseDestination;
    this.#env = {
      timers: this.timers,
      values: this.values,
      send: options.send,
      terminated: (tx) => this.#forget(tx),
      ...(options.compactCompleted ? { holdCompleted: (key: string, response: SipMessage, destination: Peer) => this.#holdCompleted(key, response, destination) } : {}),
    };
    const tu = this.#tu;
    this.#serverUser = {
      onError: (tx, reason, error) => tu.onServerTransactionError?.(tx, reason, error),
      onAck: (tx, ack, source) => tu.onAck(ack, source, tx),
      onTerminated: (tx) => tu.onServerTransactionTerminated?.(tx),
    };
  }

  /** Live transactions by kind, for metrics and leak checks. */
  get counts(): TransactionCounts {
    const total = this.#inviteClient + this.#nonInviteClient + this.#inviteServer + this.#nonInviteServer;
    return {
      inviteClient: this.#inviteClient,
      nonInviteClient: this.#nonInviteClient,
      inviteServer: this.#inviteServer,
      nonInviteServer: this.#nonInviteServer,
      total,
    };
  }

  /** Number of live transactions. */
  get size(): number {
    return this.#server.size + this.#client.size;
  }

  /** Hand any received message to the layer. */
  receive(message: SipMessage, source: Peer): void {
    if (message.kind === 'request') this.receiveRequest(message, source);
    else this.receiveResponse(message, source);
  }

  /**
   * A request from the transport layer (§18.2.1 → §17.2.3): a retransmission goes to its server
   * transaction, an ACK for a non-2xx final response is absorbed by its INVITE transaction, any
   * other ACK goes to `tu.onAck`, and anything else creates a server transaction and goes to
   * `tu.onRequest`.
   */
  receiveRequest(request: SipRequest, source: Peer): void {
    let keys: RequestKeys;
    try {
      keys = requestKeys(request);
    } catch (err) {
      this.#tu.onInvalidMessage?.(request, source, err);
      return;
    }
    if (request.method === 'ACK') {
      const tx = this.#matchAck(request, keys) ?? this.#matchAckByDialog(request);
      if (tx !== undefined) tx.receiveAck(request, source);
      else this.#tu.onAck(request, source, undefined);
      return;
    }
    const existing = this.#server.get(keys.key);
    if (existing !== undefined) {
      existing.receiveRequest(request);
      return;
    }
    if (this.#completed.size !== 0) {
      // §17.2.2 Completed: a retransmission gets the final response again.
      const done = this.#completed.get(keys.key);
      if (done !== undefined) {
        try {
          void this.#env.send(done.response, done.destination);
        } catch {
          // Nothing to report to: the transaction is over; the UA retransmits or times out.
        }
        return;
      }
    }
    const destination = this.#responseDestination?.(request, source) ?? source;
    let tx: ServerTransaction;
    if (request.method === 'INVITE') {
      const invite = new InviteServerTransaction(this.#env, request, source, this.#serverUser, keys.key, destination);
      tx = invite;
      this.#inviteServer++;
      const dk = dialogKey(request);
      if (dk !== undefined) this.#inviteByDialog.set(dk, invite);
    } else {
      tx = new NonInviteServerTransaction(this.#env, request, source, this.#serverUser, keys.key, destination);
      this.#nonInviteServer++;
    }
    this.#server.set(keys.key, tx);
    tx.start();
    if (tx.state !== 'terminated') this.#tu.onRequest(request, tx);
  }

  /**
   * A response from the transport layer (§18.1.2 → §17.1.3): matched by the branch of its top Via
   * and its CSeq method to a client transaction, else reported to `tu.onStrayResponse`.
   */
  receiveResponse(response: SipResponse, source: Peer): void {
    let key: string;
    try {
      key = responseKey(response);
    } catch (err) {
      this.#tu.onInvalidMessage?.(response, source, err);
      return;
    }
    const tx = this.#client.get(key);
    if (tx !== undefined) tx.receiveResponse(response);
    else this.#tu.onStrayResponse(response, source);
  }

  /**
   * Create and start a client transaction for `request` (§17.1), which must already carry its
   * top Via with a fresh branch starting with the magic cookie (§8.1.1.7, §16.6 step 8). The
   * request is sent at once. ACK is not a transaction: send an ACK for 2xx straight through the
   * transport. Throws if a client transaction with the same branch and method exists.
   *
   * Callbacks on `user` can run before this returns (a synchronous transport error).
   */
  createClientTransaction(request: SipRequest, destination: Peer, user: ClientTransactionUser): ClientTransaction {
    if (request.method === 'ACK') throw new TypeError('ACK is not sent in a client transaction');
    const via = topVia(request);
    const branch = via.params.get('branch');
    if (!branch || !branch.startsWith(BRANCH_MAGIC_COOKIE)) {
      throw new TypeError('a client transaction needs a top Via branch starting with z9hG4bK');
    }
    const key = `${branch}\n${request.method}`;
    if (this.#client.has(key)) throw new Error(`a ${request.method} client transaction with branch ${branch} exists`);
    let tx: ClientTransaction;
    if (request.method === 'INVITE') {
      tx = new InviteClientTransaction(this.#env, request, destination, user, key);
      this.#inviteClient++;
    } else {
      tx = new NonInviteClientTransaction(this.#env, request, destination, user, key);
      this.#nonInviteClient++;
    }
    this.#client.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * The INVITE server transaction a CANCEL cancels (§9.2): with an RFC 3261 branch, the one with
   * the same top Via branch and sent-by (method INVITE); otherwise, per §17.2.3's RFC 2543 rule,
   * the one with the same Request-URI, From tag, To tag, Call-ID, CSeq number and top Via.
   * Undefined if there is none (the TU then answers the CANCEL with 481) or it has terminated.
   */
  findInviteServerTransactionForCancel(cancel: SipRequest): InviteServerTransaction | undefined {
    let keys: RequestKeys;
    try {
      keys = requestKeys(cancel);
    } catch {
      return undefined;
    }
    const key = keys.invitePrefix !== undefined ? `${keys.invitePrefix}\n${keys.toTag}` : inviteKeyOf(keys.key);
    const tx = this.#server.get(key);
    return tx?.kind === 'invite-server' ? tx : undefined;
  }

  /** The server transaction a request belongs to (as a retransmission), if any. */
  findServerTransaction(request: SipRequest): ServerTransaction | undefined {
    try {
      const keys = requestKeys(request);
      return request.method === 'ACK' ? this.#matchAck(request, keys) : this.#server.get(keys.key);
    } catch {
      return undefined;
    }
  }

  /** The client transaction a response belongs to, if any. */
  findClientTransaction(response: SipResponse): ClientTransaction | undefined {
    try {
      return this.#client.get(responseKey(response));
    } catch {
      return undefined;
    }
  }

  #holdCompleted(key: string, response: SipMessage, destination: Peer): boolean {
    this.#completed.delete(key);
    this.#completed.set(key, { response, destination, gen: this.#completedGen });
    this.#completedSweep ??= this.timers.schedule(this.values.J / COMPLETED_SLICES, this.#sweepCompleted);
    return true;
  }

  /**
   * Entries are in completion order, so the expired ones are at the front. An entry goes at the
   * first sweep more than COMPLETED_SLICES sweeps after it came: it is held for J to 9/8 J.
   */
  readonly #sweepCompleted = (): void => {
    this.#completedSweep = undefined;
    const gen = ++this.#completedGen;
    for (const [key, entry] of this.#completed) {
      if (gen - entry.gen <= COMPLETED_SLICES) break;
      this.#completed.delete(key);
    }
    if (this.#completed.size !== 0) this.#completedSweep = this.timers.schedule(this.values.J / COMPLETED_SLICES, this.#sweepCompleted);
  };

  /** Completed non-INVITE server transactions kept as their final response (compactCompleted). */
  get completedHeld(): number {
    return this.#completed.size;
  }

  /** Terminate every transaction silently (no sends; only onTerminated callbacks) and stop an owned wheel. */
  close(): void {
    this.#completed.clear();
    this.timers.cancel(this.#completedSweep);
    this.#completedSweep = undefined;
    for (const tx of [...this.#client.values(), ...this.#server.values()]) tx.terminate();
    if (this.#ownsTimers && this.timers instanceof TimerWheel) this.timers.clear();
  }

  /** §17.2.3 for ACK: the INVITE server transaction it acknowledges a non-2xx (or, in Accepted, 2xx) response of. */
  #matchAck(ack: SipRequest, keys: RequestKeys): InviteServerTransaction | undefined {
    if (keys.invitePrefix === undefined) {
      const tx = this.#server.get(keys.key);
      return tx?.kind === 'invite-server' ? tx : undefined;
    }
    // RFC 2543: Request-URI, From tag, Call-ID, CSeq number and top Via as the INVITE, and the
    // ACK's To tag equal to that of the response the transaction sent. The INVITE itself had no
    // To tag (initial INVITE) or, for a re-INVITE, the same tag the response echoes.
    const toTag = keys.toTag ?? '';
    for (const inviteTag of toTag === '' ? [''] : ['', toTag]) {
      const tx = this.#server.get(`${keys.invitePrefix}\n${inviteTag}`);
      if (tx?.kind !== 'invite-server' || tx.lastResponse === undefined) continue;
      if (tagOf(getHeader(tx.lastResponse, 'To')) === toTag) return tx;
    }
    return undefined;
  }

  /**
   * Fallback for an ACK whose branch matches nothing: some UAs (sipp's stock scenarios among
   * them) acknowledge a non-2xx final response with a fresh branch. Without this the response
   * would be retransmitted until Timer H. Matched on Call-ID, CSeq number and From tag, and only
   * when the ACK's To tag is the one our final response carried (a random tag of ours), so it
   * cannot acknowledge someone else's transaction.
   */
  #matchAckByDialog(ack: SipRequest): InviteServerTransaction | undefined {
    const dk = dialogKey(ack);
    const tx = dk === undefined ? undefined : this.#inviteByDialog.get(dk);
    if (tx === undefined || tx.state !== 'completed' || tx.lastResponse === undefined || tx.lastResponse.status < 300) return undefined;
    const tag = tagOf(getHeader(tx.lastResponse, 'To'));
    return tag !== '' && tag === tagOf(getHeader(ack, 'To')) ? tx : undefined;
  }

  #forget(tx: { readonly kind: TransactionKind; readonly key: string }): void {
    const t = tx as Transaction;
    switch (t.kind) {
      case 'invite-client':
      case 'non-invite-client':
        if (this.#client.get(t.key) === t) this.#client.delete(t.key);
        if (t.kind === 'invite-client') this.#inviteClient--;
        else this.#nonInviteClient--;
        return;
      case 'invite-server':
      case 'non-invite-server':
        if (this.#server.get(t.key) === t) this.#server.delete(t.key);
        if (t.kind === 'invite-server') {
          this.#inviteServer--;
          const dk = dialogKey(t.request);
          if (dk !== undefined && this.#inviteByDialog.get(dk) === t) this.#inviteByDialog.delete(dk);
        }
        else this.#nonInviteServer--;
        return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Matching keys
// ---------------------------------------------------------------------------------------------
// Parts are joined with "\n", which cannot occur in an unfolded header value or a Request-URI.

/** sent-by of a Via (host lower-cased: host names compare case-insensitively, §19.1.4). */
function sentBy(via: Via): string {
  return via.port === undefined ? via.host.toLowerCase() : `${via.host.toLowerCase()}:${via.port}`;
}

/** Turn an RFC 3261 server key (branch \n sent-by \n method) into that of the INVITE with the same branch. */
function inviteKeyOf(key: string): string {
  return `${key.slice(0, key.lastIndexOf('\n'))}\nINVITE`;
}

/**
 * §17.2.3 keys. With the magic cookie: branch, sent-by and method (ACK → INVITE). Without it (RFC
 * 2543): Request-URI, From tag, Call-ID, CSeq number, top Via, method and To tag; the To tag is
 * kept apart for INVITE so that ACK (To tag of the response) and CANCEL can be matched to it.
 * Request-URI and top Via compare as strings, not by the full §19.1.4/§20.42 rules: a
 * retransmission repeats them byte for byte.
 */
function requestKeys(request: SipRequest): RequestKeys {
  const via = topVia(request);
  const branch = via.params.get('branch');
  if (branch && branch.startsWith(BRANCH_MAGIC_COOKIE)) {
    const method = request.method === 'ACK' ? 'INVITE' : request.method;
    return { key: `${branch}\n${sentBy(via)}\n${method}` };
  }
  const viaValue = topViaValue(request)!;
  const cseq = cseqOf(request);
  const callId = getHeader(request, 'Call-ID') ?? '';
  const fromTag = tagOf(getHeader(request, 'From'));
  const toTag = tagOf(getHeader(request, 'To'));
  const prefix = `\r2543\n${request.uri}\n${fromTag}\n${callId}\n${cseq.seq}\n${viaValue}`;
  const invitePrefix = `${prefix}\nINVITE`;
  const method = request.method;
  const key = method === 'INVITE' || method === 'ACK' ? `${invitePrefix}\n${toTag}` : `${prefix}\n${method}\n${toTag}`;
  return { key, invitePrefix, toTag };
}

/**
 * §17.1.3: branch of the top Via and CSeq method. A response without a branch cannot belong to
 * one of our client transactions (they all have one): its key '' matches nothing, so it is stray.
 */
function responseKey(response: SipResponse): string {
  const via = topVia(response);
  const branch = via.params.get('branch');
  return branch ? `${branch}\n${cseqOf(response).method}` : '';
}

/** The tag parameter of a From/To value ('' if none). */
function tagOf(value: string | undefined): string {
  if (value === undefined) return '';
  const gt = value.lastIndexOf('>');
  const semi = value.indexOf(';');
  const params = gt >= 0 ? value.slice(gt + 1) : semi >= 0 ? value.slice(semi) : '';
  const m = /;\s*tag\s*=\s*([^\s;,]+)/i.exec(params);
  return m?.[1] ?? '';
}

/** Call-ID, CSeq number and From tag: what an INVITE and every ACK for it share, whatever the branch. */
function dialogKey(req: SipRequest): string | undefined {
  const callId = getHeader(req, 'Call-ID');
  const cseq = getHeader(req, 'CSeq');
  if (callId === undefined || cseq === undefined) return undefined;
  const n = /^\s*(\d+)/.exec(cseq)?.[1];
  return n === undefined ? undefined : `${callId}\n${n}\n${tagOf(getHeader(req, 'From'))}`;
}
