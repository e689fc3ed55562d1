import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../../sfu/src/signalling/protocol.ts';
import { parseClientMessage } from '../../../sfu/src/signalling/validation.ts';

const KEY = 'A'.repeat(43);

describe('room signalling: request validation', () => {
  it('accepts a well-formed join and types it by method', () => {
    const r = parseClientMessage(JSON.stringify({ id: 1, method: 'join', data: { room: 'standup', token: 't.t', e2ee: { identityKey: KEY } } }));
    expect(r).toEqual({ ok: true, request: { id: 1, method: 'join', data: { room: 'standup', token: 't.t', e2ee: { identityKey: KEY } } } });
  });

  it.each([
    ['not JSON', 'hello', null, 'not JSON'],
    ['an array', '[1]', null, 'envelope'],
    ['no id', '{"method":"leave"}', null, 'envelope'],
    ['negative id', '{"id":-1,"method":"leave"}', null, 'envelope'],
    ['unknown method', '{"id":2,"method":"explode","data":{}}', 2, 'unknown method'],
    ['prototype method name', '{"id":3,"method":"__proto__","data":{}}', 3, 'unknown method'],
    ['extra envelope field', '{"id":4,"method":"leave","data":{},"x":1}', 4, 'envelope'],
    ['extra data field', '{"id":5,"method":"leave","data":{"x":1}}', 5, 'bad leave'],
    ['bad room name', `{"id":6,"method":"join","data":{"room":"../etc","token":"t","e2ee":null}}`, 6, 'room'],
    ['identity key of the wrong length', `{"id":7,"method":"join","data":{"room":"abc","token":"t","e2ee":{"identityKey":"AAAA"}}}`, 7, 'e2ee.identityKey'],
    ['negative view size', '{"id":8,"method":"setConsumerView","data":{"consumerId":"c","width":-1,"height":1}}', 8, 'width'],
    ['huge view size', '{"id":9,"method":"setConsumerView","data":{"consumerId":"c","width":1e9,"height":1}}', 9, 'width'],
    ['bad direction', '{"id":10,"method":"createTransport","data":{"direction":"both"}}', 10, 'direction'],
    ['rtpParameters not an object', '{"id":11,"method":"produce","data":{"transportId":"t","kind":"audio","source":"mic","rtpParameters":"x"}}', 11, 'rtpParameters'],
    ['id with odd characters', '{"id":12,"method":"consume","data":{"producerId":"a b"}}', 12, 'producerId'],
    ['relay blob not base64url', '{"id":13,"method":"relay","data":{"to":"p","blob":"a+b/"}}', 13, 'blob'],
  ])('refuses %s, naming the problem', (_name, text, id, mention) => {
    const r = parseClientMessage(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.id).toBe(id);
      expect(r.message).toContain(mention);
    }
  });

  it('refuses messages over the size limit before parsing them', () => {
    const r = parseClientMessage(' '.repeat(MAX_MESSAGE_BYTES + 1));
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('longer than') });
  });
});
