import { describe, expect, it } from 'vitest';
import { FrameCryptor, type FrameCryptorStats } from '../../../web-client/src/e2ee/frame-transformer.ts';
import { findNalUnits } from '../../../web-client/src/e2ee/h264.ts';
import { ReceiverKeyring, SenderContext } from '../../../web-client/src/e2ee/sframe/context.ts';
import { decodeHeader } from '../../../web-client/src/e2ee/sframe/header.ts';
import { FakeFrame, h264Frame, opusFrame, runThrough, vp8Frame } from './fake-frames.ts';
import { pseudoRandomBytes, toHex } from './helpers.ts';

const KEY = pseudoRandomBytes(32, 11);
const OTHER_KEY = pseudoRandomBytes(32, 12);

async function cryptors(kind: 'audio' | 'video', options: { receiverKey?: Uint8Array; senderKid?: bigint } = {}) {
  const sender = new SenderContext();
  await sender.setKey(options.senderKid ?? 0n, KEY);
  const keyring = new ReceiverKeyring();
  await keyring.setKey(0n, options.receiverKey ?? KEY);
  return {
    sender,
    keyring,
    encryptor: new FrameCryptor({ direction: 'encrypt', kind, sender }),
    decryptor: new FrameCryptor({ direction: 'decrypt', kind, keyring }),
  };
}

function dropped(stats: FrameCryptorStats): Record<string, number> {
  return Object.fromEntries(Object.entries(stats.dropped).filter(([, n]) => n > 0));
}

describe('FrameCryptor through in-memory streams: round trip per codec', () => {
  it('VP8: encrypts and decrypts keyframes and delta frames, payload header clear on the wire', async () => {
    const { encryptor, decryptor } = await cryptors('video');
    const frames = [vp8Frame(true, 3000, 1), vp8Frame(false, 800, 2), vp8Frame(false, 20, 3)];
    const originals = frames.map((f) => toHex(f.bytes));
    const encrypted = await runThrough(frames, encryptor.createTransformStream());
    expect(encrypted).toHaveLength(3);
    encrypted.forEach((f, i) => {
      const clearLength = i === 0 ? 10 : 3;
      expect(toHex(f.bytes.subarray(0, clearLength))).toBe(originals[i]!.slice(0, 2 * clearLength));
      // The rest is an SFrame ciphertext: header (KID 0, CTR i), then not the plaintext.
      expect(decodeHeader(f.bytes, clearLength)).toMatchObject({ kid: 0n, ctr: BigInt(i) });
      expect(toHex(f.bytes)).not.toContain(originals[i]!.slice(2 * clearLength + 20, 2 * clearLength + 60));
    });
    const decrypted = await runThrough(encrypted, decryptor.createTransformStream());
    expect(decrypted.map((f) => toHex(f.bytes))).toEqual(originals);
    expect(encryptor.stats).toMatchObject({ direction: 'encrypt', kind: 'video', ok: 3, okBytes: 3820, empty: 0 });
    expect(decryptor.stats).toMatchObject({ direction: 'decrypt', ok: 3, okBytes: 3820 });
    expect(dropped(encryptor.stats)).toEqual({});
    expect(dropped(decryptor.stats)).toEqual({});
  });

  it('H.264: start codes, SPS, PPS and the slice NAL header stay clear; no start code in the ciphertext', async () => {
    const { encryptor, decryptor } = await cryptors('video');
    const frame = h264Frame(5);
    const original = toHex(frame.bytes);
    const [encrypted] = await runThrough([frame], encryptor.createTransformStream());
    expect(findNalUnits(encrypted!.bytes).map((u) => u.type)).toEqual([7, 8, 5]);
    const [decrypted] = await runThrough([encrypted!], decryptor.createTransformStream());
    expect(toHex(decrypted!.bytes)).toBe(original);
  });

  it('Opus: the whole frame is encrypted (the SFrame header comes first)', async () => {
    const { encryptor, decryptor } = await cryptors('audio');
    const frame = opusFrame(120, 4);
    const original = toHex(frame.bytes);
    const [encrypted] = await runThrough([frame], encryptor.createTransformStream());
    expect(encrypted!.bytes[0]).toBe(0x00); // config byte: KID 0, CTR 0
    expect(encrypted!.bytes.length).toBe(120 + 1 + 16);
    expect(toHex(encrypted!.bytes.subarray(1, 121))).not.toBe(original);
    const [decrypted] = await runThrough([encrypted!], decryptor.createTransformStream());
    expect(toHex(decrypted!.bytes)).toBe(original);
  });

  it('passes empty frames unchanged and counts them apart', async () => {
    const { encryptor, decryptor } = await cryptors('video');
    const out = await runThrough([new FakeFrame(new Uint8Array(0), {}, 'empty')], encryptor.createTransformStream());
    expect(out).toHaveLength(1);
    expect(out[0]!.data.byteLength).toBe(0);
    await runThrough(out, decryptor.createTransformStream());
    expect(encryptor.stats).toMatchObject({ ok: 0, empty: 1 });
    expect(decryptor.stats).toMatchObject({ ok: 0, empty: 1 });
  });

  it('uses the configured mimeType when frames carry none', async () => {
    const sender = new SenderContext();
    await sender.setKey(0n, KEY);
    const encryptor = new FrameCryptor({ direction: 'encrypt', kind: 'video', sender, mimeType: 'video/VP8' });
    const frame = vp8Frame(true, 100, 9);
    const bare = new FakeFrame(frame.bytes);
    const [encrypted] = await runThrough([bare], encryptor.createTransformStream());
    expect(toHex(encrypted!.bytes.subarray(0, 10))).toBe(toHex(frame.bytes.subarray(0, 10)));
  });
});

