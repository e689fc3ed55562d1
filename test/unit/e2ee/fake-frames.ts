/** Fake encoded frames and stream helpers for the E2EE transformer and worker tests. */
import type { EncodedFrameLike, EncodedFrameMetadataLike } from '../../../web-client/src/e2ee/frame-transformer.ts';
import { pseudoRandomBytes } from './helpers.ts';

export class FakeFrame implements EncodedFrameLike {
  data: ArrayBuffer;
  readonly type: 'key' | 'delta' | 'empty' | undefined;
  readonly #metadata: EncodedFrameMetadataLike;

  constructor(data: Uint8Array, metadata: EncodedFrameMetadataLike = {}, type?: 'key' | 'delta' | 'empty') {
    this.data = new Uint8Array(data).buffer;
    this.#metadata = metadata;
    this.type = type;
  }

  getMetadata(): EncodedFrameMetadataLike {
    return this.#metadata;
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.data);
  }

  clone(): FakeFrame {
    return new FakeFrame(this.bytes, this.#metadata, this.type);
  }
}

/** A VP8 frame: keyframes have P bit 0 in byte 0 and a 10-byte payload header. */
export function vp8Frame(key: boolean, length: number, seed: number): FakeFrame {
  const bytes = pseudoRandomBytes(length, seed);
  bytes[0] = key ? (bytes[0]! & 0xfe) : (bytes[0]! | 0x01);
  return new FakeFrame(bytes, { mimeType: 'video/VP8', payloadType: 96, synchronizationSource: 1234 }, key ? 'key' : 'delta');
}

export function opusFrame(length: number, seed: number): FakeFrame {
  return new FakeFrame(pseudoRandomBytes(length, seed), { mimeType: 'audio/opus', payloadType: 111, synchronizationSource: 5678 });
}

/** An H.264 keyframe: SPS, PPS and an IDR slice with start-code-like bytes in its payload. */
export function h264Frame(seed: number): FakeFrame {
  const body = pseudoRandomBytes(300, seed).map((b) => (b < 100 ? 0 : b));
  // Emulation prevention as an encoder would do it, so the input itself is valid Annex B.
  const slice: number[] = [];
  let zeros = 0;
  for (const b of body) {
    if (zeros >= 2 && b <= 3) {
      slice.push(3);
      zeros = 0;
    }
    slice.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  if (slice[slice.length - 1] === 0) slice.push(0x80);
  const bytes = Uint8Array.of(
    0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80,
    0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
    0, 0, 0, 1, 0x65, 0xb8, 0x41, ...slice,
  );
  return new FakeFrame(bytes, { mimeType: 'video/H264', payloadType: 102 }, 'key');
}

/** Runs frames through a TransformStream and collects what comes out. */
export async function runThrough<F>(frames: readonly F[], transform: TransformStream<F, F>): Promise<F[]> {
  const out: F[] = [];
  await ReadableStream.from(frames)
    .pipeThrough(transform)
    .pipeTo(new WritableStream<F>({ write: (f) => void out.push(f) }));
  return out;
}
