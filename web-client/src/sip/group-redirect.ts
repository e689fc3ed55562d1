/**
 * A 302 to our INVITE whose Contact is a group call page: the server answers a room's SIP URI
 * (sip:ROOM@DOMAIN) that way (server/src/proxy/room-uri.ts), because a room is end-to-end
 * encrypted between browsers and only its page can join it. RFC 3261 §8.1.3.4 lets a UAC use the
 * contacts of a 3xx that it understands; this one understands exactly one kind.
 *
 * Never a foreign page: a SIP response is not a link the user clicked, and any proxy on the path
 * could write one. The Contact must be https://, name this page's own origin or the SIP domain it
 * signed in to on this page's port, have the path /group.html and a valid room name; the result
 * is a path on this page's origin, so the navigation cannot leave it whatever the Contact says.
 *
 * sip.js 0.21 drops a whole response whose Contact its grammar cannot parse, and its grammar
 * knows only sip:/sips: URIs there; `takeRedirectContacts()` lifts the other Contact values out
 * of a 3xx before sip.js sees it (the phone keeps them by Call-ID until the Inviter hears of the
 * redirect). Pure: the caller passes the page's location and does the navigating.
 */
import { ROOM_NAME_PATTERN } from '../../../sfu/src/signalling/protocol.ts';

export interface PageLocation {
  /** https://host[:port] of this page (location.origin). */
  readonly origin: string;
}

/** The same-origin path /group.html?room=NAME to open, or undefined when no Contact qualifies. */
export function groupCallPath(contacts: readonly string[], page: PageLocation, domain: string): string | undefined {
  let here: URL;
  try {
    here = new URL(page.origin);
  } catch {
    return undefined;
  }
  for (const value of contacts) {
    for (const uri of contactUris(value)) {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        continue;
      }
      if (url.protocol !== 'https:' || url.username || url.password || url.pathname !== '/group.html') continue;
      const sameOrigin = url.origin === here.origin;
      const ourDomain = url.hostname.toLowerCase() === domain.toLowerCase() && effectivePort(url) === effectivePort(here);
      if (!sameOrigin && !ourDomain) continue;
      const room = url.searchParams.get('room');
      if (room === null || !ROOM_NAME_PATTERN.test(room)) continue;
      return `/group.html?room=${room}`;
    }
  }
  return undefined;
}

/** The URIs of one Contact header value: name-addr forms between < and > (§20.10), else the bare value. */
function contactUris(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) out.push(m[1]!.trim());
  if (out.length === 0 && value.trim()) out.push(value.trim().split(/[;,\s]/)[0]!);
  return out;
}

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
}

/**
 * For a 3xx response: the message without its Contact lines that hold a URI other than sip: or
 * sips:, and those lines' values with the response's Call-ID. Anything else passes unchanged.
 */
export function takeRedirectContacts(message: string): { message: string; redirect?: { callId: string; contacts: string[] } } {
  if (!/^SIP\/2\.0 3\d\d /.test(message)) return { message };
  const end = message.indexOf('\r\n\r\n');
  if (end < 0) return { message };
  // Header fields, with folded continuation lines (RFC 3261 §7.3.1) joined to theirs.
  const fields: string[] = [];
  for (const line of message.slice(0, end).split('\r\n')) {
    if (/^[ \t]/.test(line) && fields.length > 1) fields[fields.length - 1] += `\r\n${line}`;
    else fields.push(line);
  }
  let callId: string | undefined;
  const contacts: string[] = [];
  const kept = fields.filter((f, i) => {
    if (i === 0) return true;
    const m = /^([A-Za-z-]+)[ \t]*:(.*)$/s.exec(f);
    if (!m) return true;
    const name = m[1]!.toLowerCase();
    const value = m[2]!.replace(/\r\n[ \t]+/g, ' ').trim();
    if (name === 'call-id' || name === 'i') callId = value;
    if (name !== 'contact' && name !== 'm') return true;
    const uris = contactUris(value);
    if (uris.every((u) => /^sips?:/i.test(u))) return true;
    contacts.push(value);
    return false;
  });
  if (!contacts.length || callId === undefined) return { message };
  return { message: `${kept.join('\r\n')}${message.slice(end)}`, redirect: { callId, contacts } };
}
