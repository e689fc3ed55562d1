import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from '../../server/src/config.ts';

const cwd = '/srv/sotto';

describe('configuration', () => {
  it('deploy/sotto.example.yaml lists exactly the built-in defaults (kept in step with the code)', () => {
    const fromExample = loadConfig({ file: 'deploy/sotto.example.yaml', env: {}, cwd });
    const fromDefaults = loadConfig({ env: {}, cwd });
    expect(fromExample).toEqual(fromDefaults);
  });

  it('defaults bind to localhost only', () => {
    const cfg = loadConfig({ env: {}, cwd });
    expect(cfg.sip.listen).toBe('127.0.0.1');
    expect(cfg.http.listen).toBe('127.0.0.1');
    expect(cfg.dataDir).toBe('/srv/sotto/var');
  });

  it('environment overrides the file, with __ between levels and typed values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sotto-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'domain: example.org\nsip:\n  udp: { enabled: true, port: 5070 }\n');
    const cfg = loadConfig({ file, env: { SOTTO_SIP__UDP__PORT: '5080', SOTTO_LOG__LEVEL: 'debug', SOTTO_REGISTRAR__MIN_EXPIRES: '30' }, cwd });
    expect(cfg.domain).toBe('example.org');
    expect(cfg.sip.udp.port).toBe(5080);
    expect(cfg.log.level).toBe('debug');
    expect(cfg.registrar.minExpires).toBe(30);
    expect(cfg.sip.tcp.port).toBe(DEFAULTS.sip.tcp.port);
  });

  it.each([
    [{ SOTTO_SIP__UDP__PORT: '70000' }, 'sip.udp.port'],
    [{ SOTTO_LOG__LEVEL: 'loud' }, 'log.level'],
    [{ SOTTO_DOMAIN: 'bad domain!' }, 'domain'],
    [{ SOTTO_SIP__UDPP__PORT: '1' }, 'sip'],
  ])('rejects %o naming the key %s', (env, key) => {
    expect(() => loadConfig({ env, cwd })).toThrow(ConfigError);
    expect(() => loadConfig({ env, cwd })).toThrow(new RegExp(`\\b${key.replace('.', '\\.')}`));
  });

  it('rejects inconsistent registrar intervals', () => {
    expect(() => loadConfig({ env: { SOTTO_REGISTRAR__MIN_EXPIRES: '4000' }, cwd })).toThrow(/minExpires/);
  });

  it('reports an unreadable or non-YAML file clearly', () => {
    expect(() => loadConfig({ file: '/nonexistent/sotto.yaml', env: {}, cwd })).toThrow(/cannot read config file/);
    const dir = mkdtempSync(join(tmpdir(), 'sotto-cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'domain: [unclosed\n');
    expect(() => loadConfig({ file, env: {}, cwd })).toThrow(/not valid YAML/);
  });
});
