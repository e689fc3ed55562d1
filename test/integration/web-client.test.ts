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
  const end = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await f();
    if (ok(last)) return last;
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

describe.skipIf(!HAVE_NETNS || !HAVE_CHROMIUM)('web client in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'web-client/dist/index.html'))) execFileSync(process.execPath, [join(ROOT, 'web-client/build.ts')], { stdio: 'inherit' });
    server = await startTestServer({ basePort: BASE, users: USERS });
    for (const u of Object.keys(USERS) as User[]) browsers.set(u, await launchBrowser());
  }, 120_000);

  afterAll(async () => {
    // SOTTO_TEST_BROWSER_LOG=<dir> keeps each page's console (SIP traces included).
    const dir = process.env.SOTTO_TEST_BROWSER_LOG;
    if (dir) for (const [u, b] of browsers) writeFileSync(join(dir, `${u}.log`), b.log.join('\n'));
    await Promise.all([...browsers.values()].map((b) => b.close()));
    await server?.stop();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      for (const [u, b] of browsers) console.log(`--- ${u} console (last 80) ---\n${b.log.slice(-80).join('\n')}`);
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
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} connected`, () => callState(u), (s) => s === 'connected');
    expect(await page('alice').locator('#app').getAttribute('data-tone')).toBeNull();

    for (const u of ['alice', 'bob'] as User[]) {
      await waitUntil(`${u} receives audio`, () => mediaCounters(page(u)), (c) => c.audioPacketsReceived > 20);
      await waitUntil(`${u} decodes video`, () => mediaCounters(page(u)), (c) => c.videoFramesDecoded > 5);
    }
    for (const u of ['alice', 'bob'] as User[]) {
      await rising(u, 'audioPacketsReceived', 20);
      await rising(u, 'videoFramesDecoded', 5);
    }
    expect(await page('alice').locator('#privacy').getAttribute('data-level')).toBe('in-transit');
    await page('alice').screenshot({ path: artifactPath('call-alice.png') });
    await page('bob').screenshot({ path: artifactPath('call-bob.png') });

    await page('alice').getByRole('button', { name: 'Hang up' }).click();
    for (const u of ['alice', 'bob'] as User[]) await waitUntil(`${u} idle`, () => view(u), (v) => v === 'home');
    expect(await page('bob').locator('#last-call').textContent()).toMatch(/^The other side hung up: alice · \d+:\d\d$/);
    expect(await page('alice').getByRole('list', { name: 'Recent calls' }).locator('li').first().getAttribute('data-outcome')).toBe('answered');
  });

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
});

async function expectText(p: Page, selector: string, text: string): Promise<void> {
  await waitUntil(`${selector} says "${text}"`, () => p.locator(selector).textContent(), (t) => t === text);
}

// Silence "declared but unused" for helpers used by later cases.
void flat;
