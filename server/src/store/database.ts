/**
 * Sotto's SQLite database, through Node's built-in node:sqlite (DatabaseSync; no native addon).
 *
 * The schema version lives in SQLite's own `PRAGMA user_version` header field. Migrations run
 * in order, each in its own transaction together with the user_version bump, so a crash leaves
 * the database at a consistent version. A database written by a newer Sotto (user_version above
 * the last known migration) is refused rather than guessed at.
 *
 * The file holds HA1 values, which are password-equivalent for the realm: it is created with
 * mode 0600 and its directory with 0700.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface Migration {
  /** The user_version after this migration; versions start at 1 and increase by one. */
  version: number;
  /** What it does, for error messages. */
  description: string;
  /** SQL run with exec(), or a function for migrations that need logic. */
  up: string | ((db: DatabaseSync) => void);
}

/**
 * Sotto's schema, in order. Append new migrations; never edit one that has shipped.
 *
 * v1: accounts. A user is a username and one HA1 per digest algorithm (RFC 7616 §3.4.2), never
 * a password, and nothing personal. The realm the HA1 values were computed for is kept in
 * `settings` (key 'realm'): HA1 depends on it.
 */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'users and settings',
    up: `
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE users (
        username        TEXT PRIMARY KEY NOT NULL,
        ha1_md5         TEXT NOT NULL,
        ha1_sha256      TEXT NOT NULL,
        ha1_sha512_256  TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
]);

export class DatabaseVersionError extends Error {
  override name = 'DatabaseVersionError';
  readonly code = 'DATABASE_TOO_NEW';
}

export interface OpenDatabaseOptions {
  /** Migrations to apply (default: MIGRATIONS). */
  migrations?: readonly Migration[];
  /** Busy timeout in ms when another connection holds a write lock (default 5 000). */
  busyTimeoutMs?: number;
}

/**
 * Open (creating if needed) the database at `path`, or an in-memory one for ':memory:', and
 * bring its schema up to date. WAL mode for file databases: readers never block the writer,
 * so the CLI can change accounts while the server runs.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): DatabaseSync {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Create the file ourselves so that it gets mode 0600 rather than the umask's default.
    closeSync(openSync(path, 'a', 0o600));
  }
  const db = new DatabaseSync(inMemory ? ':memory:' : path, {
    enableForeignKeyConstraints: true,
    enableDoubleQuotedStringLiterals: false,
    timeout: options.busyTimeoutMs ?? 5_000,
  });
  try {
    if (!inMemory) {
      db.exec('PRAGMA journal_mode = WAL');
      // With WAL, NORMAL is durable across application crashes and only risks the last
      // transactions on power loss, without an fsync per commit.
      db.exec('PRAGMA synchronous = NORMAL');
    }
    migrate(db, options.migrations ?? MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The schema version recorded in the database header. */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/** Apply every migration above the current user_version, each atomically with its version bump. */
export function migrate(db: DatabaseSync, migrations: readonly Migration[]): void {
  for (let k = 0; k < migrations.length; k++) {
    if (migrations[k]!.version !== k + 1) throw new Error(`migration #${k} has version ${migrations[k]!.version}, expected ${k + 1}`);
  }
  const latest = migrations.length;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new DatabaseVersionError(
      `database schema version ${current} is newer than this Sotto knows (${latest}); upgrade Sotto or use another database`,
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process may have migrated between our read and the write lock.
      if (schemaVersion(db) >= m.version) {
        db.exec('COMMIT');
        continue;
      }
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.exec(`PRAGMA user_version = ${m.version}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new Error(`database migration ${m.version} (${m.description}) failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
