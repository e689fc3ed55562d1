import { describe, expect, it } from 'vitest';
import { importAead } from '../../../web-client/src/e2ee/sframe/aead.ts';
import { cipherSuite, type CipherSuiteId } from '../../../web-client/src/e2ee/sframe/cipher-suite.ts';
import { createSFrameKey, sframeDecrypt, sframeEncrypt } from '../../../web-client/src/e2ee/sframe/encryption.ts';
import { decodeHeader } from '../../../web-client/src/e2ee/sframe/header.ts';
import {
  deriveKeySalt,
  frameNonce,
  ratchetBaseKey,
  sframeKeyLabel,
  sframeSaltLabel,
} from '../../../web-client/src/e2ee/sframe/key-schedule.ts';
import { hex, toHex } from './helpers.ts';

/**
 * RFC 9605 Appendix C.2 "AEAD Encryption/Decryption Using AES-CTR and HMAC", copied verbatim from
 * the RFC (also published as JSON by the working group: https://github.com/sframe-wg/sframe,
 * test-vectors/test-vectors.json, key "aes_ctr_hmac"). enc_key and auth_key are the RFC's
 * intermediate values: the first 16 and the last 32 bytes of key.
 */
const AES_CTR_HMAC: readonly { suite: CipherSuiteId; key: string; nonce: string; aad: string; pt: string; ct: string }[] = [
  {
    suite: 1,
    key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f',
    nonce: '101112131415161718191a1b',
    aad: '4945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '6339af04ada1d064688a442b8dc69d5b6bfa40f4bef0583e8081069cc60705',
  },
  {
    suite: 2,
    key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f',
    nonce: '101112131415161718191a1b',
    aad: '4945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '6339af04ada1d064688a442b8dc69d5b6bfa40f4be6e93b7da076927bb',
  },
  {
    suite: 3,
    key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f',
    nonce: '101112131415161718191a1b',
    aad: '4945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '6339af04ada1d064688a442b8dc69d5b6bfa40f4be09480509',
  },
];

/**
 * RFC 9605 Appendix C.3 "SFrame Encryption/Decryption", copied verbatim from the RFC (JSON key
 * "sframe" in the same working-group file). All five suites of §4.5.
 */
const SFRAME: readonly {
  suite: CipherSuiteId;
  kid: bigint;
  ctr: bigint;
  baseKey: string;
  keyLabel: string;
  saltLabel: string;
  sframeKey: string;
  sframeSalt: string;
  metadata: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string;
}[] = [
  {
    suite: 1,
    kid: 0x0000000000000123n,
    ctr: 0x0000000000004567n,
    baseKey: '000102030405060708090a0b0c0d0e0f',
    keyLabel: '534672616d6520312e3020536563726574206b65792000000000000001230001',
    saltLabel: '534672616d6520312e30205365637265742073616c742000000000000001230001',
    sframeKey: '3f7d9a7c83ae8e1c8a11ae695ab59314b367e359fadac7b9c46b2bc6f81f46e16b96f0811868d59402b7e870102720b3',
    sframeSalt: '50b29329a04dc0f184ac3168',
    metadata: '4945544620534672616d65205747',
    nonce: '50b29329a04dc0f184ac740f',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '9901234567449408b6f490086165b9d6f62b24ae1a59a56486b4ae8ed036b88912e24f11',
  },
  {
    suite: 2,
    kid: 0x0000000000000123n,
    ctr: 0x0000000000004567n,
    baseKey: '000102030405060708090a0b0c0d0e0f',
    keyLabel: '534672616d6520312e3020536563726574206b65792000000000000001230002',
    saltLabel: '534672616d6520312e30205365637265742073616c742000000000000001230002',
    sframeKey: 'e2ec5c797540310483b16bf6e7a570d2a27d192fe869c7ccd8584a8d9dab91549fbe553f5113461ec6aa83bf3865553e',
    sframeSalt: 'e68ac8dd3d02fbcd368c5577',
    metadata: '4945544620534672616d65205747',
    nonce: 'e68ac8dd3d02fbcd368c1010',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '99012345673f31438db4d09434e43afa0f8a2f00867a2be085046a9f5cb4f101d607',
  },
  {
    suite: 3,
    kid: 0x0000000000000123n,
    ctr: 0x0000000000004567n,
    baseKey: '000102030405060708090a0b0c0d0e0f',
    keyLabel: '534672616d6520312e3020536563726574206b65792000000000000001230003',
    saltLabel: '534672616d6520312e30205365637265742073616c742000000000000001230003',
    sframeKey: '2c5703089cbb8c583475e4fc461d97d18809df79b6d550f78eb6d50ffa80d89211d57909934f46f5405e38cd583c69fe',
    sframeSalt: '38c16e4f5159700c00c7f350',
    metadata: '4945544620534672616d65205747',
    nonce: '38c16e4f5159700c00c7b637',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '990123456717fc8af28a5a695afcfc6c8df6358a17e26b2fcb3bae32e443',
  },
  {
    suite: 4,
    kid: 0x0000000000000123n,
    ctr: 0x0000000000004567n,
    baseKey: '000102030405060708090a0b0c0d0e0f',
    keyLabel: '534672616d6520312e3020536563726574206b65792000000000000001230004',
    saltLabel: '534672616d6520312e30205365637265742073616c742000000000000001230004',
    sframeKey: 'd34f547f4ca4f9a7447006fe7fcbf768',
    sframeSalt: '75234edefe07819026751816',
    metadata: '4945544620534672616d65205747',
    nonce: '75234edefe07819026755d71',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb',
  },
  {
    suite: 5,
    kid: 0x0000000000000123n,
    ctr: 0x0000000000004567n,
    baseKey: '000102030405060708090a0b0c0d0e0f',
    keyLabel: '534672616d6520312e3020536563726574206b65792000000000000001230005',
    saltLabel: '534672616d6520312e30205365637265742073616c742000000000000001230005',
    sframeKey: 'd3e27b0d4a5ae9e55df01a70e6d4d28d969b246e2936f4b7a5d9b494da6b9633',
    sframeSalt: '84991c167b8cd23c93708ec7',
    metadata: '4945544620534672616d65205747',
    nonce: '84991c167b8cd23c9370cba0',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '990123456794f509d36e9beacb0e261d99c7d1e972f1fed787d4049f17ca21353c1cc24d56ceabced279',
  },
];

