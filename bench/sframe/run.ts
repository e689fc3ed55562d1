/**
 * SFrame throughput: `node bench/sframe/run.ts` (env RUNS, default 7).
 *
 * For 1,200-byte frames (an audio or small video frame, about one packet) and 20-kB frames (a
 * video keyframe), measures encrypt + decrypt of each frame, one frame at a time as an encoded
 * transform does (each awaited before the next):
 *   - raw AES-128-GCM: crypto.subtle encrypt then decrypt, a fixed key, a counter nonce, no AAD;
 *     the floor any WebCrypto-based E2EE pays;
 *   - SFrame GCM: SenderContext.encrypt + ReceiverKeyring.decrypt with AES_128_GCM_SHA256_128
 *     (header, nonce, AAD, replay window, copies);
 *   - SFrame CTR+HMAC-80: the same with AES_128_CTR_HMAC_SHA256_80 (two WebCrypto calls each way);
 *   - FrameCryptor VP8: the whole per-frame path of the worker (codec split, metadata, SFrame,
 *     frame object updates) with VP8 delta frames.
 * Prints, per row, the median over RUNS rounds (after a warm-up) of MB/s of frame payload
 * (encrypt and decrypt counted once: MB of frames that made the round trip per second) and
 * frames/s, and the median of the per-round ratios to raw AES-GCM on the same frames; the paths
 * run in turn within each round, so machine load that drifts affects them alike.
 */
import { FrameCryptor, type EncodedFrameLike } from '../../web-client/src/e2ee/frame-transformer.ts';
import { ReceiverKeyring, SenderContext } from '../../web-client/src/e2ee/sframe/context.ts';
import type { CipherSuiteId } from '../../web-client/src/e2ee/sframe/cipher-suite.ts';

const RUNS = Number(process.env.RUNS ?? 7);
const SIZES = [
  { bytes: 1200, frames: 4000 },
  { bytes: 20_000, frames: 1000 },
];

const NO_METADATA = new Uint8Array(0);
const BASE_KEY = crypto.getRandomValues(new Uint8Array(32));

function makeFrames(count: number, bytes: number): Uint8Array<ArrayBuffer>[] {
  return Array.from({ length: count }, () => {
    const f = new Uint8Array(bytes);
    // getRandomValues fills at most 65,536 bytes per call.
    for (let o = 0; o < bytes; o += 65536) crypto.getRandomValues(f.subarray(o, Math.min(bytes, o + 65536)));
    f[0] = f[0]! | 0x01; // a VP8 delta frame for the FrameCryptor row
    return f;
  });
}

type Round = (frames: Uint8Array<ArrayBuffer>[]) => Promise<void>;

async function rawGcm(): Promise<Round> {
  const key = await crypto.subtle.importKey('raw', BASE_KEY.slice(0, 16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  let counter = 0;
  return async (frames) => {
    for (const frame of frames) {
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, counter++);
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, frame);
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ct);
    }
  };
}

async function sframe(suite: CipherSuiteId): Promise<Round> {
  return async (frames) => {
    // Fresh contexts per run: a KID is used once per sender, and the replay window starts empty.
    const sender = new SenderContext({ suite });
    await sender.setKey(0n, BASE_KEY);
    const receiver = new ReceiverKeyring({ suite });
    await receiver.setKey(0n, BASE_KEY);
    for (const frame of frames) {
      const result = await receiver.decrypt(await sender.encrypt(NO_METADATA, frame), NO_METADATA);
      if (!result.ok) throw new Error(`decrypt failed: ${result.reason}`);
    }
  };
}

class BenchFrame implements EncodedFrameLike {
  data: ArrayBuffer;
  constructor(data: ArrayBuffer) {
    this.data = data;
  }
  getMetadata() {
    return { mimeType: 'video/VP8' };
  }
}

async function frameCryptor(): Promise<Round> {
  return async (frames) => {
    const sender = new SenderContext();
    await sender.setKey(0n, BASE_KEY);
    const keyring = new ReceiverKeyring();
    await keyring.setKey(0n, BASE_KEY);
    const encryptor = new FrameCryptor({ direction: 'encrypt', kind: 'video', sender });
    const decryptor = new FrameCryptor({ direction: 'decrypt', kind: 'video', keyring });
    for (const bytes of frames) {
      const frame = new BenchFrame(bytes.buffer);
      if (!(await encryptor.transformFrame(frame)) || !(await decryptor.transformFrame(frame))) throw new Error('frame dropped');
    }
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs every path once per round, in turn, RUNS rounds after a warm-up: on a shared machine the
 * load drifts over seconds, and taking the paths in turn exposes each of them to the same drift.
 * Returns each path's seconds per round.
 */
async function measureInTurn(rounds: Round[], frames: Uint8Array<ArrayBuffer>[]): Promise<number[][]> {
  for (const round of rounds) await round(frames); // warm-up
  const seconds: number[][] = rounds.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < rounds.length; i++) {
      const t0 = performance.now();
      await rounds[i]!(frames);
      seconds[i]!.push((performance.now() - t0) / 1000);
    }
  }
  return seconds;
}

const rows: { name: string; make: () => Promise<Round> }[] = [
  { name: 'raw AES-128-GCM (WebCrypto)', make: rawGcm },
  { name: 'SFrame AES_128_GCM_SHA256_128', make: () => sframe(4) },
  { name: 'SFrame AES_128_CTR_HMAC_SHA256_80', make: () => sframe(1) },
  { name: 'FrameCryptor VP8 (GCM)', make: frameCryptor },
];

console.log(`SFrame encrypt+decrypt, one frame at a time; paths taken in turn, ${RUNS} rounds; medians; node ${process.version}`);
console.log('(x raw = median over the rounds of raw time / path time in the same round)');
for (const { bytes, frames: count } of SIZES) {
  const frames = makeFrames(count, bytes);
  console.log(`\n${bytes} B frames x ${count}`);
  console.log(`${'path'.padEnd(36)} ${'MB/s'.padStart(8)} ${'frames/s'.padStart(10)} ${'x raw'.padStart(7)}`);
  const rounds: Round[] = [];
  for (const row of rows) rounds.push(await row.make());
  const seconds = await measureInTurn(rounds, frames);
  rows.forEach((row, i) => {
    const s = median(seconds[i]!);
    const ratio = median(seconds[i]!.map((t, r) => seconds[0]![r]! / t));
    const mbps = (bytes * count) / s / 1e6;
    console.log(`${row.name.padEnd(36)} ${mbps.toFixed(1).padStart(8)} ${Math.round(count / s).toString().padStart(10)} ${ratio.toFixed(2).padStart(7)}`);
  });
}
