/**
 * The softphone's privacy promises, end to end: real server, real headless Chromium, real sipp.
 *
 * 1. A caller that offers plain RTP (a sipp UAC, RTP/AVP PCMU) is shown as "Not encrypted" on the
 *    incoming-call screen before anyone answers; with the setting "Decline calls that are not
 *    end-to-end encrypted" on, the page refuses it before it rings, with 488 and a Warning
 *    (web-client/src/privacy/incoming-offer.ts says why 488), and lists it as declined.
 * 2. In an end-to-end encrypted browser-to-browser call, what the receiver's E2EE worker gets off
 *    the wire is SFrame ciphertext (RFC 9605 §4.3 headers behind VP8's clear payload header), not
 *    VP8/Opus; and a control call whose sender skips encryption is caught by the same checks.
 *
 * Needs the built client (npm run build:web), /usr/bin/chromium, sipp, and a loopback-only
 * network namespace:
 *   unshare -n sh -c 'ip link set lo up; exec npx vitest run test/integration/web-client-privacy.test.ts'
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { artifactPath, HAVE_CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.ts';
import { HAVE_NETNS, ROOT, startTestServer, type TestServer } from '../helpers/server.ts';
import { runSipp, type SippResult } from '../helpers/sipp.ts';
import { pageView, signInPage, waitUntil } from '../helpers/web-page.ts';
import { decodeHeader } from '../../web-client/src/e2ee/sframe/header.ts';

const BASE = 37060; // server: SIP 37060 (UDP/TCP), TLS 37061, HTTP 37062, HTTPS/WSS 37063
const SIPP_PORT = BASE + 4; // sipp's SIP ports 37064, 37065
const SIPP_MEDIA_PORT = BASE + 10; // sipp binds media ports even when it sends none
const ORIGIN = `https://127.0.0.1:${BASE + 3}`;
const USERS = { alice: 'alice-privacy-secret-1', bob: 'bob-privacy-secret-22', sipp: 'sipp-privacy-secret-333' };
type User = 'alice' | 'bob';

let server: TestServer;
const browsers = new Map<User, TestBrowser>();
const page = (u: User): Page => browsers.get(u)!.page;

/** sipp calls bob offering plain RTP; resolves with sipp's result and the SIP messages it traced. */
async function sippCallsBob(localPort: number): Promise<SippResult & { messages: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-msgs-'));
  const messageFile = join(dir, 'messages.log');
  const r = await runSipp({
    scenario: 'uac_plain_rtp_refused.xml',
    target: `127.0.0.1:${BASE}`,
    transport: 'udp',
    localPort,
    users: [['sipp', USERS.sipp]],
    keys: { domain: 'localhost', callee: 'bob' },
    timeoutS: 20,
    extra: ['-mp', String(SIPP_MEDIA_PORT), '-trace_msg', '-message_file', messageFile],
  });
  let messages = '';
  try {
    messages = readFileSync(messageFile, 'utf8');
  } catch {
    // no trace: the assertions below say what is missing
  }
  return { ...r, messages };
}

/** Final responses (status line) sipp received for its INVITEs, in order. */
function finalStatuses(messages: string): string[] {
  return [...messages.matchAll(/^SIP\/2\.0 ([2-6]\d\d [^\r\n]*)\r?\n(?:[^\r\n]+\r?\n)*?CSeq:\s*\d+ INVITE/gim)].map((m) => m[1]!.trim()).filter((s) => !s.startsWith('407'));
}

/*
 * 2. A test that would catch plaintext media. The frames are tapped at the E2EE workers' input,
 *    without any hook in the app: the test serves /e2ee.worker.js with a prologue of its own
 *    (below) that wraps each RTCRtpScriptTransformer before the worker host sees it and posts a
 *    copy of the first bytes of each frame to the page. At the receiver's decode transform that is
 *    exactly what came off the wire (after SRTP, before SFrame decryption). Nothing in the
 *    production bundle can turn this on: it exists only in the test's network route.
 */
type TapMode = 'tap' | 'bypass-encryption';
let tapMode: TapMode = 'tap';
const TAP_BYTES = 256;
const TAP_FRAMES = 300;

