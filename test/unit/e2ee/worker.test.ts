import { describe, expect, it } from 'vitest';
import type { EncodedFrameLike } from '../../../web-client/src/e2ee/frame-transformer.ts';
import { installE2eeWorker, type RtcTransformerLike, type TimersLike, type WorkerScopeLike } from '../../../web-client/src/e2ee/worker-host.ts';
import type { E2eeWorkerEvent, StatsEvent } from '../../../web-client/src/e2ee/worker-protocol.ts';
import { FakeFrame, opusFrame, vp8Frame } from './fake-frames.ts';
import { pseudoRandomBytes, toHex } from './helpers.ts';

const ALICE_KEY = pseudoRandomBytes(32, 21);

class FakeTimers implements TimersLike {
  readonly intervals = new Map<number, { callback: () => void; ms: number }>();
  #next = 1;
  setInterval(callback: () => void, ms: number): unknown {
    const handle = this.#next++;
    this.intervals.set(handle, { callback, ms });
    return handle;
  }
  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }
  tick(): void {
    for (const { callback } of this.intervals.values()) callback();
  }
}

function worker() {
  const events: E2eeWorkerEvent[] = [];
  const scope: WorkerScopeLike = { postMessage: (e) => void events.push(e), onmessage: null, onrtctransform: null };
  const timers = new FakeTimers();
  const host = installE2eeWorker(scope, timers);
  return { host, scope, timers, events };
}

/** A sink that collects frames, and a promise for when the stream closes. */
function sink() {
  const frames: FakeFrame[] = [];
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const writable = new WritableStream<EncodedFrameLike>({
    write: (f) => void frames.push(f as FakeFrame),
    close: () => resolveClosed(),
  });
  return { frames, writable, closed };
}

function fakeTransformer(frames: FakeFrame[], options: unknown) {
  const out = sink();
  let keyFrameRequests = 0;
  let cancelled = false;
  const transformer: RtcTransformerLike = {
    readable: new ReadableStream<EncodedFrameLike>({
      start(controller) {
        for (const f of frames) controller.enqueue(f);
        controller.close();
      },
      cancel() {
        cancelled = true;
      },
    }),
    writable: out.writable,
    options,
    generateKeyFrame: async () => void keyFrameRequests++,
  };
  return { transformer, out, keyFrameRequests: () => keyFrameRequests, cancelled: () => cancelled };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(condition()).toBe(true);
}

function errors(events: E2eeWorkerEvent[]) {
  return events.filter((e) => e.kind === 'error').map((e) => (e.kind === 'error' ? e.data : null));
}

describe('E2EE worker: installation', () => {
  it('only registers handlers: no message, no timer before init', () => {
    const { scope, timers, events } = worker();
    expect(typeof scope.onmessage).toBe('function');
    expect(typeof scope.onrtctransform).toBe('function');
    expect(events).toEqual([]);
    expect(timers.intervals.size).toBe(0);
  });

  it('routes messages posted to the scope to the host', async () => {
    const { scope, events } = worker();
    scope.onmessage!({ data: { kind: 'init', id: 7, data: { statsIntervalMs: 0 } } });
    await until(() => events.length > 0);
    expect(events).toEqual([{ kind: 'ack', data: { id: 7 } }]);
  });
});

