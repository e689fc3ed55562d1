/**
 * The user's settings that are not call history: kept in localStorage, like the page's other
 * switches ('sotto.e2ee', 'sotto.debug'). They hold no secret and no record of who called, so
 * they need not be sealed with the history; they apply from the next incoming call on, and also
 * before sign-in has unlocked anything.
 */
const REQUIRE_E2EE = 'sotto.requireE2ee';

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: defaults apply
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // storage disabled: the setting lasts as long as the page
  }
}

export class Settings {
  /** Default off: ordinary calls (desk phones, pages without E2EE) ring as before. */
  #requireE2ee = read(REQUIRE_E2EE) === '1';

  get requireE2ee(): boolean {
    return this.#requireE2ee;
  }

  set requireE2ee(on: boolean) {
    this.#requireE2ee = on;
    write(REQUIRE_E2EE, on ? '1' : null);
  }
}

/** Binds the settings form controls of the home screen to `settings`. */
export function bindSettings(settings: Settings, o: { requireE2ee: HTMLInputElement; hint: HTMLElement; canE2ee: boolean }): void {
  o.requireE2ee.checked = settings.requireE2ee;
  o.requireE2ee.addEventListener('change', () => (settings.requireE2ee = o.requireE2ee.checked));
  if (!o.canE2ee) {
    o.hint.textContent += ' This browser cannot encrypt end to end, so with this on every call is declined.';
  }
}
