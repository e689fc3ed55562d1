/** Where the records live. The page talks to this interface; storage/encrypted-store.ts is the real one. */
import { EMPTY_RECORDS, type Records } from './records.ts';

export interface RecordsStore {
  load(): Promise<Records>;
  save(records: Records): Promise<void>;
}

/** Kept in memory only (nothing survives a reload): used when IndexedDB is unavailable. */
export class MemoryStore implements RecordsStore {
  #records: Records = EMPTY_RECORDS;
  async load(): Promise<Records> {
    return this.#records;
  }
  async save(records: Records): Promise<void> {
    this.#records = records;
  }
}
