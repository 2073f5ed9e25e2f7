/* Batched reader: a uv_poll on a non-blocking fd; each wake-up drains up to `slots` packets
 * into a preallocated ring (read(2) per packet for TUN/TAP, one recvmmsg(2) for sockets) and
 * makes ONE JS call with the count. No allocation and no JS call per packet.
 * The reader polls and reads its own dup() of the caller's fd, so closing the caller's fd
 * (or its number being reused) can never make libuv touch somebody else's descriptor. */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

typedef struct reader {
  napi_env env;
  uv_poll_t poll;
  int fd;
  bool use_recvmmsg;
  uint32_t slots, slot_size, headroom;
  ring_block *ring;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  struct sockaddr_storage *names;
  uint8_t *controls; /* one SO_RXQ_OVFL cmsg buffer per slot */
  napi_ref callback;
  napi_ref self;
  napi_async_context async_ctx;
  bool started, paused, closing, in_callback, handle_closed, finalized, env_gone;
  uint64_t batches, packets, bytes, truncated, errors;
  /* Packets the kernel dropped because the socket's receive buffer was full (SO_RXQ_OVFL:
   * the socket's cumulative drop count, carried on each packet received after a drop). */
  uint64_t overflow;
  int last_errno;
  bool stalled; /* polling stopped after a hard error; resume() retries */
} reader_t;

static void reader_free(reader_t *r) {
  if (r->ring) ring_block_unref(r->ring);
  free(r->msgs);
  free(r->iovs);
  free(r->names);
  free(r->controls);
  free(r);
}

static void on_handle_closed(uv_handle_t *h) {
  reader_t *r = h->data;
  r->handle_closed = true;
  if (r->finalized) reader_free(r);
}

static void on_env_cleanup(void *arg);

/* Stops polling and starts closing the handle; safe to call more than once. */
static void reader_begin_close(reader_t *r) {
  if (r->closing) return;
  r->closing = true;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
  close(r->fd); /* uv_close already removed it from epoll */
  r->fd = -1;
  if (r->env_gone) return;
  napi_remove_env_cleanup_hook(r->env, on_env_cleanup, r);
  if (r->callback) {
    napi_delete_reference(r->env, r->callback);
    r->callback = NULL;
  }
  if (r->async_ctx) {
    napi_async_destroy(r->env, r->async_ctx);
    r->async_ctx = NULL;
  }
  if (r->started) napi_reference_unref(r->env, r->self, NULL); /* let GC finalize us */
}

/* Worker/env teardown: the loop is about to close, so the handle must be closed now. */
static void on_env_cleanup(void *arg) {
  reader_t *r = arg;
  r->env_gone = true;
  reader_begin_close(r);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  reader_t *r = data;
  if (!r->closing) reader_begin_close(r);
  if (!r->env_gone && r->self) {
    napi_delete_reference(env, r->self);
    r->self = NULL;
  }
  r->finalized = true;
  if (r->handle_closed) reader_free(r);
}

static void set_meta(reader_t *r, uint32_t n, uint32_t slot, size_t len, int family, int port) {
  int32_t *m = r->ring->meta + (size_t)n * META_STRIDE;
  m[META_OFFSET] = (int32_t)(slot * r->slot_size + r->headroom);
  m[META_LENGTH] = (int32_t)len;
  m[META_FAMILY] = family;
  m[META_PORT] = port;
}

static uint32_t drain_read(reader_t *r) {
  uint32_t n = 0;
  size_t cap = r->slot_size - r->headroom;
  /* Bounded attempts: a stream of oversized packets must not keep us here forever. */
  for (uint32_t attempts = 0; n < r->slots && attempts < 2 * r->slots; attempts++) {
    uint8_t *p = r->ring->data + (size_t)n * r->slot_size + r->headroom;
    ssize_t k = read(r->fd, p, cap);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* tun drops a packet that does not fit the buffer and returns EFAULT/EINVAL/EMSGSIZE. */
      if (errno == EFAULT || errno == EMSGSIZE || errno == EINVAL) {
        r->truncated++;
        continue;
      }
      r->errors++;
      r->last_errno = errno;
      break;
    }
    if (k == 0) break;
    set_meta(r, n, n, (size_t)k, 0, 0);
    r->bytes += (uint64_t)k;
    n++;
  }
  return n;
}