describe('E2EE worker: requests (worker-protocol.ts)', () => {
  it('init starts the periodic stats at the requested period', async () => {
    const { host, timers, events } = worker();
    await host.handleMessage({ kind: 'init', data: { statsIntervalMs: 500 } });
    expect([...timers.intervals.values()].map((t) => t.ms)).toEqual([500]);
    timers.tick();
    expect(events).toEqual([{ kind: 'stats', data: { tracks: [], senderKid: null } }]);
    host.close();
    expect(timers.intervals.size).toBe(0);
  });

  it('acks requests that carry an id, reports errors with the id and request kind', async () => {
    const { host, events } = worker();
    await host.handleMessage({ kind: 'init', id: 1, data: { statsIntervalMs: 0 } });
    await host.handleMessage({ kind: 'setSenderKey', id: 2, data: { kid: 0, key: ALICE_KEY } });
    await host.handleMessage({ kind: 'setSenderKey', id: 3, data: { kid: 0, key: ALICE_KEY } });
    expect(events[0]).toEqual({ kind: 'ack', data: { id: 1 } });
    expect(events[1]).toEqual({ kind: 'ack', data: { id: 2 } });
    expect(events[2]).toMatchObject({ kind: 'error', data: { id: 3, request: 'setSenderKey', message: expect.stringMatching(/already used/) } });
  });

  it.each([
    ['not an object', 'hello', /kind/],
    ['an unknown kind', { kind: 'explode', data: {} }, /unknown request kind/],
    ['a negative KID', { kind: 'setSenderKey', data: { kid: -1, key: ALICE_KEY } }, /kid/],
    ['a fractional KID', { kind: 'setSenderKey', data: { kid: 1.5, key: ALICE_KEY } }, /kid/],
    ['a KID of 2^64', { kind: 'setSenderKey', data: { kid: 1n << 64n, key: ALICE_KEY } }, /kid/],
    ['a key as a string', { kind: 'setSenderKey', data: { kid: 0, key: 'secret' } }, /key must be/],
    ['a short key', { kind: 'setSenderKey', data: { kid: 0, key: new Uint8Array(8) } }, /at least 16/],
    ['a receiver key without participant', { kind: 'setReceiverKey', data: { kid: 0, key: ALICE_KEY } }, /participantId/],
    ['an unknown cipher suite', { kind: 'init', data: { suite: 9 } }, /cipher suite/],
    ['a replay window out of range', { kind: 'init', data: { replayWindow: 8 } }, /replayWindow/],
    ['encode without streams', { kind: 'encode', data: { trackId: 't', kind: 'audio' } }, /ReadableStream/],
    ['ratchet without a key', { kind: 'ratchetSenderKey', data: {} }, /no sender key/],
  ])('refuses %s', async (_name, message, text) => {
    const { host, events } = worker();
    await host.handleMessage(message);
    expect(events).toHaveLength(1);
    expect(errors(events)[0]?.message).toMatch(text);
  });

  it('refuses init after keys were set (the contexts already took their settings)', async () => {
    const { host, events } = worker();
    await host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'bob', kid: 0, key: ALICE_KEY } });
    await host.handleMessage({ kind: 'init', data: { suite: 1 } });
    expect(errors(events)[0]?.message).toMatch(/init must come before/);
  });

  it("copies the key: the caller's buffer is left as it was (the worker wipes only its own copies)", async () => {
    const { host } = worker();
    const key = new Uint8Array(ALICE_KEY);
    await host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key } });
    expect(toHex(key)).toBe(toHex(ALICE_KEY));
  });
});

