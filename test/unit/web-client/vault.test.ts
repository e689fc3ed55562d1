/**
 * Records encrypted at rest (web-client/src/storage/vault.ts): libsodium secretbox with a key from
 * the password (Argon2id when the build has crypto_pwhash, else PBKDF2-SHA-256), a header that
 * says how the key was made, and failures that say why.
 */
import sodiumModule from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createVault,
  defaultKdf,
  deriveKey,
  fromBase64,
  open,
  parseHeader,
  PBKDF2_ITERATIONS,
  seal,
  toBase64,
  unlockVault,
  VaultError,
  type Sodium,
} from '../../../web-client/src/storage/vault.ts';

let sodium: Sodium;
// Fewer iterations than the real 600,000 keep the tests quick; the code path is the same.
const FAST = { alg: 'pbkdf2-sha256', iterations: 100_000 } as const;

beforeAll(async () => {
  await sodiumModule.ready;
  sodium = sodiumModule as unknown as Sodium;
});

describe('vault', () => {
  it('seals and opens; each seal uses a fresh nonce', () => {
    const key = sodium.randombytes_buf(32);
    const a = seal(sodium, key, 'call history');
    const b = seal(sodium, key, 'call history');
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.box).not.toBe(b.box);
    expect(open(sodium, key, a)).toBe('call history');
    // Ciphertext, not plaintext, is what gets stored.
    expect(new TextDecoder().decode(fromBase64(a.box))).not.toContain('call history');
  });

  it('refuses a tampered box or the wrong key', () => {
    const key = sodium.randombytes_buf(32);
    const s = seal(sodium, key, 'secret');
    const bytes = fromBase64(s.box);
    bytes[0]! ^= 1;
    expect(() => open(sodium, key, { ...s, box: toBase64(bytes) })).toThrow(VaultError);
    expect(() => open(sodium, sodium.randombytes_buf(32), s)).toThrow(/does not authenticate/);
  });

  it('creates a vault that the same password unlocks and another does not', async () => {
    const { header, key } = await createVault(sodium, 'correct horse', FAST);
    expect(header.kdf).toEqual(FAST);
    expect(fromBase64(header.salt)).toHaveLength(16);
    expect(await unlockVault(sodium, header, 'correct horse')).toEqual(key);
    const err = await unlockVault(sodium, header, 'wrong horse').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).reason).toBe('wrong-password');
  });

  it('derives different keys for different salts (no precomputation across users)', async () => {
    const k1 = await deriveKey(sodium, 'pw', new Uint8Array(16), FAST);
    const k2 = await deriveKey(sodium, 'pw', new Uint8Array(16).fill(1), FAST);
    expect(k1).toHaveLength(32);
    expect(toBase64(k1)).not.toBe(toBase64(k2));
  });

  it('uses Argon2id (crypto_pwhash, interactive limits) when libsodium has it', async () => {
    const calls: unknown[][] = [];
    const sumo: Sodium = {
      ...sodium,
      crypto_secretbox_KEYBYTES: 32,
      crypto_pwhash: (...args) => (calls.push(args), new Uint8Array(32).fill(7)),
      crypto_pwhash_ALG_ARGON2ID13: 2,
      crypto_pwhash_OPSLIMIT_INTERACTIVE: 2,
      crypto_pwhash_MEMLIMIT_INTERACTIVE: 67108864,
    };
    expect(defaultKdf(sumo)).toEqual({ alg: 'argon2id13', opsLimit: 2, memLimit: 67108864 });
    const salt = new Uint8Array(16);
    const key = await deriveKey(sumo, 'pw', salt, defaultKdf(sumo));
    expect(key).toEqual(new Uint8Array(32).fill(7));
    expect(calls).toEqual([[32, 'pw', salt, 2, 67108864, 2]]);
  });

  it('falls back to PBKDF2 with 600,000 iterations on the standard libsodium build', () => {
    expect(typeof (sodium as { crypto_pwhash?: unknown }).crypto_pwhash).not.toBe('function');
    expect(defaultKdf(sodium)).toEqual({ alg: 'pbkdf2-sha256', iterations: PBKDF2_ITERATIONS });
  });

  it('the sumo build the page loads really derives with Argon2id (RFC 9106), deterministic per salt', async () => {
    const mod = await import('libsodium-wrappers-sumo');
    const real = (mod.default ?? mod) as unknown as Sodium & { ready: Promise<void> };
    await real.ready;
    const kdf = defaultKdf(real);
    expect(kdf.alg).toBe('argon2id13');
    const salt = new Uint8Array(16).fill(1);
    const a = await deriveKey(real, 'correct horse', salt, kdf);
    expect(a).toHaveLength(32);
    expect(await deriveKey(real, 'correct horse', salt, kdf)).toEqual(a);
    expect(await deriveKey(real, 'correct hors', salt, kdf)).not.toEqual(a);
    expect(await deriveKey(real, 'correct horse', new Uint8Array(16).fill(2), kdf)).not.toEqual(a);
  });

  it('will not open an Argon2id vault without Argon2id', async () => {
    await expect(deriveKey(sodium, 'pw', new Uint8Array(16), { alg: 'argon2id13', opsLimit: 2, memLimit: 1 << 26 })).rejects.toThrow(/lacks/);
  });
});

describe('parseHeader', () => {
  const check = { nonce: 'AA==', box: 'AA==' };
  it.each([
    [{ v: 1, kdf: FAST, salt: 'AA==', check }, true],
    [{ v: 1, kdf: { alg: 'argon2id13', opsLimit: 2, memLimit: 67108864 }, salt: 'AA==', check }, true],
    [{ v: 2, kdf: FAST, salt: 'AA==', check }, false],
    [{ v: 1, kdf: { alg: 'pbkdf2-sha256', iterations: 10 }, salt: 'AA==', check }, false],
    [{ v: 1, kdf: { alg: 'md5' }, salt: 'AA==', check }, false],
    [{ v: 1, kdf: FAST, check }, false],
    [{ v: 1, kdf: FAST, salt: 'AA==', check: { nonce: 1 } }, false],
    [null, false],
    ['x', false],
  ])('%j valid: %s', (h, valid) => {
    expect(parseHeader(h) !== undefined).toBe(valid);
  });
});
