/**
 * Real headless Chromium for end-to-end tests, driven by playwright-core (never its bundled
 * browsers: /usr/bin/chromium from Debian, installed by scripts/setup.sh --test). Flags from
 * /work/shared/chromium.md: fake camera and microphone, no permission prompts, no background
 * traffic, and --allow-loopback-in-peer-connection, without which WebRTC gathers no candidates in
 * the loopback-only namespace the suite runs in. Each browser gets a fresh user-data directory.
 *
 * Pages get an init script that records every WebSocket and RTCPeerConnection the app creates
 * (window.__sotto), so a test can read getStats() or cut the signalling connection without the
 * app exposing test hooks.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { ROOT } from './server.ts';

export const CHROMIUM = process.env.SOTTO_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const ARTIFACTS = join(ROOT, 'test-artifacts');

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // Tones and remote audio start without a click in tests (a person's click would allow them).
  '--autoplay-policy=no-user-gesture-required',
];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console messages and page errors, for failure reports. */
  log: string[];
  close(): Promise<void>;
}

/*
 * Functions below run inside the page (page.evaluate / addInitScript) but are typechecked here,
 * without the DOM library: these few shapes describe what they touch.
 */
interface PageSocket {
  readonly readyState: number;
  readonly protocol: string;
  close(code?: number, reason?: string): void;
}
interface PagePeerConnection {
  readonly connectionState: string;
  readonly localDescription: { sdp: string } | null;
  getStats(): Promise<{ forEach(f: (s: PageStat) => void): void }>;
}
interface PageStat {
  type: string;
  kind?: string;
  packetsReceived?: number;
  framesDecoded?: number;
  packetsSent?: number;
}
interface PageGlobals {
  __sotto: { sockets: PageSocket[]; pcs: PagePeerConnection[] };
  WebSocket: new (url: string | URL, protocols?: string | string[]) => PageSocket;
  RTCPeerConnection: new (config?: unknown) => PagePeerConnection;
}

/** Recorded in every page before the app runs: its WebSockets and peer connections. */
function instrument(): void {
  const g = globalThis as unknown as PageGlobals;
  g.__sotto = { sockets: [], pcs: [] };
  const NativeWs = g.WebSocket;
  g.WebSocket = class extends NativeWs {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      g.__sotto.sockets.push(this);
    }
  };
  const NativePc = g.RTCPeerConnection;
  g.RTCPeerConnection = class extends NativePc {
    constructor(config?: unknown) {
      super(config);
      g.__sotto.pcs.push(this);
    }
  };
}

export async function launchBrowser(o: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'sotto-chromium-'));
  // A persistent context is how playwright takes a user-data directory: a new empty one each time.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    // The test server's certificate is self-signed.
    ignoreHTTPSErrors: true,
    viewport: o.viewport ?? { width: 800, height: 900 },
    permissions: ['camera', 'microphone'],
  });
  await context.addInitScript(instrument);
  // The app's SIP traces go to the console (kept in `log`, printed when a test fails).
  await context.addInitScript(() => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('sotto.debug', '1'));
  const page = context.pages()[0] ?? (await context.newPage());
  const log: string[] = [];
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(3)}s`;
  page.on('console', (m: ConsoleMessage) => log.push(`${at()} [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`${at()} [pageerror] ${e.message}`));
  return {
    context,
    page,
    log,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

export interface MediaCounters {
  audioPacketsReceived: number;
  videoFramesDecoded: number;
  audioPacketsSent: number;
}

/** getStats() over every live RTCPeerConnection of the page, summed. */
export async function mediaCounters(page: Page): Promise<MediaCounters> {
  return page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals;
    const out = { audioPacketsReceived: 0, videoFramesDecoded: 0, audioPacketsSent: 0 };
    for (const pc of g.__sotto.pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioPacketsReceived += s.packetsReceived ?? 0;
        if (s.type === 'inbound-rtp' && s.kind === 'video') out.videoFramesDecoded += s.framesDecoded ?? 0;
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioPacketsSent += s.packetsSent ?? 0;
      });
    }
    return out;
  });
}

/** Close the page's open SIP WebSocket(s) as a network failure would (the app did not ask). */
export async function cutSignalling(page: Page): Promise<number> {
  return page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    let n = 0;
    for (const s of g.__sotto.sockets) {
      // 1 = OPEN; only SIP sockets (RFC 7118 subprotocol "sip").
      if (s.readyState === 1 && s.protocol === 'sip') {
        s.close(4000, 'test: network cut');
        n++;
      }
    }
    return n;
  });
}

/** The local ICE username fragments (RFC 8839 §5.4) of the page's open peer connections: an ICE restart changes them. */
export async function iceUfrags(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (globalThis as unknown as PageGlobals).__sotto.pcs
      .filter((pc) => pc.connectionState !== 'closed')
      .map((pc) => /^a=ice-ufrag:(\S+)/m.exec(pc.localDescription?.sdp ?? '')?.[1] ?? ''),
  );
}

/** How many SIP WebSockets the page has opened so far. */
export async function socketCount(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).__sotto.sockets.length);
}
