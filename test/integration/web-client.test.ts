/**
 * The browser softphone end to end: the real server (SIP over WSS on its HTTPS port, which also
 * serves the page) and real headless Chromium, one browser per user, fake camera and microphone.
 * The test drives the page the way a person does, through roles and labels, and checks media with
 * the browsers' own getStats(): audio packets and decoded video frames must keep rising.
 *
 * Needs the built client (scripts/setup.sh builds it; so does beforeAll if it is missing),
 * /usr/bin/chromium, and the suite's loopback-only network namespace.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Inviter, UserAgent } from 'sip.js';
import { createNodeUserAgent } from '../helpers/sipjs-node.ts';
import { httpsJson, signIn as roomSignIn } from '../helpers/room-client.ts';
import { artifactPath, cutSignalling, HAVE_CHROMIUM, iceUfrags, launchBrowser, mediaCounters, socketCount, type MediaCounters, type TestBrowser } from '../helpers/browser.ts';
import { HAVE_NETNS, ROOT, startTestServer, type TestServer } from '../helpers/server.ts';

const BASE = 33060;
const ORIGIN = `https://127.0.0.1:${BASE + 3}`;
const USERS = { alice: 'alice-web-secret-1', bob: 'bob-web-secret-22', carol: 'carol-web-secret-333' };
type User = keyof typeof USERS;

let server: TestServer;
const browsers = new Map<User, TestBrowser>();
const page = (u: User): Page => browsers.get(u)!.page;

async function waitUntil<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  const end = start + timeoutMs;
  let last: T;
  for (;;) {
    last = await f();
    if (ok(last)) {
      if (Date.now() - start > 5000) console.warn(`slow: ${what} took ${Date.now() - start} ms`);
      return last;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const view = (u: User) => page(u).locator('#app').getAttribute('data-view');
const callState = (u: User) => page(u).locator('#call-view').getAttribute('data-call-state');
const registration = (u: User) => page(u).locator('#registration').getAttribute('data-state');

/** Media counters must rise by at least `min` over `ms` (media really flows now). */
async function rising(u: User, key: keyof MediaCounters, min: number, ms = 1500): Promise<void> {
  const before = await mediaCounters(page(u));
  await new Promise((r) => setTimeout(r, ms));
  const after = await mediaCounters(page(u));
  expect(after[key] - before[key], `${u}: ${key} ${before[key]} → ${after[key]}`).toBeGreaterThanOrEqual(min);
}

async function flat(u: User, key: keyof MediaCounters, ms = 1500): Promise<void> {
  // Let packets in flight drain, then nothing more may arrive.
  await new Promise((r) => setTimeout(r, 500));
  const before = await mediaCounters(page(u));
  await new Promise((r) => setTimeout(r, ms));
  const after = await mediaCounters(page(u));
  expect(after[key] - before[key], `${u}: ${key} ${before[key]} → ${after[key]}`).toBeLessThanOrEqual(2);
}

async function signIn(u: User): Promise<void> {
  const p = page(u);
  await p.goto(ORIGIN + '/');
  await p.getByLabel('User name').fill(u);
  await p.getByLabel('Password').fill(USERS[u]);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await waitUntil(`${u} registered`, () => registration(u), (s) => s === 'registered');
  expect(await view(u)).toBe('home');
}

async function dial(from: User, target: string, kind: 'Audio call' | 'Video call'): Promise<void> {
  const p = page(from);
  await p.getByLabel('Name or SIP address').first().fill(target);
  await p.getByRole('button', { name: kind, exact: true }).click();
}

/** `from` calls `to`, who answers; resolves when both sides are connected. */
async function connect(from: User, to: User, o: { video?: boolean; answerVideo?: boolean } = {}): Promise<void> {
  await dial(from, to, o.video ? 'Video call' : 'Audio call');
  await waitUntil(`${to} rings`, () => view(to), (v) => v === 'incoming');
  await page(to).getByRole('button', { name: o.answerVideo ? 'Answer with video' : 'Answer with audio' }).click();
  for (const u of [from, to]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
}

async function hangUpAll(...users: User[]): Promise<void> {
  for (const u of users) {
    if ((await view(u)) === 'call') await page(u).getByRole('button', { name: 'Hang up', exact: true }).click().catch(() => undefined);
  }
  for (const u of users) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
}

/** The loudest the other side's audio meter showed over `ms` (0..1). */
async function peakRemoteLevel(u: User, ms = 2500): Promise<number> {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    peak = Math.max(peak, Number(await page(u).locator('#remote-level').evaluate((m) => (m as unknown as { value: number }).value)));
    await new Promise((r) => setTimeout(r, 50));
  }
  return peak;
}