describe('FrameCryptor: frames that must not pass are dropped and counted by reason', () => {
  it('sending without a key drops every frame (never sends clear media)', async () => {
    const encryptor = new FrameCryptor({ direction: 'encrypt', kind: 'audio', sender: new SenderContext() });
    const out = await runThrough([opusFrame(50, 1), opusFrame(50, 2)], encryptor.createTransformStream());
    expect(out).toHaveLength(0);
    expect(dropped(encryptor.stats)).toEqual({ 'no-key': 2 });
  });

  it('sending a frame the layout cannot apply to drops it as unsupported-frame', async () => {
    const { encryptor } = await cryptors('video');
    const out = await runThrough([vp8Frame(true, 5, 1)], encryptor.createTransformStream());
    expect(out).toHaveLength(0);
    expect(dropped(encryptor.stats)).toEqual({ 'unsupported-frame': 1 });
  });

  it('receiving: tampered, replayed, wrong-key, unknown-KID and malformed frames are dropped, good ones pass', async () => {
    const { encryptor, decryptor } = await cryptors('video');
    const frames = Array.from({ length: 6 }, (_, i) => vp8Frame(i === 0, 400, i + 1));
    const originals = frames.map((f) => toHex(f.bytes));
    const encrypted = await runThrough(frames, encryptor.createTransformStream());

    // Frames encrypted by someone with another key under the same KID, and under another KID.
    const wrongKeySender = new SenderContext();
    await wrongKeySender.setKey(0n, OTHER_KEY);
    // (CTR 9, not yet seen: a seen CTR would be refused as a replay before any crypto.)
    const wrongKeyFrames = Array.from({ length: 10 }, (_, i) => vp8Frame(false, 100, 50 + i));
    const wrongKey = (await runThrough(wrongKeyFrames, new FrameCryptor({ direction: 'encrypt', kind: 'video', sender: wrongKeySender }).createTransformStream()))[9];
    const unknownKidSender = new SenderContext();
    await unknownKidSender.setKey(77n, KEY);
    const [unknownKid] = await runThrough([vp8Frame(false, 100, 51)], new FrameCryptor({ direction: 'encrypt', kind: 'video', sender: unknownKidSender }).createTransformStream());

    const tampered = encrypted[2]!.clone();
    const tamperedBytes = tampered.bytes.slice();
    tamperedBytes[200]! ^= 0x10;
    tampered.data = tamperedBytes.buffer;
    // The SFU rewriting the clear VP8 header: authenticated, so refused too.
    const headerRewritten = encrypted[3]!.clone();
    const rewritten = headerRewritten.bytes.slice();
    rewritten[1]! ^= 0x01;
    headerRewritten.data = rewritten.buffer;
    const malformed = new FakeFrame(Uint8Array.of(0x01, 0x02, 0x03, 0x0f), { mimeType: 'video/VP8' });

    const stream = [
      encrypted[0]!,
      tampered,
      encrypted[1]!,
      encrypted[1]!.clone(), // replay
      wrongKey!,
      unknownKid!,
      headerRewritten,
      malformed,
      encrypted[4]!,
      encrypted[0]!.clone(), // replay of the keyframe
      encrypted[5]!,
    ];
    const out = await runThrough(stream, decryptor.createTransformStream());
    expect(out.map((f) => toHex(f.bytes))).toEqual([originals[0], originals[1], originals[4], originals[5]]);
    expect(decryptor.stats.ok).toBe(4);
    expect(dropped(decryptor.stats)).toEqual({ auth: 3, replay: 2, 'unknown-key': 1, malformed: 1 });
  });

  it('receiving with the wrong key drops everything as auth', async () => {
    const { encryptor, decryptor } = await cryptors('audio', { receiverKey: OTHER_KEY });
    const encrypted = await runThrough([opusFrame(60, 1), opusFrame(60, 2)], encryptor.createTransformStream());
    expect(await runThrough(encrypted, decryptor.createTransformStream())).toHaveLength(0);
    expect(dropped(decryptor.stats)).toEqual({ auth: 2 });
  });

  it('a video frame moved into an audio track is refused (the layout is authenticated)', async () => {
    const { encryptor } = await cryptors('video');
    const audio = await cryptors('audio');
    const [encrypted] = await runThrough([vp8Frame(false, 200, 3)], encryptor.createTransformStream());
    // The audio receiver reads it with the full layout: the metadata differs, so the tag fails.
    expect(await runThrough([encrypted!], audio.decryptor.createTransformStream())).toHaveLength(0);
    expect(dropped(audio.decryptor.stats)).toEqual({ auth: 1 });
  });

  it('keeps going after drops: the stream is not errored', async () => {
    const { encryptor, decryptor } = await cryptors('audio');
    const encrypted = await runThrough([opusFrame(60, 1), opusFrame(60, 2)], encryptor.createTransformStream());
    const garbage = new FakeFrame(Uint8Array.of(0xff), { mimeType: 'audio/opus' });
    const out = await runThrough([garbage, encrypted[0]!, garbage, encrypted[1]!], decryptor.createTransformStream());
    expect(out).toHaveLength(2);
    expect(dropped(decryptor.stats)).toEqual({ malformed: 2 });
  });

  it('pipe() connects a readable and a writable, as the worker does with RTCRtpScriptTransformer', async () => {
    const { encryptor } = await cryptors('audio');
    const out: FakeFrame[] = [];
    await encryptor.pipe(ReadableStream.from([opusFrame(30, 1)]), new WritableStream<FakeFrame>({ write: (f) => void out.push(f) }));
    expect(out).toHaveLength(1);
    expect(encryptor.stats.ok).toBe(1);
  });
});
