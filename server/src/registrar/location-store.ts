/**
 * The location service (RFC 3261 §10.3): bindings from an address-of-record to contacts, in
 * memory, with expiry. Kept in memory only, like Kamailio's usrloc without a database: a restart
 * asks phones to register again, and nothing about who was reachable where is written to disk.
 */
import type { Peer } from '../sip/message.ts';

export interface Binding {
  /** Address-of-record key: the local user name (every local domain name means the same accounts). */
  readonly aor: string;
  /** The Contact URI as registered (no angle brackets, no header parameters). */
  contact: string;
  /** Comparison key for the contact: instance/reg-id when outbound is used, else the normalized URI. */
  readonly key: string;
  q: number;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** RFC 5626: +sip.instance and reg-id when the UA uses outbound. */
  instanceId?: string;
  regId?: number;
  /** RFC 3327 Path values, in order, to become Route headers toward the contact. */
  path: string[];
  /**
   * Where the REGISTER came from: requests for this contact go back to this flow when the client
   * is behind NAT, uses outbound, or registered over a connection (RFC 5626 §5.3, RFC 3581).
   */
  flow?: Peer;
  /** Contact header parameters to return in the 200 (e.g. +sip.instance, reg-id), as raw text. */
  contactParams: string;
}

/**
 * One change to the location service made here (a registration, an unregistration, a closed
 * flow): `binding` is the new binding for (aor, key), or undefined when it was removed. Workers
 * of a cluster replay each other's changes; expiry is not a change (every copy expires alike).
 */
export type BindingChange = { aor: string; key: string; binding?: Binding };

export class LocationStore {
  readonly #byAor = new Map<string, Binding[]>();
  /** connection id → bindings whose flow is that connection (removeFlow, and the idle sweep's hasFlow). */
  readonly #byConnection = new Map<string, Set<Binding>>();
  #count = 0;
  #onChange: ((c: BindingChange) => void) | undefined;

  /** Be told of every change made through upsert/remove/removeAll/removeFlow (not sweep, not apply). */
  onChange(fn: (c: BindingChange) => void): void {
    this.#onChange = fn;
  }

  get size(): number {
    return this.#count;
  }

  get aorCount(): number {
    return this.#byAor.size;
  }

  /** Does any binding use this connection as its flow? Such a connection must be kept open. */
  hasFlow(connectionId: string): boolean {
    return this.#byConnection.has(connectionId);
  }

  #index(b: Binding): void {
    const id = b.flow?.connectionId;
    if (id === undefined) return;
    let set = this.#byConnection.get(id);
    if (!set) this.#byConnection.set(id, (set = new Set()));
    set.add(b);
  }

  #unindex(b: Binding): void {
    const id = b.flow?.connectionId;
    if (id === undefined) return;
    const set = this.#byConnection.get(id);
    if (!set) return;
    set.delete(b);
    if (set.size === 0) this.#byConnection.delete(id);
  }

  /** Current (unexpired) bindings of an AOR, highest q first (§16.6, §10.2.1.2). */
  lookup(aor: string, now = Date.now()): Binding[] {
    const list = this.#byAor.get(aor);
    if (!list) return [];
    return list.filter((b) => b.expiresAt > now).sort((a, b) => b.q - a.q);
  }

  get(aor: string, key: string): Binding | undefined {
    return this.#byAor.get(aor)?.find((b) => b.key === key);
  }

  /** All bindings of an AOR including expired-but-not-swept ones (for registrar checks). */
  all(aor: string): readonly Binding[] {
    return this.#byAor.get(aor) ?? [];
  }

  upsert(binding: Binding): void {
    this.#upsert(binding);
    this.#onChange?.({ aor: binding.aor, key: binding.key, binding });
  }

  /**
   * A change another worker made: applied as is, not reported again. Per-binding changes commute
   * when they name different contacts, so two workers registering two devices of one user at
   * the same moment end up with the same bindings (whole-AOR snapshots would not).
   */
  apply(c: BindingChange): void {
    if (c.binding) {
      if (c.binding.aor !== c.aor || c.binding.key !== c.key) return;
      this.#upsert(c.binding);
    } else this.#remove(c.aor, c.key);
  }

  #upsert(binding: Binding): void {
    let list = this.#byAor.get(binding.aor);
    if (!list) this.#byAor.set(binding.aor, (list = []));
    const i = list.findIndex((b) => b.key === binding.key);
    if (i >= 0) {
      this.#unindex(list[i]!);
      list[i] = binding;
    } else {
      list.push(binding);
      this.#count++;
    }
    this.#index(binding);
  }

  remove(aor: string, key: string): boolean {
    if (!this.#remove(aor, key)) return false;
    this.#onChange?.({ aor, key });
    return true;
  }

  #remove(aor: string, key: string): boolean {
    const list = this.#byAor.get(aor);
    if (!list) return false;
    const i = list.findIndex((b) => b.key === key);
    if (i < 0) return false;
    this.#unindex(list.splice(i, 1)[0]!);
    this.#count--;
    if (list.length === 0) this.#byAor.delete(aor);
    return true;
  }

  removeAll(aor: string): number {
    const list = this.#byAor.get(aor);
    if (!list) return 0;
    this.#byAor.delete(aor);
    for (const b of list) {
      this.#unindex(b);
      this.#onChange?.({ aor, key: b.key });
    }
    this.#count -= list.length;
    return list.length;
  }

  /** Drop bindings whose flow was this connection: a browser's WebSocket is its only way in. */
  removeFlow(connectionId: string, onlyWhen: (b: Binding) => boolean = () => true): number {
    const set = this.#byConnection.get(connectionId);
    if (!set) return 0;
    let n = 0;
    for (const b of [...set]) if (onlyWhen(b) && this.remove(b.aor, b.key)) n++;
    return n;
  }

  /** Every binding, expired-but-not-swept ones included. */
  *entries(): IterableIterator<Binding> {
    for (const list of this.#byAor.values()) yield* list;
  }

  /** Remove expired bindings; returns how many went. */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const [aor, list] of this.#byAor) {
      for (const b of list.filter((x) => x.expiresAt <= now)) if (this.#remove(aor, b.key)) n++;
    }
    return n;
  }
}