describe('AES-CTR + HMAC AEAD: RFC 9605 Appendix C.2 vectors (§4.5.1)', () => {
  it.each(AES_CTR_HMAC)('suite $suite: Encrypt(key, nonce, aad, pt) == ct and Decrypt(ct) == pt', async (v) => {
    const aead = await importAead(cipherSuite(v.suite), hex(v.key));
    expect(toHex(await aead.seal(hex(v.nonce), hex(v.aad), hex(v.pt)))).toBe(v.ct);
    const opened = await aead.open(hex(v.nonce), hex(v.aad), hex(v.ct));
    expect(opened && toHex(opened)).toBe(v.pt);
  });

  it.each(AES_CTR_HMAC)('suite $suite: a flipped bit in ciphertext, tag, aad or nonce fails the tag', async (v) => {
    const aead = await importAead(cipherSuite(v.suite), hex(v.key));
    const ct = hex(v.ct);
    for (const index of [0, ct.length - 1]) {
      const bad = ct.slice();
      bad[index]! ^= 0x01;
      expect(await aead.open(hex(v.nonce), hex(v.aad), bad)).toBeNull();
    }
    const aad = hex(v.aad);
    aad[3]! ^= 0x80;
    expect(await aead.open(hex(v.nonce), aad, ct)).toBeNull();
    const nonce = hex(v.nonce);
    nonce[11]! ^= 0x01;
    expect(await aead.open(nonce, hex(v.aad), ct)).toBeNull();
    // Shorter than a tag: nothing to authenticate.
    expect(await aead.open(hex(v.nonce), hex(v.aad), ct.slice(0, cipherSuite(v.suite).nt - 1))).toBeNull();
  });

  it('refuses a key of the wrong length for the suite', async () => {
    await expect(importAead(cipherSuite(1), new Uint8Array(16))).rejects.toThrow(/48-byte key/);
    await expect(importAead(cipherSuite(4), new Uint8Array(32))).rejects.toThrow(/16-byte key/);
  });
});

