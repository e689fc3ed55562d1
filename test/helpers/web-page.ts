/**
 * Small steps for driving the softphone page (web-client/) in a test: wait for a condition, sign
 * in through the form as a person would. The same steps as in test/integration/web-client.test.ts,
 * taking the page and origin as arguments so that other test files can use them.
 */
import type { Page } from 'playwright-core';

export async function waitUntil<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await f();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const pageView = (p: Page) => p.locator('#app').getAttribute('data-view');

/** Open the page at `origin` and sign in; resolves once registered and on the home screen. */
export async function signInPage(p: Page, origin: string, user: string, password: string): Promise<void> {
  await p.goto(origin + '/');
  await p.getByLabel('User name').fill(user);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await waitUntil(`${user} registered`, () => p.locator('#registration').getAttribute('data-state'), (s) => s === 'registered');
  await waitUntil(`${user} home`, () => pageView(p), (v) => v === 'home');
}
