/**
 * Serves the browser softphone (web-client/dist, built by `npm run build:web`) over HTTPS, on the
 * same port as SIP over WSS, so the page can reach its signalling at its own origin.
 *
 * An encapsulated plugin: its security headers apply to the pages and scripts it serves, not to
 * /healthz or /metrics. The Content Security Policy (CSP Level 3) lets the page load only its own
 * scripts, styles and workers, connect only to its own origin ('self' matches wss: to the same host
 * and port, CSP3 §6.7.2.8), and run no inline script; 'wasm-unsafe-eval' lets libsodium compile its
 * WebAssembly without allowing eval() of JavaScript. The Permissions Policy grants camera and
 * microphone to this origin only and nothing else the softphone does not need.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export interface WebClientOptions {
  /** The built client (web-client/dist). */
  root: string;
  /** What the page needs to know about this server: its SIP domain (the digest realm). */
  domain: string;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  // CSP3: 'self' also matches ws:/wss: URLs of the page's own host and port.
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const PERMISSIONS_POLICY = [
  'camera=(self)',
  'microphone=(self)',
  'display-capture=(self)',
  'autoplay=(self)',
  'geolocation=()',
  'payment=()',
  'usb=()',
  'interest-cohort=()',
].join(', ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'permissions-policy': PERMISSIONS_POLICY,
  'x-content-type-options': 'nosniff',
  // Call targets can appear in URLs; they are nobody else's business.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Chunks carry a content hash in their name (web-client/build.ts), so they never change. */
const HASHED = /^\/chunks\//;

export const webClientPlugin: FastifyPluginAsync<WebClientOptions> = async (app, opts) => {
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    return payload;
  });

  // The page's settings: no secrets, nothing per user. ICE servers stay empty: host candidates
  // only, no third-party STUN that would learn who calls when.
  app.get('/client-config.json', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return { domain: opts.domain, iceServers: [] };
  });

  if (!existsSync(join(opts.root, 'index.html'))) {
    // Setup builds the client; without it the server still serves SIP, and says what is missing.
    app.get('/', async (_req, reply) =>
      reply.code(503).type('text/plain; charset=utf-8').send("The web client is not built: run 'npm run setup' (or 'npm run build:web').\n"),
    );
    return;
  }

  await app.register(fastifyStatic, {
    root: opts.root,
    prefix: '/',
    index: 'index.html',
    // Everything but the hashed chunks is revalidated (ETag) so a new build is picked up at once.
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders: (reply: FastifyReply, path: string) => {
      reply.header('cache-control', HASHED.test(path.slice(opts.root.length)) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};
