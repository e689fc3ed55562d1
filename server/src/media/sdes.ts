/**
 * SDES keying for SRTP (RFC 4568): the a=crypto attribute,
 *
 *   a=crypto:<tag> <crypto-suite> inline:<key||salt base64>[|<lifetime>][|<MKI>:<length>] [<session-params>]
 *
 * limited to what mediasoup's PlainTransport can do: one master key per direction, no MKI
 * (RFC 4568 §9.2 lets an answerer skip a line it cannot use), and the suites mediasoup 3.12
 * implements: AES_CM_128_HMAC_SHA1_80/32 (RFC 4568 §6.2) and AEAD_AES_128/256_GCM (RFC 7714 §12).
 */
import { randomBytes } from 'node:crypto';

export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

/** Master key + master salt lengths in bytes (RFC 3711 §8.2, RFC 7714 §12). */
const KEY_SALT_BYTES: Record<SrtpSuite, number> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

export function isSupportedSuite(s: string): s is SrtpSuite {
  return Object.hasOwn(KEY_SALT_BYTES, s);
}

export interface CryptoAttribute {
  tag: number;
  suite: string;
  /** key||salt, base64, as in the inline: parameter. */
  keyBase64: string;
  /** Extra key parameters (a second inline:) or an MKI: this line cannot be used. */
  unusable: string | undefined;
  /** Session parameters (RFC 4568 §6.3), e.g. UNENCRYPTED_SRTCP. */
  sessionParams: string[];
}

/** Parse one a=crypto value; undefined when it is not well formed (such a line is skipped). */
export function parseCrypto(value: string): CryptoAttribute | undefined {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 3) return undefined;
  const tag = Number(parts[0]);
  if (!/^\d{1,9}$/.test(parts[0]!)) return undefined;
  const suite = parts[1]!;
  const keyParams = parts[2]!.split(';');
  const first = /^inline:([A-Za-z0-9+/=]+)((?:\|[^|]*)*)$/.exec(keyParams[0]!);
  if (!first) return undefined;
  let unusable: string | undefined;
  if (keyParams.length > 1) unusable = 'several master keys';
  // "|lifetime" (e.g. 2^31) is fine; "|MKI:length" is not (mediasoup has no MKI).
  for (const extra of first[2]!.split('|').slice(1)) if (extra.includes(':')) unusable = 'MKI';
  return { tag, suite, keyBase64: first[1]!, unusable, sessionParams: parts.slice(3) };
}

/**
 * Session parameters we can honour by ignoring them. WSH (replay window size hint) is only a
 * hint; the others change what is encrypted or authenticated, and mediasoup cannot do that.
 */
const HARMLESS_SESSION_PARAMS = /^WSH=\d+$/;

/** Why this crypto line cannot be used by the bridge, or undefined if it can. */
export function cryptoProblem(c: CryptoAttribute): string | undefined {
  if (!isSupportedSuite(c.suite)) return `suite ${c.suite} not supported`;
  if (c.unusable) return c.unusable;
  if (c.sessionParams.some((p) => !HARMLESS_SESSION_PARAMS.test(p))) return `session parameters ${c.sessionParams.join(' ')}`;
  if (Buffer.from(c.keyBase64, 'base64').length !== KEY_SALT_BYTES[c.suite]) return 'wrong key length';
  return undefined;
}

/** RFC 4568 §7.1.1: the answerer takes the first offered line it supports. */
export function chooseCrypto(offered: readonly CryptoAttribute[]): (CryptoAttribute & { suite: SrtpSuite }) | undefined {
  for (const c of offered) if (!cryptoProblem(c)) return c as CryptoAttribute & { suite: SrtpSuite };
  return undefined;
}

export function formatCrypto(tag: number, suite: SrtpSuite, keyBase64: string): string {
  return `${tag} ${suite} inline:${keyBase64}`;
}

/** A fresh key||salt for a suite (tests; mediasoup makes its own). */
export function randomKey(suite: SrtpSuite): string {
  return randomBytes(KEY_SALT_BYTES[suite]).toString('base64');
}
