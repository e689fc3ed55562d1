/**
 * Group E2EE key management (web-client/src/e2ee/group/) with real crypto: libsodium for the
 * pairwise sealing, WebCrypto SFrame contexts (the ones the E2EE worker runs) for the frames. A
 * fake "server" relays the sealed blobs between the participants' managers, and can replay,
 * re-address or tamper with them.
 */
import { describe, expect, it } from 'vitest';
import { ReceiverKeyring, SenderContext } from '../../../web-client/src/e2ee/sframe/context.ts';
import { makeKid } from '../../../web-client/src/e2ee/sframe/kid.ts';
import { ratchetBaseKey } from '../../../web-client/src/e2ee/sframe/key-schedule.ts';
import { cipherSuite, DEFAULT_CIPHER_SUITE } from '../../../web-client/src/e2ee/sframe/cipher-suite.ts';
import { GroupKeyManager, type GroupPeer } from '../../../web-client/src/e2ee/group/group-keys.ts';
import { createGroupIdentity, type GroupIdentity } from '../../../web-client/src/e2ee/group/identity.ts';
import { openKeyMessage, sealKeyMessage, SealedMessageError } from '../../../web-client/src/e2ee/group/sealed.ts';
import { MAX_RATCHET_STEP, SenderKeySchedule } from '../../../web-client/src/e2ee/group/sender-keys.ts';
import { safetyNumber } from '../../../web-client/src/e2ee/group/safety-number.ts';
import { PeerKeyStore } from '../../../web-client/src/e2ee/group/peer-keys.ts';

const ROOM = 'standup';
const META = new Uint8Array([7]);

interface Relayed {
  from: string;
  to: string;
  blob: string;
}

/** One participant: its key manager and the SFrame contexts its E2EE worker would hold. */
class Member {
  readonly sender = new SenderContext();
  readonly receivers = new Map<string, ReceiverKeyring>();
  /** Every key this member ever received, per sender (to prove what it cannot decrypt). */
  readonly received: { from: string; kid: bigint; key: Uint8Array }[] = [];
  readonly rejected: string[] = [];
  readonly manager: GroupKeyManager;
  readonly id: string;
  readonly identity: GroupIdentity;

  constructor(id: string, identity: GroupIdentity, net: Net) {
    this.id = id;
    this.identity = identity;
    this.manager = new GroupKeyManager({
      room: ROOM,
      selfId: id,
      identity,
      switchTimeoutMs: 300,
      io: {
        relay: (to, blob) => net.queue.push({ from: id, to, blob }),
        setSenderKey: (kid, key) => this.sender.setKey(kid, key),
        setReceiverKey: async (pid, kid, key) => {
          this.received.push({ from: pid, kid, key: new Uint8Array(key) });
          let ring = this.receivers.get(pid);
          if (!ring) this.receivers.set(pid, (ring = new ReceiverKeyring()));
          await ring.setKey(kid, key);
        },
        forgetParticipant: (pid) => this.receivers.delete(pid),
      },
    });
    this.manager.on('rejected', (_from, reason) => this.rejected.push(reason));
  }

  get peer(): GroupPeer {
    return { id: this.id, identityKey: this.identity.publicKeyText };
  }

  encrypt(payload: string): Promise<Uint8Array> {
    return this.sender.encrypt(META, new TextEncoder().encode(payload));
  }

  async decryptFrom(from: string, frame: Uint8Array): Promise<string | null> {
    const ring = this.receivers.get(from);
    if (!ring) return null;
    const r = await ring.decrypt(frame as Uint8Array<ArrayBuffer>, META);
    return r.ok ? new TextDecoder().decode(r.plaintext) : null;
  }
}

/** The room: membership as the signalling announces it, and a relay that delivers in order. */
class Net {
  readonly members = new Map<string, Member>();
  queue: Relayed[] = [];
  /** What the relay delivered, for replay attacks. */
  readonly log: Relayed[] = [];

