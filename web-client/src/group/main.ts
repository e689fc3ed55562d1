/**
 * The group call page (group.html?room=NAME): sign in with the Sotto account, create or join a
 * room, and the call itself: a tile per video, the participant list with each one's end-to-end
 * encryption state and safety number, encrypted chat, mute/camera/screen/leave, and for the
 * owner a way to remove someone.
 *
 * The session token stays in this page's memory only. `window.__group` exposes the call and a
 * few timings for the end-to-end tests and the benchmark (read-only use; no secrets in it).
 */
import type { RoomInfo } from '../../../sfu/src/signalling/protocol.ts';
import { byId, h, setError, setText, show } from '../ui/dom.ts';
import { canEncrypt } from './e2ee-worker.ts';
import { GroupCall, type RemoteMedia } from './group-call.ts';

interface PageHooks {
  call: GroupCall | null;
  /** performance.now() of the click on Join, and of the first remote video frame painted. */
  clickedAt: number | null;
  firstFrameAt: number | null;
  /** Frames presented per remote video element, by consumer id (requestVideoFrameCallback). */
  framesPresented: Record<string, number>;
  /** Wall-clock time (Date.now()) each remote video showed its first frame, by consumer id. */
  firstFrameWall: Record<string, number>;
}

const hooks: PageHooks = { call: null, clickedAt: null, firstFrameAt: null, framesPresented: {}, firstFrameWall: {} };
(globalThis as unknown as { __group: PageHooks }).__group = hooks;

const views = ['sign-in', 'lobby', 'call', 'ended'] as const;
type View = (typeof views)[number];

let token: string | null = null;
let username = '';
const params = new URLSearchParams(location.search);
const roomName = params.get('room');
/** ?camera=640x360 asks the camera for another size (lighter for tests on small machines). */
const cameraParam = /^(\d{2,4})x(\d{2,4})$/.exec(params.get('camera') ?? '');
const camera = cameraParam ? { width: Number(cameraParam[1]), height: Number(cameraParam[2]) } : undefined;

function view(v: View): void {
  byId('group').dataset.view = v;
  for (const name of views) show(byId(`${name}-view`), name === v);
}

function status(text: string, state: string): void {
  const el = byId('status');
  setText(el, text);
  el.dataset.state = state;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

/* -------------------------------------------------------------------------------------------- */
/* Sign-in and lobby                                                                              */
/* -------------------------------------------------------------------------------------------- */

byId<HTMLFormElement>('sign-in-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.target as HTMLFormElement;
  const user = byId<HTMLInputElement>('username').value.trim();
  const password = byId<HTMLInputElement>('password').value;
  setError(byId('sign-in-error'), undefined);
  void api<{ token: string; username: string }>('POST', '/api/session', { username: user, password }).then(
    (r) => {
      token = r.token;
      username = r.username;
      form.reset();
      void lobby();
    },
    (err: Error) => setError(byId('sign-in-error'), err.message),
  );
});

async function lobby(): Promise<void> {
  view('lobby');
  status(`Signed in as ${username}`, 'signed-in');
  setError(byId('lobby-error'), undefined);
  show(byId('room-box'), false);
  if (!roomName) {
    (byId('create-box') as HTMLDetailsElement).open = true;
    return;
  }
  try {
    const r = await api<{ room: RoomInfo; participants: number }>('GET', `/api/rooms/${encodeURIComponent(roomName)}`);
    setText(byId('room-name'), r.room.id);
    const rules = [`${r.participants}/${r.room.maxParticipants} inside`, r.room.e2eeRequired ? 'end-to-end encryption required' : 'encryption optional'];
    setText(byId('room-rules'), `(${rules.join(', ')})`);
    show(byId('room-password-box'), r.room.hasPassword);
    show(byId('room-box'), true);
    // The user is about to join: start the E2EE worker and libsodium now rather than after the click.
    GroupCall.prepare();
    if (r.room.e2eeRequired && !canEncrypt()) setError(byId('lobby-error'), 'This room requires end-to-end encryption, which this browser cannot do.');
  } catch (err) {
    setError(byId('lobby-error'), (err as Error).message);
  }
}

byId<HTMLFormElement>('create-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = byId<HTMLInputElement>('create-name').value.trim();
  const password = byId<HTMLInputElement>('create-password').value;
  const e2eeRequired = byId<HTMLInputElement>('create-e2ee').checked;
  void api<{ room: RoomInfo }>('POST', '/api/rooms', { ...(name && { name }), ...(password && { password }), e2eeRequired }).then(
    (r) => location.assign(`/group.html?room=${encodeURIComponent(r.room.id)}`),
    (err: Error) => setError(byId('lobby-error'), err.message),
  );
});

byId<HTMLFormElement>('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  hooks.clickedAt = performance.now();
  void join(byId<HTMLInputElement>('room-password').value || undefined);
});

byId('rejoin').addEventListener('click', () => void lobby());

