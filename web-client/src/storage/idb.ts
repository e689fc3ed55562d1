/** A minimal promise wrapper over one IndexedDB object store (key → value). */
const DB_NAME = 'sotto';
const STORE = 'vaults';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class KeyValueStore {
  readonly #db: IDBDatabase;

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  static async open(): Promise<KeyValueStore> {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    return new KeyValueStore(await request(req));
  }

  async get(key: string): Promise<unknown> {
    return request(this.#db.transaction(STORE, 'readonly').objectStore(STORE).get(key));
  }

  async put(key: string, value: unknown): Promise<void> {
    await request(this.#db.transaction(STORE, 'readwrite').objectStore(STORE).put(value, key));
  }

  async delete(key: string): Promise<void> {
    await request(this.#db.transaction(STORE, 'readwrite').objectStore(STORE).delete(key));
  }
}
