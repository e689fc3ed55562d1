/**
 * Start a real Sotto server in the test process, on loopback, with its own data directory and
 * accounts. The test suite runs inside a private network namespace (scripts/test.sh).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../server/src/config.ts';
import { createLogger } from '../../server/src/logger.ts';
import { createServer, type RunningServer } from '../../server/src/main.ts';
import { openUserStore } from '../../server/src/store/open.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface TestServerOptions {
  /** Base port: UDP/TCP on base, TLS on base+1, WS on base+2, WSS on base+3. */
  basePort: number;
  users?: Record<string, string>;
  overrides?: Record<string, unknown>;
  /** Where pino writes (default: stdout at the SOTTO_TEST_LOG level, silent without it). */
  logDestination?: { write(s: string): void };
}

export interface TestServer extends RunningServer {
  config: Config;
  stop(): Promise<void>;
}

export async function startTestServer(o: TestServerOptions): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sotto-test-'));
  const config = loadConfig({
    env: {},
    cwd: ROOT,
    overrides: deepMerge(
      {
        dataDir,
        log: { level: process.env.SOTTO_TEST_LOG ?? 'silent' },
        sip: { udp: { port: o.basePort }, tcp: { port: o.basePort }, tls: { port: o.basePort + 1 } },
        http: { http: { port: o.basePort + 2 }, https: { port: o.basePort + 3 } },
        // sipp 3.6.1 answers only the first challenge and only with MD5.
        auth: { algorithms: ['MD5', 'SHA-256'] },
        security: { rateLimit: { perSecond: 100000, burst: 100000 } },
      },
      o.overrides ?? {},
    ),
  });
  const store = openUserStore(config);
  for (const [u, p] of Object.entries(o.users ?? {})) store.users.addUser(u, p);
  store.close();
  const logger = o.logDestination ? createLogger({ level: config.log.level, identities: config.log.identities, destination: o.logDestination }) : pino({ level: config.log.level });
  const server = await createServer(config, logger);
  return {
    ...server,
    config,
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** True when the suite runs in its private network namespace (scripts/test.sh as root). */
export const HAVE_NETNS = process.env.SOTTO_NO_NETNS !== '1';
