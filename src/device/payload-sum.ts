// One's-complement sums over payload bytes for the offload paths (segmentation, checksum
// completion, coalescing), which checksum every byte that passes: the addon's C loop for
// ranges long enough that the call costs less than the JS loop, sumBytes otherwise. Same
// result either way (tested against sumBytes); never throws.
import { loadAddon } from '../native/addon.js';
import { sumBytes } from '../wire/checksum.js';

/** Below this many bytes the JS loop beats the native call. */
const NATIVE_MIN_BYTES = 128;

type NativeSum = (bytes: Uint8Array, off: number, len: number) => number;

let nativeSum: NativeSum | null | undefined;

function native(): NativeSum | null {
  if (nativeSum === undefined) {
    try {
      const addon = loadAddon();
      nativeSum = (bytes, off, len) => addon.checksumSum(bytes, off, len);
    } catch {
      nativeSum = null; // no addon (a pure-JS test run): the JS loop does it all
    }
  }
  return nativeSum;
}

/**
 * Sum of buf[off .. off+len) as big-endian 16-bit words plus `initial`, unfolded (pass it to
 * foldSum/finalizeChecksum), exactly as sumBytes(buf, off, len, initial).
 */
export function payloadSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  const n = len >= NATIVE_MIN_BYTES && off >= 0 && off + len <= buf.length ? native() : null;
  return n !== null ? n(buf, off, len) + initial : sumBytes(buf, off, len, initial);
}
