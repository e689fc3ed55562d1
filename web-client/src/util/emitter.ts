/**
 * A typed event emitter for the page's objects (events map: name → argument tuple). A listener
 * that throws is reported and does not stop the others.
 */
type Listener = (...args: unknown[]) => void;

export class Emitter<Events extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(name: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    const l = listener as unknown as Listener;
    set.add(l);
    return () => set.delete(l);
  }

  emit<K extends keyof Events>(name: K, ...args: Events[K]): void {
    for (const l of [...(this.#listeners.get(name) ?? [])]) {
      try {
        l(...args);
      } catch (err) {
        console.error(`listener for "${String(name)}" failed`, err);
      }
    }
  }
}
