/** How the top-level fields of a protobuf message lie in its bytes. */
export type WireScan =
  | { state: 'complete' }
  /** The last field needs `needed` bytes from `at` but the bytes end first. */
  | { state: 'ends-early'; at: number; needed: number }
  /** At byte `at` there is no valid field tag. */
  | { state: 'bad-tag'; at: number };

/**
 * Walks the top-level fields of a protobuf message without decoding them, to tell a file that was
 * cut short (its last field runs past the end) from one that is complete but damaged inside.
 */
export function scanTopLevel(bytes: Uint8Array): WireScan {
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.length) return undefined;
      const b = bytes[pos++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return NaN;
  };
  while (pos < bytes.length) {
    const start = pos;
    const tag = varint();
    if (tag === undefined) return { state: 'ends-early', at: start, needed: 1 };
    const wire = tag % 8;
    if (!Number.isFinite(tag) || tag < 8) return { state: 'bad-tag', at: start };
    let skip: number;
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return { state: 'ends-early', at: start, needed: 1 };
      if (Number.isNaN(v)) return { state: 'bad-tag', at: start };
      continue;
    } else if (wire === 1) skip = 8;
    else if (wire === 5) skip = 4;
    else if (wire === 2) {
      const len = varint();
      if (len === undefined) return { state: 'ends-early', at: start, needed: 1 };
      if (Number.isNaN(len)) return { state: 'bad-tag', at: start };
      skip = len;
    } else return { state: 'bad-tag', at: start };
    if (pos + skip > bytes.length) return { state: 'ends-early', at: start, needed: pos + skip - bytes.length };
    pos += skip;
  }
  return { state: 'complete' };
}
