/**
 * Accounts: a username and a password, nothing personal.
 *
 * The password itself is never stored: only HA1 = H(username:realm:password) for each digest
 * algorithm (RFC 7616 §3.4.2, RFC 8760 §2.1), computed once when the password is set. Because
 * HA1 includes the realm, a store belongs to one realm, recorded in the database on first use.
 * Opening it for another realm fails with RealmMismatchError: changing the realm means every
 * password has to be set again (remove and re-add the users, or setPassword each one), as the
 * old HA1 values can never verify under the new realm.
 *
 * Reads for authentication go through an in-memory LRU cache (positive and negative entries) in
 * front of SQLite, so a REGISTER costs a Map lookup. Changes made through this store invalidate
 * the cache at once; changes committed by another connection or process (e.g. the `sotto user`
 * CLI while the server runs) are noticed through `PRAGMA data_version`, checked at most every
 * `externalChangeCheckMs`.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { computeAllHa1, type DigestAlgorithm } from '../auth/password.ts';

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

export class UserStoreError extends Error {
  override name = 'UserStoreError';
  readonly code: string = 'USER_STORE_ERROR';
}

export class UserExistsError extends UserStoreError {
  override name = 'UserExistsError';
  override readonly code = 'USER_EXISTS';
  constructor(username: string) {
    super(`user "${username}" already exists`);
  }
}

export class UnknownUserError extends UserStoreError {
  override name = 'UnknownUserError';
  override readonly code = 'UNKNOWN_USER';
  constructor(username: string) {
    super(`no user "${username}"`);
  }
}

export class InvalidUsernameError extends UserStoreError {
  override name = 'InvalidUsernameError';
  override readonly code = 'INVALID_USERNAME';
}

/** The message says what is wrong with the password, never what the password is. */
export class InvalidPasswordError extends UserStoreError {
  override name = 'InvalidPasswordError';
  override readonly code = 'INVALID_PASSWORD';
}

