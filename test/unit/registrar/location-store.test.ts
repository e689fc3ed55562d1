import { describe, expect, it } from 'vitest';
import { LocationStore, type Binding, type BindingChange } from '../../../server/src/registrar/location-store.ts';

const T0 = 1_700_000_000_000;

function binding(aor: string, key: string, extra: Partial<Binding> = {}): Binding {
  return { aor, key, contact: `sip:${aor}@192.0.2.1`, q: 1, expiresAt: T0 + 60_000, callId: `c-${key}`, cseq: 1, path: [], contactParams: '', ...extra };
}

describe('location store change feed (cluster replication)', () => {
  it('reports local changes, but not expiry or changes applied from elsewhere', () => {
    const store = new LocationStore();
    const seen: BindingChange[] = [];
    store.onChange((c) => seen.push(c));
    store.upsert(binding('alice', 'a'));
    store.upsert(binding('alice', 'b', { flow: { transport: 'tcp', address: '127.0.0.1', port: 5000, connectionId: 'w0.tcp-1' } }));
    store.upsert(binding('bob', 'x', { expiresAt: T0 }));
    store.remove('alice', 'a');
    store.removeFlow('w0.tcp-1');
    expect(seen.map((c) => `${c.aor}/${c.key}/${c.binding ? 'set' : 'del'}`)).toEqual(['alice/a/set', 'alice/b/set', 'bob/x/set', 'alice/a/del', 'alice/b/del']);
    seen.length = 0;
    store.sweep(T0 + 1);
    store.apply({ aor: 'carol', key: 'k', binding: binding('carol', 'k') });
    store.apply({ aor: 'carol', key: 'k' });
    expect(seen).toEqual([]);
    expect(store.size).toBe(0);
  });

  it('converges when two workers register two devices of one user at the same moment', () => {
    const a = new LocationStore();
    const b = new LocationStore();
    const fromA: BindingChange[] = [];
    const fromB: BindingChange[] = [];
    a.onChange((c) => fromA.push(c));
    b.onChange((c) => fromB.push(c));
    a.upsert(binding('alice', 'phone'));
    b.upsert(binding('alice', 'laptop'));
    for (const c of fromA) b.apply(c);
    for (const c of fromB) a.apply(c);
    const keys = (s: LocationStore) => s.lookup('alice', T0).map((x) => x.key).sort();
    expect(keys(a)).toEqual(['laptop', 'phone']);
    expect(keys(b)).toEqual(['laptop', 'phone']);
    // removeAll reports each binding, so the other copy drops them too.
    fromA.length = 0;
    a.removeAll('alice');
    for (const c of fromA) b.apply(c);
    expect(b.size).toBe(0);
  });

  it('ignores a change whose binding does not match its own aor and key', () => {
    const store = new LocationStore();
    store.apply({ aor: 'alice', key: 'k', binding: binding('mallory', 'k') });
    expect(store.size).toBe(0);
  });
});
