/** The `sotto` command: help, account management, clear errors, and a server that starts and answers /healthz. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server.ts';

const CLI = join(ROOT, 'server/src/cli.ts');

function sotto(args: string[], env: Record<string, string> = {}, input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, input: input ?? '', encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('sotto command line', () => {
  it('prints help and version', () => {
    const h = sotto(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/sotto user add NAME/);
    expect(sotto(['--version']).out).toMatch(/^sotto \d+\.\d+\.\d+/);
  });

  it('adds, lists, changes and removes users; refuses bad names and short passwords', () => {
    const env = { SOTTO_DATA_DIR: mkdtempSync(join(tmpdir(), 'sotto-cli-')) };
    expect(sotto(['user', 'add', 'alice', '--password-stdin'], env, 'long-enough-pw\n').code).toBe(0);
    const gen = sotto(['user', 'add', 'bob', '--generate'], env);
    expect(gen.code).toBe(0);
    expect(gen.out.trim()).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(sotto(['user', 'list'], env).out).toBe('alice\nbob\n');
    expect(sotto(['user', 'passwd', 'alice', '--password-stdin'], env, 'another-long-pw\n').code).toBe(0);
    const dup = sotto(['user', 'add', 'alice', '--password-stdin'], env, 'long-enough-pw\n');
    expect(dup.code).toBe(2);
    expect(dup.err).toMatch(/already exists/);
    const badName = sotto(['user', 'add', 'Alice Smith', '--password-stdin'], env, 'long-enough-pw\n');
    expect(badName.code).toBe(2);
    expect(badName.err).toMatch(/lower-case letters/);
    const short = sotto(['user', 'add', 'carol', '--password-stdin'], env, 'short\n');
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/at least 8 characters/);
    expect(sotto(['user', 'remove', 'bob'], env).code).toBe(0);
    expect(sotto(['user', 'list'], env).out).toBe('alice\n');
    expect(sotto(['user', 'remove', 'bob'], env).err).toMatch(/no user 'bob'/);
  });

  it('explains unknown commands and invalid configuration', () => {
    const u = sotto(['frobnicate']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command 'frobnicate'.*\n.*--help/);
    const c = sotto(['user', 'list'], { SOTTO_SIP__UDP__PORT: 'seventy' });
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/sip\.udp\.port/);
  });

  it('starts a server that answers /healthz and stops on SIGTERM', async () => {
    const env = {
      ...process.env,
      SOTTO_DATA_DIR: mkdtempSync(join(tmpdir(), 'sotto-cli-')),
      SOTTO_SIP__UDP__PORT: '31060',
      SOTTO_SIP__TCP__PORT: '31060',
      SOTTO_SIP__TLS__PORT: '31061',
      SOTTO_HTTP__HTTP__PORT: '31062',
      SOTTO_HTTP__HTTPS__PORT: '31063',
      SOTTO_LOG__LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [CLI, 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start: ${err}`)), 15_000);
        child.stderr.on('data', () => {
          if (/Sotto is serving/.test(err)) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      const res = await fetch('https://127.0.0.1:31063/healthz');
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: string; listeners: Record<string, boolean> };
      expect(body.status).toBe('ok');
      expect(Object.keys(body.listeners).sort()).toEqual(['tcp:31060', 'tls:31061', 'udp:31060', 'ws:31062', 'wss:31063']);
      const metrics = await (await fetch('http://127.0.0.1:31062/metrics').catch(() => undefined))?.text();
      expect(metrics ?? '').not.toMatch(/sotto_/); // plain HTTP serves only WebSocket upgrades
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code).toBe(0);
    }
  });

  it('says clearly when a port is taken', async () => {
    const env = { SOTTO_DATA_DIR: mkdtempSync(join(tmpdir(), 'sotto-cli-')), SOTTO_SIP__UDP__PORT: '31160', SOTTO_SIP__TCP__PORT: '31160', SOTTO_SIP__TLS__PORT: '31160', SOTTO_HTTP__HTTP__ENABLED: 'false', SOTTO_HTTP__HTTPS__ENABLED: 'false' };
    const r = sotto(['start'], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot listen.*change it in the config/);
  });
});