/** Runs in the E2EE worker before the bundle (a module: these are its first statements). */
function tapPrologue(mode: TapMode): string {
  return `
const __tapMode = ${JSON.stringify(mode)};
let __tapHandler = null;
// The worker host sets self.onrtctransform; keep its handler and hand it wrapped transformers.
Object.defineProperty(globalThis, 'onrtctransform', { configurable: true, get: () => __tapHandler, set: (h) => { __tapHandler = h; } });
addEventListener('rtctransform', (event) => {
  const t = event.transformer;
  const o = t.options ?? {};
  let n = 0;
  const tap = new TransformStream({
    transform(frame, controller) {
      if (n < ${TAP_FRAMES}) {
        n++;
        const data = new Uint8Array(frame.data);
        const md = frame.getMetadata ? frame.getMetadata() : {};
        postMessage({ kind: '__tap', data: { operation: o.operation, kind: o.kind, type: frame.type ?? null, mimeType: md.mimeType ?? null, length: data.length, bytes: data.slice(0, ${TAP_BYTES}) } });
      }
      controller.enqueue(frame);
    },
  });
  const readable = t.readable.pipeThrough(tap);
  if (__tapMode === 'bypass-encryption' && o.operation === 'encode') {
    // Control: a transform that passes frames without encrypting (the failure this test exists for).
    readable.pipeTo(t.writable).catch(() => {});
    return;
  }
  __tapHandler?.({ transformer: { readable, writable: t.writable, options: t.options, generateKeyFrame: (...a) => t.generateKeyFrame(...a) } });
});
`;
}

interface TappedFrame {
  operation: 'encode' | 'decode';
  kind: 'audio' | 'video';
  type: 'key' | 'delta' | null;
  mimeType: string | null;
  length: number;
  bytes: number[];
}

async function installTap(b: TestBrowser): Promise<void> {
  await b.context.route('**/e2ee.worker.js', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, body: tapPrologue(tapMode) + (await res.text()) });
  });
  // Collect the worker's tap messages in the page (the app ignores message kinds it does not know).
  await b.context.addInitScript(() => {
    const g = globalThis as unknown as { __taps: unknown[]; Worker: new (u: unknown, o?: unknown) => { addEventListener(t: string, f: (e: { data: { kind?: string; data?: unknown } }) => void): void } };
    g.__taps = [];
    const Native = g.Worker;
    g.Worker = class extends Native {
      constructor(u: unknown, o?: unknown) {
        super(u, o);
        this.addEventListener('message', (e) => {
          if (e.data?.kind === '__tap') g.__taps.push(e.data.data);
        });
      }
    };
  });
}

async function taps(p: Page, reset = false): Promise<TappedFrame[]> {
  return p.evaluate((r) => {
    const g = globalThis as unknown as { __taps: { bytes: Uint8Array }[] };
    const out = g.__taps.map((t) => ({ ...t, bytes: Array.from(t.bytes) }));
    if (r) g.__taps = [];
    return out;
  }, reset) as Promise<TappedFrame[]>;
}

/** Bytes kept in clear before the SFrame data (web-client/src/e2ee/frame-codec.ts, RFC 6386 §9.1). */
function vp8ClearBytes(f: TappedFrame): number {
  return (f.bytes[0]! & 0x01) === 0 ? 10 : 3; // P bit 0: keyframe, 10-byte header
}

/** Whether a VP8 keyframe starts as RFC 6386 §9.1 says: frame tag with P=0, start code 9d 01 2a. */
function vp8KeyframeHeaderValid(b: number[]): boolean {
  return (b[0]! & 0x01) === 0 && b[3] === 0x9d && b[4] === 0x01 && b[5] === 0x2a;
}

/**
 * Whether bytes form a valid Opus packet by RFC 6716 §3.4 (R1-R7), as far as `length` and the
 * first bytes tell: TOC (§3.1), frame count code 0-3 (§3.2), frame length coding (§3.2.1).
 */