export class RealmMismatchError extends UserStoreError {
  override name = 'RealmMismatchError';
  override readonly code = 'REALM_MISMATCH';
  constructor(stored: string, requested: string) {
    super(
      `the user database was created for realm "${stored}" but realm "${requested}" is configured; ` +
        'stored password hashes (HA1) depend on the realm, so changing it requires resetting every password ' +
        '(use a new database and add the users again, or configure the old realm)',
    );
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Validation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

export const USERNAME_MAX_LENGTH = 64;
const USERNAME_RE = /^[a-z0-9._-]{1,64}$/;

/** True if `username` is a valid account name (lower-case letters, digits, ".", "-", "_"; 1-64 characters). */
export function isValidUsername(username: string): boolean {
  return typeof username === 'string' && USERNAME_RE.test(username);
}

/**
 * Throw InvalidUsernameError with a message that says what to change. Usernames are SIP
 * user-parts (RFC 3261 §25.1 `user`) that need no escaping anywhere: lower-case letters,
 * digits, ".", "-" and "_", 1 to 64 characters. Lower case only, because the SIP user-part is
 * case-sensitive and "Alice" and "alice" must not become two accounts.
 */
export function validateUsername(username: string): void {
  if (typeof username !== 'string') throw new InvalidUsernameError('username must be a string');
  if (username.length === 0) throw new InvalidUsernameError('username must not be empty');
  if (username.length > USERNAME_MAX_LENGTH) {
    throw new InvalidUsernameError(`username is ${username.length} characters long; at most ${USERNAME_MAX_LENGTH} are allowed`);
  }
  if (USERNAME_RE.test(username)) return;
  if (/[A-Z]/.test(username) && USERNAME_RE.test(username.toLowerCase())) {
    throw new InvalidUsernameError(`username ${JSON.stringify(username)} has upper-case letters; usernames are lower case (e.g. ${JSON.stringify(username.toLowerCase())})`);
  }
  let pos = 0;
  for (const ch of username) {
    if (!/^[a-z0-9._-]$/.test(ch)) {
      throw new InvalidUsernameError(
        `username ${JSON.stringify(username)} contains ${JSON.stringify(ch)} at position ${pos + 1}; ` +
          'only lower-case letters a-z, digits 0-9, ".", "-" and "_" are allowed',
      );
    }
    pos++;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Store                                                                                      */
/* ------------------------------------------------------------------------------------------ */

export interface UserStoreOptions {
  /** The realm HA1 values are computed for; fixed for the life of the database. */
  realm: string;
  /** Maximum cached HA1 records, positive and negative (default 10 000). */
  cacheSize?: number;
  /** Minimum password length in characters (default 8). */
  minPasswordLength?: number;
  /** Maximum password length in characters (default 1 024). */
  maxPasswordLength?: number;
  /** How often to look for changes by other connections, in ms (default 1 000; 0 = at every lookup). */
  externalChangeCheckMs?: number;
  /** Clock for created/updated times, ms since the epoch (default Date.now). */
  now?: () => number;
}

export interface UserSummary {
  username: string;
  createdAt: Date;
}

interface Ha1Row {
  ha1_md5: string;
  ha1_sha256: string;
  ha1_sha512_256: string;
}

const COLUMN: Readonly<Record<DigestAlgorithm, keyof Ha1Row>> = {
  MD5: 'ha1_md5',
  'SHA-256': 'ha1_sha256',
  'SHA-512-256': 'ha1_sha512_256',
};

export class UserStore {
  readonly #db: DatabaseSync;
  readonly #realm: string;
  readonly #cacheSize: number;
  readonly #minPassword: number;
  readonly #maxPassword: number;
  readonly #checkEveryMs: number;
  readonly #now: () => number;
  /** username → HA1 row, or null for "no such user". Map order = least recently used first. */
  readonly #cache = new Map<string, Ha1Row | null>();
  #dataVersion: number;
  #lastCheck = Number.NEGATIVE_INFINITY;

  readonly #selectHa1: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;
  readonly #exists: StatementSync;
  readonly #list: StatementSync;
  readonly #dataVersionStmt: StatementSync;

  /**
   * `db` must have been opened with openDatabase() (schema v1 or later). Throws
   * RealmMismatchError when the database belongs to another realm.
   */
  constructor(db: DatabaseSync, options: UserStoreOptions) {
    const realm = options.realm;
    if (typeof realm !== 'string' || realm.length === 0) throw new TypeError('realm must be a non-empty string');
    this.#db = db;
    this.#realm = realm;
    this.#cacheSize = Math.max(0, options.cacheSize ?? 10_000);
    this.#minPassword = options.minPasswordLength ?? 8;
    this.#maxPassword = options.maxPasswordLength ?? 1024;
    this.#checkEveryMs = options.externalChangeCheckMs ?? 1_000;
    this.#now = options.now ?? Date.now;

    db.exec('BEGIN IMMEDIATE');
    try {
      const row = db.prepare("SELECT value FROM settings WHERE key = 'realm'").get() as { value: string } | undefined;
      if (row === undefined) db.prepare("INSERT INTO settings (key, value) VALUES ('realm', ?)").run(realm);
      else if (row.value !== realm) throw new RealmMismatchError(row.value, realm);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }

    this.#selectHa1 = db.prepare('SELECT ha1_md5, ha1_sha256, ha1_sha512_256 FROM users WHERE username = ?');
    this.#insert = db.prepare(
      `INSERT INTO users (username, ha1_md5, ha1_sha256, ha1_sha512_256, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING`,
    );
    this.#update = db.prepare('UPDATE users SET ha1_md5 = ?, ha1_sha256 = ?, ha1_sha512_256 = ?, updated_at = ? WHERE username = ?');
    this.#delete = db.prepare('DELETE FROM users WHERE username = ?');
    this.#exists = db.prepare('SELECT 1 AS found FROM users WHERE username = ?');
    this.#list = db.prepare('SELECT username, created_at FROM users ORDER BY username');
    this.#dataVersionStmt = db.prepare('PRAGMA data_version');
    this.#dataVersion = this.#readDataVersion();
  }

  get realm(): string {
    return this.#realm;
  }

  /** Create an account. Throws InvalidUsernameError, InvalidPasswordError or UserExistsError. */
  addUser(username: string, password: string): void {
    validateUsername(username);
    this.#validatePassword(password);
    const h = computeAllHa1(username, this.#realm, password);
    const t = this.#now();
    const r = this.#insert.run(username, h.MD5, h['SHA-256'], h['SHA-512-256'], t, t);
    this.#cache.delete(username);
    if (Number(r.changes) === 0) throw new UserExistsError(username);
  }

  /** Delete an account. Throws InvalidUsernameError or UnknownUserError. */
  removeUser(username: string): void {
    validateUsername(username);
    const r = this.#delete.run(username);
    this.#cache.delete(username);
    if (Number(r.changes) === 0) throw new UnknownUserError(username);
  }

  /** Replace the password (all HA1 values) of an account. Throws InvalidUsernameError, InvalidPasswordError or UnknownUserError. */
  setPassword(username: string, password: string): void {
    validateUsername(username);
    this.#validatePassword(password);
    const h = computeAllHa1(username, this.#realm, password);
    const r = this.#update.run(h.MD5, h['SHA-256'], h['SHA-512-256'], this.#now(), username);
    this.#cache.delete(username);
    if (Number(r.changes) === 0) throw new UnknownUserError(username);
  }

  /** Every account's name and creation time, by name. Nothing else is stored. */
  listUsers(): UserSummary[] {
    const rows = this.#list.all() as Array<{ username: string; created_at: number }>;
    return rows.map((r) => ({ username: r.username, createdAt: new Date(r.created_at) }));
  }

  /** True if the account exists (false for names that are not even valid). */
  hasUser(username: string): boolean {
    if (!isValidUsername(username)) return false;
    // The registrar asks on every REGISTER: answer from the HA1 cache when it knows the name.
    this.#noticeExternalChanges();
    const cached = this.#cache.get(username);
    if (cached !== undefined) return cached !== null;
    return this.#exists.get(username) !== undefined;
  }

  /**
   * The stored HA1 of `username` for `algorithm`, or undefined for an unknown (or invalid)
   * username. Served from the cache; this is the lookup the DigestAuthenticator uses.
   */
  getHa1(username: string, algorithm: DigestAlgorithm): string | undefined {
    if (!isValidUsername(username)) return undefined;
    this.#noticeExternalChanges();
    let row = this.#cache.get(username);
    if (row !== undefined) {
      // Refresh recency: the Map's first entry is the least recently used.
      this.#cache.delete(username);
      this.#cache.set(username, row);
    } else {
      row = (this.#selectHa1.get(username) as Ha1Row | undefined) ?? null;
      if (this.#cacheSize > 0) {
        if (this.#cache.size >= this.#cacheSize) {
          const oldest = this.#cache.keys().next();
          if (!oldest.done) this.#cache.delete(oldest.value);
        }
        this.#cache.set(username, row);
      }
    }
    return row === null ? undefined : row[COLUMN[algorithm]];
  }

  /** getHa1 bound to this store, ready to pass as DigestOptions.lookupHa1. */
  readonly lookupHa1 = (username: string, algorithm: DigestAlgorithm): string | undefined => this.getHa1(username, algorithm);

  /** Drop every cached entry (e.g. after editing the database by other means). */
  clearCache(): void {
    this.#cache.clear();
  }

  /** Number of cached records (for metrics and tests). */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  #validatePassword(password: string): void {
    if (typeof password !== 'string') throw new InvalidPasswordError('password must be a string');
    const length = [...password].length;
    if (length < this.#minPassword) throw new InvalidPasswordError(`password must have at least ${this.#minPassword} characters`);
    if (length > this.#maxPassword) throw new InvalidPasswordError(`password must have at most ${this.#maxPassword} characters`);
    // A SIP UA could not send these, and they break terminals and config files.
    if (/[\x00-\x1f\x7f]/.test(password)) throw new InvalidPasswordError('password must not contain control characters');
  }

  #readDataVersion(): number {
    const row = this.#dataVersionStmt.get() as { data_version: number } | undefined;
    return Number(row?.data_version ?? 0);
  }

  /** SQLite changes data_version when another connection commits (https://sqlite.org/pragma.html#pragma_data_version). */
  #noticeExternalChanges(): void {
    if (this.#checkEveryMs > 0) {
      const t = Date.now();
      if (t - this.#lastCheck < this.#checkEveryMs) return;
      this.#lastCheck = t;
    }
    const v = this.#readDataVersion();
    if (v !== this.#dataVersion) {
      this.#dataVersion = v;
      this.#cache.clear();
    }
  }
}
