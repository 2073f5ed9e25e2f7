// Probe payloads given in config as text or as hex ("hex:0a0b..." or { hex: "..." }).

/** Decodes "hex:<digits>" to bytes, anything else as UTF-8 text. Null for malformed hex. */
export function decodePayload(spec: string): Buffer | null {
  if (!spec.startsWith('hex:')) return Buffer.from(spec, 'utf8');
  const digits = spec.slice(4).replace(/[\s:]/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return null;
  return Buffer.from(digits, 'hex');
}
