import { describe, expect, it } from 'vitest';
import type { Bytes } from '../../../web-client/src/e2ee/bytes.ts';
import {
  NoSenderKeyError,
  ReceiverKeyring,
  SenderContext,
} from '../../../web-client/src/e2ee/sframe/context.ts';
import { decodeHeader, encodeHeader } from '../../../web-client/src/e2ee/sframe/header.ts';
import {
  kidGeneration,
  kidRatchetStep,
  makeKid,
  nextRatchetKid,
  ratchetDistance,
} from '../../../web-client/src/e2ee/sframe/kid.ts';
import { pseudoRandomBytes, toHex } from './helpers.ts';

const KEY_A = pseudoRandomBytes(32, 1);
const KEY_B = pseudoRandomBytes(32, 2);
const NO_METADATA: Bytes = new Uint8Array(0);

async function pair(kid = 0n, suite: 1 | 4 = 4) {
  const sender = new SenderContext({ suite });
  await sender.setKey(kid, KEY_A);
  const receiver = new ReceiverKeyring({ suite });
  await receiver.setKey(kid, KEY_A);
  return { sender, receiver };
}

describe('KID structure of the sender-keys scheme (RFC 9605 §5.1)', () => {
  it('splits a KID into generation and ratchet step with R bits', () => {
    const kid = makeKid(3n, 5n, 8);
    expect(kid).toBe(0x305n);
    expect(kidGeneration(kid, 8)).toBe(3n);
    expect(kidRatchetStep(kid, 8)).toBe(5n);
    expect(nextRatchetKid(kid, 8)).toBe(0x306n);
    // Steps wrap within the generation: "ratchet_step % (1 << R)".
    expect(nextRatchetKid(makeKid(3n, 255n, 8), 8)).toBe(0x300n);
  });

  it('measures forward ratchet distance within a generation only', () => {
    expect(ratchetDistance(0x300n, 0x303n, 8)).toBe(3);
    expect(ratchetDistance(0x3ffn, 0x301n, 8)).toBe(2);
    expect(ratchetDistance(0x303n, 0x300n, 8)).toBe(253);
    expect(ratchetDistance(0x300n, 0x400n, 8)).toBeNull();
    expect(ratchetDistance(0x300n, 0x300n, 8)).toBeNull();
  });
});