  async join(id: string): Promise<Member> {
    const m = new Member(id, await createGroupIdentity(), this);
    const others = [...this.members.values()];
    this.members.set(id, m);
    await Promise.all([m.manager.start(others.map((o) => o.peer)), ...others.map((o) => o.manager.peerJoined(m.peer))]);
    await this.settle();
    return m;
  }

  async leave(id: string): Promise<void> {
    const m = this.members.get(id)!;
    this.members.delete(id);
    m.manager.close();
    let finished = false;
    const done = Promise.all([...this.members.values()].map((o) => o.manager.peerLeft(id))).then(() => (finished = true));
    // Deliver keys and acknowledgements while the senders wait for them.
    while (!finished) await this.settle();
    await done;
    await this.settle();
  }

  /** Delivers relayed blobs until none is left (acks and keys may cause more). */
  async settle(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      await new Promise((r) => setTimeout(r, 0));
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) {
        await new Promise((r) => setTimeout(r, 5));
        if (this.queue.length === 0) return;
        continue;
      }
      for (const msg of batch) {
        this.log.push(msg);
        await this.members.get(msg.to)?.manager.receive(msg.from, msg.blob);
      }
    }
    throw new Error('relay did not settle');
  }
}

async function everyoneDecryptsEveryone(net: Net): Promise<void> {
  for (const s of net.members.values()) {
    const frame = await s.encrypt(`from ${s.id}`);
    for (const r of net.members.values()) {
      if (r === s) continue;
      expect(await r.decryptFrom(s.id, frame), `${r.id} decrypting ${s.id}`).toBe(`from ${s.id}`);
    }
  }
}

/** Whether any single key `m` ever received (ratcheted forward up to 8 steps) opens `frame`. */
async function anyReceivedKeyOpens(m: Member, from: string, frame: Uint8Array): Promise<boolean> {
  for (const k of m.received.filter((r) => r.from === from)) {
    const ring = new ReceiverKeyring({ maxRatchetSteps: 8 });
    await ring.setKey(k.kid, k.key);
    const r = await ring.decrypt(frame as Uint8Array<ArrayBuffer>, META);
    if (r.ok) return true;
  }
  return false;
}

describe('sender key schedule (RFC 9605 §5.1)', () => {
  it('fresh keys advance the generation; ratchets advance the step with HKDF "SFrame 1.0 Ratchet"', async () => {
    const s = new SenderKeySchedule();
    const k0 = s.fresh();
    expect([k0.generation, k0.step, k0.kid]).toEqual([0, 0, 0n]);
    const base0 = new Uint8Array(k0.baseKey);
    const { key: k1, rotated } = await s.ratchet();
    expect(rotated).toBe(false);
    expect([k1.generation, k1.step, k1.kid]).toEqual([0, 1, 1n]);
    expect(k1.baseKey).toEqual(await ratchetBaseKey(cipherSuite(DEFAULT_CIPHER_SUITE), base0));
    // The previous base key is wiped when replaced.
    expect(k0.baseKey.every((b) => b === 0)).toBe(true);
    const k2 = s.fresh();
    expect([k2.generation, k2.step, k2.kid]).toEqual([1, 0, makeKid(1n, 0n)]);
    expect(k2.baseKey).not.toEqual(base0);
  });

  it('when the 8-bit step is used up, ratchet() starts a new generation instead of repeating a KID', async () => {
    const s = new SenderKeySchedule();
    s.fresh();
    const kids = new Set<bigint>();
    for (let i = 0; i < MAX_RATCHET_STEP; i++) kids.add((await s.ratchet()).key.kid);
    expect(s.current!.step).toBe(MAX_RATCHET_STEP);
    const { key, rotated } = await s.ratchet();
    expect(rotated).toBe(true);
    expect([key.generation, key.step]).toEqual([1, 0]);
    expect(kids.has(key.kid)).toBe(false);
  });
});

