import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KeyAgreement,
  KeyAgreementError,
  parseKeyAgreementMessage,
  toBase64Url,
  type KeyAgreementMessage,
} from '../../../web-client/src/e2ee/key-agreement.ts';
import { SAS_SYMBOLS, sasFromBytes } from '../../../web-client/src/e2ee/sas.ts';
import { ReceiverKeyring, SenderContext } from '../../../web-client/src/e2ee/sframe/context.ts';
import { pseudoRandomBytes, toHex } from './helpers.ts';

const SESSION = 'a84b4c76e66710@pc33.atlanta.example.com';

beforeAll(async () => {
  await sodium.ready;
});

/** Messages cross the signalling as JSON text; this is what the peer gets. */
function wire(message: KeyAgreementMessage): unknown {
  return JSON.parse(JSON.stringify(message));
}

async function agree(session = SESSION) {
  const offerer = await KeyAgreement.create('offerer', session);
  const answerer = await KeyAgreement.create('answerer', session);
  const commit = offerer.start();
  const publicKey = await answerer.receive(wire(commit));
  const reveal = await offerer.receive(wire(publicKey!));
  expect(await answerer.receive(wire(reveal!))).toBeNull();
  return { offerer, answerer, commit, publicKey: publicKey!, reveal: reveal! };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyAgreementError);
  expect((err as KeyAgreementError).code).toBe(code);
}

describe('1:1 key agreement: X25519 with hash commitment (after ZRTP, RFC 6189 §4.4.1.1)', () => {
  it('gives both sides the same keys, crossed per direction, and the same SAS', async () => {
    const { offerer, answerer } = await agree();
    expect(offerer.state).toBe('done');
    expect(answerer.state).toBe('done');
    const a = offerer.result!;
    const b = answerer.result!;
    expect(a.sendKey.length).toBe(32);
    expect(toHex(a.sendKey)).toBe(toHex(b.receiveKey));
    expect(toHex(a.receiveKey)).toBe(toHex(b.sendKey));
    // One key per direction (RFC 9605 §4.4.1: a base_key is used by one sender only).
    expect(toHex(a.sendKey)).not.toBe(toHex(a.receiveKey));
    expect(a.sas).toHaveLength(5);
    expect(a.sas).toEqual(b.sas);
  });

  it('gives different keys and (almost always) a different SAS on every call', async () => {
    const first = await agree();
    const second = await agree();
    expect(toHex(first.offerer.result!.sendKey)).not.toBe(toHex(second.offerer.result!.sendKey));
    const sasOf = (k: KeyAgreement) => k.result!.sas.map((s) => s.name).join(' ');
    // 2^-30 chance of a false failure.
    expect(sasOf(first.offerer)).not.toBe(sasOf(second.offerer));
  });

  it('derives keys that work as SFrame base keys in both directions', async () => {
    const { offerer, answerer } = await agree();
    const sender = new SenderContext();
    await sender.setKey(0n, offerer.result!.sendKey);
    const receiver = new ReceiverKeyring();
    await receiver.setKey(0n, answerer.result!.receiveKey);
    const frame = await sender.encrypt(new Uint8Array(0), pseudoRandomBytes(100));
    expect((await receiver.decrypt(frame, new Uint8Array(0))).ok).toBe(true);
  });

  it('messages are JSON with base64url fields of the right sizes', async () => {
    const { commit, publicKey, reveal } = await agree();
    expect(commit).toEqual({ v: 1, type: 'commit', session: SESSION, commitment: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(publicKey).toEqual({ v: 1, type: 'public-key', session: SESSION, publicKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(reveal.type).toBe('reveal');
  });
});

describe('key agreement against a man in the middle (the relaying server)', () => {
  it('a substituted answerer key (pkB) gives the two users different SAS', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    // The server runs its own answerer towards the offerer and its own offerer towards the answerer.
    const mitmToOfferer = await KeyAgreement.create('answerer', SESSION);
    const mitmToAnswerer = await KeyAgreement.create('offerer', SESSION);
    const commit = offerer.start();
    const fakePk = await mitmToOfferer.receive(wire(commit));
    const reveal = await offerer.receive(wire(fakePk!));
    await mitmToOfferer.receive(wire(reveal!));
    const fakeCommit = mitmToAnswerer.start();
    const pk = await answerer.receive(wire(fakeCommit));
    const fakeReveal = await mitmToAnswerer.receive(wire(pk!));
    await answerer.receive(wire(fakeReveal!));
    expect(offerer.state).toBe('done');
    expect(answerer.state).toBe('done');
    // Keys are the MITM's, and the users see it: the SAS differ (2^-30 chance of a false match).
    expect(toHex(offerer.result!.sendKey)).not.toBe(toHex(answerer.result!.receiveKey));
    expect(offerer.result!.sas).not.toEqual(answerer.result!.sas);
  });

  it('a reveal that does not match the commitment is refused, and the agreement fails for good', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    await answerer.receive(wire(offerer.start()));
    // The server, having seen pkB, reveals a key of its choice instead of the committed one.
    const substitute = { v: 1, type: 'reveal', session: SESSION, publicKey: toBase64Url(sodium.crypto_box_keypair().publicKey) };
    await expectCode(answerer.receive(substitute), 'commitment-mismatch');
    expect(answerer.state).toBe('failed');
    expect(answerer.result).toBeNull();
    await expectCode(answerer.receive(substitute), 'failed');
  });

  it('a tampered public key is refused when it is malformed, or gives a different SAS', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    const pk = (await answerer.receive(wire(offerer.start()))) as { publicKey: string };
    const bytes = sodium.from_base64(pk.publicKey, sodium.base64_variants.URLSAFE_NO_PADDING);
    bytes[5]! ^= 1;
    const reveal = await offerer.receive({ ...pk, publicKey: toBase64Url(bytes) });
    await answerer.receive(wire(reveal!));
    expect(offerer.result!.sas).not.toEqual(answerer.result!.sas);
    expect(toHex(offerer.result!.sendKey)).not.toBe(toHex(answerer.result!.receiveKey));
  });

  it('refuses a small-order public key (all-zero shared secret)', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    offerer.start();
    await expectCode(offerer.receive({ v: 1, type: 'public-key', session: SESSION, publicKey: toBase64Url(new Uint8Array(32)) }), 'invalid-public-key');
    expect(offerer.state).toBe('failed');
  });

  it('refuses our own public key reflected back', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    const pk = (await answerer.receive(wire(offerer.start()))) as { publicKey: string };
    await expectCode(answerer.receive({ v: 1, type: 'reveal', session: SESSION, publicKey: pk.publicKey }), 'invalid-public-key');
    expect(answerer.state).toBe('failed');
  });
});

