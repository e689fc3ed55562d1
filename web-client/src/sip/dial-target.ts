/**
 * What the user typed in "Call" → the SIP URI to invite. A bare name is a user of our own domain;
 * name@host and sip:/sips: URIs are taken as given (RFC 3261 §19.1). Telephone-style input is
 * stripped of visual separators (RFC 3966 §5.1.1: "-", ".", "(" and ")" and spaces are only for
 * reading). Anything that is not a plausible URI is refused here, with a message, rather than
 * being sent to the server to fail.
 */
export type DialTarget = { ok: true; uri: string; user: string; host: string } | { ok: false; error: string };

/** user = unreserved / escaped / user-unreserved (RFC 3261 §25.1). */
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
/** hostname or IPv4 with optional port; an IPv6 reference in brackets. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PHONE = /^\+?[\d\s().-]+$/;

export function parseDialTarget(input: string, domain: string): DialTarget {
  let s = input.trim();
  if (!s) return { ok: false, error: 'Enter a name or a SIP address.' };
  let scheme = 'sip';
  const m = /^(sips?):/i.exec(s);
  if (m) {
    scheme = m[1]!.toLowerCase();
    s = s.slice(m[0].length);
  }
  // URI parameters and headers are not for users to type; keep the address part only.
  let user: string;
  let host: string;
  const at = s.lastIndexOf('@');
  if (at === -1) {
    user = s;
    host = domain;
  } else {
    user = s.slice(0, at);
    host = s.slice(at + 1);
  }
  if (PHONE.test(user) && /\d/.test(user)) user = user.replace(/[\s().-]/g, '');
  if (!user) return { ok: false, error: 'The address has no user name.' };
  if (!USER.test(user)) return { ok: false, error: `“${user}” is not a valid user name.` };
  if (!HOST.test(host)) return { ok: false, error: `“${host}” is not a valid host.` };
  return { ok: true, uri: `${scheme}:${user}@${host}`, user, host };
}