describe('SenderContext: CTR management (RFC 9605 §4.4.1, §7.4)', () => {
  it('starts at CTR 0 and never reuses a counter, even for concurrent frames', async () => {
    const { sender } = await pair(3n);
    const frames = await Promise.all(Array.from({ length: 50 }, (_, i) => sender.encrypt(NO_METADATA, pseudoRandomBytes(20, i + 1))));
    const ctrs = frames.map((f) => decodeHeader(f).ctr);
    expect(new Set(ctrs).size).toBe(50);
    expect([...ctrs].sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    expect(frames.every((f) => decodeHeader(f).kid === 3n)).toBe(true);
    expect(sender.nextCounter).toBe(50n);
  });

  it('refuses to encrypt without a key', async () => {
    await expect(new SenderContext().encrypt(NO_METADATA, new Uint8Array(3))).rejects.toThrow(NoSenderKeyError);
  });

  it('refuses to reuse a KID it has sent with, even with another key (its CTR would restart at 0)', async () => {
    const sender = new SenderContext();
    await sender.setKey(1n, KEY_A);
    await sender.setKey(2n, KEY_B);
    await expect(sender.setKey(1n, KEY_B)).rejects.toThrow(/already used/);
    await expect(sender.setKey(2n, KEY_B)).rejects.toThrow(/already used/);
    expect(sender.kid).toBe(2n);
  });

  it('does not burn a KID when the key is refused', async () => {
    const sender = new SenderContext();
    await expect(sender.setKey(1n, new Uint8Array(8))).rejects.toThrow(/at least 16/);
    await sender.setKey(1n, KEY_A);
    expect(sender.kid).toBe(1n);
  });

  it('ratchets to the next KID with a new key and restarts the CTR (§5.1)', async () => {
    const { sender, receiver } = await pair(0x100n);
    const before = await sender.encrypt(NO_METADATA, pseudoRandomBytes(10));
    expect(await sender.ratchet()).toBe(0x101n);
    expect(sender.nextCounter).toBe(0n);
    const after = await sender.encrypt(NO_METADATA, pseudoRandomBytes(10));
    expect(decodeHeader(after)).toMatchObject({ kid: 0x101n, ctr: 0n });
    // Same plaintext, same CTR, different key: different ciphertext.
    expect(toHex(after.subarray(3))).not.toBe(toHex(before.subarray(3)));
    // A receiver holding the old key follows by ratcheting itself.
    expect(await receiver.decrypt(after, NO_METADATA)).toMatchObject({ ok: true, kid: 0x101n });
    expect(receiver.has(0x101n)).toBe(true);
  });

  it('refuses a ratchet that would wrap onto a KID it already used', async () => {
    const sender = new SenderContext({ ratchetBits: 1 });
    await sender.setKey(0n, KEY_A);
    expect(await sender.ratchet()).toBe(1n);
    await expect(sender.ratchet()).rejects.toThrow(/already used/);
  });
});

describe('ReceiverKeyring: decryption, failures by reason, replay (RFC 9605 §4.4.4, §7.4)', () => {
  it('decrypts what the sender encrypted, with the same metadata', async () => {
    const { sender, receiver } = await pair();
    const metadata = pseudoRandomBytes(10, 7);
    const pt = pseudoRandomBytes(1200, 9);
    const result = await receiver.decrypt(await sender.encrypt(metadata, pt), metadata);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(toHex(result.plaintext)).toBe(toHex(pt));
      expect(result.ctr).toBe(0n);
    }
    expect(receiver.failures).toEqual({ malformed: 0, 'unknown-key': 0, auth: 0, replay: 0 });
  });

  it.each([1, 4] as const)('suite %i: counts tampered frames as auth failures', async (suite) => {
    const { sender, receiver } = await pair(0n, suite);
    const frame = await sender.encrypt(NO_METADATA, pseudoRandomBytes(100));
    const tampered = frame.slice();
    tampered[50]! ^= 1;
    expect(await receiver.decrypt(tampered, NO_METADATA)).toEqual({ ok: false, reason: 'auth' });
    expect(await receiver.decrypt(frame, new Uint8Array([1]))).toEqual({ ok: false, reason: 'auth' });
    expect(receiver.failures.auth).toBe(2);
    // The genuine frame still decrypts: failures did not advance the replay window.
    expect((await receiver.decrypt(frame, NO_METADATA)).ok).toBe(true);
  });

  it('refuses a replayed frame, counted as replay, but accepts reordered frames once', async () => {
    const { sender, receiver } = await pair();
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push(await sender.encrypt(NO_METADATA, pseudoRandomBytes(30, i + 1)));
    for (const i of [0, 2, 1, 4, 3]) expect((await receiver.decrypt(frames[i]!, NO_METADATA)).ok).toBe(true);
    expect(await receiver.decrypt(frames[2]!, NO_METADATA)).toEqual({ ok: false, reason: 'replay' });
    expect(receiver.failures.replay).toBe(1);
  });

  it('accepts only one of two concurrent decryptions of the same frame', async () => {
    const { sender, receiver } = await pair();
    const frame = await sender.encrypt(NO_METADATA, pseudoRandomBytes(30));
    const results = await Promise.all([receiver.decrypt(frame, NO_METADATA), receiver.decrypt(frame, NO_METADATA)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replay')).toHaveLength(1);
  });

  it('counts frames under a KID it has no key for as unknown-key', async () => {
    const { receiver } = await pair(0n);
    const other = new SenderContext();
    await other.setKey(42n, KEY_B);
    expect(await receiver.decrypt(await other.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).toEqual({
      ok: false,
      reason: 'unknown-key',
    });
    expect(receiver.failures['unknown-key']).toBe(1);
  });

  it('counts a frame under a known KID but another key as auth (wrong key)', async () => {
    const receiver = new ReceiverKeyring();
    await receiver.setKey(0n, KEY_B);
    const { sender } = await pair(0n);
    expect(await receiver.decrypt(await sender.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).toEqual({
      ok: false,
      reason: 'auth',
    });
  });

  it.each([
    ['empty', ''],
    ['truncated header', '0f0102'],
    ['non-minimal header', '0807'],
  ])('counts a %s as malformed', async (_name, hexText) => {
    const { receiver } = await pair();
    const bytes = new Uint8Array((hexText.match(/../g) ?? []).map((h) => parseInt(h, 16)));
    expect(await receiver.decrypt(bytes, NO_METADATA)).toEqual({ ok: false, reason: 'malformed' });
    expect(receiver.failures.malformed).toBe(1);
  });

  it('counts a valid header with a body shorter than the tag as auth', async () => {
    const { receiver } = await pair();
    expect(await receiver.decrypt(new Uint8Array([...encodeHeader(0n, 9n), 1, 2, 3]), NO_METADATA)).toEqual({
      ok: false,
      reason: 'auth',
    });
  });

  it('keeps at most maxKeys keys, evicting the oldest', async () => {
    const receiver = new ReceiverKeyring({ maxKeys: 2 });
    await receiver.setKey(1n, KEY_A);
    await receiver.setKey(2n, KEY_A);
    await receiver.setKey(3n, KEY_A);
    expect(receiver.kids).toEqual([2n, 3n]);
    expect(receiver.removeKey(2n)).toBe(true);
    expect(receiver.kids).toEqual([3n]);
  });

  it('starts a fresh replay window when a KID gets a new key (its sender restarts at CTR 0)', async () => {
    const { sender, receiver } = await pair(0n);
    expect((await receiver.decrypt(await sender.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).ok).toBe(true);
    const sender2 = new SenderContext();
    await sender2.setKey(0n, KEY_B);
    await receiver.setKey(0n, KEY_B);
    expect((await receiver.decrypt(await sender2.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).ok).toBe(true);
  });

  it('ratchets forward by itself at most maxRatchetSteps, and keeps the key only if the frame authenticates', async () => {
    const sender = new SenderContext();
    await sender.setKey(0n, KEY_A);
    const receiver = new ReceiverKeyring({ maxRatchetSteps: 2 });
    await receiver.setKey(0n, KEY_A);
    await sender.ratchet();
    await sender.ratchet();
    expect((await receiver.decrypt(await sender.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).ok).toBe(true);
    expect(receiver.kids).toEqual([0n, 2n]);

    // A forged frame claiming KID 3 makes the receiver derive the key, fail, and forget it.
    const forged = new Uint8Array([...encodeHeader(3n, 0n), ...pseudoRandomBytes(40)]);
    expect(await receiver.decrypt(forged, NO_METADATA)).toEqual({ ok: false, reason: 'auth' });
    expect(receiver.has(3n)).toBe(false);

    // Three steps ahead of the newest key it holds (KID 2): too far.
    for (let i = 0; i < 3; i++) await sender.ratchet();
    expect(await receiver.decrypt(await sender.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).toEqual({
      ok: false,
      reason: 'unknown-key',
    });
  });

  it('does not ratchet when maxRatchetSteps is 0', async () => {
    const sender = new SenderContext();
    await sender.setKey(0n, KEY_A);
    const receiver = new ReceiverKeyring({ maxRatchetSteps: 0 });
    await receiver.setKey(0n, KEY_A);
    await sender.ratchet();
    expect(await receiver.decrypt(await sender.encrypt(NO_METADATA, pseudoRandomBytes(9)), NO_METADATA)).toMatchObject({
      reason: 'unknown-key',
    });
  });
});