#define OVFL_CONTROL_LEN CMSG_SPACE(sizeof(uint32_t))

/* Folds a packet's SO_RXQ_OVFL cmsg into r->overflow (the kernel's count is cumulative and
 * 32-bit: keep the highest seen, extended across wrap-around). */
static void note_overflow(reader_t *r, struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL || c->cmsg_len < CMSG_LEN(sizeof(uint32_t))) continue;
    uint32_t v;
    memcpy(&v, CMSG_DATA(c), sizeof v);
    uint32_t low = (uint32_t)r->overflow;
    if (v != low) r->overflow += (uint32_t)(v - low) < 0x80000000u ? (uint32_t)(v - low) : 0;
  }
}

static uint32_t drain_recvmmsg(reader_t *r) {
  for (uint32_t i = 0; i < r->slots; i++) {
    r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    r->msgs[i].msg_hdr.msg_flags = 0;
    if (r->controls) r->msgs[i].msg_hdr.msg_controllen = OVFL_CONTROL_LEN;
  }
  int k;
  do {
    k = recvmmsg(r->fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
  } while (k < 0 && errno == EINTR);
  if (k < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      r->errors++;
      r->last_errno = errno;
    }
    return 0;
  }
  uint32_t n = 0;
  for (int i = 0; i < k; i++) {
    struct mmsghdr *mh = &r->msgs[i];
    if (r->controls && mh->msg_hdr.msg_controllen > 0) note_overflow(r, &mh->msg_hdr);
    if (mh->msg_hdr.msg_flags & MSG_TRUNC) {
      r->truncated++;
      continue;
    }
    uint8_t *a = r->ring->addr + (size_t)n * ADDR_STRIDE;
    memset(a, 0, ADDR_STRIDE);
    int family = 0, port = 0;
    const struct sockaddr_storage *ss = &r->names[i];
    if (mh->msg_hdr.msg_namelen >= sizeof(struct sockaddr_in) && ss->ss_family == AF_INET) {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
      memcpy(a, &sin->sin_addr, 4);
      family = 4;
      port = ntohs(sin->sin_port);
    } else if (mh->msg_hdr.msg_namelen >= sizeof(struct sockaddr_in6) && ss->ss_family == AF_INET6) {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
      memcpy(a, &sin6->sin6_addr, 16);
      family = 6;
      port = ntohs(sin6->sin6_port);
    }
    set_meta(r, n, (uint32_t)i, mh->msg_len, family, port);
    r->bytes += mh->msg_len;
    n++;
  }
  return n;
}

static void deliver(reader_t *r, uint32_t n) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  if (napi_get_reference_value(env, r->callback, &fn) == napi_ok && fn != NULL &&
      napi_get_reference_value(env, r->self, &recv) == napi_ok && napi_create_uint32(env, n, &argv[0]) == napi_ok) {
    r->in_callback = true;
    /* make_callback runs process.nextTick/microtasks after the batch, as any libuv callback would. */
    napi_status st = napi_make_callback(env, r->async_ctx, recv, fn, 1, argv, &result);
    r->in_callback = false;
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  reader_t *r = h->data;
  if (r->closing || r->in_callback) return;
  if (status < 0) {
    /* libuv already stopped the handle (POLLERR, e.g. the device went away); resume() retries. */
    r->errors++;
    r->last_errno = -status;
    r->stalled = true;
    return;
  }
  uint64_t errors_before = r->errors;
  uint32_t n = r->use_recvmmsg ? drain_recvmmsg(r) : drain_read(r);
  if (n == 0) {
    /* A readable fd that only yields hard errors (ENOTSOCK, EBADFD, EIO…) would spin the
     * loop; stop polling and let resume() retry. Transient shortages are not hard errors. */
    if (r->errors != errors_before && r->last_errno != ENOBUFS && r->last_errno != ENOMEM) {
      uv_poll_stop(&r->poll);
      r->stalled = true;
    }
    return;
  }
  r->batches++;
  r->packets += n;
  deliver(r, n);
}

