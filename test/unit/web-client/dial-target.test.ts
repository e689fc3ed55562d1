/** Dial input → SIP URI (RFC 3261 §19.1, §25.1; RFC 3966 §5.1.1 visual separators). */
import { describe, expect, it } from 'vitest';
import { parseDialTarget } from '../../../web-client/src/sip/dial-target.ts';

describe('parseDialTarget', () => {
  it.each([
    ['bob', 'sip:bob@example.org'],
    ['  bob  ', 'sip:bob@example.org'],
    ['bob@other.net', 'sip:bob@other.net'],
    ['sip:bob@other.net', 'sip:bob@other.net'],
    ['SIPS:bob@other.net:5061', 'sips:bob@other.net:5061'],
    ['carol@127.0.0.1:5060', 'sip:carol@127.0.0.1:5060'],
    ['+1 (555) 010-9999', 'sip:+15550109999@example.org'],
    ['alice.smith', 'sip:alice.smith@example.org'],
    ['bob@[::1]:5060', 'sip:bob@[::1]:5060'],
  ])('%s → %s', (input, uri) => {
    const t = parseDialTarget(input, 'example.org');
    expect(t).toMatchObject({ ok: true, uri });
  });

  it.each([
    ['', /Enter a name/],
    ['   ', /Enter a name/],
    ['@example.org', /no user name/],
    ['bob smith', /not a valid user name/],
    ['bob<script>', /not a valid user name/],
    ['bob@exa mple.org', /not a valid host/],
    ['bob@-bad-.org', /not a valid host/],
    ['sip:', /no user name/],
  ])('refuses %j', (input, error) => {
    const t = parseDialTarget(input, 'example.org');
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.error).toMatch(error);
  });
});
