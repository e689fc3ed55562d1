import { describe, expect, it } from 'vitest';
import { extractCallId, shardOf } from '../../../server/src/cluster/shard.ts';
import { connectionOwner, isRegister } from '../../../server/src/cluster/worker-link.ts';

const msg = (start: string, headers: string[]) => Buffer.from(`${start}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');

describe('cluster routing', () => {
  it('keeps REGISTER where it was read, and only REGISTER', () => {
    expect(isRegister(msg('REGISTER sip:example.org SIP/2.0', ['Call-ID: a']))).toBe(true);
    expect(isRegister(msg('INVITE sip:bob@example.org SIP/2.0', ['Call-ID: a']))).toBe(false);
    // Method names are case-sensitive (RFC 3261 §7.1); a response to a REGISTER is routed by Call-ID.
    expect(isRegister(msg('register sip:example.org SIP/2.0', ['Call-ID: a']))).toBe(false);
    expect(isRegister(msg('SIP/2.0 200 OK', ['CSeq: 1 REGISTER']))).toBe(false);
    expect(isRegister(Buffer.from('REGISTER', 'latin1'))).toBe(false);
  });

  it('finds the Call-ID in long and compact form and spreads Call-IDs over workers', () => {
    expect(extractCallId(msg('INVITE sip:b@x SIP/2.0', ['Via: SIP/2.0/UDP h', 'call-id :  abc@h ']))).toBe('abc@h');
    expect(extractCallId(msg('INVITE sip:b@x SIP/2.0', ['i: xyz']))).toBe('xyz');
    expect(extractCallId(msg('INVITE sip:b@x SIP/2.0', ['Via: SIP/2.0/UDP h']))).toBeUndefined();
    const counts = [0, 0];
    for (let i = 0; i < 1000; i++) counts[shardOf(`call-${i}@host`, 2)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(400);
    expect(shardOf('same', 2)).toBe(shardOf('same', 2));
  });

  it('reads the owning worker from a connection id', () => {
    expect(connectionOwner('w1.tcp-3')).toBe(1);
    expect(connectionOwner('tcp-3')).toBeUndefined();
  });
});
