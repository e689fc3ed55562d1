/**
 * Home: the dialer, recent calls (call back with one button) and contacts, and settings.
 */
import { END_REASON_TEXT } from '../sip/call-state.ts';
import { makeContact, type Contact, type HistoryEntry, type Records } from '../storage/records.ts';
import { byId, h, setError, setText } from './dom.ts';
import { formatDuration, formatWhen } from './format.ts';

export interface HomeActions {
  call(target: string, video: boolean): Promise<void>;
  saveContact(contact: Contact): Promise<void>;
  removeContact(id: string): Promise<void>;
  domain(): string;
}

const OUTCOME_TEXT: Record<HistoryEntry['outcome'], string> = {
  answered: '',
  missed: 'missed',
  declined: 'declined',
  busy: 'busy',
  cancelled: 'cancelled',
  unanswered: 'no answer',
  failed: 'failed',
};

export class HomeScreen {
  readonly #dialForm = byId<HTMLFormElement>('dial-form');
  readonly #dialInput = byId<HTMLInputElement>('dial-input');
  readonly #dialError = byId('dial-error');
  readonly #lastCall = byId('last-call');
  readonly #history = byId('history-list');
  readonly #historyState = byId('history-state');
  readonly #contacts = byId('contact-list');
  readonly #contactNames = byId('contact-names');
  readonly #contactForm = byId<HTMLFormElement>('contact-form');
  readonly #contactError = byId('contact-error');
  readonly #a: HomeActions;

  constructor(actions: HomeActions) {
    this.#a = actions;
    this.#dialForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const video = (e.submitter as HTMLButtonElement | null)?.value === 'video';
      void this.#dial(this.#dialInput.value, video);
    });
    this.#contactForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const data = new FormData(this.#contactForm);
      const r = makeContact(String(data.get('name') ?? ''), String(data.get('address') ?? ''), this.#a.domain(), crypto.randomUUID());
      if (!r.ok) return setError(this.#contactError, r.error);
      setError(this.#contactError, undefined);
      this.#contactForm.reset();
      void this.#a.saveContact(r.contact);
    });
  }

  focus(): void {
    this.#dialInput.focus();
  }

  /** A line about the call that just ended ("Call ended · 0:42"). */
  setLastCall(text: string): void {
    setText(this.#lastCall, text);
  }

  setHistoryState(text: string): void {
    setText(this.#historyState, text);
  }

  render(records: Records): void {
    const now = Date.now();
    // A caller we know is shown by the name we gave them, not the one they sent.
    const names = new Map(records.contacts.map((c) => [c.uri, c.name]));
    this.#history.replaceChildren(
      ...records.history.map((e) => {
        const li = h('li', { 'data-outcome': e.outcome, 'data-direction': e.direction, ...(e.why ? { 'data-why': e.why } : {}) });
        const arrow = e.direction === 'incoming' ? '↙' : '↗';
        const outcome = e.why === 'e2ee-required' ? `${OUTCOME_TEXT[e.outcome]}: not end-to-end encrypted` : OUTCOME_TEXT[e.outcome];
        const what = [e.video ? 'video' : 'audio', outcome, e.durationMs ? formatDuration(e.durationMs) : ''].filter(Boolean).join(', ');
        li.append(
          h('span', { class: 'who', text: `${arrow} ${names.get(e.uri) ?? e.label}` }),
          h('span', { class: 'when', text: `${formatWhen(e.at, now)} · ${what}` }),
        );
        if (e.uri) li.append(this.#callButton(e.uri, names.get(e.uri) ?? e.label, e.video));
        return li;
      }),
    );
    if (!records.history.length && !this.#historyState.textContent) this.setHistoryState('No calls yet.');
    this.#contacts.replaceChildren(
      ...records.contacts.map((c) => {
        const li = h('li', { 'data-contact-id': c.id });
        const remove = h('button', { type: 'button', text: 'Remove', 'aria-label': `Remove ${c.name} from contacts` });
        remove.addEventListener('click', () => void this.#a.removeContact(c.id));
        li.append(h('span', { class: 'who', text: c.name, title: c.uri }), this.#callButton(c.uri, c.name, false), this.#callButton(c.uri, c.name, true), remove);
        return li;
      }),
    );
    this.#contactNames.replaceChildren(...records.contacts.map((c) => h('option', { value: c.uri, label: c.name })));
  }

  #callButton(uri: string, label: string, video: boolean): HTMLButtonElement {
    const b = h('button', { type: 'button', text: video ? 'Video' : 'Call', 'aria-label': `${video ? 'Video call' : 'Call'} ${label}` });
    b.addEventListener('click', () => void this.#dial(uri, video));
    return b;
  }

  async #dial(target: string, video: boolean): Promise<void> {
    setError(this.#dialError, undefined);
    try {
      await this.#a.call(target, video);
      this.#dialInput.value = '';
    } catch (err) {
      setError(this.#dialError, (err as Error).message);
    }
  }
}

export function endedText(reason: keyof typeof END_REASON_TEXT, label: string, durationMs: number): string {
  return `${END_REASON_TEXT[reason]}: ${label}${durationMs ? ` · ${formatDuration(durationMs)}` : ''}`;
}
