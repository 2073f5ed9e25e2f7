/* checksumSum(bytes, off, len): the RFC 1071 one's-complement sum of bytes[off..off+len) as
 * big-endian 16-bit words (an odd last byte padded with zero), folded to 16 bits, NOT
 * complemented: the same value as src/wire/checksum.ts foldSum(sumBytes(...)). Offloads
 * checksum every payload byte (segmentation, coalescing); in C that is a small fraction of
 * the JS loop's time, well above the cost of the call. A range outside the array throws. */
#include "vstun.h"

#include <string.h>

static uint32_t sum_be16(const uint8_t *p, size_t len) {
  uint64_t acc = 0;
  /* Summing native-endian (little-endian) words gives the byte-swapped sum (RFC 1071 §2B). */
  while (len >= 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    memcpy(&c, p + 16, 8);
    memcpy(&d, p + 24, 8);
    acc += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) + (c & 0xffffffffu) + (c >> 32) + (d & 0xffffffffu) + (d >> 32);
    p += 32;
    len -= 32;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) acc += *p; /* little-endian: the low byte of a word is its first byte */
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  uint32_t s = (uint32_t)acc;
  return ((s & 0xff) << 8) | (s >> 8);
}

static napi_value checksum_sum(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return vstun_throw_type(env, "checksumSum", "checksumSum(bytes, off, len) takes 3 arguments");
  uint8_t *data;
  size_t n;
  int64_t off, len;
  if (!vstun_arg_bytes(env, argv[0], "bytes", &data, &n)) return NULL;
  if (!vstun_arg_int(env, argv[1], "off", 0, (int64_t)n, &off)) return NULL;
  if (!vstun_arg_int(env, argv[2], "len", 0, (int64_t)n - off, &len)) return NULL;
  napi_value out;
  NAPI_OK_OR_NULL(napi_create_uint32(env, sum_be16(data + off, (size_t)len), &out));
  return out;
}

bool vstun_init_csum(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "checksumSum", checksum_sum);
}