function opusPacketValid(b: number[], length: number): boolean {
  if (length < 1) return false; // R1
  const toc = b[0]!;
  const config = toc >> 3;
  const frameMs = config < 12 ? [10, 20, 40, 60][config & 3]! : config < 16 ? [10, 20][config & 1]! : [2.5, 5, 10, 20][config & 3]!;
  const len = (i: number): [number, number] | undefined => {
    // §3.2.1: one byte 0-251, or two bytes 252-255 then 4 * second + first
    if (i >= b.length) return undefined;
    const x = b[i]!;
    if (x < 252) return [x, 1];
    if (i + 1 >= b.length) return undefined;
    return [b[i + 1]! * 4 + x, 2];
  };
  switch (toc & 3) {
    case 0:
      return length - 1 <= 1275; // R2
    case 1:
      return (length - 1) % 2 === 0 && (length - 1) / 2 <= 1275; // R3
    case 2: {
      const l = len(1);
      return !!l && l[0] <= length - 1 - l[1] && length - 1 - l[1] - l[0] <= 1275; // R4
    }
    default: {
      if (length < 2) return false; // R6/R7 need the frame count byte
      const m = b[1]! & 0x3f;
      if (m === 0 || m * frameMs > 120) return false; // R5
      const vbr = (b[1]! & 0x80) !== 0;
      let pos = 2;
      let padding = 0;
      if (b[1]! & 0x40) {
        // padding length bytes: 255 means 254 + more
        for (;;) {
          if (pos >= b.length) return true; // beyond what was tapped: cannot tell, count as valid
          const p = b[pos++]!;
          padding += p === 255 ? 254 : p;
          if (p !== 255) break;
        }
      }
      const room = length - pos - padding;
      if (room < 0) return false;
      if (!vbr) return room % m === 0; // R6
      let sum = 0;
      for (let i = 0; i < m - 1; i++) {
        const l = len(pos);
        if (!l) return true;
        sum += l[0];
        pos += l[1];
      }
      return sum <= length - pos - padding; // R7
    }
  }
}

/** SFrame headers (RFC 9605 §4.3) of a track's frames at the given clear offset, or why not. */
function sframeHeaders(frames: TappedFrame[], clear: (f: TappedFrame) => number): { ok: number; bad: number; kids: Set<bigint>; increasing: boolean } {
  let ok = 0;
  let bad = 0;
  const kids = new Set<bigint>();
  let last = -1n;
  let increasing = true;
  for (const f of frames) {
    try {
      const h = decodeHeader(Uint8Array.from(f.bytes), clear(f));
      ok++;
      kids.add(h.kid);
      if (h.ctr <= last) increasing = false;
      last = h.ctr;
    } catch {
      bad++;
    }
  }
  return { ok, bad, kids, increasing };
}

/** What a track's frames look like, at the given tap. */
function inspect(frames: TappedFrame[]) {
  const video = frames.filter((f) => f.kind === 'video');
  const audio = frames.filter((f) => f.kind === 'audio');
  const keyframes = video.filter((f) => f.type === 'key');
  const v = sframeHeaders(video, vp8ClearBytes);
  const a = sframeHeaders(audio, () => 0);
  return {
    video: video.length,
    audio: audio.length,
    keyframes: keyframes.length,
    vp8: video.every((f) => f.mimeType === null || /vp8/i.test(f.mimeType)),
    keyframeHeadersValid: keyframes.every((f) => vp8KeyframeHeaderValid(f.bytes)),
    // SFrame as this 1:1 call uses it: KID 0 on every frame, CTR strictly rising per track.
    videoSframe: v.bad === 0 && v.kids.size === 1 && v.kids.has(0n) && v.increasing,
    audioSframe: a.bad === 0 && a.kids.size === 1 && a.kids.has(0n) && a.increasing,
    opusValidShare: audio.length ? audio.filter((f) => opusPacketValid(f.bytes, f.length)).length / audio.length : 0,
    /** Opus TOC configurations (RFC 6716 §3.1: mode, bandwidth, frame size) seen in the first byte. */
    tocConfigs: [...new Set(audio.map((f) => f.bytes[0]! >> 3))].sort((x, y) => x - y),
  };
}

/** The first 16 payload bytes after the clear prefix, as a key for "the same frame content". */
function payloadKey(f: TappedFrame): string {
  const start = f.kind === 'video' ? vp8ClearBytes(f) : 0;
  return Buffer.from(f.bytes.slice(start, start + 16)).toString('hex');
}