describe('E2EE worker: tracks through posted streams (createEncodedStreams fallback)', () => {
  it('encrypts an outgoing track and decrypts it as a remote participant, with stats', async () => {
    const alice = worker();
    const bob = worker();
    await alice.host.handleMessage({ kind: 'init', data: { statsIntervalMs: 0 } });
    await bob.host.handleMessage({ kind: 'init', data: { statsIntervalMs: 0 } });
    await alice.host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY.buffer.slice(0) } });
    await bob.host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'alice', kid: 0, key: ALICE_KEY } });

    const frames = [vp8Frame(true, 1000, 1), vp8Frame(false, 300, 2), vp8Frame(false, 300, 3)];
    const originals = frames.map((f) => toHex(f.bytes));
    const sent = sink();
    await alice.host.handleMessage({
      kind: 'encode',
      data: { trackId: 'cam', kind: 'video', readable: ReadableStream.from(frames), writable: sent.writable },
    });
    await sent.closed;
    expect(sent.frames.map((f) => toHex(f.bytes))).not.toEqual(originals);

    const received = sink();
    const readable = new ReadableStream<EncodedFrameLike>({
      start(c) {
        for (const f of sent.frames) c.enqueue(f);
      },
    });
    await bob.host.handleMessage({ kind: 'decode', data: { trackId: 'alice-cam', kind: 'video', participantId: 'alice', readable, writable: received.writable } });
    await until(() => received.frames.length === 3);
    expect(received.frames.map((f) => toHex(f.bytes))).toEqual(originals);

    const stats = bob.host.stats();
    expect(stats.data.tracks).toEqual([
      expect.objectContaining({ trackId: 'alice-cam', participantId: 'alice', direction: 'decrypt', kind: 'video', ok: 3 }),
    ]);
    await bob.host.handleMessage({ kind: 'getStats', data: {} });
    expect(bob.events.at(-1)).toEqual(stats satisfies StatsEvent);
    // Alice's track ended with its stream.
    await until(() => alice.events.some((e) => e.kind === 'trackEnded'));
    expect(alice.events.find((e) => e.kind === 'trackEnded')).toEqual({ kind: 'trackEnded', data: { trackId: 'cam' } });
    expect(alice.host.stats().data).toEqual({ tracks: [], senderKid: 0 });
    bob.host.close();
  });

  it('drops frames of a participant whose key it does not have, and counts them', async () => {
    const alice = worker();
    const bob = worker();
    await alice.host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY } });
    await bob.host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'carol', kid: 0, key: ALICE_KEY } });
    const sent = sink();
    await alice.host.handleMessage({ kind: 'encode', data: { trackId: 'mic', kind: 'audio', readable: ReadableStream.from([opusFrame(80, 1)]), writable: sent.writable } });
    await sent.closed;
    const received = sink();
    // Alice's frames arrive on a track bound to 'dave', a participant without keys.
    await bob.host.handleMessage({ kind: 'decode', data: { trackId: 't', kind: 'audio', participantId: 'dave', readable: ReadableStream.from(sent.frames), writable: received.writable } });
    await received.closed;
    expect(received.frames).toHaveLength(0);
    await until(() => bob.events.some((e) => e.kind === 'trackEnded'));
  });

  it('removeTrack stops a track; removeParticipant forgets its keys', async () => {
    const bob = worker();
    await bob.host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'alice', kid: 0, key: ALICE_KEY } });
    const pending = new ReadableStream<EncodedFrameLike>(); // never delivers
    await bob.host.handleMessage({ kind: 'decode', data: { trackId: 't1', kind: 'audio', participantId: 'alice', readable: pending, writable: sink().writable } });
    expect(bob.host.stats().data.tracks).toHaveLength(1);
    await bob.host.handleMessage({ kind: 'removeTrack', data: { trackId: 't1' } });
    expect(bob.host.stats().data.tracks).toHaveLength(0);
    await until(() => bob.events.some((e) => e.kind === 'trackEnded'));
    expect(bob.events.find((e) => e.kind === 'trackEnded')).toEqual({ kind: 'trackEnded', data: { trackId: 't1' } });

    // After removeParticipant, alice's frames are unknown-key.
    const alice = worker();
    await alice.host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY } });
    const sent = sink();
    await alice.host.handleMessage({ kind: 'encode', data: { trackId: 'm', kind: 'audio', readable: ReadableStream.from([opusFrame(40, 3)]), writable: sent.writable } });
    await sent.closed;
    await bob.host.handleMessage({ kind: 'removeParticipant', data: { participantId: 'alice' } });
    const received = sink();
    await bob.host.handleMessage({ kind: 'decode', data: { trackId: 't2', kind: 'audio', participantId: 'alice', readable: ReadableStream.from(sent.frames), writable: received.writable } });
    await received.closed;
    expect(received.frames).toHaveLength(0);
  });

  it('refuses a second cryptor for the same track id', async () => {
    const { host, events } = worker();
    const data = { trackId: 'x', kind: 'audio' };
    await host.handleMessage({ kind: 'encode', data: { ...data, readable: new ReadableStream(), writable: sink().writable } });
    await host.handleMessage({ kind: 'encode', data: { ...data, readable: new ReadableStream(), writable: sink().writable } });
    expect(errors(events)[0]?.message).toMatch(/already has a cryptor/);
    host.close();
  });
});

