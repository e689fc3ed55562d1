/**
 * Short authentication string: a few emoji both callers read to each other to check that no one
 * sits between them (the human check that makes an unauthenticated key exchange safe, as in
 * ZRTP, RFC 6189 §7 and §8).
 *
 * 5 emoji from a list of 64 give 30 bits: a man in the middle who cannot choose his keys after
 * seeing ours (key-agreement.ts commits to them) goes unnoticed with probability 2^-30 per call.
 * Each emoji has a name, shown under it and read by screen readers, because "the dog" is easier
 * to say over a call than to describe a picture. The list uses single-code-point emoji with
 * default emoji presentation, so they render the same on every platform, and pictures of distinct
 * things that are hard to confuse when said aloud. The order is fixed forever: changing it would
 * make two versions of Sotto show different emoji for the same key.
 */

export interface SasSymbol {
  readonly emoji: string;
  readonly name: string;
}

export const SAS_SYMBOLS: readonly SasSymbol[] = [
  { emoji: '\u{1F436}', name: 'dog' },
  { emoji: '\u{1F431}', name: 'cat' },
  { emoji: '\u{1F981}', name: 'lion' },
  { emoji: '\u{1F434}', name: 'horse' },
  { emoji: '\u{1F984}', name: 'unicorn' },
  { emoji: '\u{1F437}', name: 'pig' },
  { emoji: '\u{1F418}', name: 'elephant' },
  { emoji: '\u{1F430}', name: 'rabbit' },
  { emoji: '\u{1F43C}', name: 'panda' },
  { emoji: '\u{1F414}', name: 'chicken' },
  { emoji: '\u{1F427}', name: 'penguin' },
  { emoji: '\u{1F422}', name: 'turtle' },
  { emoji: '\u{1F41F}', name: 'fish' },
  { emoji: '\u{1F419}', name: 'octopus' },
  { emoji: '\u{1F98B}', name: 'butterfly' },
  { emoji: '\u{1F41D}', name: 'bee' },
  { emoji: '\u{1F98A}', name: 'fox' },
  { emoji: '\u{1F438}', name: 'frog' },
  { emoji: '\u{1F433}', name: 'whale' },
  { emoji: '\u{1F989}', name: 'owl' },
  { emoji: '\u{1F337}', name: 'tulip' },
  { emoji: '\u{1F333}', name: 'tree' },
  { emoji: '\u{1F335}', name: 'cactus' },
  { emoji: '\u{1F344}', name: 'mushroom' },
  { emoji: '\u{1F319}', name: 'moon' },
  { emoji: '\u{1F525}', name: 'fire' },
  { emoji: '\u{1F308}', name: 'rainbow' },
  { emoji: '\u{2B50}', name: 'star' },
  { emoji: '\u{1F34C}', name: 'banana' },
  { emoji: '\u{1F34E}', name: 'apple' },
  { emoji: '\u{1F353}', name: 'strawberry' },
  { emoji: '\u{1F33D}', name: 'corn' },
  { emoji: '\u{1F355}', name: 'pizza' },
  { emoji: '\u{1F382}', name: 'cake' },
  { emoji: '\u{1F34B}', name: 'lemon' },
  { emoji: '\u{1F955}', name: 'carrot' },
  { emoji: '\u{1F347}', name: 'grapes' },
  { emoji: '\u{1F9C0}', name: 'cheese' },
  { emoji: '\u{1F916}', name: 'robot' },
  { emoji: '\u{1F3A9}', name: 'top hat' },
  { emoji: '\u{1F453}', name: 'glasses' },
  { emoji: '\u{1F527}', name: 'wrench' },
  { emoji: '\u{1F381}', name: 'gift' },
  { emoji: '\u{1F4A1}', name: 'light bulb' },
  { emoji: '\u{1F4D5}', name: 'book' },
  { emoji: '\u{1F4CE}', name: 'paperclip' },
  { emoji: '\u{1F512}', name: 'lock' },
  { emoji: '\u{1F511}', name: 'key' },
  { emoji: '\u{1F528}', name: 'hammer' },
  { emoji: '\u{1F3C1}', name: 'chequered flag' },
  { emoji: '\u{1F682}', name: 'train' },
  { emoji: '\u{1F6B2}', name: 'bicycle' },
  { emoji: '\u{1F680}', name: 'rocket' },
  { emoji: '\u{1F3C6}', name: 'trophy' },
  { emoji: '\u{26BD}', name: 'football' },
  { emoji: '\u{1F3B8}', name: 'guitar' },
  { emoji: '\u{1F3BA}', name: 'trumpet' },
  { emoji: '\u{1F514}', name: 'bell' },
  { emoji: '\u{2693}', name: 'anchor' },
  { emoji: '\u{1F3A7}', name: 'headphones' },
  { emoji: '\u{1F4CC}', name: 'pin' },
  { emoji: '\u{1F9F2}', name: 'magnet' },
  { emoji: '\u{231B}', name: 'hourglass' },
  { emoji: '\u{1F388}', name: 'balloon' },
];

export const SAS_LENGTH = 5;
const BITS_PER_SYMBOL = 6;

/** Bytes of SAS material needed: 5 x 6 = 30 bits. */
export const SAS_BYTES = 4;

/** The SAS symbols for 4 bytes of SAS material: the top 30 bits, 6 per symbol, big-endian. */
export function sasFromBytes(material: Uint8Array): SasSymbol[] {
  if (material.length !== SAS_BYTES) throw new RangeError(`SAS material must be ${SAS_BYTES} bytes`);
  const bits = ((material[0]! << 24) | (material[1]! << 16) | (material[2]! << 8) | material[3]!) >>> 0;
  const symbols: SasSymbol[] = [];
  for (let i = 0; i < SAS_LENGTH; i++) {
    const index = (bits >>> (32 - BITS_PER_SYMBOL * (i + 1))) & 0x3f;
    symbols.push(SAS_SYMBOLS[index]!);
  }
  return symbols;
}
