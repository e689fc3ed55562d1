import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestAuthenticator, parseDigestCredentials, computeDigestResponse } from '../../../server/src/auth/digest.ts';
import { computeHa1, DIGEST_ALGORITHMS } from '../../../server/src/auth/password.ts';
import { DatabaseVersionError, migrate, MIGRATIONS, openDatabase, schemaVersion } from '../../../server/src/store/database.ts';
import {
  InvalidPasswordError,
  InvalidUsernameError,
  isValidUsername,
  RealmMismatchError,
  UnknownUserError,
  UserExistsError,
  UserStore,
  validateUsername,
} from '../../../server/src/store/user-store.ts';

const REALM = 'sotto.example';
const PASSWORD = 'correct horse battery';

describe('UserStore on :memory:', () => {
  let db: DatabaseSync;
  let store: UserStore;
  let clock: number;
  beforeEach(() => {
    db = openDatabase(':memory:');
    clock = 1_750_000_000_000;
    store = new UserStore(db, { realm: REALM, now: () => clock });
  });
  afterEach(() => db.close());

  it('round trip: add, look up, list, change password, remove', () => {
    expect(store.hasUser('alice')).toBe(false);
    store.addUser('alice', PASSWORD);
    clock += 1000;
    store.addUser('bob', 'another fine password');
    expect(store.hasUser('alice')).toBe(true);
    for (const a of DIGEST_ALGORITHMS) expect(store.getHa1('alice', a)).toBe(computeHa1(a, 'alice', REALM, PASSWORD));
    expect(store.listUsers()).toEqual([
      { username: 'alice', createdAt: new Date(1_750_000_000_000) },
      { username: 'bob', createdAt: new Date(1_750_000_001_000) },
    ]);

    store.setPassword('alice', 'a brand new password');
    expect(store.getHa1('alice', 'SHA-256')).toBe(computeHa1('SHA-256', 'alice', REALM, 'a brand new password'));
    expect(store.listUsers()[0]!.createdAt).toEqual(new Date(1_750_000_000_000));

    store.removeUser('alice');
    expect(store.hasUser('alice')).toBe(false);
    expect(store.getHa1('alice', 'SHA-256')).toBeUndefined();
    expect(store.listUsers().map((u) => u.username)).toEqual(['bob']);
  });

  it('listUsers exposes the name and creation time only', () => {
    store.addUser('alice', PASSWORD);
    expect(Object.keys(store.listUsers()[0]!).sort()).toEqual(['createdAt', 'username']);
  });

  it('the cache is invalidated by every change made through the store', () => {
    expect(store.getHa1('alice', 'MD5')).toBeUndefined(); // negative entry cached
    store.addUser('alice', PASSWORD);
    expect(store.getHa1('alice', 'MD5')).toBe(computeHa1('MD5', 'alice', REALM, PASSWORD));
    store.setPassword('alice', 'changed password');
    expect(store.getHa1('alice', 'MD5')).toBe(computeHa1('MD5', 'alice', REALM, 'changed password'));
    store.removeUser('alice');
    expect(store.getHa1('alice', 'MD5')).toBeUndefined();
  });

  it('typed errors with codes', () => {
    store.addUser('alice', PASSWORD);
    const err = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error('expected an error');
    };
    const exists = err(() => store.addUser('alice', PASSWORD));
    expect(exists).toBeInstanceOf(UserExistsError);
    expect(exists.code).toBe('USER_EXISTS');
    const unknown = err(() => store.removeUser('carol'));
    expect(unknown).toBeInstanceOf(UnknownUserError);
    expect(unknown.code).toBe('UNKNOWN_USER');
    expect(err(() => store.setPassword('carol', PASSWORD))).toBeInstanceOf(UnknownUserError);
    const invalid = err(() => store.addUser('Alice', PASSWORD));
    expect(invalid).toBeInstanceOf(InvalidUsernameError);
    expect(invalid.code).toBe('INVALID_USERNAME');
    const weak = err(() => store.addUser('carol', 'short'));
    expect(weak).toBeInstanceOf(InvalidPasswordError);
    expect(weak.code).toBe('INVALID_PASSWORD');
    expect(weak.message).not.toContain('short');
    expect(err(() => store.setPassword('alice', 'line\nbreak password'))).toBeInstanceOf(InvalidPasswordError);
    // Nothing was changed by the failed calls.
    expect(store.getHa1('alice', 'SHA-256')).toBe(computeHa1('SHA-256', 'alice', REALM, PASSWORD));
    expect(store.hasUser('carol')).toBe(false);
  });

  it('minPasswordLength is configurable and counts characters, not bytes', () => {
    const relaxed = new UserStore(db, { realm: REALM, minPasswordLength: 4 });
    relaxed.addUser('dave', 'pass');
    expect(() => relaxed.addUser('erin', 'pas')).toThrow(InvalidPasswordError);
    relaxed.addUser('erin', 'äöüß');
    expect(relaxed.getHa1('erin', 'MD5')).toBe(computeHa1('MD5', 'erin', REALM, 'äöüß'));
  });

  it('hasUser and getHa1 answer false/undefined for names that are not valid', () => {
    expect(store.hasUser('Not Valid')).toBe(false);
    expect(store.getHa1('x'.repeat(65), 'MD5')).toBeUndefined();
    expect(store.getHa1('', 'MD5')).toBeUndefined();
    expect(store.cacheEntries).toBe(0);
  });

  it('the cache is bounded', () => {
    const small = new UserStore(db, { realm: REALM, cacheSize: 3 });
    small.addUser('alice', PASSWORD);
    for (let k = 0; k < 50; k++) small.getHa1(`user${k}`, 'MD5');
    expect(small.cacheEntries).toBe(3);
    expect(small.getHa1('alice', 'MD5')).toBe(computeHa1('MD5', 'alice', REALM, PASSWORD));
  });

  it('feeds the DigestAuthenticator', () => {
    store.addUser('alice', PASSWORD);
    const auth = new DigestAuthenticator({ realm: REALM, lookupHa1: store.lookupHa1 });
    const now = 1_750_000_000_000;
    const challenge = parseDigestCredentials(auth.challenges(now)[0]!)!;
    const nonce = challenge.get('nonce')!;
    const header = (password: string) => {
      const response = computeDigestResponse({
        algorithm: 'SHA-256',
        ha1: computeHa1('SHA-256', 'alice', REALM, password),
        nonce,
        nc: '00000001',
        cnonce: 'abc',
        qop: 'auth',
        method: 'REGISTER',
        uri: 'sip:sotto.example',
      });
      return `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:sotto.example", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="abc"`;
    };
    const req = { method: 'REGISTER', uri: 'sip:sotto.example' };
    expect(auth.verify({ ...req, credentials: [header('wrong password')] }, now)).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    expect(auth.verify({ ...req, credentials: [header(PASSWORD)] }, now)).toEqual({ kind: 'ok', username: 'alice', algorithm: 'SHA-256' });
  });
});

