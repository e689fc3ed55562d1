/**
 * Room passwords, kept only as scrypt hashes (RFC 7914) with a random salt, in memory, for the
 * life of the room. Verification compares in constant time. scrypt is deliberately slow (about
 * 20 ms at these parameters on one core); it runs on libuv's thread pool (async), so a flood of
 * guesses is bounded by the join rate limit, not by blocking the event loop.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** N = 2^14, r = 8, p = 1: the interactive-login parameters of RFC 7914 §2. */
const PARAMS = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export const MAX_ROOM_PASSWORD_LENGTH = 256;

export interface RoomPasswordHash {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, PARAMS, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashRoomPassword(password: string): Promise<RoomPasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  return { salt, hash: await derive(password, salt) };
}

export async function verifyRoomPassword(stored: RoomPasswordHash, password: string): Promise<boolean> {
  if (password.length > MAX_ROOM_PASSWORD_LENGTH) return false;
  return timingSafeEqual(await derive(password, stored.salt), stored.hash);
}