describe('SFrame key schedule: RFC 9605 Appendix C.3 vectors (§4.4.2, §4.4.3)', () => {
  it.each(SFRAME)('suite $suite: labels, sframe_key, sframe_salt and nonce', async (v) => {
    const suite = cipherSuite(v.suite);
    expect(toHex(sframeKeyLabel(v.kid, suite))).toBe(v.keyLabel);
    expect(toHex(sframeSaltLabel(v.kid, suite))).toBe(v.saltLabel);
    const { key, salt } = await deriveKeySalt(suite, v.kid, hex(v.baseKey));
    expect(toHex(key)).toBe(v.sframeKey);
    expect(toHex(salt)).toBe(v.sframeSalt);
    expect(toHex(frameNonce(salt, v.ctr, suite.nn))).toBe(v.nonce);
  });

  it('derives different keys for different KIDs and suites from one base_key (labels bind both)', async () => {
    const base = hex(SFRAME[3]!.baseKey);
    const a = await deriveKeySalt(cipherSuite(4), 0x123n, base);
    const b = await deriveKeySalt(cipherSuite(4), 0x124n, base);
    const c = await deriveKeySalt(cipherSuite(5), 0x123n, base);
    expect(toHex(a.key)).not.toBe(toHex(b.key));
    expect(toHex(a.salt)).not.toBe(toHex(b.salt));
    expect(toHex(a.salt)).not.toBe(toHex(c.salt));
  });

  it('refuses a base_key shorter than 16 bytes', async () => {
    await expect(deriveKeySalt(cipherSuite(4), 0n, new Uint8Array(15))).rejects.toThrow(/at least 16 bytes/);
  });

  it('nonce = salt XOR CTR puts the CTR in the low-order bytes, big-endian (§4.4.3)', () => {
    const salt = new Uint8Array(12);
    expect(toHex(frameNonce(salt, 0x0102n, 12))).toBe('000000000000000000000102');
    expect(toHex(frameNonce(salt, (1n << 64n) - 1n, 12))).toBe('00000000ffffffffffffffff');
  });

  it('ratchets a base_key to Nh bytes, deterministically and differently each step (§5.1)', async () => {
    const suite = cipherSuite(4);
    const k0 = hex(SFRAME[3]!.baseKey);
    const k1 = await ratchetBaseKey(suite, k0);
    const k2 = await ratchetBaseKey(suite, k1);
    expect(k1.length).toBe(32);
    expect(toHex(await ratchetBaseKey(suite, k0))).toBe(toHex(k1));
    expect(new Set([toHex(k0), toHex(k1), toHex(k2)]).size).toBe(3);
    expect((await ratchetBaseKey(cipherSuite(5), k0)).length).toBe(64);
  });
});

describe('SFrame encrypt/decrypt: RFC 9605 Appendix C.3 vectors (§4.4.3, §4.4.4)', () => {
  it.each(SFRAME)('suite $suite: encrypt(ctr, kid, metadata, pt) == ct and decrypt(metadata, ct) == pt', async (v) => {
    const key = await createSFrameKey(v.suite, v.kid, hex(v.baseKey));
    const ct = await sframeEncrypt(key, v.ctr, hex(v.metadata), hex(v.pt));
    expect(toHex(ct)).toBe(v.ct);
    const header = decodeHeader(hex(v.ct));
    expect(header).toMatchObject({ kid: v.kid, ctr: v.ctr });
    // The vector's aad is header || metadata.
    expect(v.aad).toBe(toHex(hex(v.ct).subarray(0, header.length)) + v.metadata);
    const pt = await sframeDecrypt(key, header, hex(v.ct), hex(v.metadata));
    expect(pt && toHex(pt)).toBe(v.pt);
  });

  it.each(SFRAME)('suite $suite: altered metadata, header or body is refused', async (v) => {
    const key = await createSFrameKey(v.suite, v.kid, hex(v.baseKey));
    const ct = hex(v.ct);
    const header = decodeHeader(ct);
    const metadata = hex(v.metadata);
    metadata[0]! ^= 1;
    expect(await sframeDecrypt(key, header, ct, metadata)).toBeNull();
    for (const index of [header.length, ct.length - 1]) {
      const bad = ct.slice();
      bad[index]! ^= 0x40;
      expect(await sframeDecrypt(key, header, bad, hex(v.metadata))).toBeNull();
    }
    // The same body under a different CTR (header rewritten by the SFU) does not verify.
    const otherCtr = ct.slice();
    otherCtr[4]! ^= 1;
    expect(await sframeDecrypt(key, decodeHeader(otherCtr), otherCtr, hex(v.metadata))).toBeNull();
  });

  it('refuses to decrypt with the key of another KID', async () => {
    const v = SFRAME[3]!;
    const other = await createSFrameKey(v.suite, v.kid + 1n, hex(v.baseKey));
    await expect(sframeDecrypt(other, decodeHeader(hex(v.ct)), hex(v.ct), hex(v.metadata))).rejects.toThrow(/KID/);
  });
});