async function join(password: string | undefined): Promise<void> {
  if (!token || !roomName) return;
  const button = byId<HTMLButtonElement>('join');
  button.disabled = true;
  status('Joining…', 'connecting');
  try {
    const call = await GroupCall.join({
      room: roomName,
      token,
      ...(password !== undefined && { password }),
      ...(camera && { camera }),
      startedAt: hooks.clickedAt ?? performance.now(),
    });
    hooks.call = call;
    showCall(call);
  } catch (err) {
    status(`Signed in as ${username}`, 'signed-in');
    setError(byId('lobby-error'), (err as Error).message);
  } finally {
    button.disabled = false;
  }
}

/* -------------------------------------------------------------------------------------------- */
/* The call                                                                                      */
/* -------------------------------------------------------------------------------------------- */

const tiles = new Map<string, { el: HTMLElement; video: HTMLVideoElement; resize: ResizeObserver }>();
const audios = new Map<string, HTMLAudioElement>();

function showCall(call: GroupCall): void {
  view('call');
  status(`In ${call.room.id}`, 'in-call');
  setText(byId('call-room'), call.room.id);
  const link = byId<HTMLAnchorElement>('call-link');
  link.href = call.room.link;
  setText(link, call.room.link);
  setText(byId('call-sip'), call.room.sipUri);
  byId('tiles').replaceChildren();
  byId('chat-log').replaceChildren();
  tiles.clear();
  audios.clear();

  const self = call.localTracks.get('camera');
  if (self) addTile('self', `${username} (you)`, new MediaStream([self]), true);
  for (const m of call.remoteMedia) addMedia(call, m);

  call.on('mediaadded', (m) => addMedia(call, m));
  call.on('mediaremoved', (id) => removeMedia(id));
  call.on('participants', () => renderPeople(call));
  call.on('e2ee', () => renderPeople(call));
  call.on('speaker', (pid) => {
    for (const [, t] of tiles) t.el.dataset.speaking = String(t.el.dataset.participant === pid);
  });
  call.on('chat', (m) => {
    const log = byId('chat-log');
    log.append(h('li', {}, h('strong', { text: `${m.name}: ` }), m.text));
    log.scrollTop = log.scrollHeight;
  });
  call.on('state', (state, reason) => {
    if (state === 'media-restarting') status('Reconnecting media…', 'connecting');
    else if (state === 'connected') status(`In ${call.room.id}`, 'in-call');
    else ended(state, reason);
  });
  renderPeople(call);
  const timer = window.setInterval(() => {
    if (hooks.call !== call || call.state === 'left') {
      window.clearInterval(timer);
      return;
    }
    renderE2ee(call);
    renderPeople(call);
  }, 1000);
}

function addTile(key: string, label: string, stream: MediaStream, self = false, participantId = '', onSize?: (w: number, hgt: number) => void): HTMLVideoElement {
  const video = h('video', { autoplay: '', playsinline: '', 'aria-label': `Video of ${label}` });
  video.muted = true;
  video.srcObject = stream;
  const el = h('div', { class: 'tile', 'data-self': String(self), 'data-participant': participantId, 'data-key': key }, video, h('span', { class: 'name', text: label }));
  const resize = new ResizeObserver(() => {
    const r = video.getBoundingClientRect();
    onSize?.(r.width * devicePixelRatio, r.height * devicePixelRatio);
  });
  resize.observe(video);
  byId('tiles').append(el);
  tiles.set(key, { el, video, resize });
  return video;
}

