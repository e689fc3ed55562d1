/**
 * The web client follows a 302 to a group call page (web-client/src/sip/group-redirect.ts) only to
 * a path on its own origin, never to a page a SIP response names elsewhere; and it lifts the
 * https: Contact out of the 3xx before sip.js, whose grammar would drop the whole response.
 */
import { describe, expect, it } from 'vitest';
import { Grammar } from 'sip.js';
import { groupCallPath, takeRedirectContacts } from '../../../web-client/src/sip/group-redirect.ts';

const page = { origin: 'https://127.0.0.1:8443' };

describe('groupCallPath: which 3xx contacts open a group call (RFC 3261 §8.1.3.4)', () => {
  it.each([
    ['the SIP domain on this page’s port', '<https://localhost:8443/group.html?room=standup>', '/group.html?room=standup'],
    ['this page’s own origin', '<https://127.0.0.1:8443/group.html?room=team-a>', '/group.html?room=team-a'],
    ['the domain in another case', '<https://LocalHost:8443/group.html?room=standup>', '/group.html?room=standup'],
    ['a bare value', 'https://localhost:8443/group.html?room=standup', '/group.html?room=standup'],
  ])('follows %s', (_what, contact, path) => {
    expect(groupCallPath([contact], page, 'localhost')).toBe(path);
  });

  it.each([
    ['another host', '<https://evil.example:8443/group.html?room=standup>'],
    ['another port', '<https://localhost:9443/group.html?room=standup>'],
    ['plain http', '<http://localhost:8443/group.html?room=standup>'],
    ['another path', '<https://localhost:8443/index.html?room=standup>'],
    ['credentials in the URL', '<https://user:pw@localhost:8443/group.html?room=standup>'],
    ['a bad room name', '<https://localhost:8443/group.html?room=Bad%20Name>'],
    ['no room', '<https://localhost:8443/group.html>'],
    ['a javascript: URL', '<javascript:alert(1)>'],
    ['a SIP URI', '<sip:standup@localhost>'],
    ['garbage', '<<>>'],
  ])('ignores %s', (_what, contact) => {
    expect(groupCallPath([contact], page, 'localhost')).toBeUndefined();
  });

  it('takes the first good one of several, and nothing from nothing', () => {
    expect(groupCallPath(['<https://evil.example/group.html?room=x-y>', '<sip:a@b>, <https://localhost:8443/group.html?room=abc>'], page, 'localhost')).toBe('/group.html?room=abc');
    expect(groupCallPath([], page, 'localhost')).toBeUndefined();
  });
});

const REDIRECT = [
  'SIP/2.0 302 Moved Temporarily (group call: join in a web browser)',
  'Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bK1',
  'From: <sip:alice@localhost>;tag=a',
  'To: <sip:standup@localhost>;tag=b',
  'Call-ID: call-1',
  'CSeq: 2 INVITE',
  'Contact: <https://localhost:8443/group.html?room=standup>',
  'Warning: 399 localhost "standup is an end-to-end encrypted group call"',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

describe('takeRedirectContacts: a 3xx sip.js can parse', () => {
  it('sip.js cannot parse an https: Contact (why this exists)', () => {
    expect(Grammar.parse('<https://localhost:8443/group.html?room=standup>', 'Contact')).toBe(-1);
  });

  it('lifts non-SIP Contact lines out of a 3xx, keyed by Call-ID', () => {
    const r = takeRedirectContacts(REDIRECT);
    expect(r.redirect).toEqual({ callId: 'call-1', contacts: ['<https://localhost:8443/group.html?room=standup>'] });
    expect(r.message).not.toMatch(/^Contact:/m);
    expect(r.message).toMatch(/^Warning: 399 /m);
    expect(r.message.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
  });

  it('handles compact and folded forms, and leaves SIP contacts and other responses alone', () => {
    const compact = REDIRECT.replace('Contact: <https', 'm:\r\n <https').replace('Call-ID:', 'i:');
    expect(takeRedirectContacts(compact).redirect?.contacts).toEqual(['<https://localhost:8443/group.html?room=standup>']);
    const sip = REDIRECT.replace('<https://localhost:8443/group.html?room=standup>', '<sip:bob@192.0.2.7>');
    expect(takeRedirectContacts(sip)).toEqual({ message: sip });
    const ok = REDIRECT.replace('302 Moved Temporarily (group call: join in a web browser)', '200 OK');
    expect(takeRedirectContacts(ok)).toEqual({ message: ok });
    const request = 'INVITE sip:a@b SIP/2.0\r\nContact: <https://x/>\r\n\r\n';
    expect(takeRedirectContacts(request)).toEqual({ message: request });
  });
});
