/**
 * The softphone page's composition root: read the server's client configuration, then start the
 * app. SIP over WebSocket goes to the page's own origin (RFC 7118 §5: the "sip" subprotocol), so
 * the Content Security Policy can stay at connect-src 'self'.
 */
import { e2eeProtection, e2eeSupported } from './media/e2ee-protection.ts';
import { App, type ClientConfig } from './ui/app.ts';
import { EncryptedStore } from './storage/encrypted-store.ts';
import { MemoryStore } from './storage/store.ts';

async function loadConfig(): Promise<ClientConfig> {
  const server = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  let domain = location.hostname;
  let iceServers: RTCIceServer[] = [];
  try {
    const res = await fetch('/client-config.json', { cache: 'no-store' });
    if (res.ok) {
      const c = (await res.json()) as { domain?: unknown; iceServers?: unknown };
      if (typeof c.domain === 'string' && c.domain) domain = c.domain;
      if (Array.isArray(c.iceServers)) iceServers = c.iceServers as RTCIceServer[];
    }
  } catch {
    // Served without the config endpoint: the page's host is the best guess for the domain.
  }
  return { server, domain, iceServers };
}

const config = await loadConfig();
new App({
  config,
  // Calls between two pages that can both encrypt are end-to-end encrypted (SFrame).
  // localStorage 'sotto.e2ee' = 'off' turns it off in this browser (diagnostics, interop tests).
  ...(e2eeSupported() && localStorage.getItem('sotto.e2ee') !== 'off' ? { protection: e2eeProtection() } : {}),
  // Without IndexedDB (some private modes) history lives only as long as the page.
  openRecords: (username, password, domain, reset) =>
    typeof indexedDB === 'undefined' ? Promise.resolve(new MemoryStore()) : EncryptedStore.open(username, password, domain, { reset }),
}).start();