function addMedia(call: GroupCall, m: RemoteMedia): void {
  const name = call.participants.get(m.participantId)?.info.name ?? '?';
  if (m.kind === 'audio') {
    const audio = new Audio();
    audio.autoplay = true;
    audio.srcObject = new MediaStream([m.track]);
    audios.set(m.consumerId, audio);
    return;
  }
  const label = m.source === 'screen' ? `${name}'s screen` : name;
  const video = addTile(m.consumerId, label, new MediaStream([m.track]), false, m.participantId, (w, hgt) => call.setView(m.consumerId, w, hgt));
  hooks.framesPresented[m.consumerId] = 0;
  const onFrame = (): void => {
    if (!tiles.has(m.consumerId)) return;
    hooks.framesPresented[m.consumerId] = (hooks.framesPresented[m.consumerId] ?? 0) + 1;
    hooks.firstFrameWall[m.consumerId] ??= Date.now();
    if (hooks.firstFrameAt === null) {
      hooks.firstFrameAt = performance.now();
      call.timings.firstFrame = hooks.firstFrameAt - (call.timings.startedAt ?? 0);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function removeMedia(consumerId: string): void {
  const t = tiles.get(consumerId);
  if (t) {
    t.resize.disconnect();
    t.el.remove();
    tiles.delete(consumerId);
  }
  const a = audios.get(consumerId);
  if (a) {
    a.srcObject = null;
    audios.delete(consumerId);
  }
}

/** "End-to-end encrypted" only while frames really are encrypted and decrypted (counters). */
function renderE2ee(call: GroupCall): void {
  const el = byId('call-e2ee');
  if (!call.e2ee) {
    el.dataset.state = 'unencrypted';
    setText(el, 'Not end-to-end encrypted: this browser cannot encrypt media.');
    return;
  }
  const others = [...call.participants.keys()];
  const unencrypted = others.filter((id) => call.e2eeStatus(id) === 'unencrypted');
  const ok = call.sendingEncrypted && others.every((id) => call.e2eeStatus(id) !== 'waiting');
  el.dataset.state = !call.sendingEncrypted ? 'waiting' : unencrypted.length > 0 ? 'unencrypted' : ok ? 'encrypted' : 'waiting';
  setText(
    el,
    !call.sendingEncrypted
      ? 'Setting up end-to-end encryption…'
      : unencrypted.length > 0
        ? `${unencrypted.length} participant(s) not end-to-end encrypted`
        : ok
          ? 'End-to-end encrypted'
          : 'Exchanging keys…',
  );
}

function renderPeople(call: GroupCall): void {
  const list = byId('people');
  const items = [h('li', {}, `${username} (you)`, call.owner ? ' · owner' : '')];
  for (const [id, p] of call.participants) {
    const st = call.e2eeStatus(id);
    const shown = st === 'encrypted' && p.verified ? 'verified' : st;
    const badge = h('span', { class: 'badge', 'data-e2ee': shown, text: shown === 'verified' ? 'verified' : shown === 'encrypted' ? 'encrypted' : shown === 'waiting' ? 'keys…' : 'NOT encrypted' });
    const li = h('li', { 'data-participant': id }, p.info.name, p.info.owner ? ' · owner' : '', badge);
    if (p.info.e2ee) {
      const details = h('details', {}, h('summary', { text: 'Safety number' }));
      const sn = h('p', { class: 'safety', 'aria-label': `Safety number with ${p.info.name}` });
      void call.safetyNumber(id).then((symbols) => {
        if (!symbols) return;
        setText(sn, symbols.map((s) => s.emoji).join(' '));
        sn.title = symbols.map((s) => s.name).join(', ');
      });
      const check = h('input', { type: 'checkbox', id: `verify-${id}` });
      check.checked = p.verified;
      check.addEventListener('change', () => call.setVerified(id, check.checked));
      details.append(sn, h('label', { for: `verify-${id}` }, check, ' Same on both screens: mark as verified'));
      li.append(details);
    }
    if (call.owner) {
      const remove = h('button', { type: 'button', class: 'danger', text: 'Remove' });
      remove.addEventListener('click', () => void call.removeParticipant(id).catch((err: Error) => setError(byId('lobby-error'), err.message)));
      li.append(remove);
    }
    items.push(li);
  }
  // Keep an open safety-number box open across refreshes.
  const open = new Set([...list.querySelectorAll('li[data-participant] details[open]')].map((d) => d.closest('li')!.dataset.participant));
  list.replaceChildren(...items);
  for (const li of list.querySelectorAll<HTMLLIElement>('li[data-participant]')) if (open.has(li.dataset.participant)) li.querySelector('details')!.open = true;
}

function ended(state: string, reason?: string): void {
  for (const t of tiles.values()) t.resize.disconnect();
  tiles.clear();
  audios.clear();
  view('ended');
  status(`Signed in as ${username}`, 'signed-in');
  const text: Record<string, string> = {
    left: 'You left the call.',
    removed: 'The owner removed you from this room.',
    'room-closed': 'The room was closed.',
    disconnected: 'The connection to the server was lost.',
  };
  setText(byId('ended-reason'), reason && state !== 'left' ? `${text[state] ?? state} (${reason})` : (text[state] ?? state));
  show(byId('rejoin'), state !== 'removed');
}

byId('mute').addEventListener('click', (ev) => {
  const b = ev.currentTarget as HTMLButtonElement;
  const on = b.getAttribute('aria-pressed') !== 'true';
  b.setAttribute('aria-pressed', String(on));
  void hooks.call?.setMuted('mic', on);
});
byId('camera').addEventListener('click', (ev) => {
  const b = ev.currentTarget as HTMLButtonElement;
  const on = b.getAttribute('aria-pressed') !== 'true';
  b.setAttribute('aria-pressed', String(on));
  void hooks.call?.setMuted('camera', on);
});
byId('screen').addEventListener('click', (ev) => {
  const b = ev.currentTarget as HTMLButtonElement;
  const on = b.getAttribute('aria-pressed') !== 'true';
  const call = hooks.call;
  if (!call) return;
  void (on ? call.shareScreen() : call.stopScreen()).then(
    () => b.setAttribute('aria-pressed', String(on)),
    (err: Error) => setError(byId('lobby-error'), err.message),
  );
});
byId('leave').addEventListener('click', () => void hooks.call?.leave());
byId<HTMLFormElement>('chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = byId<HTMLInputElement>('chat-input');
  const text = input.value.trim();
  const call = hooks.call;
  if (!text || !call) return;
  void call.sendChat(text).then(() => {
    byId('chat-log').append(h('li', {}, h('strong', { text: 'You: ' }), text));
    input.value = '';
  });
});

view('sign-in');