describe('username validation', () => {
  it.each(['alice', 'a', 'bob.smith', 'x_1-2', '0123456789', 'a'.repeat(64), '...', '-'])('accepts %j', (u) => {
    expect(isValidUsername(u)).toBe(true);
    expect(() => validateUsername(u)).not.toThrow();
  });

  it.each([
    ['', /must not be empty/],
    ['a'.repeat(65), /65 characters long; at most 64/],
    ['Alice', /upper-case.*"alice"/],
    ['alice smith', /contains " " at position 6/],
    ['alice@example.com', /contains "@" at position 6/],
    ['ålice', /contains "å" at position 1/],
    ['a;b', /contains ";"/],
    ['a%20b', /contains "%"/],
    ['tab\tname', /contains "\\t"/],
  ])('rejects %j with a clear message', (u, message) => {
    expect(isValidUsername(u)).toBe(false);
    expect(() => validateUsername(u)).toThrow(InvalidUsernameError);
    expect(() => validateUsername(u)).toThrow(message);
  });
});

describe('database on a temporary file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sotto-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the directory and a 0600 file in WAL mode at the latest schema version', () => {
    const path = join(dir, 'nested', 'sotto.db');
    const db = openDatabase(path);
    try {
      expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
      expect(schemaVersion(db)).toBe(MIGRATIONS.length);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    } finally {
      db.close();
    }
  });

  it('round trip across close and reopen; the password itself is never written', () => {
    const path = join(dir, 'sotto.db');
    const password = 'Unmistakable-Password-4711';
    let db = openDatabase(path);
    new UserStore(db, { realm: REALM, now: () => 42_000 }).addUser('alice', password);
    db.close();

    db = openDatabase(path);
    const store = new UserStore(db, { realm: REALM });
    expect(store.listUsers()).toEqual([{ username: 'alice', createdAt: new Date(42_000) }]);
    expect(store.getHa1('alice', 'SHA-512-256')).toBe(computeHa1('SHA-512-256', 'alice', REALM, password));
    db.close();

    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).includes(password)).toBe(false);
  });

  it('refuses a different realm, explaining that passwords must be reset', () => {
    const path = join(dir, 'sotto.db');
    let db = openDatabase(path);
    new UserStore(db, { realm: REALM }).addUser('alice', PASSWORD);
    db.close();
    db = openDatabase(path);
    try {
      expect(() => new UserStore(db, { realm: 'other.example' })).toThrow(RealmMismatchError);
      expect(() => new UserStore(db, { realm: 'other.example' })).toThrow(/requires resetting every password/);
      // The failed attempt changed nothing.
      expect(new UserStore(db, { realm: REALM }).hasUser('alice')).toBe(true);
    } finally {
      db.close();
    }
  });

  it('sees changes committed by another connection (e.g. the CLI while the server runs)', () => {
    const path = join(dir, 'sotto.db');
    const serverDb = openDatabase(path);
    const cliDb = openDatabase(path);
    try {
      const server = new UserStore(serverDb, { realm: REALM, externalChangeCheckMs: 0 });
      const cli = new UserStore(cliDb, { realm: REALM });
      expect(server.getHa1('alice', 'MD5')).toBeUndefined(); // cached as unknown
      cli.addUser('alice', PASSWORD);
      expect(server.getHa1('alice', 'MD5')).toBe(computeHa1('MD5', 'alice', REALM, PASSWORD));
      cli.setPassword('alice', 'rotated password');
      expect(server.getHa1('alice', 'MD5')).toBe(computeHa1('MD5', 'alice', REALM, 'rotated password'));
      cli.removeUser('alice');
      expect(server.getHa1('alice', 'MD5')).toBeUndefined();
    } finally {
      serverDb.close();
      cliDb.close();
    }
  });

  it('refuses a database from a newer schema', () => {
    const path = join(dir, 'sotto.db');
    const db = openDatabase(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(DatabaseVersionError);
  });
});

describe('migrations', () => {
  it('apply in order, once, each with its user_version', () => {
    const db = openDatabase(':memory:', { migrations: [] });
    try {
      expect(schemaVersion(db)).toBe(0);
      const migrations = [
        { version: 1, description: 'one', up: 'CREATE TABLE a (x INTEGER) STRICT' },
        { version: 2, description: 'two', up: (d: DatabaseSync) => d.exec('CREATE TABLE b (y INTEGER) STRICT') },
      ];
      migrate(db, migrations.slice(0, 1));
      expect(schemaVersion(db)).toBe(1);
      migrate(db, migrations);
      expect(schemaVersion(db)).toBe(2);
      migrate(db, migrations); // idempotent
      expect(schemaVersion(db)).toBe(2);
    } finally {
      db.close();
    }
  });

  it('a failing migration rolls back together with its version bump', () => {
    const db = openDatabase(':memory:', { migrations: [] });
    try {
      const bad = [{ version: 1, description: 'broken', up: 'CREATE TABLE ok (x INTEGER); THIS IS NOT SQL' }];
      expect(() => migrate(db, bad)).toThrow(/migration 1 \(broken\) failed/);
      expect(schemaVersion(db)).toBe(0);
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'ok'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
