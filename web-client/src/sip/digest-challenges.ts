/**
 * Puts the MD5 digest challenge where sip.js 0.21 will find it.
 *
 * A server may offer one challenge per algorithm, in its order of preference (RFC 8760 §2.4:
 * "the UAC SHOULD use the topmost header field value that it supports"); Sotto offers SHA-256 and
 * MD5 by default. sip.js 0.21 keeps only the LAST WWW-Authenticate / Proxy-Authenticate header of a
 * response (its parser calls setHeader, which replaces) and can compute only MD5, so with
 * [MD5, SHA-256] it would see SHA-256 alone and give up. Before sip.js parses a 401/407, this moves
 * the MD5 challenges (or those naming no algorithm, which means MD5, RFC 2617 §3.2.1) after the
 * others, so the challenge sip.js keeps is one it can answer: the same choice an RFC 8760 UA that
 * supports only MD5 makes. Header fields of one name keep their relative order otherwise, and the
 * order of fields with different names carries no meaning (RFC 3261 §7.3.1).
 *
 * Pure string processing on the raw message, so it runs on every incoming message cheaply: any
 * message that is not a 401/407 with two or more challenges is returned unchanged.
 */

const CHALLENGE_HEADERS = ['www-authenticate', 'proxy-authenticate'];

/** The algorithm a challenge names, upper-cased; MD5 when it names none (RFC 2617 §3.2.1). */
export function challengeAlgorithm(value: string): string {
  const m = /(?:^|[\s,])algorithm\s*=\s*"?([A-Za-z0-9-]+)"?/i.exec(value);
  return (m?.[1] ?? 'MD5').toUpperCase();
}

/** Returns `raw` with the MD5 challenges of a 401/407 moved after the other challenges. */
export function preferAnswerableChallenge(raw: string, answerable: readonly string[] = ['MD5']): string {
  if (!/^SIP\/2\.0 40[17] /.test(raw)) return raw;
  const end = raw.search(/\r?\n\r?\n/);
  const head = end === -1 ? raw : raw.slice(0, end);
  const rest = end === -1 ? '' : raw.slice(end);
  const eol = head.includes('\r\n') ? '\r\n' : '\n';
  // Unfold continuation lines (RFC 3261 §7.3.1) so one header field is one entry.
  const fields: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 1) fields[fields.length - 1] += ' ' + line.trim();
    else fields.push(line);
  }
  const nameOf = (f: string) => f.slice(0, Math.max(0, f.indexOf(':'))).trim().toLowerCase();
  const challenges = fields.filter((f) => CHALLENGE_HEADERS.includes(nameOf(f)));
  if (challenges.length < 2) return raw;
  const wanted = (f: string) => answerable.includes(challengeAlgorithm(f.slice(f.indexOf(':') + 1)));
  const keep = challenges.filter(wanted);
  if (keep.length === 0 || keep.length === challenges.length) return raw;
  // The answerable challenges go right after the last of the others.
  const others = fields.filter((f) => !keep.includes(f));
  const at = others.findLastIndex((f) => CHALLENGE_HEADERS.includes(nameOf(f))) + 1;
  return [...others.slice(0, at), ...keep, ...others.slice(at)].join(eol) + rest;
}