describe('pairwise sealed key messages (crypto_box, X25519 + XSalsa20-Poly1305)', () => {
  const body = { type: 'key', generation: 3, step: 2, key: 'A'.repeat(43) } as const;

  it('opens only for the recipient, from the sender, in the same room, with the same ids', async () => {
    const a = await createGroupIdentity();
    const b = await createGroupIdentity();
    const c = await createGroupIdentity();
    const ctx = { room: ROOM, from: 'pa', to: 'pb' };
    const blob = await sealKeyMessage(ctx, 5, body, a.secretKey, b.publicKey);
    expect(await openKeyMessage(ctx, blob, a.publicKey, b.secretKey)).toEqual({ seq: 5, body });

    const refusals: [string, Promise<unknown>][] = [
      ['another recipient', openKeyMessage(ctx, blob, a.publicKey, c.secretKey)],
      ['another sender key', openKeyMessage(ctx, blob, c.publicKey, b.secretKey)],
      ['another room', openKeyMessage({ ...ctx, room: 'other' }, blob, a.publicKey, b.secretKey)],
      ['relayed as from someone else', openKeyMessage({ ...ctx, from: 'pc' }, blob, a.publicKey, b.secretKey)],
      ['addressed to someone else', openKeyMessage({ ...ctx, to: 'pc' }, blob, a.publicKey, b.secretKey)],
      ['tampered', openKeyMessage(ctx, blob.slice(0, 40) + (blob[40] === 'A' ? 'B' : 'A') + blob.slice(41), a.publicKey, b.secretKey)],
      ['truncated', openKeyMessage(ctx, blob.slice(0, 30), a.publicKey, b.secretKey)],
      ['not base64url', openKeyMessage(ctx, '!!!', a.publicKey, b.secretKey)],
    ];
    for (const [name, p] of refusals) await expect(p, name).rejects.toBeInstanceOf(SealedMessageError);
  });

  it('refuses a sealed body with a bad key, step or type', async () => {
    const a = await createGroupIdentity();
    const b = await createGroupIdentity();
    const ctx = { room: ROOM, from: 'pa', to: 'pb' };
    for (const bad of [
      { ...body, key: 'short' },
      { ...body, step: 256 },
      { ...body, generation: -1 },
      { type: 'explode', generation: 0, step: 0 },
    ]) {
      const blob = await sealKeyMessage(ctx, 0, bad as never, a.secretKey, b.publicKey);
      await expect(openKeyMessage(ctx, blob, a.publicKey, b.secretKey)).rejects.toBeInstanceOf(SealedMessageError);
    }
  });
});