static reader_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return vstun_rethrow_napi(env), NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    vstun_throw_type(env, "reader", "this is not a NativeReader");
    return NULL;
  }
  return p;
}

static napi_value throw_closed(napi_env env, const char *what) {
  napi_value code, msg, err;
  napi_create_string_utf8(env, "ERR_READER_CLOSED", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &err);
  napi_throw(env, err);
  return NULL;
}

static napi_value reader_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  reader_t *r = unwrap_this(env, info, &argc, argv);
  if (!r) return NULL;
  if (r->closing) return throw_closed(env, "start() on a closed reader");
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function)
    return vstun_throw_type(env, "onBatch", "start(onBatch) needs a function");
  if (r->started) return vstun_throw_type(env, "onBatch", "reader already started; create another reader for another consumer");
  NAPI_OK_OR_NULL(napi_create_reference(env, argv[0], 1, &r->callback));
  napi_value name;
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, "vstun:reader", NAPI_AUTO_LENGTH, &name));
  NAPI_OK_OR_NULL(napi_async_init(env, NULL, name, &r->async_ctx));
  int rc = uv_poll_start(&r->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    char target[24];
    snprintf(target, sizeof target, "fd %d", r->fd);
    napi_delete_reference(env, r->callback);
    r->callback = NULL;
    napi_async_destroy(env, r->async_ctx);
    r->async_ctx = NULL;
    return vstun_throw_errno(env, -rc, "uv_poll_start", target, NULL);
  }
  r->started = true;
  napi_reference_ref(env, r->self, NULL); /* a polling reader stays alive without JS holding it */
  return NULL;
}

static napi_value reader_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  reader_t *r = unwrap_this(env, info, &argc, NULL);
  if (!r) return NULL;
  if (r->started && !r->closing && !r->paused) {
    uv_poll_stop(&r->poll);
    r->paused = true;
  }
  return NULL;
}

static napi_value reader_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  reader_t *r = unwrap_this(env, info, &argc, NULL);
  if (!r) return NULL;
  if (r->started && !r->closing) {
    uv_poll_start(&r->poll, UV_READABLE, on_poll);
    r->paused = false;
    r->stalled = false;
  }
  return NULL;
}

static napi_value reader_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  reader_t *r = unwrap_this(env, info, &argc, NULL);
  if (!r) return NULL;
  reader_begin_close(r);
  return NULL;
}

static napi_value reader_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  reader_t *r = unwrap_this(env, info, &argc, NULL);
  if (!r) return NULL;
  napi_value o;
  NAPI_OK_OR_NULL(napi_create_object(env, &o));
  vstun_set_num(env, o, "batches", (double)r->batches);
  vstun_set_num(env, o, "packets", (double)r->packets);
  vstun_set_num(env, o, "bytes", (double)r->bytes);
  vstun_set_num(env, o, "truncated", (double)r->truncated);
  vstun_set_num(env, o, "errors", (double)r->errors);
  vstun_set_num(env, o, "overflow", (double)r->overflow);
  char buf[16];
  napi_value s;
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, r->last_errno ? vstun_errno_name(r->last_errno, buf, sizeof buf) : "",
                                          NAPI_AUTO_LENGTH, &s));
  NAPI_OK_OR_NULL(napi_set_named_property(env, o, "lastErrno", s));
  NAPI_OK_OR_NULL(napi_get_boolean(env, r->stalled, &s));
  NAPI_OK_OR_NULL(napi_set_named_property(env, o, "stalled", s));
  return o;
}

