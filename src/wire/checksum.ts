// The Internet checksum (RFC 1071) and its incremental update (RFC 1624). Used once or
// twice per packet on the data path, so every function here is a tight loop over plain
// numbers: no allocation, no exceptions.
//
// Sums are carried as plain JS numbers (exact up to 2^53), so partial sums can be added
// together freely and folded once at the end.

/**
 * Adds the bytes buf[off .. off+len) to `initial` as big-endian 16-bit words; an odd
 * trailing byte is padded with a zero low byte. Returns the unfolded sum. The range is
 * the caller's contract: bytes outside the array read as 0 (typed-array semantics), so a
 * bad range gives a wrong sum, never an exception.
 */
export function sumBytes(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len;
  const evenEnd = end - (len & 1);
  let i = off;
  // Unrolled by 8 bytes: fewer loop tests on the common 20..1500-byte ranges.
  for (; i + 8 <= evenEnd; i += 8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < evenEnd; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (len & 1) sum += buf[end - 1] << 8;
  return sum;
}

/** Folds a non-negative sum (< 2^53) to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Folds and complements a sum: the value to store in a checksum field. */
export function finalizeChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** Internet checksum of buf[off .. off+len), starting from `initial` (e.g. a pseudo-header sum). */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return finalizeChecksum(sumBytes(buf, off, len, initial));
}

/**
 * True when buf[off .. off+len), which includes its checksum field, sums to 0xffff
 * (the receiver's check from RFC 1071).
 */
export function verifyChecksum(buf: Uint8Array, off: number, len: number, initial = 0): boolean {
  return foldSum(sumBytes(buf, off, len, initial)) === 0xffff;
}

/**
 * IPv4 pseudo-header sum (RFC 793/768): addresses as unsigned 32-bit numbers, protocol
 * number, and the upper-layer length in bytes. Unfolded; pass as `initial`.
 */
export function pseudoHeaderSumV4(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * IPv4 pseudo-header sum read straight from a packet: the addresses are the 4 bytes at
 * srcOff and dstOff (normally the IPv4 header's own fields).
 */
export function pseudoHeaderSumV4At(buf: Uint8Array, srcOff: number, dstOff: number, protocol: number, length: number): number {
  return sumBytes(buf, srcOff, 4, sumBytes(buf, dstOff, 4, protocol + length));
}

/**
 * IPv6 pseudo-header sum (RFC 8200 §8.1): the 16-byte addresses at srcOff and dstOff, the
 * upper-layer length in bytes (32-bit) and the next-header value. Unfolded.
 */
export function pseudoHeaderSumV6At(buf: Uint8Array, srcOff: number, dstOff: number, nextHeader: number, length: number): number {
  const lenWords = (length >>> 16) + (length & 0xffff);
  return sumBytes(buf, srcOff, 16, sumBytes(buf, dstOff, 16, lenWords + nextHeader));
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changes
 * from oldWord to newWord: HC' = ~(~HC + ~m + m'). Equals a full recompute except when
 * the new data is all zeros (then 0x0000 instead of 0xffff, the same value in one's
 * complement). Inputs are masked to 16 bits.
 */
export function updateChecksum16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (an IPv4 address): two 16-bit words at once. */
export function updateChecksum32(oldChecksum: number, oldValue: number, newValue: number): number {
  const sum =
    (~oldChecksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  return ~foldSum(sum) & 0xffff;
}
