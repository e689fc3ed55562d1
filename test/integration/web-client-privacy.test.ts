/**
 * The softphone's privacy promises, end to end: real server, real headless Chromium, real sipp.
 *
 * 1. A caller that offers plain RTP (a sipp UAC, RTP/AVP PCMU) is shown as "Not encrypted" on the
 *    incoming-call screen before anyone answers; with the setting "Decline calls that are not
 *    end-to-end encrypted" on, the page refuses it before it rings, with 488 and a Warning
 *    (web-client/src/privacy/incoming-offer.ts says why 488), and lists it as declined.
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

describe.skipIf(!HAVE_NETNS || !HAVE_CHROMIUM)('web client privacy', () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'web-client/dist/index.html'))) execFileSync(process.execPath, [join(ROOT, 'web-client/build.ts')], { stdio: 'inherit' });
    server = await startTestServer({ basePort: BASE, users: USERS });
    for (const u of ['bob'] as User[]) browsers.set(u, await launchBrowser());
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
});
