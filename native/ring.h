/* Ring memory shared between a reader and the ArrayBuffers JS sees over it. One block holds
 * data, meta and addr; it is freed when the reader and every ArrayBuffer over it are gone,
 * so a JS reference kept after close() (or a transferred buffer) never points at freed memory. */
#ifndef VSTUN_RING_H
#define VSTUN_RING_H

#include "vstun.h"

typedef struct ring_block {
  int refs;
  uint8_t *data;
  int32_t *meta;
  uint8_t *addr;
  size_t data_len, meta_len, addr_len;
} ring_block;

ring_block *ring_block_new(uint32_t slots, uint32_t slot_size);
void ring_block_unref(ring_block *b);
/* Wraps [p, p+len) of the block in an external ArrayBuffer that holds one reference. */
bool ring_block_arraybuffer(napi_env env, ring_block *b, void *p, size_t len, napi_value *out);

#endif