describe('E2EE worker: RTCRtpScriptTransform (rtctransform events)', () => {
  it('encodes and decodes with the options given to RTCRtpScriptTransform', async () => {
    const alice = worker();
    const bob = worker();
    await alice.host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY } });
    await bob.host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'alice', kid: 0, key: ALICE_KEY } });
    const frames = [opusFrame(100, 1), opusFrame(90, 2)];
    const originals = frames.map((f) => toHex(f.bytes));

    const enc = fakeTransformer(frames, { operation: 'encode', trackId: 'mic', kind: 'audio' });
    alice.scope.onrtctransform!({ transformer: enc.transformer });
    await enc.out.closed;
    const dec = fakeTransformer(enc.out.frames, { operation: 'decode', trackId: 'alice-mic', kind: 'audio', participantId: 'alice' });
    bob.scope.onrtctransform!({ transformer: dec.transformer });
    await dec.out.closed;
    expect(dec.out.frames.map((f) => toHex(f.bytes))).toEqual(originals);
  });

  it('stops a track whose options are invalid instead of letting clear frames through', async () => {
    const { scope, events } = worker();
    const t = fakeTransformer([opusFrame(10, 1)], { operation: 'decode', trackId: 'x', kind: 'audio' });
    scope.onrtctransform!({ transformer: t.transformer });
    await until(() => t.cancelled());
    expect(t.out.frames).toHaveLength(0);
    expect(errors(events)[0]).toMatchObject({ request: 'rtctransform', message: expect.stringMatching(/participantId/) });
  });

  it('asks video encoders for a keyframe after a new sender key or a ratchet (RFC 9605 §6.2)', async () => {
    const { host, scope, events } = worker();
    const video = fakeTransformer([], { operation: 'encode', trackId: 'cam', kind: 'video' });
    const audio = fakeTransformer([], { operation: 'encode', trackId: 'mic', kind: 'audio' });
    // Keep the tracks open: readable streams that never close.
    const openVideo = { ...video.transformer, readable: new ReadableStream<EncodedFrameLike>() };
    const openAudio = { ...audio.transformer, readable: new ReadableStream<EncodedFrameLike>() };
    scope.onrtctransform!({ transformer: openVideo });
    scope.onrtctransform!({ transformer: openAudio });
    await host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY } });
    expect(video.keyFrameRequests()).toBe(1);
    expect(audio.keyFrameRequests()).toBe(0);
    await host.handleMessage({ kind: 'ratchetSenderKey', data: {} });
    expect(events.find((e) => e.kind === 'ratcheted')).toEqual({ kind: 'ratcheted', data: { kid: 1 } });
    expect(video.keyFrameRequests()).toBe(2);
    expect(host.stats().data.senderKid).toBe(1);
    host.close();
  });

  it('after a ratchet the receiver follows by itself', async () => {
    const alice = worker();
    const bob = worker();
    await alice.host.handleMessage({ kind: 'setSenderKey', data: { kid: 0, key: ALICE_KEY } });
    await bob.host.handleMessage({ kind: 'setReceiverKey', data: { participantId: 'alice', kid: 0, key: ALICE_KEY } });
    await alice.host.handleMessage({ kind: 'ratchetSenderKey', data: {} });
    const enc = fakeTransformer([opusFrame(50, 5)], { operation: 'encode', trackId: 'mic', kind: 'audio' });
    alice.scope.onrtctransform!({ transformer: enc.transformer });
    await enc.out.closed;
    const dec = fakeTransformer(enc.out.frames, { operation: 'decode', trackId: 'a', kind: 'audio', participantId: 'alice' });
    bob.scope.onrtctransform!({ transformer: dec.transformer });
    await dec.out.closed;
    expect(dec.out.frames).toHaveLength(1);
  });
});
