/**
 * The signed-in user's records in IndexedDB, encrypted (./vault.ts): one entry per account,
 * `{ header, data }`, where data is the whole records JSON sealed anew on every save (a few
 * hundred entries at most, so rewriting it is cheap and leaves no stale plaintext behind).
 *
 * libsodium is loaded on demand (a separate chunk), after sign-in, not with the page. It is the
 * "sumo" build, the one with crypto_pwhash, so the key comes from Argon2id (see vault.ts).
 */
import { EMPTY_RECORDS, parseRecords, type Records } from './records.ts';
import { KeyValueStore } from './idb.ts';
import type { RecordsStore } from './store.ts';
import { createVault, open, parseHeader, seal, unlockVault, VaultError, type Sealed, type Sodium, type VaultHeader } from './vault.ts';

interface Stored {
  header: VaultHeader;
  data?: Sealed;
}

async function loadSodium(): Promise<Sodium> {
  const mod = await import('libsodium-wrappers-sumo');
  const sodium = (mod.default ?? mod) as unknown as Sodium & { ready: Promise<void> };
  await sodium.ready;
  return sodium;
}

export class EncryptedStore implements RecordsStore {
  readonly #kv: KeyValueStore;
  readonly #id: string;
  readonly #sodium: Sodium;
  readonly #header: VaultHeader;
  #key: Uint8Array;

  private constructor(kv: KeyValueStore, id: string, sodium: Sodium, header: VaultHeader, key: Uint8Array) {
    this.#kv = kv;
    this.#id = id;
    this.#sodium = sodium;
    this.#header = header;
    this.#key = key;
  }

  /**
   * Open (or create) the records of `username@domain`. A VaultError('wrong-password') means the
   * stored history was made with another password (it was changed on the server): it cannot be
   * read, and `reset` starts a new one in its place.
   */
  static async open(username: string, password: string, domain: string, o: { reset?: boolean } = {}): Promise<EncryptedStore> {
    const [sodium, kv] = await Promise.all([loadSodium(), KeyValueStore.open()]);
    const id = `records:${username}@${domain}`;
    const stored = o.reset ? undefined : ((await kv.get(id)) as Partial<Stored> | undefined);
    const header = stored ? parseHeader(stored.header) : undefined;
    if (stored && !header) throw new VaultError('corrupt', 'the stored history is damaged');
    if (header) return new EncryptedStore(kv, id, sodium, header, await unlockVault(sodium, header, password));
    const fresh = await createVault(sodium, password);
    await kv.put(id, { header: fresh.header } satisfies Stored);
    return new EncryptedStore(kv, id, sodium, fresh.header, fresh.key);
  }

  async load(): Promise<Records> {
    const stored = (await this.#kv.get(this.#id)) as Partial<Stored> | undefined;
    if (!stored?.data) return EMPTY_RECORDS;
    return parseRecords(open(this.#sodium, this.#key, stored.data));
  }

  async save(records: Records): Promise<void> {
    const data = seal(this.#sodium, this.#key, JSON.stringify(records));
    await this.#kv.put(this.#id, { header: this.#header, data } satisfies Stored);
  }

  /** Forget the key (sign-out). */
  close(): void {
    this.#key.fill(0);
    this.#key = new Uint8Array(0);
  }
}