describe.skipIf(!HAVE_NETNS || !HAVE_CHROMIUM)('web client privacy', () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'web-client/dist/index.html'))) execFileSync(process.execPath, [join(ROOT, 'web-client/build.ts')], { stdio: 'inherit' });
    server = await startTestServer({ basePort: BASE, users: USERS });
    for (const u of ['alice', 'bob'] as User[]) {
      const b = await launchBrowser();
      await installTap(b);
      browsers.set(u, b);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...browsers.values()].map((b) => b.close()));
    await server?.stop();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [u, b] of browsers) console.log(`--- ${u} console (last 80) ---\n${b.log.slice(-80).join('\n')}`);
  });

  it('a sipp call offering plain RTP shows "Not encrypted" before it is answered (setting off)', async () => {
    const bob = page('bob');
    await signInPage(bob, ORIGIN, 'bob', USERS.bob);
    // Default off: ordinary calls ring.
    expect(await bob.getByLabel('Decline calls that are not end-to-end encrypted').isChecked()).toBe(false);

    const sipp = sippCallsBob(SIPP_PORT);
    await waitUntil('bob rings', () => pageView(bob), (v) => v === 'incoming', 15_000);
    expect(await bob.getByLabel('Caller').textContent()).toBe('sipp');
    const privacy = bob.locator('#incoming-privacy');
    expect(await privacy.getAttribute('data-level')).toBe('none');
    expect(await privacy.textContent()).toBe('Not encrypted');
    await bob.screenshot({ path: artifactPath('incoming-not-encrypted.png') });

    await bob.getByRole('button', { name: 'Decline' }).click();
    const r = await sipp;
    expect(r.errors, r.screen).toBe('');
    expect(r.successful).toBe(1);
    expect(finalStatuses(r.messages)).toEqual(['603 Decline']);
    await waitUntil('bob idle', () => pageView(bob), (v) => v === 'home');
    const last = bob.getByRole('list', { name: 'Recent calls' }).locator('li').first();
    expect(await last.getAttribute('data-outcome')).toBe('declined');
    expect(await last.getAttribute('data-why')).toBeNull();
  });

  it('with "Decline calls that are not end-to-end encrypted" on, the sipp call is refused with 488 before bob\'s page rings', { timeout: 45_000 }, async () => {
    const bob = page('bob');
    // Keyboard only: focus the labelled checkbox and press Space, as a person without a mouse would.
    const setting = bob.getByLabel('Decline calls that are not end-to-end encrypted');
    await setting.focus();
    await bob.keyboard.press('Space');
    expect(await setting.isChecked()).toBe(true);
    // Persisted: still on after the page is reloaded and bob signs in again.
    await bob.reload();
    await signInPage(bob, ORIGIN, 'bob', USERS.bob);
    expect(await setting.isChecked()).toBe(true);

    // Every view and tone the page shows from now on, however briefly.
    await bob.evaluate(() => {
      const g = globalThis as unknown as { __seen: string[]; document: { getElementById(id: string): unknown }; MutationObserver: new (f: () => void) => { observe(n: unknown, o: unknown): void } };
      const app = g.document.getElementById('app') as { dataset: Record<string, string | undefined> };
      g.__seen = [];
      new g.MutationObserver(() => g.__seen.push(`${app.dataset.view}/${app.dataset.tone ?? ''}`)).observe(app, { attributes: true, attributeFilter: ['data-view', 'data-tone'] });
    });

    const r = await sippCallsBob(SIPP_PORT + 1);
    expect(r.errors, r.screen).toBe('');
    expect(r.successful).toBe(1);
    expect(finalStatuses(r.messages)).toEqual(['488 Not Acceptable Here']);
    expect(r.messages).toMatch(/^Warning: 399 sotto-web "End-to-end encryption required"\r?$/m);

    const seen = await bob.evaluate(() => (globalThis as unknown as { __seen: string[] }).__seen);
    expect(seen.filter((s) => s.startsWith('incoming') || s.endsWith('ringtone'))).toEqual([]);
    expect(await pageView(bob)).toBe('home');
    const last = bob.getByRole('list', { name: 'Recent calls' }).locator('li').first();
    await waitUntil('history entry', () => last.getAttribute('data-why'), (w) => w === 'e2ee-required');
    expect(await last.getAttribute('data-outcome')).toBe('declined');
    expect(await last.textContent()).toContain('declined: not end-to-end encrypted');
    expect(await bob.locator('#last-call').textContent()).toBe('Declined automatically, not end-to-end encrypted: sipp');

    // Turned off again (the default), the next plain call rings as before.
    await setting.focus();
    await bob.keyboard.press('Space');
    expect(await setting.isChecked()).toBe(false);
  });

  /** alice video-calls bob, bob answers with video; resolves once both are connected. */
  async function videoCall(): Promise<void> {
    const alice = page('alice');
    const bob = page('bob');
    await alice.getByLabel('Name or SIP address').first().fill('bob');
    await alice.getByRole('button', { name: 'Video call', exact: true }).click();
    await waitUntil('bob rings', () => pageView(bob), (v) => v === 'incoming');
    await bob.getByRole('button', { name: 'Answer with video' }).click();
    for (const p of [alice, bob]) await waitUntil('connected', () => p.locator('#call-view').getAttribute('data-call-state'), (s) => s === 'connected');
  }

  async function hangUp(): Promise<void> {
    await page('alice').getByRole('button', { name: 'Hang up', exact: true }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => pageView(page(u)), (v) => v === 'home');
  }

  /** Frames tapped at bob's decode transforms (off the wire) and at alice's encode transforms (her plaintext). */
  async function tappedCall(): Promise<{ wire: TappedFrame[]; plain: TappedFrame[] }> {
    await waitUntil(
      "bob's E2EE worker receives video (a keyframe included) and audio",
      async () => (await taps(page('bob'))).filter((f) => f.operation === 'decode'),
      (fs) => fs.filter((f) => f.kind === 'video').length >= 60 && fs.some((f) => f.type === 'key') && fs.filter((f) => f.kind === 'audio').length >= 100,
      20_000,
    );
    const wire = (await taps(page('bob'), true)).filter((f) => f.operation === 'decode');
    const plain = (await taps(page('alice'), true)).filter((f) => f.operation === 'encode');
    return { wire, plain };
  }

  it('an end-to-end encrypted call: what bob receives off the wire is SFrame ciphertext, not VP8/Opus', { timeout: 60_000 }, async () => {
    tapMode = 'tap';
    await signInPage(page('alice'), ORIGIN, 'alice', USERS.alice);
    for (const u of ['alice', 'bob'] as User[]) await taps(page(u), true);
    await videoCall();
    for (const u of ['alice', 'bob'] as User[]) {
      await waitUntil(`${u}: end-to-end encrypted`, () => page(u).locator('#privacy').getAttribute('data-level'), (l) => l === 'e2ee');
    }
    const { wire, plain } = await tappedCall();
    await hangUp();

    const w = inspect(wire);
    const p = inspect(plain);
    console.log(`tapped: wire ${JSON.stringify(w)}; alice's plaintext ${JSON.stringify(p)}`);
    // Off the wire: VP8's payload header in clear (the layout keeps it so the packetizer works),
    // then an SFrame header with KID 0 and a rising counter on every frame, audio and video.
    expect(w.vp8).toBe(true);
    expect(w.keyframes).toBeGreaterThan(0);
    expect(w.keyframeHeadersValid).toBe(true);
    expect(w.videoSframe).toBe(true);
    expect(w.audioSframe).toBe(true);
    // Opus: RFC 6716 §3.4's rules only constrain lengths, and the SFrame config byte (0x08-0x0f
    // for KID 0 with a 1-2 byte CTR) reads as a TOC "SILK narrowband, 20 ms, code 0/1": most
    // ciphertext frames still pass R1-R7 (measured: 90-96%), so "invalid Opus" cannot tell them
    // apart. What can: the first byte is never a TOC configuration alice's encoder produced
    // (it sends fullband CELT/hybrid), and the SFrame header chain above holds on every frame.
    const encoderTocs = new Set(p.tocConfigs);
    expect(w.tocConfigs.filter((c) => encoderTocs.has(c))).toEqual([]);
    // The same checks on alice's own frames before encryption (plain VP8 and Opus) say "plain":
    // they can tell the two apart.
    expect(p.keyframes).toBeGreaterThan(0);
    expect(p.keyframeHeadersValid).toBe(true);
    expect(p.videoSframe).toBe(false);
    expect(p.audioSframe).toBe(false);
    expect(p.opusValidShare).toBeGreaterThan(0.95);
    // And none of alice's encoded payloads reaches bob as it left her encoder.
    const sent = new Set(plain.map(payloadKey));
    expect(wire.filter((f) => sent.has(payloadKey(f)))).toEqual([]);
  });

  it('control: when alice\'s transform passes frames without encrypting, the same checks see plain VP8/Opus at bob', { timeout: 60_000 }, async () => {
    tapMode = 'bypass-encryption';
    try {
      for (const u of ['alice', 'bob'] as User[]) await taps(page(u), true);
      await videoCall();
      const { wire, plain } = await tappedCall();
      // bob's worker cannot decrypt plain frames: the indicator never says end-to-end.
      expect(await page('bob').locator('#privacy').getAttribute('data-level')).not.toBe('e2ee');
      await hangUp();
      const w = inspect(wire);
      console.log(`tapped (control): wire ${JSON.stringify(w)}`);
      expect(w.keyframeHeadersValid).toBe(true);
      expect(w.videoSframe).toBe(false);
      expect(w.audioSframe).toBe(false);
      expect(w.opusValidShare).toBeGreaterThan(0.95);
      expect(w.tocConfigs.every((c) => new Set(inspect(plain).tocConfigs).has(c))).toBe(true);
      const sent = new Set(plain.map(payloadKey));
      expect(wire.filter((f) => sent.has(payloadKey(f))).length).toBeGreaterThan(wire.length / 2);
    } finally {
      tapMode = 'tap';
    }
  });
});
