/**
 * The call screen: who, state, timer, privacy, video, audio meters, controls (mute, camera,
 * hold, keypad, transfer, hang up), the other live calls, and connection details.
 *
 * State is mirrored into data-* attributes of #call-view (call state, held, muted, camera,
 * transfer) and every control has an accessible name, so tests and assistive technology read
 * the same thing the eyes do.
 */
import { LevelMeter } from '../media/level-meter.ts';
import type { Call } from '../sip/call.ts';
import { END_REASON_TEXT } from '../sip/call-state.ts';
import type { DtmfPreference } from '../sip/dtmf.ts';
import type { Phone } from '../sip/phone.ts';
import { byId, h, setError, setText, show } from './dom.ts';
import { formatDuration } from './format.ts';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

export class CallScreen {
  readonly #phone: () => Phone | undefined;
  readonly #root = byId('call-view');
  readonly #peer = byId('call-peer');
  readonly #status = byId('call-status');
  readonly #timer = byId('call-timer');
  readonly #privacy = byId('privacy');
  readonly #e2ee = byId('e2ee');
  readonly #e2eeStatus = byId('e2ee-status');
  readonly #sas = byId('sas');
  readonly #media = document.querySelector<HTMLElement>('#call-view .media')!;
  readonly #remoteVideo = byId<HTMLVideoElement>('remote-video');
  readonly #localVideo = byId<HTMLVideoElement>('local-video');
  readonly #micLevel = byId<HTMLMeterElement>('mic-level');
  readonly #remoteLevel = byId<HTMLMeterElement>('remote-level');
  readonly #mute = byId<HTMLButtonElement>('mute');
  readonly #camera = byId<HTMLButtonElement>('camera');
  readonly #hold = byId<HTMLButtonElement>('hold');
  readonly #keypadToggle = byId<HTMLButtonElement>('keypad-toggle');
  readonly #keypad = byId('keypad');
  readonly #tonesSent = byId('tones-sent');
  readonly #dtmfMethod = byId<HTMLSelectElement>('dtmf-method');
  readonly #tonesReceived = byId('tones-received');
  readonly #transferToggle = byId<HTMLButtonElement>('transfer-toggle');
  readonly #transferForm = byId<HTMLFormElement>('transfer-form');
  readonly #transferTarget = byId<HTMLInputElement>('transfer-target');
  readonly #transferStatus = byId('transfer-status');
  readonly #transferError = byId('transfer-error');
  readonly #hangUp = byId<HTMLButtonElement>('hang-up');
  readonly #others = byId('other-calls');
  readonly #otherList = byId('other-call-list');
  readonly #details = byId('call-details');

  #call: Call | undefined;
  #others_: Call[] = [];
  #audio: AudioContext | undefined;
  #meters: { local?: LevelMeter; remote?: LevelMeter; localStream?: MediaStream; remoteTracks?: string } = {};
  #tick: ReturnType<typeof setInterval> | undefined;
  #meterTick: ReturnType<typeof setInterval> | undefined;