describe('group key management: four participants, joins and leaves', () => {
  it('four join one after another and each decrypts the other three', async () => {
    const net = new Net();
    for (const id of ['a', 'b', 'c', 'd']) await net.join(id);
    await everyoneDecryptsEveryone(net);
    for (const m of net.members.values()) expect(m.rejected).toEqual([]);
  });

  it('forward secrecy: frames captured before a participant joined do not decrypt under any key it received', async () => {
    const net = new Net();
    const a = await net.join('a');
    const b = await net.join('b');
    const c = await net.join('c');
    const before = { a: await a.encrypt('early a'), b: await b.encrypt('early b'), c: await c.encrypt('early c') };
    expect(await b.decryptFrom('a', before.a)).toBe('early a');

    const d = await net.join('d');
    // Every sender ratcheted and gave D only the ratcheted key.
    expect(d.received.map((r) => r.from).sort()).toEqual(['a', 'b', 'c']);
    expect(a.manager.senderKid).toBe(makeKid(0n, 3n)); // fresh at start, then B, C and D joined
    for (const [from, frame] of Object.entries(before)) {
      expect(await d.decryptFrom(from, frame), `D's keyring on ${from}'s early frame`).toBeNull();
      expect(await anyReceivedKeyOpens(d, from, frame), `any key D got from ${from}`).toBe(false);
    }
    // ...while everything sent after the join decrypts for everyone, D included; those already in
    // the call followed the ratchet on their own.
    await everyoneDecryptsEveryone(net);
  });

  it('a leaver cannot decrypt what the others send after the rekey; the rest keep decrypting', async () => {
    const net = new Net();
    const a = await net.join('a');
    await net.join('b');
    const c = await net.join('c');
    await net.join('d');
    const kidBefore = a.manager.senderKid!;
    const t0 = Date.now();
    await net.leave('c');
    // Everyone acknowledged: no sender waited for the 300 ms timeout.
    expect(Date.now() - t0).toBeLessThan(250);
    expect(a.manager.senderKid! >> 8n).toBe((kidBefore >> 8n) + 1n); // new generation
    for (const s of net.members.values()) {
      const frame = await s.encrypt(`late ${s.id}`);
      expect(await anyReceivedKeyOpens(c, s.id, frame), `any key C got from ${s.id}`).toBe(false);
    }
    await everyoneDecryptsEveryone(net);

    // A fifth joins after the leave and decrypts everyone, and everyone decrypts it.
    await net.join('e');
    await everyoneDecryptsEveryone(net);
  });

  it('the sender switches to a new generation only once the others have it (acks), or after the timeout', async () => {
    const net = new Net();
    const a = await net.join('a');
    await net.join('b');
    await net.join('c');
    const old = a.manager.senderKid;
    // Hold every relay: nobody can acknowledge.
    const leaving = a.manager.peerLeft('c');
    await new Promise((r) => setTimeout(r, 100));
    expect(a.manager.senderKid).toBe(old);
    await leaving; // the 300 ms timeout
    expect(a.manager.senderKid).not.toBe(old);
  });

  it("a newcomer's key is accepted while the receiver is still busy rekeying for a leave", async () => {
    const net = new Net();
    const a = await net.join('a');
    await net.join('b');
    await net.join('c');
    // C leaves; nothing is delivered, so A's rekey waits for acknowledgements (300 ms timeout).
    const c = net.members.get('c')!;
    net.members.delete('c');
    c.manager.close();
    const leaving = [...net.members.values()].map((m) => m.manager.peerLeft('c'));
    // D joins meanwhile: A learns of D at once, and D's key reaches A before A's queue is free.
    const d = new Member('d', await createGroupIdentity(), net);
    const others = [...net.members.values()];
    net.members.set('d', d);
    const starting = [d.manager.start(others.map((o) => o.peer)), ...others.map((o) => o.manager.peerJoined(d.peer))];
    await new Promise((r) => setTimeout(r, 20));
    const fromD = net.queue.filter((m) => m.from === 'd' && m.to === 'a');
    expect(fromD.length).toBeGreaterThan(0);
    for (const m of fromD) await a.manager.receive(m.from, m.blob);
    expect(a.rejected).toEqual([]);
    expect(a.manager.peerKid('d')).not.toBeNull();
    let done = false;
    const all = Promise.all([...leaving, ...starting]).then(() => (done = true));
    while (!done) await net.settle();
    await all;
    await net.settle();
    await everyoneDecryptsEveryone(net);
  });

  it('refuses a replayed key message and a blob relayed under another sender', async () => {
    const net = new Net();
    const a = await net.join('a');
    const b = await net.join('b');
    const toB = net.log.find((m) => m.from === 'a' && m.to === 'b')!;
    await b.manager.receive('a', toB.blob);
    expect(b.rejected.at(-1)).toMatch(/replayed/);
    const c = await net.join('c');
    // The server claims A's blob for C came from B.
    const toC = net.log.find((m) => m.from === 'a' && m.to === 'c')!;
    await c.manager.receive('b', toC.blob);
    expect(c.rejected.at(-1)).toMatch(/identity key|someone else/);
    // From a participant that never announced an identity key.
    await c.manager.receive('zz', toC.blob);
    expect(c.rejected.at(-1)).toMatch(/no identity key/);
    void a;
  });

  it('a participant without E2EE gets no keys and is not waited for', async () => {
    const net = new Net();
    const a = await net.join('a');
    await a.manager.peerJoined({ id: 'plain', identityKey: null });
    expect(a.manager.canEncrypt('plain')).toBe(false);
    await net.settle();
    expect(net.log.some((m) => m.to === 'plain')).toBe(false);
    await a.manager.peerLeft('plain');
  });

  it('keyrings stay bounded over many joins and leaves', async () => {
    const net = new Net();
    const a = await net.join('a');
    const b = await net.join('b');
    for (let i = 0; i < 12; i++) {
      await net.join(`x${i}`);
      await net.leave(`x${i}`);
    }
    expect(b.receivers.get('a')!.kids.length).toBeLessThanOrEqual(8);
    await everyoneDecryptsEveryone(net);
    // The replay window of the SFrame keyring applies to group keys too.
    const frame = await a.encrypt('once');
    expect(await b.decryptFrom('a', frame)).toBe('once');
    expect(await b.decryptFrom('a', frame)).toBeNull();
    expect(b.receivers.get('a')!.failures.replay).toBe(1);
  });
});

