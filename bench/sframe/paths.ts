/**
 * The SFrame throughput paths and their measurement, shared by the Node runner (run.ts) and the
 * Chromium one (browser.ts): Web-standard only (WebCrypto, typed arrays), so that the same code
 * is bundled for the browser, where Sotto's E2EE actually runs.
 *
 * Each path encrypts then decrypts every frame, one frame at a time as an encoded transform does
 * (each awaited before the next):
 *   - raw AES-128-GCM: crypto.subtle encrypt then decrypt, a fixed key, a counter nonce, no AAD;
 *     the floor any WebCrypto-based E2EE pays;
 *   - SFrame GCM: SenderContext.encrypt + ReceiverKeyring.decrypt with AES_128_GCM_SHA256_128
 *     (header, nonce, AAD, replay window, copies);
 *   - SFrame CTR+HMAC-80: the same with AES_128_CTR_HMAC_SHA256_80 (two WebCrypto calls each way);
 *   - FrameCryptor VP8: the whole per-frame path of the worker (codec split, metadata, SFrame,
 *     frame object updates) with VP8 delta frames.
 */
import { FrameCryptor, type EncodedFrameLike } from '../../web-client/src/e2ee/frame-transformer.ts';
import { ReceiverKeyring, SenderContext } from '../../web-client/src/e2ee/sframe/context.ts';
import type { CipherSuiteId } from '../../web-client/src/e2ee/sframe/cipher-suite.ts';

export const SIZES = [
  { bytes: 1200, frames: 4000 },
  { bytes: 20_000, frames: 1000 },
];

const NO_METADATA = new Uint8Array(0);
const BASE_KEY = crypto.getRandomValues(new Uint8Array(32));

export function makeFrames(count: number, bytes: number): Uint8Array<ArrayBuffer>[] {
  return Array.from({ length: count }, () => {
    const f = new Uint8Array(bytes);
    // getRandomValues fills at most 65,536 bytes per call.
    for (let o = 0; o < bytes; o += 65536) crypto.getRandomValues(f.subarray(o, Math.min(bytes, o + 65536)));
    f[0] = f[0]! | 0x01; // a VP8 delta frame for the FrameCryptor row
    return f;
  });
}

export type Round = (frames: Uint8Array<ArrayBuffer>[]) => Promise<void>;

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

/** raw AES-GCM with a 2-byte AAD and the SFrame output layout (header || ct), to see what those cost by themselves. */
async function rawGcmAad(): Promise<Round> {
  const key = await crypto.subtle.importKey('raw', BASE_KEY.slice(0, 16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  let counter = 0;
  const aad = new Uint8Array([0x00, 0x01]);
  return async (frames) => {
    for (const frame of frames) {
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, counter++);
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, frame));
      const out = new Uint8Array(2 + ct.length);
      out.set(aad, 0);
      out.set(ct, 2);
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: out.subarray(0, 2) }, key, out.subarray(2));
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

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs every path once per round, in turn, RUNS rounds after a warm-up: on a shared machine the
 * load drifts over seconds, and taking the paths in turn exposes each of them to the same drift.
 * Returns each path's seconds per round.
 */
async function measureInTurn(rounds: Round[], frames: Uint8Array<ArrayBuffer>[], runs: number): Promise<number[][]> {
  for (const round of rounds) await round(frames); // warm-up
  const seconds: number[][] = rounds.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < rounds.length; i++) {
      const t0 = performance.now();
      await rounds[i]!(frames);
      seconds[i]!.push((performance.now() - t0) / 1000);
    }
  }
  return seconds;
}

export const rows: { name: string; make: () => Promise<Round> }[] = [
  { name: 'raw AES-128-GCM (WebCrypto)', make: rawGcm },
  { name: 'raw AES-GCM + AAD + header copy', make: rawGcmAad },
  { name: 'SFrame AES_128_GCM_SHA256_128', make: () => sframe(4) },
  { name: 'SFrame AES_128_CTR_HMAC_SHA256_80', make: () => sframe(1) },
  { name: 'FrameCryptor VP8 (GCM)', make: frameCryptor },
];

/**
 * The table for every frame size: per path the median over `runs` rounds of MB/s of frame payload
 * (encrypt and decrypt counted once) and frames/s, and the median of the per-round ratios to raw
 * AES-GCM on the same frames.
 */
export async function sframeTable(runs: number, print: (line: string) => void): Promise<void> {
  print(`SFrame encrypt+decrypt, one frame at a time; paths taken in turn, ${runs} rounds; medians`);
  print('(x raw = median over the rounds of raw time / path time in the same round)');
  for (const { bytes, frames: count } of SIZES) {
    const frames = makeFrames(count, bytes);
    print('');
    print(`${bytes} B frames x ${count}`);
    print(`${'path'.padEnd(36)} ${'MB/s'.padStart(8)} ${'frames/s'.padStart(10)} ${'x raw'.padStart(7)}`);
    const rounds: Round[] = [];
    for (const row of rows) rounds.push(await row.make());
    const seconds = await measureInTurn(rounds, frames, runs);
    rows.forEach((row, i) => {
      const s = median(seconds[i]!);
      const ratio = median(seconds[i]!.map((t, r) => seconds[0]![r]! / t));
      const mbps = (bytes * count) / s / 1e6;
      print(`${row.name.padEnd(36)} ${mbps.toFixed(1).padStart(8)} ${Math.round(count / s).toString().padStart(10)} ${ratio.toFixed(2).padStart(7)}`);
    });
  }
}
