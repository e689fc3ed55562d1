/**
 * The web client's HTTP plugin through fastify's inject(): the files of a build are served with
 * the security headers (CSP, Permissions-Policy), only inside the plugin's context, and a missing
 * build is reported instead of a bare 404.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/src/http/app.ts';

const health = { listeners: () => ({ 'wss:8443': true }), metrics: () => ({ sotto_x: 1 }) };

function fakeBuild(): string {
  const root = mkdtempSync(join(tmpdir(), 'sotto-web-'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Sotto</title><script type="module" src="/app.js"></script>');
  writeFileSync(join(root, 'app.js'), 'export {};');
  writeFileSync(join(root, '.secret'), 'dotfile');
  mkdirSync(join(root, 'chunks'));
  writeFileSync(join(root, 'chunks', 'sodium-ABCD1234.js'), 'export {};');
  return root;
}

describe('web client over HTTPS (server/src/http/web-client.ts)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ logger: pino({ level: 'silent' }), health, webClient: { root: fakeBuild(), domain: 'example.org' } });
  });
  afterAll(() => app.close());

  it('serves index.html at / with a CSP that allows only its own origin and no inline script', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<title>Sotto</title>');
    const csp = String(res.headers['content-security-policy']);
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(csp).not.toContain("'unsafe-inline'");
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(res.headers['permissions-policy']).toMatch(/(^|, )camera=\(self\)/);
    expect(res.headers['permissions-policy']).toMatch(/(^|, )microphone=\(self\)/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves scripts as JavaScript; hashed chunks are cached for good, entry scripts revalidated', async () => {
    const app_ = await app.inject({ method: 'GET', url: '/app.js' });
    expect(app_.statusCode).toBe(200);
    expect(app_.headers['content-type']).toMatch(/javascript/);
    expect(app_.headers['cache-control']).toBe('no-cache');
    const chunk = await app.inject({ method: 'GET', url: '/chunks/sodium-ABCD1234.js' });
    expect(chunk.statusCode).toBe(200);
    expect(chunk.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('does not serve dot files or paths outside the build', async () => {
    expect((await app.inject({ method: 'GET', url: '/.secret' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/../package.json' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/%2e%2e/%2e%2e/etc/passwd' })).statusCode).toBe(404);
  });

  it('tells the page its SIP domain, and no ICE servers (no third-party STUN)', async () => {
    const res = await app.inject({ method: 'GET', url: '/client-config.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ domain: 'example.org', iceServers: [] });
  });

  it('keeps its headers to its own context: /healthz has no CSP', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeUndefined();
  });
});

describe('web client not built', () => {
  it('answers / with 503 and says how to build it', async () => {
    const app = await buildApp({ logger: pino({ level: 'silent' }), health, webClient: { root: mkdtempSync(join(tmpdir(), 'sotto-empty-')), domain: 'example.org' } });
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run setup');
    expect(res.headers['content-security-policy']).toBeDefined();
    await app.close();
  });
});