describe('encrypted chat with the media keys', () => {
  it('reaches everyone in the room, not a newcomer for earlier messages, and not the server', async () => {
    const net = new Net();
    const a = await net.join('a');
    const b = await net.join('b');
    const early = await a.manager.encryptChat('hello before c');
    expect(early).not.toContain('hello');
    expect(await b.manager.decryptChat('a', early)).toEqual({ seq: 1, text: 'hello before c' });
    // Replayed by the server: refused.
    expect(await b.manager.decryptChat('a', early)).toBeNull();
    const c = await net.join('c');
    expect(await c.manager.decryptChat('a', early)).toBeNull();
    const later = await a.manager.encryptChat('welcome c');
    expect(await c.manager.decryptChat('a', later)).toEqual({ seq: 2, text: 'welcome c' });
    // Passed off as B's message: the AAD names the sender.
    expect(await c.manager.decryptChat('b', later)).toBeNull();
  });
});

describe('safety numbers', () => {
  it('both sides of a pair see the same 10 emoji; other pairs and a swapped key see others', async () => {
    const net = new Net();
    const a = await net.join('a');
    const b = await net.join('b');
    const c = await net.join('c');
    const ab = await a.manager.safetyNumber('b');
    expect(ab).toHaveLength(10);
    expect(await b.manager.safetyNumber('a')).toEqual(ab);
    expect(await a.manager.safetyNumber('c')).not.toEqual(ab);
    // A server in the middle hands A its own key in place of B's.
    const mallory = await createGroupIdentity();
    expect(await safetyNumber(ROOM, a.identity.publicKey, mallory.publicKey)).not.toEqual(await safetyNumber(ROOM, b.identity.publicKey, a.identity.publicKey));
    expect(await safetyNumber('another-room', a.identity.publicKey, b.identity.publicKey)).not.toEqual(ab);
    void c;
  });
});

describe('peer key store (chat keys)', () => {
  it('follows the ratchet forward a bounded number of steps, never backward, and stays bounded', async () => {
    const s = new SenderKeySchedule();
    const k0 = s.fresh();
    const store = new PeerKeyStore({ maxKeys: 2, maxRatchetSteps: 3 });
    store.set(k0.kid, k0.baseKey);
    const steps = [];
    for (let i = 0; i < 4; i++) steps.push(new Uint8Array((await s.ratchet()).key.baseKey));
    expect(await store.get(makeKid(0n, 3n))).toEqual(steps[2]);
    expect(await store.get(makeKid(0n, 4n))).toBeNull(); // 4 steps > 3
    store.set(makeKid(0n, 2n), steps[1]!);
    expect(await store.get(makeKid(0n, 1n))).toEqual(steps[0]); // from step 0, still stored
    store.set(makeKid(1n, 0n), new Uint8Array(32).fill(1));
    expect(store.kids).toHaveLength(2);
    expect(await store.get(makeKid(0n, 0n))).toBeNull(); // evicted, and not derivable backward
  });
});
