/**
 * The frame cryptor: encrypts or decrypts the encoded frames of one track as they flow through an
 * encoded transform (RTCRtpScriptTransform, or the createEncodedStreams fallback), and counts
 * what happened to each frame.
 *
 * Frames are objects shaped like RTCEncodedVideoFrame / RTCEncodedAudioFrame; only the members
 * used here are declared (EncodedFrameLike), so this file needs no DOM types and is unit-tested
 * with plain objects through in-memory streams.
 *
 * Rules:
 *  - A frame is passed on only if it was encrypted (sending) or authenticated and decrypted
 *    (receiving). Anything else is dropped and counted by reason, never forwarded: no clear
 *    media leaves when there is no key, no forged or replayed media is played (RFC 9605 §4.4.4:
 *    "If a ciphertext fails to decrypt for any other reason, the client MUST discard the
 *    ciphertext").
 *  - Empty frames (no bytes) have nothing to protect and pass unchanged, counted apart.
 *  - Failures do not error the stream: one bad frame must not stop the track.
 *
 * The counters are what the UI uses to show "end-to-end encrypted": only while `ok` grows on the
 * sending side and on the receiving side (see /work/shared/e2ee-sfu-findings.md: a transform
 * assigned too late sees no frame at all, and media then flows unencrypted with no error).
 */
import type { Bytes } from './bytes.ts';
import { FrameCodecError, frameMetadata, joinPlainFrame, joinProtectedFrame, layoutFor, splitPlainFrame, splitProtectedFrame } from './frame-codec.ts';
import { CounterExhaustedError, NoSenderKeyError, type DecryptFailureReason, type ReceiverKeyring, type SenderContext } from './sframe/context.ts';

export interface EncodedFrameMetadataLike {
  readonly payloadType?: number;
  readonly synchronizationSource?: number;
  readonly mimeType?: string;
}

/** The members of RTCEncodedVideoFrame / RTCEncodedAudioFrame the cryptor uses. */
export interface EncodedFrameLike {
  data: ArrayBuffer;
  readonly type?: 'key' | 'delta' | 'empty';
  getMetadata(): EncodedFrameMetadataLike;
}

export type MediaKind = 'audio' | 'video';

/**
 * Why a frame was dropped.
 *  Sending:   no-key (no sender key yet), unsupported-frame (the codec layout cannot be applied),
 *             counter-exhausted (all 2^64 CTRs used), error (unexpected failure).
 *  Receiving: malformed (bad SFrame header or codec layout), unknown-key (no key for the KID),
 *             auth (tag check failed: tampered, or wrong key), replay (CTR already seen or too
 *             old), error (unexpected failure).
 */
export type DropReason = 'no-key' | 'unsupported-frame' | 'counter-exhausted' | DecryptFailureReason | 'error';

export const DROP_REASONS: readonly DropReason[] = [
  'no-key',
  'unsupported-frame',
  'counter-exhausted',
  'malformed',
  'unknown-key',
  'auth',
  'replay',
  'error',
];

export interface FrameCryptorStats {
  readonly direction: 'encrypt' | 'decrypt';
  readonly kind: MediaKind;
  /** Frames encrypted (sending) or authenticated and decrypted (receiving), and passed on. */
  readonly ok: number;
  /** Bytes of those frames before encryption / after decryption. */
  readonly okBytes: number;
  /** Empty frames passed through unchanged. */
  readonly empty: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
}

interface CommonOptions {
  readonly kind: MediaKind;
  /** The codec's MIME type, when the frames' metadata does not give it (older browsers). */
  readonly mimeType?: string;
}

export type FrameCryptorOptions =
  | (CommonOptions & { readonly direction: 'encrypt'; readonly sender: SenderContext })
  | (CommonOptions & { readonly direction: 'decrypt'; readonly keyring: ReceiverKeyring });

function emptyDrops(): Record<DropReason, number> {
  const drops = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) drops[r] = 0;
  return drops;
}

export class FrameCryptor {
  readonly #options: FrameCryptorOptions;
  #ok = 0;
  #okBytes = 0;
  #empty = 0;
  readonly #dropped = emptyDrops();

  constructor(options: FrameCryptorOptions) {
    this.#options = options;
  }

  get direction(): 'encrypt' | 'decrypt' {
    return this.#options.direction;
  }

  get stats(): FrameCryptorStats {
    return {
      direction: this.#options.direction,
      kind: this.#options.kind,
      ok: this.#ok,
      okBytes: this.#okBytes,
      empty: this.#empty,
      dropped: { ...this.#dropped },
    };
  }

  /**
   * Encrypts or decrypts one frame in place (its `data` is replaced). Returns true if the frame
   * is to be passed on, false if it was dropped (and counted).
   */
  async transformFrame(frame: EncodedFrameLike): Promise<boolean> {
    const data = new Uint8Array(frame.data);
    if (data.length === 0) {
      this.#empty++;
      return true;
    }
    const layout = layoutFor(this.#options.kind, frame.getMetadata().mimeType ?? this.#options.mimeType);
    const out = this.#options.direction === 'encrypt'
      ? await this.#encrypt(this.#options.sender, layout, data)
      : await this.#decrypt(this.#options.keyring, layout, data);
    if (typeof out === 'string') {
      this.#dropped[out]++;
      return false;
    }
    frame.data = out.buffer;
    this.#ok++;
    this.#okBytes += this.#options.direction === 'encrypt' ? data.length : out.length;
    return true;
  }

  async #encrypt(sender: SenderContext, layout: ReturnType<typeof layoutFor>, data: Bytes): Promise<Bytes | DropReason> {
    try {
      const { clear, body } = splitPlainFrame(layout, data);
      // H.264 escapes the SFrame bytes after its clear NAL headers (frame-codec.ts), so it joins
      // them itself; otherwise the clear bytes go in front of the ciphertext in the same copy.
      if (layout === 'h264') return joinProtectedFrame(layout, clear, await sender.encrypt(frameMetadata(layout, clear), body));
      return await sender.encrypt(frameMetadata(layout, clear), body, clear);
    } catch (err) {
      if (err instanceof NoSenderKeyError) return 'no-key';
      if (err instanceof FrameCodecError) return 'unsupported-frame';
      if (err instanceof CounterExhaustedError) return 'counter-exhausted';
      return 'error';
    }
  }

  async #decrypt(keyring: ReceiverKeyring, layout: ReturnType<typeof layoutFor>, data: Bytes): Promise<Bytes | DropReason> {
    try {
      const { clear, body } = splitProtectedFrame(layout, data);
      const result = await keyring.decrypt(body, frameMetadata(layout, clear));
      return result.ok ? joinPlainFrame(clear, result.plaintext) : result.reason;
    } catch (err) {
      if (err instanceof FrameCodecError) return 'malformed';
      return 'error';
    }
  }

  /** A TransformStream that applies transformFrame() and forwards only the frames it keeps. */
  createTransformStream<F extends EncodedFrameLike>(): TransformStream<F, F> {
    return new TransformStream<F, F>({
      transform: async (frame, controller) => {
        if (await this.transformFrame(frame)) controller.enqueue(frame);
      },
    });
  }

  /**
   * Pipes a track's encoded frames through the cryptor: `readable` and `writable` are those of
   * an RTCRtpScriptTransformer or of createEncodedStreams(). Resolves when the stream ends.
   */
  pipe<F extends EncodedFrameLike>(readable: ReadableStream<F>, writable: WritableStream<F>, signal?: AbortSignal): Promise<void> {
    return readable.pipeThrough(this.createTransformStream<F>()).pipeTo(writable, signal ? { signal } : {});
  }
}
