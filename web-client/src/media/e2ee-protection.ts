/**
 * End-to-end encryption for 1:1 calls, put together from src/e2ee: one E2EE worker per call
 * (SFrame, RFC 9605, on every encoded frame through RTCRtpScriptTransform), keys from the 1:1 key
 * agreement (X25519 with commitment, src/e2ee/key-agreement.ts) carried in the call's own dialog
 * as SIP INFO, and a short authentication string for the users to compare.
 *
 * The caller offers the key agreement ("offerer"), the callee answers; the session is the
 * Call-ID. Until both keys are in place the worker drops frames rather than send them in clear:
 * a call whose key agreement fails stays silent, and says so, instead of quietly falling back.
 * Whether a call uses E2EE at all is settled before any media exists (sip/call.ts: both sides
 * announce support in the INVITE and its 2xx).
 */
import { KeyAgreement, type KeyAgreementResult } from '../e2ee/key-agreement.ts';
import type { E2eeTransformOptions, E2eeWorkerEvent, E2eeWorkerRequest } from '../e2ee/worker-protocol.ts';
import type { FrameCounters } from '../privacy/indicator.ts';
import { countersFromTracks } from './e2ee-counters.ts';
import type { CallContext, MediaProtection, MediaProtectionFactory, ProtectionStatus } from './media-protection.ts';

/** Whether this browser can run the E2EE transforms at all. */
export function e2eeSupported(): boolean {
  return typeof (globalThis as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform === 'function' && typeof Worker === 'function';
}

const PEER = 'peer';
/** How long the key agreement may take before the call says it failed (ms). */
const AGREEMENT_TIMEOUT_MS = 10_000;

type E2eeState = ProtectionStatus['state'];

class CallEncryption implements MediaProtection {
  readonly #worker: Worker;
  readonly #ctx: CallContext;
  #tracks = 0;
  #counters: FrameCounters | undefined;
  #agreement: KeyAgreement | undefined;
  #state: E2eeState = 'agreeing';
  #sas: string[] | undefined;
  #error: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(ctx: CallContext, workerUrl: string) {
    this.#ctx = ctx;
    this.#worker = new Worker(workerUrl, { type: 'module', name: 'sotto-e2ee' });
    this.#worker.onmessage = (e: MessageEvent<E2eeWorkerEvent>) => this.#onWorker(e.data);
    this.#post({ kind: 'init', data: { statsIntervalMs: 1000 } });
    ctx.signal.onMessage((body) => void this.#onSignal(body));
    ctx.onEstablished(() => void this.#start());
    this.#timer = setTimeout(() => this.#fail('the other side did not complete the key exchange'), AGREEMENT_TIMEOUT_MS);
  }

  attachSender(sender: RTCRtpSender, kind: 'audio' | 'video'): void {
    sender.transform = this.#transform({ operation: 'encode', trackId: `send-${kind}-${++this.#tracks}`, kind });
  }

  attachReceiver(receiver: RTCRtpReceiver, kind: 'audio' | 'video'): void {
    receiver.transform = this.#transform({ operation: 'decode', trackId: `recv-${kind}-${++this.#tracks}`, kind, participantId: PEER });
  }

  counters(): FrameCounters | undefined {
    return this.#counters;
  }

  status(): ProtectionStatus {
    return { state: this.#state, ...(this.#sas ? { sas: this.#sas } : {}), ...(this.#error ? { error: this.#error } : {}) };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#worker.terminate();
  }

  #transform(options: E2eeTransformOptions): RTCRtpScriptTransform {
    return new RTCRtpScriptTransform(this.#worker, options);
  }

  #post(req: E2eeWorkerRequest): void {
    if (!this.#closed) this.#worker.postMessage(req);
  }

  #onWorker(ev: E2eeWorkerEvent): void {
    if (ev.kind === 'stats') this.#counters = countersFromTracks(ev.data.tracks);
    else if (ev.kind === 'error') console.warn('e2ee worker:', ev.data.message);
  }

  async #agreementFor(): Promise<KeyAgreement> {
    this.#agreement ??= await KeyAgreement.create(this.#ctx.direction === 'outgoing' ? 'offerer' : 'answerer', this.#ctx.callId);
    return this.#agreement;
  }

  /** The caller starts once the dialog is up (INFO needs it). */
  async #start(): Promise<void> {
    if (this.#ctx.direction !== 'outgoing') return;
    try {
      const ka = await this.#agreementFor();
      await this.#send(ka.start());
    } catch (err) {
      this.#fail(String(err));
    }
  }

  async #onSignal(body: string): Promise<void> {
    try {
      const ka = await this.#agreementFor();
      const reply = await ka.receive(JSON.parse(body));
      if (reply) await this.#send(reply);
      if (ka.state === 'done' && ka.result) this.#useKeys(ka.result);
    } catch (err) {
      this.#fail(String(err));
    }
  }

  async #send(message: unknown): Promise<void> {
    // The callee's dialog may not be confirmed yet when the caller's first INFO is sent: retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#ctx.signal.send(JSON.stringify(message));
        return;
      } catch (err) {
        if (attempt >= 5 || this.#closed) throw err;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  #useKeys(result: KeyAgreementResult): void {
    clearTimeout(this.#timer);
    this.#post({ kind: 'setSenderKey', data: { kid: 0, key: new Uint8Array(result.sendKey) } });
    this.#post({ kind: 'setReceiverKey', data: { participantId: PEER, kid: 0, key: new Uint8Array(result.receiveKey) } });
    this.#sas = result.sas.map((s) => `${s.emoji} ${s.name}`);
    this.#state = 'ready';
    this.#ctx.changed();
  }

  #fail(reason: string): void {
    if (this.#state !== 'agreeing') return;
    clearTimeout(this.#timer);
    this.#state = 'failed';
    this.#error = reason;
    this.#ctx.changed();
  }
}

export function e2eeProtection(workerUrl = '/e2ee.worker.js'): MediaProtectionFactory {
  return (ctx) => new CallEncryption(ctx, workerUrl);
}
