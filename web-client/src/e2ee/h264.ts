/**
 * The two pieces of H.264 Annex B syntax the E2EE frame codec needs: finding NAL units by their
 * start codes, and emulation prevention, so that encrypted bytes never look like a start code.
 *
 * Annex B (ITU-T H.264 §B.1) separates NAL units with the start code 00 00 01 (optionally
 * preceded by a zero byte). Inside a NAL unit the encoder guarantees that 00 00 00, 00 00 01 and
 * 00 00 02 never occur by inserting an "emulation prevention byte" 03 after any 00 00 that is
 * followed by a byte <= 03 (§7.4.1). Ciphertext is random bytes, so it contains such patterns
 * about once every 5 kB; Chrome's packetizer would split the frame there. escape() applies the
 * same rule to ciphertext; unescape() undoes it and refuses anything escape() cannot produce.
 */

/** NAL unit types (H.264 Table 7-1) the codec needs by name. */
export const NAL_SLICE = 1;
export const NAL_IDR_SLICE = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

export interface NalUnit {
  /** Offset of the NAL header byte (just after the start code). */
  readonly headerOffset: number;
  /** nal_unit_type, the low 5 bits of the header. */
  readonly type: number;
}

/** The NAL units of an Annex B buffer, in order. Bytes before the first start code are skipped. */
export function findNalUnits(data: Uint8Array): NalUnit[] {
  const units: NalUnit[] = [];
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      const headerOffset = i + 3;
      if (headerOffset < data.length) units.push({ headerOffset, type: data[headerOffset]! & 0x1f });
      i += 2;
    }
  }
  return units;
}

/**
 * How many zero bytes (0-2) end `data`: escaping that continues after clear bytes must count
 * them, or clear "00" followed by escaped "00 01" would form a start code.
 */
export function trailingZeros(data: Uint8Array): number {
  if (data.length === 0 || data[data.length - 1] !== 0) return 0;
  return data.length >= 2 && data[data.length - 2] === 0 ? 2 : 1;
}

/**
 * Inserts emulation prevention bytes: after 00 00, a byte <= 03 is preceded by 03.
 * `precedingZeros` is trailingZeros() of whatever comes right before `data` in the NAL unit.
 */
export function escape(data: Uint8Array, precedingZeros = 0): Uint8Array<ArrayBuffer> {
  // Worst case one extra byte per two input bytes.
  const out = new Uint8Array(data.length + (data.length >> 1) + 1);
  let n = 0;
  let zeros = precedingZeros;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (zeros >= 2 && b <= 3) {
      out[n++] = 3;
      zeros = 0;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.slice(0, n);
}

/**
 * Removes emulation prevention bytes. Returns null if the input is not exactly what escape()
 * produces: 00 00 followed by 00/01/02, or 00 00 03 not followed by a byte <= 03.
 */
export function unescape(data: Uint8Array, precedingZeros = 0): Uint8Array<ArrayBuffer> | null {
  const out = new Uint8Array(data.length);
  let n = 0;
  let zeros = precedingZeros;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (zeros >= 2) {
      if (b < 3) return null;
      if (b === 3) {
        const next = data[i + 1];
        if (next === undefined || next > 3) return null;
        zeros = 0;
        continue;
      }
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.slice(0, n);
}
