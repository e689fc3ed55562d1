import { describe, expect, it } from 'vitest';
import { decodeBindingChanges, encodeBindingChanges } from '../../../server/src/cluster/binding-codec.ts';
import type { BindingChange } from '../../../server/src/registrar/location-store.ts';

const plain: BindingChange = {
  aor: 'alice',
  key: 'sip:alice@192.0.2.7:5060',
  binding: {
    aor: 'alice',
    key: 'sip:alice@192.0.2.7:5060',
    contact: 'sip:alice@192.0.2.7:5060;transport=udp',
    q: 0.5,
    expiresAt: 1_790_000_000_123,
    callId: 'a84b4c76e66710@pc33',
    cseq: 7,
    path: [],
    contactParams: '',
  },
};
const outbound: BindingChange = {
  aor: 'bob',
  key: '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\n1',
  binding: {
    aor: 'bob',
    key: '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\n1',
    contact: 'sip:bob@df7jal23ls0d.invalid;transport=ws',
    q: 1,
    expiresAt: 1_790_000_000_000,
    callId: 'x"y\\z',
    cseq: 1,
    instanceId: '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>',
    regId: 1,
    path: ['<sip:edge.example.org;lr>', '<sip:p2.example.org;lr;ob>'],
    flow: { transport: 'wss', address: '::1', port: 50123, connectionId: 'c3' },
    contactParams: ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";reg-id=1',
  },
};
const removal: BindingChange = { aor: 'carol', key: 'sip:carol@198.51.100.1' };

describe('binding changes on the cluster channel', () => {
  it('round-trip removals, plain bindings and outbound bindings with a flow, in order', () => {
    const changes = [plain, outbound, removal];
    expect(decodeBindingChanges(encodeBindingChanges(changes))).toEqual(changes);
  });

  it('keep a UDP flow without a connection id, and write no absent fields', () => {
    const withFlow: BindingChange = { ...plain, binding: { ...plain.binding!, flow: { transport: 'udp', address: '192.0.2.7', port: 5060 } } };
    const [back] = decodeBindingChanges(encodeBindingChanges([withFlow]));
    expect(back).toEqual(withFlow);
    expect(Object.keys(back!.binding!.flow!)).toEqual(['transport', 'address', 'port']);
    expect('instanceId' in back!.binding!).toBe(false);
  });

  it('take fewer bytes than the objects', () => {
    const changes = [plain, outbound, removal];
    expect(encodeBindingChanges(changes).length).toBeLessThan(JSON.stringify(changes).length * 0.75);
  });

  it('refuse what is not a batch of change tuples', () => {
    for (const bad of ['{}', '[1]', '[["a"]]', '[["a","k","c"]]', '[["a","k","c","1",0,"i",1,[],"",null,null,null,null,null,null]]', '[["a","k","c",1,0,"i",1,[],"",null,null,"sctp","h",1,null]]', 'not json']) {
      expect(() => decodeBindingChanges(bad), bad).toThrow();
    }
  });
});