describe('key agreement: messages out of order, replayed, or for another session', () => {
  it('refuses out-of-order and replayed messages without changing state', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    const commit = offerer.start();
    // A reveal before the commit, a public key sent to the answerer.
    await expectCode(answerer.receive({ v: 1, type: 'reveal', session: SESSION, publicKey: commit.commitment }), 'unexpected-message');
    const pk = await answerer.receive(wire(commit));
    expect(answerer.state).toBe('awaiting-reveal');
    // The commit replayed.
    await expectCode(answerer.receive(wire(commit)), 'unexpected-message');
    expect(answerer.state).toBe('awaiting-reveal');
    // The offerer gets its own commit back.
    await expectCode(offerer.receive(wire(commit)), 'unexpected-message');
    expect(offerer.state).toBe('committed');
    const reveal = await offerer.receive(wire(pk!));
    await answerer.receive(wire(reveal!));
    // Anything after completion.
    await expectCode(offerer.receive(wire(pk!)), 'unexpected-message');
    await expectCode(answerer.receive(wire(reveal!)), 'unexpected-message');
    expect(offerer.state).toBe('done');
    expect(answerer.state).toBe('done');
  });

  it('refuses a duplicate that arrives while the first copy is still being handled', async () => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    const answerer = await KeyAgreement.create('answerer', SESSION);
    const pk = await answerer.receive(wire(offerer.start()));
    const other = (await (await KeyAgreement.create('answerer', SESSION)).receive(wire((await KeyAgreement.create('offerer', SESSION)).start())))!;
    const first = offerer.receive(wire(pk!));
    await expectCode(offerer.receive(wire(other)), 'unexpected-message');
    const reveal = await first;
    await answerer.receive(wire(reveal!));
    expect(offerer.result!.sas).toEqual(answerer.result!.sas);
  });

  it('only the offerer starts, and only once', async () => {
    await expect(KeyAgreement.create('answerer', SESSION).then((a) => a.start())).rejects.toThrow(KeyAgreementError);
    const offerer = await KeyAgreement.create('offerer', SESSION);
    offerer.start();
    expect(() => offerer.start()).toThrow(KeyAgreementError);
  });

  it('refuses messages of another session', async () => {
    const offerer = await KeyAgreement.create('offerer', 'call-1');
    const answerer = await KeyAgreement.create('answerer', 'call-2');
    await expectCode(answerer.receive(wire(offerer.start())), 'wrong-session');
    expect(answerer.state).toBe('idle');
  });

  it('refuses a commitment replayed from another session (the commitment binds the session)', async () => {
    const other = await agree('call-1');
    const offerer = await KeyAgreement.create('offerer', 'call-2');
    const answerer = await KeyAgreement.create('answerer', 'call-2');
    offerer.start();
    // The server replays call-1's commit and reveal into call-2.
    await answerer.receive({ ...wire(other.commit) as object, session: 'call-2' });
    await expectCode(answerer.receive({ ...wire(other.reveal) as object, session: 'call-2' }), 'commitment-mismatch');
  });
});

