#include "ring.h"

#include <stdlib.h>
#include <string.h>

ring_block *ring_block_new(uint32_t slots, uint32_t slot_size) {
  ring_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->data_len = (size_t)slots * slot_size;
  b->meta_len = (size_t)slots * META_STRIDE * sizeof(int32_t);
  b->addr_len = (size_t)slots * ADDR_STRIDE;
  void *p = NULL;
  /* 64-byte alignment keeps every slot cache-line aligned when slot_size is a multiple of 64. */
  if (posix_memalign(&p, 64, b->data_len + b->meta_len + b->addr_len) != 0) {
    free(b);
    return NULL;
  }
  memset(p, 0, b->data_len + b->meta_len + b->addr_len);
  b->data = p;
  b->meta = (int32_t *)(b->data + b->data_len);
  b->addr = b->data + b->data_len + b->meta_len;
  b->refs = 1;
  return b;
}

void ring_block_unref(ring_block *b) {
  if (--b->refs > 0) return;
  free(b->data);
  free(b);
}

static void on_arraybuffer_gone(napi_env env, void *data, void *hint) {
  ring_block_unref(hint);
}

bool ring_block_arraybuffer(napi_env env, ring_block *b, void *p, size_t len, napi_value *out) {
  if (napi_create_external_arraybuffer(env, p, len, on_arraybuffer_gone, b, out) != napi_ok) return false;
  b->refs++;
  return true;
}
