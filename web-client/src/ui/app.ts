/**
 * The page: sign-in, then one Phone, its calls on screen, call-progress tones, and the records
 * (history, contacts). Which screen shows is decided by ./view-model.ts from the phone's calls.
 *
 * #app[data-view] names the screen, #registration[data-state] the registration state: tests and
 * assistive technology see what the eyes see.
 */
import { TonePlayer } from '../media/tones.ts';
import type { MediaProtectionFactory } from '../media/media-protection.ts';
import type { Call } from '../sip/call.ts';
import { Phone, SignInError, type PhoneStatus } from '../sip/phone.ts';
import { addContact, addHistory, EMPTY_RECORDS, historyEntry, removeContact, type Records } from '../storage/records.ts';
import type { RecordsStore } from '../storage/store.ts';
import { CallScreen } from './call-screen.ts';
import { byId, setError, setText, show } from './dom.ts';
import { endedText, HomeScreen } from './home-screen.ts';
import { bindSettings, Settings } from './settings.ts';
import { screenFor, type View } from './view-model.ts';

export interface ClientConfig {
  /** SIP domain of the accounts (the server's `domain`). */
  domain: string;
  /** wss:// URL of SIP over WebSocket: the page's own origin. */
  server: string;
  iceServers: RTCIceServer[];
}

export interface AppOptions {
  config: ClientConfig;
  /**
   * Opens the signed-in user's records (encrypted with a key from the password); `reset` starts
   * an empty history in place of one the password no longer opens.
   */
  openRecords(username: string, password: string, domain: string, reset: boolean): Promise<RecordsStore & { close?(): void }>;
  protection?: MediaProtectionFactory;
}