describe.skipIf(!HAVE_NETNS || !HAVE_CHROMIUM)('web client in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'web-client/dist/index.html'))) execFileSync(process.execPath, [join(ROOT, 'web-client/build.ts')], { stdio: 'inherit' });
    // One media worker is enough for the group-call room of the last case.
    server = await startTestServer({ basePort: BASE, users: USERS, overrides: { sfu: { workers: 1, port: 33110, rtcMinPort: 33200, rtcMaxPort: 33299, logLevel: 'error' } } });
    for (const u of Object.keys(USERS) as User[]) browsers.set(u, await launchBrowser());
  }, 120_000);

  afterAll(async () => {
    // SOTTO_TEST_BROWSER_LOG=<dir> keeps each page's console (SIP traces included).
    const dir = process.env.SOTTO_TEST_BROWSER_LOG;
    if (dir) for (const [u, b] of browsers) writeFileSync(join(dir, `${u}.log`), b.log.join('\n'));
    await Promise.all([...browsers.values()].map((b) => b.close()));
    await server?.stop();
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [u, b] of browsers) console.log(`--- ${u} console (last 80) ---\n${b.log.slice(-80).join('\n')}`);
    // Leave no call behind for the next case: a fresh page and a new sign-in for each user.
    for (const u of browsers.keys()) {
      if ((await view(u).catch(() => null)) === 'home') continue;
      await page(u).reload();
      await signIn(u).catch(() => undefined);
    }
  });

  it('serves the page with its CSP and signs alice, bob and carol in over WSS', async () => {
    const res = await page('alice').goto(ORIGIN + '/');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("connect-src 'self'");
    for (const u of ['alice', 'bob', 'carol'] as User[]) await signIn(u);
    expect(await page('alice').locator('#registration').textContent()).toBe('Signed in as alice@localhost');
    expect(server.sip.location.lookup('bob')).toHaveLength(1);
  });

  it('refuses a wrong password with a message, and stays signed out', async () => {
    const p = await browsers.get('carol')!.context.newPage();
    try {
      await p.goto(ORIGIN + '/');
      await p.getByLabel('User name').fill('carol');
      await p.getByLabel('Password').fill('wrong');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await expectText(p, '#sign-in-error', 'Wrong user name or password.');
      expect(await p.locator('#app').getAttribute('data-view')).toBe('sign-in');
    } finally {
      await p.close();
    }
  });

  it('alice calls bob with video: ring-back, bob answers with video, media flows both ways, hang up', async () => {
    await dial('alice', 'bob', 'Video call');
    await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
    expect(await page('bob').getByLabel('Caller').textContent()).toBe('alice');
    await waitUntil('alice hears ring-back', () => page('alice').locator('#app').getAttribute('data-tone'), (t) => t === 'ringback');
    expect(await callState('alice')).toBe('ringing');
    await page('bob').screenshot({ path: artifactPath('incoming-call.png') });

    await page('bob').getByRole('button', { name: 'Answer with video' }).click();
    const answered = performance.now();
    const figures: Record<string, number> = {};
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
    figures.answerToConnectedMs = Math.round(performance.now() - answered);
    expect(await page('alice').locator('#app').getAttribute('data-tone')).toBeNull();

    for (const u of ['alice', 'bob'] as User[]) {
      await waitUntil(`${u} receives audio`, () => mediaCounters(page(u)), (c) => c.audioPacketsReceived > 20);
      await waitUntil(`${u} decodes video`, () => mediaCounters(page(u)), (c) => c.videoFramesDecoded > 5);
    }
    figures.answerToMediaBothWaysMs = Math.round(performance.now() - answered);
    // Both pages encrypt end to end (SFrame): the indicator says so only on evidence, and both
    // show the same security code from the key agreement.
    for (const u of ['alice', 'bob'] as User[]) {
      await waitUntil(`${u}: end-to-end encrypted`, () => page(u).locator('#privacy').getAttribute('data-level'), (l) => l === 'e2ee');
      expect(await page(u).locator('#privacy').textContent()).toBe('End-to-end encrypted');
    }
    figures.answerToE2eeShownMs = Math.round(performance.now() - answered);
    for (const u of ['alice', 'bob'] as User[]) {
      await rising(u, 'audioPacketsReceived', 20);
      await rising(u, 'videoFramesDecoded', 5);
    }
    for (const u of ['alice', 'bob'] as User[]) {
      const c = await mediaCounters(page(u));
      figures[`${u}AudioPacketsReceived`] = c.audioPacketsReceived;
      figures[`${u}VideoFramesDecoded`] = c.videoFramesDecoded;
    }
    // The figures of the closing notes: printed, and kept with the screenshots.
    console.log(`e2e call figures: ${JSON.stringify(figures)}`);
    writeFileSync(artifactPath('call-figures.json'), JSON.stringify(figures, null, 2) + '\n');
    const sas = await page('alice').getByLabel('Security code').getAttribute('data-sas');
    expect(sas?.split(', ')).toHaveLength(5);
    expect(await page('bob').getByLabel('Security code').getAttribute('data-sas')).toBe(sas);
    await page('alice').screenshot({ path: artifactPath('call-alice.png') });
    await page('bob').screenshot({ path: artifactPath('call-bob.png') });

    await page('alice').getByRole('button', { name: 'Hang up' }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
    expect(await page('bob').locator('#last-call').textContent()).toMatch(/^The other side hung up: alice · \d+:\d\d$/);
    expect(await page('alice').getByRole('list', { name: 'Recent calls' }).locator('li').first().getAttribute('data-outcome')).toBe('answered');
  });

  it('with a page that does not encrypt end to end, the call still works and says "Encrypted in transit"', async () => {
    const c = page('carol');
    await c.evaluate(() => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('sotto.e2ee', 'off'));
    await c.reload();
    await signIn('carol');
    try {
      await connect('carol', 'alice', { video: true, answerVideo: true });
      await rising('alice', 'videoFramesDecoded', 5);
      await rising('carol', 'audioPacketsReceived', 20);
      for (const u of ['alice', 'carol'] as User[]) {
        await waitUntil(`${u}: encrypted in transit`, () => page(u).locator('#privacy').getAttribute('data-level'), (l) => l === 'in-transit');
        expect(await page(u).locator('#e2ee').isHidden()).toBe(true);
      }
      await hangUpAll('alice', 'carol');
    } finally {
      await c.evaluate(() => (globalThis as unknown as { localStorage: { removeItem(k: string): void } }).localStorage.removeItem('sotto.e2ee'));
      await c.reload();
      await signIn('carol');
    }
  }, 60_000);

  it('bob declines: alice sees "Call declined" (603)', async () => {
    await dial('alice', 'bob', 'Audio call');
    await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
    await page('bob').getByRole('button', { name: 'Decline' }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
    expect(await page('alice').locator('#last-call').textContent()).toBe('Call declined: bob');
  });

  it('a second caller gets busy (486) while bob is in a call', async () => {
    await dial('alice', 'bob', 'Audio call');
    await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
    await page('bob').getByRole('button', { name: 'Answer with audio' }).click();
    await waitUntil('alice connected', () => callState('alice'), (s) => s === 'connected');
    await dial('carol', 'bob', 'Audio call');
    await waitUntil('carol idle again', () => view('carol'), (v) => v === 'home');
    expect(await page('carol').locator('#last-call').textContent()).toBe('Busy: bob');
    expect(await callState('bob')).toBe('connected');
    await page('bob').getByRole('button', { name: 'Hang up' }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
  });

  it('mute silences alice at bob’s end; camera off hides her preview', async () => {
    await connect('alice', 'bob', { video: true, answerVideo: true });
    await waitUntil('bob hears alice', () => peakRemoteLevel('bob', 1500), (l) => l > 0.2);
    const mute = page('alice').getByRole('button', { name: 'Mute' });
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('true');
    expect(await page('alice').locator('#call-view').getAttribute('data-muted')).toBe('true');
    await new Promise((r) => setTimeout(r, 500));
    expect(await peakRemoteLevel('bob')).toBe(0);
    await mute.click();
    await waitUntil('bob hears alice again', () => peakRemoteLevel('bob', 1500), (l) => l > 0.2);

    const camera = page('alice').getByRole('button', { name: 'Camera' });
    expect(await camera.getAttribute('aria-pressed')).toBe('true');
    await camera.click();
    expect(await camera.getAttribute('aria-pressed')).toBe('false');
    expect(await page('alice').locator('#call-view').getAttribute('data-camera')).toBe('off');
    expect(await page('alice').getByLabel('Your camera').isHidden()).toBe(true);
    await camera.click();
    expect(await camera.getAttribute('aria-pressed')).toBe('true');
    expect(await page('alice').locator('#call-view').getAttribute('data-camera')).toBe('on');
    await hangUpAll('alice', 'bob');
  }, 60_000);

  it('the camera button in an audio call adds video with a re-INVITE', async () => {
    await connect('alice', 'bob');
    const camera = page('alice').getByRole('button', { name: 'Camera' });
    expect(await camera.getAttribute('aria-pressed')).toBe('false');
    expect(await page('alice').locator('#call-view').getAttribute('data-camera')).toBe('none');
    await camera.click();
    await waitUntil('alice sends video', () => page('alice').locator('#call-view').getAttribute('data-camera'), (c) => c === 'on');
    await waitUntil('bob decodes video', () => mediaCounters(page('bob')), (c) => c.videoFramesDecoded > 5);
    await rising('bob', 'videoFramesDecoded', 5);
    await rising('alice', 'audioPacketsReceived', 20);
    await hangUpAll('alice', 'bob');
  }, 60_000);

  it('hold and resume: re-INVITE sendonly stops bob’s media to alice, resume brings it back', async () => {
    await connect('alice', 'bob');
    await rising('alice', 'audioPacketsReceived', 20);
    const hold = page('alice').getByRole('button', { name: 'Hold' });
    await hold.click();
    await waitUntil('alice on hold', () => page('alice').locator('#call-view').getAttribute('data-held'), (h) => h === 'true');
    await waitUntil('bob sees the hold', () => page('bob').locator('#call-view').getAttribute('data-remote-held'), (h) => h === 'true');
    expect(await page('bob').locator('#call-status').textContent()).toBe('alice put the call on hold');
    expect(await hold.getAttribute('aria-pressed')).toBe('true');
    await flat('alice', 'audioPacketsReceived');
    // Still end-to-end encrypted: what flows (alice's side) is encrypted, and nothing else flows.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await page('alice').locator('#privacy').getAttribute('data-level')).toBe('e2ee');
    await page('alice').screenshot({ path: artifactPath('call-on-hold.png') });

    await hold.click();
    await waitUntil('bob sees the resume', () => page('bob').locator('#call-view').getAttribute('data-remote-held'), (h) => h === 'false');
    expect(await page('alice').locator('#call-view').getAttribute('data-held')).toBe('false');
    await rising('alice', 'audioPacketsReceived', 20);
    await hangUpAll('alice', 'bob');
  }, 60_000);

  it('DTMF: tones go out as RFC 4733 events, and by SIP INFO they reach bob’s screen', async () => {
    await connect('alice', 'bob');
    const a = page('alice');
    await a.getByRole('button', { name: 'Keypad' }).click();
    for (const t of ['1', '2', '3']) await a.getByRole('button', { name: `Tone ${t}` }).click();
    // RTCDTMFSender reports each tone as it is played into the RTP stream (tonechange).
    await waitUntil('tones sent in RTP', () => a.getByLabel('Tones sent').textContent(), (t) => t === '123');
    expect(await page('bob').getByLabel('Tones received').textContent()).toBe('');

    await a.getByLabel('Send tones as').selectOption('info');
    // From the keyboard, as a person would type them into the keypad.
    await a.getByRole('button', { name: 'Tone 4' }).focus();
    await a.keyboard.press('4');
    await a.keyboard.press('5');
    await a.keyboard.press('#');
    await waitUntil('tones received by INFO', () => page('bob').getByLabel('Tones received').textContent(), (t) => t === '45#');
    expect(await a.getByLabel('Tones sent').textContent()).toBe('12345#');
    await page('bob').getByRole('button', { name: 'Keypad' }).click();
    await page('bob').screenshot({ path: artifactPath('keypad-bob.png') });
    await hangUpAll('alice', 'bob');
  }, 60_000);

  it('blind transfer: alice transfers bob to carol (REFER); bob and carol talk, alice is free', async () => {
    await connect('alice', 'bob');
    const a = page('alice');
    await a.getByRole('button', { name: 'Transfer' }).click();
    await a.getByLabel('Transfer to').fill('carol');
    await a.getByRole('button', { name: 'Transfer now' }).click();
    await waitUntil('carol rings', () => view('carol'), (v) => v === 'incoming');
    expect(await page('carol').getByLabel('Caller').textContent()).toBe('bob');
    await page('carol').getByRole('button', { name: 'Answer with audio' }).click();
    await waitUntil('alice free', () => view('alice'), (v) => v === 'home');
    expect(await a.locator('#last-call').textContent()).toMatch(/^Call transferred: bob/);
    for (const u of ['bob', 'carol'] as User[]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
    expect(await page('bob').locator('#call-peer').textContent()).toBe('carol');
    await rising('carol', 'audioPacketsReceived', 20);
    await rising('bob', 'audioPacketsReceived', 20);
    await hangUpAll('bob', 'carol');
  }, 60_000);

  it('attended transfer: alice consults carol, then joins bob and carol (REFER with Replaces)', async () => {
    await connect('alice', 'bob');
    const a = page('alice');
    await a.getByRole('button', { name: 'Transfer' }).click();
    await a.getByLabel('Transfer to').fill('carol');
    await a.getByRole('button', { name: 'Talk to them first' }).click();
    await waitUntil('carol rings', () => view('carol'), (v) => v === 'incoming');
    await page('carol').getByRole('button', { name: 'Answer with audio' }).click();
    await waitUntil('alice talks to carol', () => page('alice').locator('#call-peer').textContent(), (t) => t === 'carol');
    await waitUntil('alice and carol connected', () => callState('alice'), (s) => s === 'connected');
    expect(await page('bob').locator('#call-view').getAttribute('data-remote-held')).toBe('true');
    await a.screenshot({ path: artifactPath('attended-transfer-alice.png') });

    await a.getByRole('button', { name: 'Transfer bob to carol' }).click();
    await waitUntil('alice free', () => view('alice'), (v) => v === 'home');
    // carol's call with alice was replaced by one with bob, without ringing.
    await waitUntil('carol talks to bob', () => page('carol').locator('#call-peer').textContent(), (t) => t === 'bob');
    for (const u of ['bob', 'carol'] as User[]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
    expect(await page('bob').locator('#call-peer').textContent()).toBe('carol');
    await rising('carol', 'audioPacketsReceived', 20);
    await rising('bob', 'audioPacketsReceived', 20);
    await hangUpAll('bob', 'carol');
  }, 60_000);

  it('keeps call history and contacts across a reload, encrypted at rest in IndexedDB', async () => {
    const a = page('alice');
    const history = a.getByRole('list', { name: 'Recent calls' });
    await waitUntil('history saved', () => history.locator('li').count(), (n) => n >= 3);
    await a.getByText('Add a contact').click();
    await a.getByLabel('Name', { exact: true }).fill('Carol Danvers');
    await a.locator('#contact-address').fill('carol');
    await a.getByRole('button', { name: 'Save contact' }).click();
    await waitUntil('contact listed', () => a.getByRole('list', { name: 'Contacts' }).locator('li').count(), (n) => n === 1);
    // Calls with carol now show the contact's name.
    const before = await history.locator('li .who').allTextContents();
    expect(before).toContain('↗ Carol Danvers');

    // What IndexedDB holds: ciphertext only, no names or addresses.
    const raw = await a.evaluate(async () => {
      const g = globalThis as unknown as { indexedDB: { open(n: string): { onsuccess: unknown; result: unknown } } };
      const db = await new Promise<{ transaction(s: string): { objectStore(s: string): { getAll(): { onsuccess: unknown; result: unknown } } } }>((resolve) => {
        const r = g.indexedDB.open('sotto');
        r.onsuccess = () => resolve(r.result as never);
      });
      const req = db.transaction('vaults').objectStore('vaults').getAll();
      return await new Promise<string>((resolve) => {
        req.onsuccess = () => resolve(JSON.stringify(req.result));
      });
    });
    expect(raw).toContain('"box"');
    for (const secret of ['bob', 'carol', 'Carol Danvers', 'answered']) expect(raw).not.toContain(secret);

    await a.reload();
    await signIn('alice');
    await waitUntil('history restored', () => history.locator('li .who').allTextContents(), (t) => JSON.stringify(t) === JSON.stringify(before));
    expect(await a.getByRole('list', { name: 'Contacts' }).locator('li .who').allTextContents()).toEqual(['Carol Danvers']);
    await a.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: 'Call Carol Danvers', exact: true }).click();
    await waitUntil('carol rings', () => view('carol'), (v) => v === 'incoming');
    await page('carol').getByRole('button', { name: 'Decline' }).click();
    await waitUntil('alice idle', () => view('alice'), (v) => v === 'home');
    await a.screenshot({ path: artifactPath('home-alice.png'), fullPage: true });
  }, 60_000);

  it('shows an anonymous caller (RFC 3323) as "Anonymous", with no address to call back', async () => {
    // sip.js in Node over WSS, with the From of RFC 3323 §4.1.1.3 and a signalling-only SDP.
    const ua = createNodeUserAgent({ server: `wss://127.0.0.1:${BASE + 3}`, user: 'carol', password: USERS.carol, domain: 'localhost', rtpPort: 40000 });
    await ua.start();
    try {
      const rejected: number[] = [];
      const inviter = new Inviter(ua, UserAgent.makeURI('sip:bob@localhost')!, {
        params: { fromUri: 'sip:anonymous@anonymous.invalid', fromDisplayName: 'Anonymous' },
      });
      void inviter.invite({ requestDelegate: { onReject: (r) => void rejected.push(r.message.statusCode ?? 0) } });
      await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
      const caller = page('bob').getByLabel('Caller');
      expect(await caller.textContent()).toBe('Anonymous');
      expect(await caller.getAttribute('data-anonymous')).toBe('true');
      expect(await page('bob').locator('#incoming-detail').textContent()).toBe('The caller hides their identity.');
      await page('bob').getByRole('button', { name: 'Decline' }).click();
      await waitUntil('603 at the caller', () => rejected, (r) => r.length === 1);
      expect(rejected).toEqual([603]);
      await waitUntil('bob idle', () => view('bob'), (v) => v === 'home');
      const last = page('bob').getByRole('list', { name: 'Recent calls' }).locator('li').first();
      expect(await last.locator('.who').textContent()).toBe('↙ Anonymous');
      expect(await last.getByRole('button').count()).toBe(0);
    } finally {
      await Promise.race([ua.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    }
  });

  it('works from the keyboard alone at phone width (375 px), without sideways scrolling', async () => {
    for (const u of ['alice', 'bob'] as User[]) await page(u).setViewportSize({ width: 375, height: 812 });
    try {
      const a = page('alice');
      const b = page('bob');
      // Focus starts in the dialer; Enter places an audio call (the form's first button).
      await a.getByLabel('Name or SIP address').first().focus();
      await a.keyboard.type('bob');
      await a.keyboard.press('Enter');
      await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
      // The incoming screen puts focus on "Answer with audio".
      await waitUntil('answer focused', () => b.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id), (id) => id === 'answer-audio');
      await b.screenshot({ path: artifactPath('incoming-375.png') });
      await b.keyboard.press('Enter');
      for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
      // Tab to Mute and press Space.
      for (let i = 0; i < 20; i++) {
        await a.keyboard.press('Tab');
        if ((await a.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)) === 'mute') break;
      }
      await a.keyboard.press('Space');
      expect(await a.getByRole('button', { name: 'Mute' }).getAttribute('aria-pressed')).toBe('true');
      for (const u of ['alice', 'bob'] as User[]) {
        const overflow = await page(u).evaluate(() => {
          const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
          return d.scrollWidth - d.clientWidth;
        });
        expect(overflow, `${u} scrolls sideways`).toBe(0);
      }
      await a.screenshot({ path: artifactPath('call-375.png'), fullPage: true });
      // Shift+Tab back… or straight to Hang up: it is reachable and works with Enter.
      await a.getByRole('button', { name: 'Hang up' }).focus();
      await a.keyboard.press('Enter');
      for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
      await a.screenshot({ path: artifactPath('home-375.png'), fullPage: true });
    } finally {
      for (const u of ['alice', 'bob'] as User[]) await page(u).setViewportSize({ width: 800, height: 900 });
    }
  }, 60_000);

  it('signs out: unregisters, and the page forgets the decrypted history', async () => {
    const b = page('bob');
    // At least one call in bob's history first.
    await dial('carol', 'bob', 'Audio call');
    await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
    await b.getByRole('button', { name: 'Decline' }).click();
    await waitUntil('carol idle', () => view('carol'), (v) => v === 'home');
    const entries = await waitUntil('history saved', () => b.getByRole('list', { name: 'Recent calls' }).locator('li').count(), (n) => n > 0);
    expect(server.sip.location.lookup('bob')).toHaveLength(1);
    await b.getByRole('button', { name: 'Sign out' }).click();
    await waitUntil('bob signed out', () => registration('bob'), (s) => s === 'signed-out');
    expect(await view('bob')).toBe('sign-in');
    expect(await b.getByRole('list', { name: 'Recent calls' }).locator('li').count()).toBe(0);
    await waitUntil('binding removed', () => server.sip.location.lookup('bob').length, (n) => n === 0);
    await signIn('bob');
    await waitUntil('history back', () => b.getByRole('list', { name: 'Recent calls' }).locator('li').count(), (n) => n === entries);
  });

  it('keeps the call when alice’s WebSocket is cut: reconnect, re-register, ICE restart, media goes on', async () => {
    await dial('alice', 'bob', 'Audio call');
    await waitUntil('bob rings', () => view('bob'), (v) => v === 'incoming');
    await page('bob').getByRole('button', { name: 'Answer with audio' }).click();
    await waitUntil('alice connected', () => callState('alice'), (s) => s === 'connected');
    await waitUntil('alice receives audio', () => mediaCounters(page('alice')), (c) => c.audioPacketsReceived > 20);
    const sockets = await socketCount(page('alice'));
    const [ufrag] = await iceUfrags(page('alice'));
    expect(await cutSignalling(page('alice'))).toBe(1);
    await waitUntil('alice shows the lost connection', () => registration('alice'), (s) => s === 'reconnecting');
    await waitUntil('alice reconnects', () => socketCount(page('alice')), (n) => n > sockets);
    await waitUntil('alice registered again', () => registration('alice'), (s) => s === 'registered');
    // The re-INVITE after reconnecting restarted ICE: new local credentials.
    await waitUntil('ICE restarted', () => iceUfrags(page('alice')), (u) => u.length === 1 && !!u[0] && u[0] !== ufrag);
    await rising('alice', 'audioPacketsReceived', 20);
    await rising('bob', 'audioPacketsReceived', 20);
    expect(await callState('alice')).toBe('connected');
    // Requests from bob's side must find alice on her new connection.
    await page('bob').getByRole('button', { name: 'Hang up' }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
  }, 60_000);

  it('dialing a room’s name opens its group call page: the server’s 302 leads to this origin only', async () => {
    const token = await roomSignIn(BASE + 3, 'bob', USERS.bob);
    const created = await httpsJson(BASE + 3, 'POST', '/api/rooms', { name: 'weekly-sync' }, token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitUntil('carol registered', () => registration('carol'), (s) => s === 'registered');
    await dial('carol', 'weekly-sync', 'Audio call');
    // The Contact names https://localhost:PORT (the SIP domain); the page opens on its own origin.
    await page('carol').waitForURL(`${ORIGIN}/group.html?room=weekly-sync`, { timeout: 10_000 });
    expect(await page('carol').locator('#group').getAttribute('data-view')).toBe('sign-in');
  });
});

async function expectText(p: Page, selector: string, text: string): Promise<void> {
  await waitUntil(`${selector} says "${text}"`, () => p.locator(selector).textContent(), (t) => t === text);
}