  constructor(phone: () => Phone | undefined) {
    this.#phone = phone;
    const keys = this.#keypad.querySelector('.keys')!;
    for (const k of KEYS) {
      const b = h('button', { type: 'button', 'data-tone': k, 'aria-label': `Tone ${k}`, text: k });
      b.addEventListener('click', () => void this.#call?.sendDtmf(k));
      keys.append(b);
    }
    this.#keypad.addEventListener('keydown', (e) => {
      if (KEYS.includes(e.key) && !(e.target instanceof HTMLInputElement) && !(e.target instanceof HTMLSelectElement)) {
        e.preventDefault();
        void this.#call?.sendDtmf(e.key);
      }
    });
    this.#mute.addEventListener('click', () => this.#call?.setMuted(!this.#call.muted));
    this.#camera.addEventListener('click', () => void this.#call?.setCamera(this.#call.cameraOff || !this.#hasLocalVideo()));
    this.#hold.addEventListener('click', () => void this.#call?.setHeld(!this.#call.held));
    this.#hangUp.addEventListener('click', () => void this.#call?.hangUp());
    this.#keypadToggle.addEventListener('click', () => this.#toggle(this.#keypadToggle, this.#keypad, this.#keypad.querySelector('button')!));
    this.#transferToggle.addEventListener('click', () => this.#toggle(this.#transferToggle, this.#transferForm, this.#transferTarget));
    this.#transferForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const mode = (e.submitter as HTMLButtonElement | null)?.value ?? 'blind';
      void this.#startTransfer(mode === 'consult' ? 'consult' : 'blind');
    });
    this.#root.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      if (!this.#keypad.hidden) this.#toggle(this.#keypadToggle, this.#keypad, this.#keypadToggle);
      if (!this.#transferForm.hidden) this.#toggle(this.#transferToggle, this.#transferForm, this.#transferToggle);
    });
  }

  /** How keypad tones are sent (RFC 4733 when negotiated, or SIP INFO). */
  get dtmfPreference(): DtmfPreference {
    return this.#dtmfMethod.value === 'info' ? 'info' : 'auto';
  }

  /** Show `call` (undefined: leave the screen), with the other live calls listed. */
  show(call: Call | undefined, others: Call[]): void {
    const changed = call !== this.#call;
    this.#call = call;
    this.#others_ = others;
    if (!call) {
      this.#stop();
      return;
    }
    if (changed) {
      this.#remoteVideo.srcObject = null;
      this.#localVideo.srcObject = null;
      this.#closeMeters();
      setError(this.#transferError, undefined);
      setText(this.#transferStatus, '');
      this.#keypad.hidden = true;
      this.#keypadToggle.setAttribute('aria-expanded', 'false');
      this.#transferForm.hidden = true;
      this.#transferToggle.setAttribute('aria-expanded', 'false');
    }
    this.#tick ??= setInterval(() => void this.#everySecond(), 1000);
    this.#meterTick ??= setInterval(() => this.#updateMeters(), 100);
    this.render();
  }

  render(): void {
    const c = this.#call;
    if (!c) return;
    const d = this.#root.dataset;
    d.callId = c.id;
    d.callState = c.state;
    d.held = String(c.held);
    d.remoteHeld = String(c.remoteHeld);
    d.muted = String(c.muted);
    d.camera = this.#hasLocalVideo() ? (c.cameraOff ? 'off' : 'on') : 'none';
    d.transfer = c.transfer?.state ?? '';
    d.direction = c.direction;
    setText(this.#peer, c.peer.label);
    this.#peer.title = c.peer.uri;
    setText(this.#status, this.#statusText(c));
    const connected = c.state === 'connected';
    for (const b of [this.#mute, this.#hold, this.#keypadToggle, this.#transferToggle, this.#camera]) b.disabled = !connected;
    this.#mute.setAttribute('aria-pressed', String(c.muted));
    this.#hold.setAttribute('aria-pressed', String(c.held));
    // Pressed: our camera is sending. In an audio call, pressing it adds video (re-INVITE).
    this.#camera.setAttribute('aria-pressed', String(this.#hasLocalVideo() && !c.cameraOff));
    this.#hangUp.textContent = c.state === 'calling' || c.state === 'ringing' ? 'Cancel' : 'Hang up';
    this.#hangUp.setAttribute('aria-label', c.state === 'calling' || c.state === 'ringing' ? 'Cancel call' : 'Hang up');
    setText(this.#tonesSent, c.sentTones);
    setText(this.#tonesReceived, c.receivedTones);
    if (c.transfer) setText(this.#transferStatus, transferText(c));
    this.#attachMedia(c);
    // Show the media protection as soon as the answer is in, not a second later.
    if (c.state === 'connected' && c.privacy.level === 'unknown') c.refreshPrivacy();
    this.#renderTimer(c);
    this.#renderPrivacy(c);
    this.#renderEncryption(c);
    this.#renderOthers();
  }

  #renderEncryption(c: Call): void {
    const e = c.encryption;
    show(this.#e2ee, !!e);
    this.#e2ee.dataset.state = e?.state ?? '';
    if (!e) return;
    if (e.state === 'agreeing') setText(this.#e2eeStatus, 'Setting up end-to-end encryption…');
    else if (e.state === 'failed') setText(this.#e2eeStatus, `End-to-end encryption failed (${e.error ?? 'unknown error'}): no media is sent in clear instead.`);
    else setText(this.#e2eeStatus, `Security code: read it to ${c.peer.label}. If yours match, nobody is listening in between.`);
    const sas = e.sas ?? [];
    const joined = sas.join(', ');
    if (this.#sas.dataset.sas !== joined) {
      // Emoji with their names: the names are what people read aloud, and they still show
      // where no emoji font is installed.
      this.#sas.replaceChildren(
        ...sas.map((s) => {
          const [emoji = '', ...name] = s.split(' ');
          return h('span', { class: 'sas-symbol' }, h('span', { class: 'sas-emoji', 'aria-hidden': 'true', text: emoji }), h('span', { text: name.join(' ') }));
        }),
      );
      this.#sas.dataset.sas = joined;
    }
    show(this.#sas, sas.length > 0);
  }

  focus(): void {
    this.#peer.tabIndex = -1;
    this.#peer.focus();
  }

  // --- rendering ---------------------------------------------------------------------------

  #statusText(c: Call): string {
    if (this.#phone()?.status === 'reconnecting' && c.state === 'connected') return 'Connection lost, reconnecting…';
    switch (c.state) {
      case 'calling':
        return 'Calling…';
      case 'ringing':
        return 'Ringing…';
      case 'connecting':
        return 'Connecting…';
      case 'incoming':
        return 'Incoming call';
      case 'ended':
        return END_REASON_TEXT[c.endReason ?? 'hung-up'];
      case 'connected':
        if (c.held && c.remoteHeld) return 'On hold (both sides)';
        if (c.held) return 'On hold';
        if (c.remoteHeld) return `${c.peer.label} put the call on hold`;
        if (c.referredBy) return `Being transferred by ${c.referredBy}`;
        return c.renegotiating ? 'Connected (updating…)' : 'Connected';
    }
  }

  #attachMedia(c: Call): void {
    const remote = c.remoteStream;
    if (remote && this.#remoteVideo.srcObject !== remote) {
      this.#remoteVideo.srcObject = remote;
      void this.#remoteVideo.play().catch(() => undefined);
    }
    const local = c.localStream;
    if (local && this.#localVideo.srcObject !== local) this.#localVideo.srcObject = local;
    const remoteVideo = !!remote?.getVideoTracks().length;
    const localVideo = this.#hasLocalVideo();
    this.#media.dataset.video = remoteVideo || localVideo ? 'yes' : 'none';
    show(this.#localVideo, localVideo && !c.cameraOff);
  }

  #hasLocalVideo(): boolean {
    return !!this.#call?.localStream?.getVideoTracks().length;
  }

  #renderTimer(c: Call): void {
    setText(this.#timer, c.connectedAt ? formatDuration((c.endedAt ?? Date.now()) - c.connectedAt) : '0:00');
  }

  #renderPrivacy(c: Call): void {
    const p = c.privacy;
    this.#privacy.dataset.level = p.level;
    setText(this.#privacy, p.label);
    this.#privacy.title = p.detail;
    this.#privacy.setAttribute('aria-label', `Privacy: ${p.label}. ${p.detail}`);
  }

  #renderOthers(): void {
    const current = this.#call;
    show(this.#others, this.#others_.length > 0);
    this.#otherList.replaceChildren(
      ...this.#others_.map((o) => {
        const li = h('li', { 'data-call-id': o.id, 'data-call-state': o.state, 'data-held': String(o.held) });
        li.append(h('span', { class: 'who', text: `${o.peer.label} · ${o.held ? 'on hold' : this.#statusText(o)}` }));
        if (o.held) {
          const resume = h('button', { type: 'button', text: 'Resume', 'aria-label': `Resume call with ${o.peer.label}` });
          resume.addEventListener('click', () => void this.#swapTo(o));
          li.append(resume);
        }
        if (current && current.state === 'connected' && o.state === 'connected') {
          const t = h('button', { type: 'button', text: 'Complete transfer', 'aria-label': `Transfer ${o.peer.label} to ${current.peer.label}` });
          t.addEventListener('click', () => void o.attendedTransfer(current).catch((err: unknown) => setError(this.#transferError, String(err))));
          li.append(t);
        }
        const end = h('button', { type: 'button', class: 'danger', text: 'Hang up', 'aria-label': `Hang up call with ${o.peer.label}` });
        end.addEventListener('click', () => void o.hangUp());
        li.append(end);
        return li;
      }),
    );
  }

  // --- actions -------------------------------------------------------------------------------

  #toggle(button: HTMLButtonElement, panel: HTMLElement, focus: HTMLElement): void {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    (open ? focus : button).focus();
  }

  async #swapTo(other: Call): Promise<void> {
    if (this.#call && this.#call.state === 'connected' && !this.#call.held) await this.#call.setHeld(true);
    await other.setHeld(false);
  }

  async #startTransfer(mode: 'blind' | 'consult'): Promise<void> {
    const c = this.#call;
    const phone = this.#phone();
    if (!c || !phone) return;
    setError(this.#transferError, undefined);
    let target: { uri: string; label: string };
    try {
      target = phone.targetUri(this.#transferTarget.value);
    } catch (err) {
      setError(this.#transferError, (err as Error).message);
      return;
    }
    try {
      if (mode === 'blind') {
        await c.blindTransfer(target.uri, target.label);
      } else {
        // Attended transfer, step 1: hold this call and call the target (RFC 5589 §7).
        await c.setHeld(true);
        await phone.call(this.#transferTarget.value, { video: c.video });
      }
      this.#transferTarget.value = '';
    } catch (err) {
      setError(this.#transferError, (err as Error).message);
    }
  }

  // --- periodic updates ------------------------------------------------------------------------

  async #everySecond(): Promise<void> {
    const c = this.#call;
    if (!c) return;
    c.refreshPrivacy();
    this.#renderTimer(c);
    this.#renderPrivacy(c);
    const s = await c.stats();
    if (!s || c !== this.#call) return;
    const rows: [string, string][] = [
      ['Audio packets received', String(s.audio.packetsReceived)],
      ['Audio packets lost', String(s.audio.packetsLost)],
      ['Audio jitter', `${s.audio.jitterMs.toFixed(1)} ms`],
      ['Video frames decoded', String(s.video.framesDecoded)],
      ['Video', s.video.frameWidth ? `${s.video.frameWidth}×${s.video.frameHeight} at ${Math.round(s.video.framesPerSecond)} fps` : 'none'],
      ['Round trip', s.rttMs === undefined ? 'unknown' : `${Math.round(s.rttMs)} ms`],
      ['Keypad tones', c.lastDtmfMethod === 'rfc4733' ? 'RTP events (RFC 4733)' : c.lastDtmfMethod === 'info' ? 'SIP INFO' : 'none sent'],
    ];
    this.#details.dataset.audioPacketsReceived = String(s.audio.packetsReceived);
    this.#details.dataset.videoFramesDecoded = String(s.video.framesDecoded);
    this.#details.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
  }

  #updateMeters(): void {
    const c = this.#call;
    if (!c) return;
    this.#audio ??= new AudioContext();
    if (this.#audio.state === 'suspended') void this.#audio.resume().catch(() => undefined);
    const local = c.localStream;
    if (local && local.getAudioTracks().length && this.#meters.localStream !== local) {
      this.#meters.local?.close();
      this.#meters.local = new LevelMeter(local, this.#audio);
      this.#meters.localStream = local;
    }
    const remote = c.remoteStream;
    const remoteTracks = remote?.getAudioTracks().map((t) => t.id).join(',');
    if (remote && remoteTracks && this.#meters.remoteTracks !== remoteTracks) {
      this.#meters.remote?.close();
      this.#meters.remote = new LevelMeter(remote, this.#audio);
      this.#meters.remoteTracks = remoteTracks;
    }
    this.#micLevel.value = c.muted || c.held ? 0 : (this.#meters.local?.level() ?? 0);
    this.#remoteLevel.value = this.#meters.remote?.level() ?? 0;
  }

  #closeMeters(): void {
    this.#meters.local?.close();
    this.#meters.remote?.close();
    this.#meters = {};
  }

  #stop(): void {
    clearInterval(this.#tick);
    clearInterval(this.#meterTick);
    this.#tick = this.#meterTick = undefined;
    this.#closeMeters();
    this.#remoteVideo.srcObject = null;
    this.#localVideo.srcObject = null;
  }
}

function transferText(c: Call): string {
  const t = c.transfer!;
  switch (t.state) {
    case 'requested':
      return `Asking ${c.peer.label} to call ${t.target}…`;
    case 'trying':
      return `${c.peer.label} is calling ${t.target}…`;
    case 'ringing':
      return `${t.target} is ringing…`;
    case 'done':
      return `Transferred to ${t.target}`;
    case 'failed':
      return `The transfer to ${t.target} failed; the call goes on`;
  }
}
