/**
 * Who is calling, as the page shows it. Display names come from the far end and are not verified:
 * they are cut to a sane length and stripped of control and bidirectional-override characters
 * (which can make "evil" read as "live"), and always rendered as text, never as HTML.
 *
 * Anonymous callers (RFC 3323 §4.1.1.3) put `"Anonymous" <sip:anonymous@anonymous.invalid>` in
 * From; any of those markers makes the caller "Anonymous", and nothing else from From is shown.
 */
export interface Identity {
  /** What to show: the display name, else the user part, else the URI. */
  label: string;
  /** sip:user@host, or '' for anonymous callers. */
  uri: string;
  /** The user part when the host is ours (so the UI can say "bob" rather than "bob@example.org"). */
  user: string;
  anonymous: boolean;
}

export interface UriParts {
  scheme: string;
  user?: string | undefined;
  host: string;
}

const MAX_LABEL = 64;
// C0/C1 controls, bidi embeddings/overrides/isolates, zero-width and BOM characters.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

export function cleanDisplayName(name: string | undefined): string {
  const s = (name ?? '').replace(UNSAFE, '').replace(/\s+/g, ' ').trim();
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + '…' : s;
}

export function isAnonymous(displayName: string | undefined, uri: UriParts): boolean {
  return (
    uri.host.toLowerCase() === 'anonymous.invalid' ||
    (uri.user ?? '').toLowerCase() === 'anonymous' ||
    cleanDisplayName(displayName).toLowerCase() === 'anonymous'
  );
}

export function identityOf(displayName: string | undefined, uri: UriParts, ownDomain: string): Identity {
  if (isAnonymous(displayName, uri)) return { label: 'Anonymous', uri: '', user: '', anonymous: true };
  const user = uri.user ?? '';
  const full = `${uri.scheme}:${user ? user + '@' : ''}${uri.host}`;
  const local = uri.host.toLowerCase() === ownDomain.toLowerCase();
  const shortName = user && local ? user : user ? `${user}@${uri.host}` : uri.host;
  return { label: cleanDisplayName(displayName) || cleanDisplayName(shortName), uri: full, user: local ? user : '', anonymous: false };
}
