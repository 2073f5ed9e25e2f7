// TCP and UDP both start with the source and destination ports: one reader for both.

/** Both ports at `off` in one number, source << 16 | destination (unsigned): a flow key's half in one read. */
export function readPortPair(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}
