/**
 * Drives the group call page (web-client/public/group.html) in headless Chromium for the
 * end-to-end tests and the benchmark: sign in, join, and read what the page really receives
 * (getStats of its peer connections, mapped to the participants by consumer id, and the E2EE
 * worker's per-track counters).
 */
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from './browser.ts';

export interface RemoteStat {
  consumerId: string;
  participantId: string;
  kind: 'audio' | 'video';
  source: string;
  /** Simulcast layers the SFU announced for this consumer. */
  spatialLayer: number | null;
  /** inbound-rtp counters (0 until the first packet). */
  packetsReceived: number;
  framesDecoded: number;
  frameWidth: number;
  /** The E2EE worker's decrypt counters for this track (undefined without a transform). */
  decrypted: number | undefined;
  decryptDropped: number | undefined;
}

export interface GroupSnapshot {
  state: string;
  selfId: string;
  senderKid: string | null;
  encryptedSent: number;
  participants: { id: string; name: string; e2ee: string }[];
  remote: RemoteStat[];
  firstFrameAt: number | null;
  clickedAt: number | null;
}

export interface GroupPage {
  browser: TestBrowser;
  page: Page;
  user: string;
  snapshot(): Promise<GroupSnapshot>;
}

/** What the page-side snapshot code touches (no DOM library in the test's typecheck). */
interface PageWindow {
  __group: {
    call: {
      state: string;
      selfId: string;
      senderKid: bigint | null;
      participants: Map<string, { info: { id: string; name: string } }>;
      e2eeStatus(id: string): string;
      remoteMedia: { consumerId: string; participantId: string; kind: 'audio' | 'video'; source: string; layers: { spatialLayer: number | null } | null }[];
      e2eeTracks: { trackId: string; direction: string; ok: number; dropped: Record<string, number> }[];
    } | null;
    firstFrameAt: number | null;
    clickedAt: number | null;
  };
  __sotto: { pcs: { connectionState: string; getStats(): Promise<{ forEach(f: (s: Record<string, unknown>) => void): void }> }[] };
}

export async function snapshot(page: Page): Promise<GroupSnapshot> {
  return page.evaluate(async () => {
    const w = globalThis as unknown as PageWindow;
    const call = w.__group.call;
    const inbound = new Map<string, { packetsReceived: number; framesDecoded: number; frameWidth: number }>();
    for (const pc of w.__sotto.pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        // mediasoup-client names each receiving track after its consumer id (the msid track id).
        if (s.type === 'inbound-rtp' && typeof s.trackIdentifier === 'string') {
          inbound.set(s.trackIdentifier, {
            packetsReceived: Number(s.packetsReceived ?? 0),
            framesDecoded: Number(s.framesDecoded ?? 0),
            frameWidth: Number(s.frameWidth ?? 0),
          });
        }
      });
    }
    const tracks = call?.e2eeTracks ?? [];
    return {
      state: call?.state ?? 'none',
      selfId: call?.selfId ?? '',
      senderKid: call?.senderKid == null ? null : String(call.senderKid),
      encryptedSent: tracks.filter((t) => t.direction === 'encrypt').reduce((n, t) => n + t.ok, 0),
      participants: call ? [...call.participants.values()].map((p) => ({ id: p.info.id, name: p.info.name, e2ee: call.e2eeStatus(p.info.id) })) : [],
      remote: (call?.remoteMedia ?? []).map((m) => {
        const s = inbound.get(m.consumerId) ?? { packetsReceived: 0, framesDecoded: 0, frameWidth: 0 };
        const t = tracks.find((x) => x.trackId === `recv-${m.consumerId}`);
        return {
          consumerId: m.consumerId,
          participantId: m.participantId,
          kind: m.kind,
          source: m.source,
          spatialLayer: m.layers?.spatialLayer ?? null,
          ...s,
          decrypted: t?.ok,
          decryptDropped: t ? Object.values(t.dropped).reduce((a, b) => a + b, 0) : undefined,
        };
      }),
      firstFrameAt: w.__group.firstFrameAt,
      clickedAt: w.__group.clickedAt,
    };
  });
}

export interface OpenOptions {
  port: number;
  room: string;
  user: string;
  password: string;
  roomPassword?: string;
  /** Camera size asked of Chromium's fake camera (default 640x360: light on 2 cores). */
  camera?: string;
  page?: string;
}

/** Launches a browser, signs in and waits in the lobby (does not join yet). */
export async function openGroupPage(o: OpenOptions): Promise<GroupPage> {
  const browser = await launchBrowser({ viewport: { width: 1000, height: 800 } });
  const page = browser.page;
  await page.goto(`https://127.0.0.1:${o.port}/${o.page ?? 'group.html'}?room=${o.room}&camera=${o.camera ?? '640x360'}`);
  await page.fill('#username', o.user);
  await page.fill('#password', o.password);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#room-box:not([hidden])', { timeout: 10_000 });
  if (o.roomPassword !== undefined) await page.fill('#room-password', o.roomPassword);
  return { browser, page, user: o.user, snapshot: () => snapshot(page) };
}

/** Clicks Join and waits until the call is connected. */
export async function clickJoin(g: GroupPage): Promise<void> {
  await g.page.click('#join');
  await g.page.waitForFunction(() => (globalThis as unknown as PageWindow).__group.call?.state === 'connected', undefined, { timeout: 20_000 });
}

export async function joinGroup(o: OpenOptions): Promise<GroupPage> {
  const g = await openGroupPage(o);
  await clickJoin(g);
  return g;
}

/**
 * Polls until `check` holds for the snapshot (or throws with the last snapshot after timeoutMs).
 */
export async function waitForSnapshot(g: GroupPage, check: (s: GroupSnapshot) => boolean, timeoutMs: number, what: string): Promise<GroupSnapshot> {
  const end = Date.now() + timeoutMs;
  let last: GroupSnapshot | undefined;
  for (;;) {
    last = await g.snapshot();
    if (check(last)) return last;
    if (Date.now() > end) throw new Error(`${g.user}: ${what} not reached in ${timeoutMs} ms; last: ${JSON.stringify(last, null, 1)}\n${g.browser.log.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
