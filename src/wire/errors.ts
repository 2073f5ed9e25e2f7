// Stable error codes for every wire parser. The data path uses the numeric form as a
// drop-reason index (a counter per code), so the list is explicit, append-only, and
// its order is part of the contract: never reorder or remove an entry.

export const WIRE_ERRORS = [
  'truncated', //               1: fewer bytes than the header (or a length field) needs
  'bad-version', //             2: IP version nibble is not the expected one
  'bad-header-length', //       3: IPv4 IHL < 5, or a header length field out of range
  'bad-total-length', //        4: IP total/payload length smaller than the header or larger than the buffer
  'bad-checksum', //            5: a checksum that had to be valid is not
  'bad-option', //              6: an IPv4/TCP/IPv6 option runs past its area or has an invalid length
  'bad-offset', //              7: TCP data offset < 5 or beyond the segment
  'bad-length', //              8: a length field (UDP, ICMP, ARP) disagrees with the bytes present
  'bad-hardware-type', //       9: ARP hardware type/length is not Ethernet
  'bad-protocol-type', //      10: ARP protocol type/length is not IPv4
  'bad-extension-header', //   11: an IPv6 extension header is malformed
  'too-many-extension-headers', // 12: the IPv6 header chain is longer than we walk
  'unexpected-protocol', //    13: the (next-)protocol is not the one this decoder handles
  'fragmented', //             14: a non-first fragment, or a fragment where none is allowed
  'bad-inner-packet', //       15: the encapsulated packet fails its own checks
  'bad-type', //               16: a type field is not one this decoder accepts
  'reserved-bits-set', //      17: reserved bits that must be zero are not
  'no-headroom', //            18: not enough room in front of a packet to write a header
] as const;

/** A wire parse/validation failure, as a stable string for control code, tests and logs. */
export type WireError = (typeof WIRE_ERRORS)[number];

/** Numeric form: 0 is success, 1..WIRE_ERROR_COUNT index WIRE_ERRORS (code - 1). */
export type WireErrorCode = number;

export const WIRE_OK = 0;
/** Number of error codes; counters indexed by code need WIRE_ERROR_COUNT + 1 slots. */
export const WIRE_ERROR_COUNT = WIRE_ERRORS.length;

// Numeric constants so data-path code can compare without strings.
export const E_TRUNCATED = 1;
export const E_BAD_VERSION = 2;
export const E_BAD_HEADER_LENGTH = 3;
export const E_BAD_TOTAL_LENGTH = 4;
export const E_BAD_CHECKSUM = 5;
export const E_BAD_OPTION = 6;
export const E_BAD_OFFSET = 7;
export const E_BAD_LENGTH = 8;
export const E_BAD_HARDWARE_TYPE = 9;
export const E_BAD_PROTOCOL_TYPE = 10;
export const E_BAD_EXTENSION_HEADER = 11;
export const E_TOO_MANY_EXTENSION_HEADERS = 12;
export const E_UNEXPECTED_PROTOCOL = 13;
export const E_FRAGMENTED = 14;
export const E_BAD_INNER_PACKET = 15;
export const E_BAD_TYPE = 16;
export const E_RESERVED_BITS_SET = 17;
export const E_NO_HEADROOM = 18;

/** String form of a numeric code 1..WIRE_ERROR_COUNT. Callers pass only codes from this module. */
export function wireErrorName(code: WireErrorCode): WireError {
  return WIRE_ERRORS[code - 1] ?? 'truncated';
}

/** Numeric form of a string code. */
export function wireErrorCode(error: WireError): WireErrorCode {
  return WIRE_ERRORS.indexOf(error) + 1;
}

/** Result of a plain-object `parse`: the header and how many bytes it took, or an error. */
export type ParseResult<T> = { ok: true; value: T; byteLength: number } | { ok: false; error: WireError };

/** Builds a failed ParseResult from a numeric code. */
export function parseFailure(code: WireErrorCode): { ok: false; error: WireError } {
  return { ok: false, error: wireErrorName(code) };
}