export class App {
  readonly #o: AppOptions;
  readonly #main = byId('app');
  readonly #registration = byId('registration');
  readonly #signOut = byId<HTMLButtonElement>('sign-out');
  readonly #views: Record<Exclude<View, never>, HTMLElement> = {
    'sign-in': byId('sign-in-view'),
    home: byId('home-view'),
    incoming: byId('incoming-view'),
    call: byId('call-view'),
  };
  readonly #signInForm = byId<HTMLFormElement>('sign-in-form');
  readonly #signInError = byId('sign-in-error');
  readonly #incomingCaller = byId('incoming-caller');
  readonly #incomingDetail = byId('incoming-detail');
  readonly #incomingPrivacy = byId('incoming-privacy');
  readonly #settings = new Settings();
  readonly #tones = new TonePlayer();
  readonly #callScreen: CallScreen;
  readonly #home: HomeScreen;
  #phone: Phone | undefined;
  #store: (RecordsStore & { close?(): void }) | undefined;
  readonly #historyReset = byId<HTMLButtonElement>('history-reset');
  #resetHistory: (() => void) | undefined;
  #records: Records = EMPTY_RECORDS;
  #view: View | undefined;
  #statusTimer: ReturnType<typeof setInterval> | undefined;

  constructor(o: AppOptions) {
    this.#o = o;
    this.#callScreen = new CallScreen(() => this.#phone);
    this.#home = new HomeScreen({
      call: async (target, video) => {
        if (!this.#phone) return;
        await this.#phone.call(target, { video });
      },
      saveContact: (c) => this.#update((r) => addContact(r, c)),
      removeContact: (id) => this.#update((r) => removeContact(r, id)),
      domain: () => this.#o.config.domain,
    });
    bindSettings(this.#settings, { requireE2ee: byId<HTMLInputElement>('require-e2ee'), hint: byId('require-e2ee-hint'), canE2ee: !!o.protection });
    this.#signInForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.#signIn();
    });
    this.#signOut.addEventListener('click', () => void this.#signOutNow());
    this.#historyReset.addEventListener('click', () => this.#resetHistory?.());
    byId('answer-audio').addEventListener('click', () => void this.#incoming()?.answer(false));
    byId('answer-video').addEventListener('click', () => void this.#incoming()?.answer(true));
    byId('decline').addEventListener('click', () => void this.#incoming()?.decline());
    // The browser knows when the network is back before our backoff timer does.
    window.addEventListener('online', () => this.#phone?.reconnectNow());
    window.addEventListener('pagehide', () => void this.#phone?.signOut());
  }

  start(): void {
    this.#render();
  }

  // --- sign-in ---------------------------------------------------------------------------------

  async #signIn(): Promise<void> {
    const data = new FormData(this.#signInForm);
    const username = String(data.get('username') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const button = this.#signInForm.querySelector<HTMLButtonElement>('button[type=submit]')!;
    setError(this.#signInError, undefined);
    button.disabled = true;
    this.#setRegistration('connecting', 'Signing in…');
    try {
      const phone = await Phone.signIn({
        server: this.#o.config.server,
        domain: this.#o.config.domain,
        username,
        password,
        iceServers: this.#o.config.iceServers,
        dtmfPreference: () => this.#callScreen.dtmfPreference,
        requireE2ee: () => this.#settings.requireE2ee,
        // SIP traces in the console only when asked for (they name who calls whom).
        ...(debugLogging() ? { log: (line: string) => console.debug(line) } : {}),
        ...(this.#o.protection ? { protection: this.#o.protection } : {}),
      });
      this.#phone = phone;
      phone.events.on('status', (s) => this.#onStatus(s));
      phone.events.on('call', (c) => this.#onCall(c));
      phone.events.on('missed', (peer, reason) => {
        const now = Date.now();
        if (reason === 'e2ee-required') this.#home.setLastCall(endedText(reason, peer.label, 0));
        void this.#update((r) =>
          addHistory(r, historyEntry({ direction: 'incoming', label: peer.label, uri: peer.uri, video: false, createdAt: now, connectedAt: undefined, endedAt: now, endReason: reason }, crypto.randomUUID())),
        );
      });
      this.#signInForm.reset();
      this.#onStatus('registered');
      void this.#openRecords(username, password);
    } catch (err) {
      const msg = err instanceof SignInError ? err.message : `Sign-in failed: ${String(err)}`;
      setError(this.#signInError, msg);
      this.#setRegistration('signed-out', 'Signed out');
    } finally {
      button.disabled = false;
    }
    this.#render();
  }

  async #openRecords(username: string, password: string, reset = false): Promise<void> {
    this.#home.setHistoryState('Unlocking your call history…');
    show(this.#historyReset, false);
    this.#resetHistory = undefined;
    try {
      this.#store = await this.#o.openRecords(username, password, this.#o.config.domain, reset);
      this.#records = await this.#store.load();
      this.#home.setHistoryState(this.#records.history.length ? '' : 'No calls yet.');
    } catch (err) {
      if ((err as { reason?: string }).reason === 'wrong-password') {
        // Signed in, so the server took this password: it was changed since the history was saved.
        this.#home.setHistoryState('Your saved history was locked with a previous password and cannot be opened. New calls are not saved until you start a new history.');
        this.#resetHistory = () => void this.#openRecords(username, password, true);
        show(this.#historyReset, true);
      } else {
        this.#home.setHistoryState(`Your call history cannot be opened here (${(err as Error).message}); new calls are not saved.`);
      }
    }
    this.#home.render(this.#records);
  }

  async #signOutNow(): Promise<void> {
    const phone = this.#phone;
    this.#phone = undefined;
    this.#store?.close?.();
    this.#store = undefined;
    this.#resetHistory = undefined;
    show(this.#historyReset, false);
    // Decrypted records leave memory with the session.
    this.#records = EMPTY_RECORDS;
    this.#home.render(this.#records);
    this.#home.setLastCall('');
    this.#render();
    await phone?.signOut();
    this.#setRegistration('signed-out', 'Signed out');
  }

  // --- phone and calls ---------------------------------------------------------------------------

  #onStatus(s: PhoneStatus): void {
    clearInterval(this.#statusTimer);
    const who = this.#phone ? `${this.#phone.username}@${this.#phone.domain}` : '';
    if (s === 'registered') this.#setRegistration('registered', `Signed in as ${who}`);
    else if (s === 'reconnecting') {
      const text = () => {
        const at = this.#phone?.retryAt;
        const secs = at ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : 0;
        return secs > 0 ? `Connection lost, retrying in ${secs} s…` : 'Connection lost, reconnecting…';
      };
      this.#setRegistration('reconnecting', text());
      this.#statusTimer = setInterval(() => this.#setRegistration('reconnecting', text()), 500);
    } else if (s === 'connecting') this.#setRegistration('connecting', 'Connecting…');
    else this.#setRegistration('signed-out', 'Signed out');
    this.#render();
  }

  #setRegistration(state: string, text: string): void {
    this.#registration.dataset.state = state;
    setText(this.#registration, text);
  }

  #onCall(call: Call): void {
    call.events.on('change', () => this.#render());
    // A room's SIP URI leads to its group call page (always a path on this origin, see
    // sip/group-redirect.ts); it opens here, where the user asked for it.
    call.events.on('groupCall', (path) => location.assign(path));
    call.events.on('ended', (reason) => {
      const duration = call.connectedAt ? (call.endedAt ?? Date.now()) - call.connectedAt : 0;
      this.#home.setLastCall(endedText(reason, call.peer.label, duration));
      void this.#update((r) =>
        addHistory(
          r,
          historyEntry(
            {
              direction: call.direction,
              label: call.peer.label,
              uri: call.peer.uri,
              video: call.video || call.remoteVideo,
              createdAt: call.createdAt,
              connectedAt: call.connectedAt,
              endedAt: call.endedAt ?? Date.now(),
              endReason: reason,
            },
            crypto.randomUUID(),
          ),
        ),
      );
      // The phone forgets ended calls on the next task; render after that.
      setTimeout(() => this.#render(), 0);
    });
    this.#render();
  }

  #incoming(): Call | undefined {
    return this.#phone?.liveCalls.find((c) => c.state === 'incoming');
  }

  async #update(f: (r: Records) => Records): Promise<void> {
    this.#records = f(this.#records);
    this.#home.render(this.#records);
    try {
      await this.#store?.save(this.#records);
    } catch (err) {
      this.#home.setHistoryState(`Could not save: ${(err as Error).message}`);
    }
  }

  // --- rendering -------------------------------------------------------------------------------

  #render(): void {
    const phone = this.#phone;
    const screen = screenFor(!!phone, phone?.calls ?? []);
    const changed = screen.view !== this.#view;
    this.#view = screen.view;
    this.#main.dataset.view = screen.view;
    for (const [name, el] of Object.entries(this.#views)) show(el, name === screen.view);
    show(this.#signOut, !!phone);

    if (screen.view === 'incoming' && screen.current) {
      const c = screen.current;
      setText(this.#incomingCaller, c.peer.label);
      this.#incomingCaller.dataset.anonymous = String(c.peer.anonymous);
      setText(this.#incomingDetail, c.peer.anonymous ? 'The caller hides their identity.' : c.peer.uri);
      // Before answering, the privacy indicator can only say what the INVITE promises.
      const p = c.offerPrivacy;
      this.#incomingPrivacy.dataset.level = p?.level ?? 'unknown';
      setText(this.#incomingPrivacy, p?.label ?? '');
      this.#incomingPrivacy.title = p?.detail ?? '';
      this.#incomingPrivacy.setAttribute('aria-label', p ? `Privacy: ${p.label}. ${p.detail}` : 'Privacy');
    }
    this.#callScreen.show(screen.view === 'call' ? screen.current : undefined, screen.others);

    // Call-progress tones: ring here for an incoming call, ring-back while the far end rings.
    const tone = screen.view === 'incoming' ? 'ringtone' : screen.view === 'call' && screen.current?.state === 'ringing' ? 'ringback' : undefined;
    if (tone) this.#tones.play(tone);
    else this.#tones.stop();
    if (tone) this.#main.dataset.tone = tone;
    else delete this.#main.dataset.tone;

    if (changed) this.#focusView(screen.view);
  }

  #focusView(view: View): void {
    if (view === 'sign-in') byId('username').focus();
    else if (view === 'home') this.#home.focus();
    else if (view === 'incoming') byId('answer-audio').focus();
    else this.#callScreen.focus();
  }
}

/** localStorage 'sotto.debug' = '1' turns on SIP traces in the console. */
function debugLogging(): boolean {
  try {
    return localStorage.getItem('sotto.debug') === '1';
  } catch {
    return false;
  }
}