/* The class constructor is internal: readers come from createReader(). */
static napi_value reader_construct(napi_env env, napi_callback_info info) {
  napi_value self;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  return self;
}

static bool define_ro(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_property_descriptor d = {key, NULL, NULL, NULL, NULL, v, napi_enumerable, NULL};
  return napi_define_properties(env, obj, 1, &d) == napi_ok;
}

/* createReader({fd, mode, slots?, slotSize?, headroom?}) -> NativeReader */
static napi_value create_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts = NULL;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, opts, &t) != napi_ok || t != napi_object)
    return vstun_throw_type(env, "createReader", "createReader(options) needs an options object");
  int64_t fd, slots, slot_size, headroom;
  char mode[16];
  bool has_mode;
  if (!vstun_prop_int(env, opts, "fd", 0, INT32_MAX, -1, &fd)) return NULL;
  if (fd < 0) return vstun_throw_type(env, "fd", "options.fd must be a file descriptor number");
  if (!vstun_prop_string(env, opts, "mode", mode, sizeof mode, &has_mode)) return NULL;
  if (!has_mode || (strcmp(mode, "read") != 0 && strcmp(mode, "recvmmsg") != 0))
    return vstun_throw_range(env, "mode", "options.mode must be 'read' or 'recvmmsg'");
  if (!vstun_prop_int(env, opts, "slots", 1, 65536, 256, &slots)) return NULL;
  if (!vstun_prop_int(env, opts, "headroom", 0, 65536, 128, &headroom)) return NULL;
  if (!vstun_prop_int(env, opts, "slotSize", 64, 1 << 20, (2048 + headroom + 63) & ~63LL, &slot_size)) return NULL;
  if (slot_size < headroom + 64)
    return vstun_throw_range(env, "slotSize", "slotSize (%lld) must leave at least 64 bytes after headroom (%lld)", (long long)slot_size, (long long)headroom);
  if (slots * slot_size > (1LL << 30)) return vstun_throw_range(env, "slots", "slots * slotSize must be at most 1 GiB");

  char target[24];
  snprintf(target, sizeof target, "fd %d", (int)fd);
  int dupfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return vstun_throw_errno(env, errno, "createReader", target, errno == EBADF ? "the fd is not open" : NULL);
  reader_t *r = calloc(1, sizeof *r);
  if (!r) {
    close(dupfd);
    return vstun_throw_errno(env, ENOMEM, "createReader", "ring", NULL);
  }
  r->env = env;
  r->fd = dupfd;
  r->use_recvmmsg = strcmp(mode, "recvmmsg") == 0;
  r->slots = (uint32_t)slots;
  r->slot_size = (uint32_t)slot_size;
  r->headroom = (uint32_t)headroom;
  r->ring = ring_block_new(r->slots, r->slot_size);
  if (!r->ring) {
    close(dupfd);
    reader_free(r);
    return vstun_throw_errno(env, ENOMEM, "createReader", "ring", "lower slots or slotSize");
  }
  if (r->use_recvmmsg) {
    r->msgs = calloc(r->slots, sizeof *r->msgs);
    r->iovs = calloc(r->slots, sizeof *r->iovs);
    r->names = calloc(r->slots, sizeof *r->names);
    if (!r->msgs || !r->iovs || !r->names) {
      close(dupfd);
      reader_free(r);
      return vstun_throw_errno(env, ENOMEM, "createReader", "ring", NULL);
    }
    for (uint32_t i = 0; i < r->slots; i++) {
      r->iovs[i].iov_base = r->ring->data + (size_t)i * r->slot_size + r->headroom;
      r->iovs[i].iov_len = r->slot_size - r->headroom;
      r->msgs[i].msg_hdr.msg_iov = &r->iovs[i];
      r->msgs[i].msg_hdr.msg_iovlen = 1;
      r->msgs[i].msg_hdr.msg_name = &r->names[i];
    }
    /* Ask the kernel to tell us about receive-buffer overflows; a socket type without
     * SO_RXQ_OVFL simply reports none. */
    int one = 1;
    if (setsockopt(r->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) == 0) {
      r->controls = calloc(r->slots, OVFL_CONTROL_LEN);
      if (!r->controls) {
        close(dupfd);
        reader_free(r);
        return vstun_throw_errno(env, ENOMEM, "createReader", "ring", NULL);
      }
      for (uint32_t i = 0; i < r->slots; i++) r->msgs[i].msg_hdr.msg_control = r->controls + (size_t)i * OVFL_CONTROL_LEN;
    }
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(dupfd);
    reader_free(r);
    return vstun_rethrow_napi(env);
  }
  int rc = uv_poll_init(loop, &r->poll, r->fd);
  if (rc < 0) {
    close(dupfd);
    reader_free(r);
    return vstun_throw_errno(env, -rc, "createReader", target,
                             rc == UV_EPERM ? "this kind of fd cannot be polled (e.g. a regular file)" : NULL);
  }
  r->poll.data = r;

  /* From here the handle exists, so failures must go through close, not free. */
  napi_value ctor, obj, data, meta, addr, ab;
  bool ok = napi_get_reference_value(env, vstun_instance_get(env)->reader_ctor, &ctor) == napi_ok &&
            napi_new_instance(env, ctor, 0, NULL, &obj) == napi_ok &&
            napi_wrap(env, obj, r, reader_finalize, NULL, NULL) == napi_ok;
  if (!ok) {
    r->env_gone = true; /* no napi state to release yet */
    r->finalized = true;
    reader_begin_close(r);
    return vstun_rethrow_napi(env);
  }
  /* The wrap owns r now; a failure below leaves it to the finalizer. */
  napi_create_reference(env, obj, 0, &r->self);
  napi_add_env_cleanup_hook(env, on_env_cleanup, r);
  if (!ring_block_arraybuffer(env, r->ring, r->ring->data, r->ring->data_len, &data)) return vstun_rethrow_napi(env);
  if (!ring_block_arraybuffer(env, r->ring, r->ring->meta, r->ring->meta_len, &ab) ||
      napi_create_typedarray(env, napi_int32_array, (size_t)r->slots * META_STRIDE, ab, 0, &meta) != napi_ok)
    return vstun_rethrow_napi(env);
  if (!ring_block_arraybuffer(env, r->ring, r->ring->addr, r->ring->addr_len, &ab) ||
      napi_create_typedarray(env, napi_uint8_array, r->ring->addr_len, ab, 0, &addr) != napi_ok)
    return vstun_rethrow_napi(env);
  if (!define_ro(env, obj, "data", data) || !define_ro(env, obj, "meta", meta) || !define_ro(env, obj, "addr", addr) ||
      !define_ro(env, obj, "slots", vstun_make_int(env, r->slots)) ||
      !define_ro(env, obj, "slotSize", vstun_make_int(env, r->slot_size)) ||
      !define_ro(env, obj, "headroom", vstun_make_int(env, r->headroom)) ||
      !define_ro(env, obj, "fd", vstun_make_int(env, (double)fd)))
    return vstun_rethrow_napi(env);
  return obj;
}

bool vstun_init_reader(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"start", NULL, reader_start, NULL, NULL, NULL, napi_default_method, NULL},
      {"pause", NULL, reader_pause, NULL, NULL, NULL, napi_default_method, NULL},
      {"resume", NULL, reader_resume, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, reader_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"stats", NULL, reader_stats, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "NativeReader", NAPI_AUTO_LENGTH, reader_construct, NULL, sizeof methods / sizeof methods[0],
                        methods, &cls) != napi_ok)
    return false;
  if (napi_create_reference(env, cls, 1, &vstun_instance_get(env)->reader_ctor) != napi_ok) return false;
  return vstun_export_fn(env, exports, "createReader", create_reader);
}