describe('parseKeyAgreementMessage: every field validated', () => {
  const good = { v: 1, type: 'public-key', session: SESSION, publicKey: 'A'.repeat(43) };
  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['an array', [good]],
    ['another version', { ...good, v: 2 }],
    ['an unknown type', { ...good, type: 'hello' }],
    ['an empty session', { ...good, session: '' }],
    ['a session with spaces', { ...good, session: 'a b' }],
    ['a session too long', { ...good, session: 'x'.repeat(257) }],
    ['a missing key', { v: 1, type: 'public-key', session: SESSION }],
    ['a numeric key', { ...good, publicKey: 42 }],
    ['an extra field', { ...good, secret: 'x' }],
    ['a commit without commitment', { v: 1, type: 'commit', session: SESSION }],
  ])('refuses %s', (_name, value) => {
    expect(() => parseKeyAgreementMessage(value)).toThrow(KeyAgreementError);
  });

  it('accepts a well-formed message', () => {
    expect(parseKeyAgreementMessage(good)).toEqual(good);
  });

  it.each([
    ['too short', 'A'.repeat(42)],
    ['too long', 'A'.repeat(44)],
    ['padded', 'A'.repeat(43) + '='],
    ['standard base64 alphabet', '+'.repeat(43)],
    ['non-canonical trailing bits', 'A'.repeat(42) + 'B'],
  ])('refuses a public key that is %s', async (_name, publicKey) => {
    const offerer = await KeyAgreement.create('offerer', SESSION);
    offerer.start();
    await expectCode(offerer.receive({ ...good, publicKey }), 'invalid-message');
    expect(offerer.state).toBe('failed');
  });
});

describe('SAS rendering', () => {
  it('has 64 distinct single-code-point emoji with distinct names', () => {
    expect(SAS_SYMBOLS).toHaveLength(64);
    expect(new Set(SAS_SYMBOLS.map((s) => s.emoji)).size).toBe(64);
    expect(new Set(SAS_SYMBOLS.map((s) => s.name)).size).toBe(64);
    for (const s of SAS_SYMBOLS) expect([...s.emoji]).toHaveLength(1);
  });

  it('takes 6 bits per symbol from the top of the material', () => {
    const names = (bytes: number[]) => sasFromBytes(Uint8Array.from(bytes)).map((s) => s.name);
    expect(names([0, 0, 0, 0])).toEqual(['dog', 'dog', 'dog', 'dog', 'dog']);
    // 000001 000010 000011 000100 000101 00 = 0x04 0x20 0xc4 0x14
    expect(names([0x04, 0x20, 0xc4, 0x14])).toEqual(['cat', 'lion', 'horse', 'unicorn', 'pig']);
    expect(names([0xff, 0xff, 0xff, 0xff])).toEqual(Array(5).fill('balloon'));
    expect(() => sasFromBytes(new Uint8Array(3))).toThrow(RangeError);
  });
});
