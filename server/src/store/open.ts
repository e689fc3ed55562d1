import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { openDatabase } from './database.ts';
import { UserStore } from './user-store.ts';

/** The user store of a configuration: `<dataDir>/sotto.db`, realm = the SIP domain. */
export function openUserStore(cfg: Config): { users: UserStore; close(): void } {
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const db = openDatabase(join(cfg.dataDir, 'sotto.db'));
  return { users: new UserStore(db, { realm: cfg.domain }), close: () => db.close() };
}
