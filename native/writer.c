/* Batched writer: writes packets straight from the caller's ring (write(2) per packet for
 * TUN/TAP, sendmmsg(2) for sockets). On a TUN/TAP, entries flagged META_FLAG_CONTINUES are
 * appended to the packet before them and the whole goes out in one writev(2) (a super-packet
 * sent from spans of the ring, never copied together). When the fd says EAGAIN the rest of the batch is copied
 * into a bounded backlog drained by a uv_poll on UV_WRITABLE. Per-packet failures are
 * counted, never thrown. The writer polls its own dup() of the fd because libuv allows one
 * poll handle per fd and the reader may already watch the original. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define SEND_CHUNK 64
#define BACKLOG_BYTES_PER_ENTRY 2048

typedef struct backlog_entry {
  uint32_t off, len;
  int32_t family, port;
  uint8_t addr[ADDR_STRIDE];
} backlog_entry;

typedef struct writer {
  napi_env env;
  uv_poll_t poll;
  int fd; /* our dup */
  bool use_sendmmsg;
  bool polling, closing, handle_closed, finalized, env_gone;
  /* Backlog: entries in a circular array, bytes in a circular byte ring (allocated on first EAGAIN). */
  uint32_t bl_cap, bl_head, bl_count;
  backlog_entry *bl;
  uint8_t *bl_bytes;
  size_t bl_bytes_cap, bl_wpos;
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iovs[SEND_CHUNK];
  struct sockaddr_in6 names[SEND_CHUNK];
  uint32_t pkt[SEND_CHUNK];
  struct iovec gather[MAX_GATHER_SPANS + 1]; /* + the zero virtio-net header */
  uint64_t written, bytes, queued, dropped, errors;
  int last_errno;
  /* TUN/TAP opened with IFF_VNET_HDR: bytes of virtio-net header each write starts with. A packet
   * whose meta family word has bit 0 set (META_FLAG_VNET_HDR) carries its own header; any other
   * gets a zero one (no offload) prepended here, so callers that know nothing of offloads work. */
  uint32_t vnet_len;
} writer_t;

static const uint8_t zero_vnet_hdr[24];

static void writer_free(writer_t *w) {
  free(w->bl);
  free(w->bl_bytes);
  free(w);
}

static void on_handle_closed(uv_handle_t *h) {
  writer_t *w = h->data;
  w->handle_closed = true;
  if (w->finalized) writer_free(w);
}

static void on_env_cleanup(void *arg);

static void writer_begin_close(writer_t *w) {
  if (w->closing) return;
  w->closing = true;
  w->dropped += w->bl_count; /* unsent backlog is lost on close */
  w->bl_count = 0;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
  /* uv_close already removed the fd from epoll; closing our dup now (not in the callback)
   * means a TUN/TAP disappears as soon as its owner closes the last queue. */
  close(w->fd);
  w->fd = -1;
  if (!w->env_gone) napi_remove_env_cleanup_hook(w->env, on_env_cleanup, w);
}

static void on_env_cleanup(void *arg) {
  writer_t *w = arg;
  w->env_gone = true;
  writer_begin_close(w);
}

static void writer_finalize(napi_env env, void *data, void *hint) {
  writer_t *w = data;
  writer_begin_close(w);
  w->finalized = true;
  if (w->handle_closed) writer_free(w);
}

static void count_error(writer_t *w, int err) {
  w->errors++;
  w->last_errno = err;
}

/* Fills a sockaddr from meta family/port and 16 address bytes; returns its length (0 = none). */
static socklen_t fill_name(struct sockaddr_in6 *out, int family, int port, const uint8_t *a) {
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    memcpy(&sin->sin_addr, a, 4);
    return sizeof *sin;
  }
  if (family == 6) {
    memset(out, 0, sizeof *out);
    out->sin6_family = AF_INET6;
    out->sin6_port = htons((uint16_t)port);
    memcpy(&out->sin6_addr, a, 16);
    return sizeof *out;
  }
  return 0;
}

/* ---- backlog ---- */

static bool backlog_alloc(writer_t *w) {
  if (w->bl) return true;
  w->bl = calloc(w->bl_cap, sizeof *w->bl);
  w->bl_bytes_cap = (size_t)w->bl_cap * BACKLOG_BYTES_PER_ENTRY;
  if (w->bl_bytes_cap < 65536 * 2) w->bl_bytes_cap = 65536 * 2;
  w->bl_bytes = malloc(w->bl_bytes_cap);
  if (w->bl && w->bl_bytes) return true;
  free(w->bl);
  free(w->bl_bytes);
  w->bl = NULL;
  w->bl_bytes = NULL;
  return false;
}

/* Finds room for len bytes in the byte ring; records live in [rpos, wpos) or wrap to 0. */
static bool backlog_room(writer_t *w, size_t len, size_t *off) {
  if (w->bl_count == w->bl_cap || len > w->bl_bytes_cap) return false;
  if (w->bl_count == 0) {
    *off = 0;
    return true;
  }
  size_t rpos = w->bl[w->bl_head].off;
  if (w->bl_wpos >= rpos) {
    if (w->bl_bytes_cap - w->bl_wpos >= len) *off = w->bl_wpos;
    else if (len < rpos) *off = 0;
    else return false;
  } else {
    if (w->bl_wpos + len < rpos) *off = w->bl_wpos;
    else return false;
  }
  return true;
}

/* Queues the concatenation of iov[0..n) (total bytes) as one packet; drops it when full. */
static void backlog_push_iov(writer_t *w, const struct iovec *iov, int n, size_t total, int family, int port, const uint8_t *a) {
  size_t off;
  if (!backlog_alloc(w) || !backlog_room(w, total, &off)) {
    w->dropped++;
    return;
  }
  backlog_entry *e = &w->bl[(w->bl_head + w->bl_count) % w->bl_cap];
  size_t at = off;
  for (int k = 0; k < n; k++) {
    memcpy(w->bl_bytes + at, iov[k].iov_base, iov[k].iov_len);
    at += iov[k].iov_len;
  }
  e->off = (uint32_t)off;
  e->len = (uint32_t)total;
  e->family = family;
  e->port = port;
  if (a) memcpy(e->addr, a, ADDR_STRIDE);
  w->bl_wpos = off + total;
  w->bl_count++;
  w->queued++;
}

static void backlog_push(writer_t *w, const uint8_t *p, size_t len, int family, int port, const uint8_t *a) {
  struct iovec one = {(void *)p, len};
  backlog_push_iov(w, &one, 1, len, family, port, a);
}

static void on_writable(uv_poll_t *h, int status, int events);

static void poll_writable(writer_t *w, bool on) {
  if (w->closing || w->polling == on) return;
  if (on) {
    if (uv_poll_start(&w->poll, UV_WRITABLE, on_writable) == 0) w->polling = true;
  } else {
    uv_poll_stop(&w->poll);
    w->polling = false;
  }
}

/* Sends one packet; returns 0 on success, EAGAIN to retry later, or another errno (counted). */
static int send_one(writer_t *w, const uint8_t *p, size_t len, int family, int port, const uint8_t *a) {
  ssize_t k;
  do {
    if (!w->use_sendmmsg && w->vnet_len && !(family & META_FLAG_VNET_HDR)) {
      struct iovec iov[2] = {{(void *)zero_vnet_hdr, w->vnet_len}, {(void *)p, len}};
      k = writev(w->fd, iov, 2);
    } else if (!w->use_sendmmsg) {
      k = write(w->fd, p, len);
    } else {
      struct sockaddr_in6 name;
      socklen_t nl = fill_name(&name, family, port, a);
      k = sendto(w->fd, p, len, MSG_DONTWAIT, nl ? (struct sockaddr *)&name : NULL, nl);
    }
  } while (k < 0 && errno == EINTR);
  if (k >= 0) {
    w->written++;
    w->bytes += len;
    return 0;
  }
  /* ENOBUFS: the qdisc already dropped this packet; counting it beats retrying into a full queue. */
  if (errno == EAGAIN || errno == EWOULDBLOCK) return EAGAIN;
  count_error(w, errno);
  return errno;
}

/* Sends queued packets in order until the fd pushes back; true when the backlog is empty. */
static bool backlog_drain(writer_t *w) {
  while (w->bl_count > 0) {
    backlog_entry *e = &w->bl[w->bl_head];
    if (send_one(w, w->bl_bytes + e->off, e->len, e->family, e->port, e->addr) == EAGAIN) return false;
    w->bl_head = (w->bl_head + 1) % w->bl_cap;
    w->bl_count--;
  }
  w->bl_wpos = 0;
  return true;
}

static void on_writable(uv_poll_t *h, int status, int events) {
  writer_t *w = h->data;
  if (w->closing) return;
  if (status < 0) {
    /* libuv stopped the handle on POLLERR; drop what is queued rather than spin. */
    w->polling = false;
    count_error(w, -status);
    w->dropped += w->bl_count;
    w->bl_count = 0;
    return;
  }
  if (backlog_drain(w)) poll_writable(w, false);
}

/* ---- writeBatch ---- */

typedef struct batch {
  uint8_t *data;
  size_t data_len;
  const int32_t *meta;
  const uint8_t *addr;
  size_t addr_len;
} batch;

/* Validates packet i's span (and address when it needs one); counts EINVAL when bad. */
static bool packet_span(writer_t *w, const batch *b, uint32_t i, const uint8_t **p, size_t *len, int *family, int *port,
                        const uint8_t **a) {
  const int32_t *m = b->meta + (size_t)i * META_STRIDE;
  int32_t off = m[META_OFFSET], l = m[META_LENGTH];
  if (off < 0 || l <= 0 || (size_t)off + (size_t)l > b->data_len) {
    count_error(w, EINVAL);
    return false;
  }
  *p = b->data + off;
  *len = (size_t)l;
  /* For TUN/TAP writes the family word only carries META_FLAG_VNET_HDR (kept in the backlog too)
   * and META_FLAG_CONTINUES. */
  *family = w->use_sendmmsg ? m[META_FAMILY] : m[META_FAMILY] & ((w->vnet_len ? META_FLAG_VNET_HDR : 0) | META_FLAG_CONTINUES);
  *port = m[META_PORT];
  *a = NULL;
  if (*family != 0 && w->use_sendmmsg) {
    if ((*family != 4 && *family != 6) || !b->addr || ((size_t)i + 1) * ADDR_STRIDE > b->addr_len) {
      count_error(w, EDESTADDRREQ);
      return false;
    }
    *a = b->addr + (size_t)i * ADDR_STRIDE;
  }
  return true;
}

/* End (exclusive) of the packet starting at entry `from`: the entry and the continuations after it. */
static uint32_t gather_end(const writer_t *w, const batch *b, uint32_t from, uint32_t count) {
  uint32_t j = from + 1;
  if (w->use_sendmmsg) return j;
  while (j < count && (b->meta[(size_t)j * META_STRIDE + META_FAMILY] & META_FLAG_CONTINUES)) j++;
  return j;
}

/* Spans of entries i..end-1 into w->gather; false (one EINVAL counted, nothing sent) when an
 * entry is bad, the first is itself a continuation, or there are too many spans. */
static bool gather_spans(writer_t *w, const batch *b, uint32_t i, uint32_t end, int *n, size_t *total, int *family) {
  if (end - i > MAX_GATHER_SPANS) {
    count_error(w, EINVAL);
    return false;
  }
  *n = 0;
  *total = 0;
  for (uint32_t k = i; k < end; k++) {
    const uint8_t *p, *a;
    size_t len;
    int fam, port;
    if (!packet_span(w, b, k, &p, &len, &fam, &port, &a)) return false;
    if (k == i) {
      if (fam & META_FLAG_CONTINUES) {
        count_error(w, EINVAL);
        return false;
      }
      *family = fam;
    }
    w->gather[*n].iov_base = (void *)p;
    w->gather[*n].iov_len = len;
    (*n)++;
    *total += len;
  }
  return true;
}

/* One writev of the gathered spans (behind a zero virtio-net header when the first has none). */
static int send_gathered(writer_t *w, int n, size_t total, int family) {
  struct iovec *iov = w->gather;
  int cnt = n;
  struct iovec with_hdr[MAX_GATHER_SPANS + 1];
  if (w->vnet_len && !(family & META_FLAG_VNET_HDR)) {
    with_hdr[0].iov_base = (void *)zero_vnet_hdr;
    with_hdr[0].iov_len = w->vnet_len;
    memcpy(with_hdr + 1, w->gather, (size_t)n * sizeof *iov);
    iov = with_hdr;
    cnt = n + 1;
  }
  ssize_t k;
  do k = writev(w->fd, iov, cnt);
  while (k < 0 && errno == EINTR);
  if (k >= 0) {
    w->written++;
    w->bytes += total;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return EAGAIN;
  count_error(w, errno);
  return errno;
}

static void queue_rest(writer_t *w, const batch *b, uint32_t from, uint32_t count) {
  for (uint32_t i = from; i < count;) {
    uint32_t end = gather_end(w, b, i, count);
    int n, family;
    size_t total;
    if (end - i > 1) {
      if (gather_spans(w, b, i, end, &n, &total, &family)) backlog_push_iov(w, w->gather, n, total, family, 0, NULL);
    } else {
      const uint8_t *p, *a;
      size_t len;
      int port;
      if (packet_span(w, b, i, &p, &len, &family, &port, &a)) {
        if (family & META_FLAG_CONTINUES) count_error(w, EINVAL);
        else backlog_push(w, p, len, family, port, a);
      }
    }
    i = end;
  }
  if (w->bl_count > 0) poll_writable(w, true);
}

static uint32_t write_each(writer_t *w, const batch *b, uint32_t count) {
  uint32_t sent = 0;
  for (uint32_t i = 0; i < count;) {
    uint32_t end = gather_end(w, b, i, count);
    int rc;
    if (end - i > 1) {
      int n, family;
      size_t total;
      if (!gather_spans(w, b, i, end, &n, &total, &family)) {
        i = end;
        continue;
      }
      rc = send_gathered(w, n, total, family);
    } else {
      const uint8_t *p, *a;
      size_t len;
      int family, port;
      if (!packet_span(w, b, i, &p, &len, &family, &port, &a)) {
        i = end;
        continue;
      }
      if (family & META_FLAG_CONTINUES) { /* nothing before it to continue */
        count_error(w, EINVAL);
        i = end;
        continue;
      }
      rc = send_one(w, p, len, family, port, a);
    }
    if (rc == EAGAIN) {
      queue_rest(w, b, i, count);
      break;
    }
    if (rc == 0) sent++;
    i = end;
  }
  return sent;
}

static uint32_t send_batched(writer_t *w, const batch *b, uint32_t count) {
  uint32_t sent = 0;
  uint32_t i = 0;
  while (i < count) {
    uint32_t m = 0;
    for (; i < count && m < SEND_CHUNK; i++) {
      const uint8_t *p, *a;
      size_t len;
      int family, port;
      if (!packet_span(w, b, i, &p, &len, &family, &port, &a)) continue;
      w->iovs[m].iov_base = (void *)p;
      w->iovs[m].iov_len = len;
      struct msghdr *h = &w->msgs[m].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_iov = &w->iovs[m];
      h->msg_iovlen = 1;
      socklen_t nl = a ? fill_name(&w->names[m], family, port, a) : 0;
      h->msg_name = nl ? &w->names[m] : NULL;
      h->msg_namelen = nl;
      w->pkt[m] = i;
      m++;
    }
    uint32_t k = 0;
    while (k < m) {
      int r = sendmmsg(w->fd, w->msgs + k, m - k, MSG_DONTWAIT);
      if (r > 0) {
        for (int j = 0; j < r; j++) w->bytes += w->iovs[k + j].iov_len;
        w->written += (uint64_t)r;
        sent += (uint32_t)r;
        k += (uint32_t)r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        queue_rest(w, b, w->pkt[k], count);
        return sent;
      }
      /* sendmmsg reports the failing message's error only when it is the first one. */
      count_error(w, r < 0 ? errno : EIO);
      k++;
    }
  }
  return sent;
}

static writer_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return vstun_rethrow_napi(env), NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    vstun_throw_type(env, "writer", "this is not a NativeWriter");
    return NULL;
  }
  return p;
}

/* writeBatch(data, meta, count, addr?) -> packets sent at once */
static napi_value writer_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  writer_t *w = unwrap_this(env, info, &argc, argv);
  if (!w) return NULL;
  if (argc < 3) return vstun_throw_type(env, "writeBatch", "writeBatch(data, meta, count, addr?) takes at least 3 arguments");
  batch b = {0};
  int32_t *meta;
  size_t meta_n;
  int64_t count;
  if (!vstun_arg_bytes(env, argv[0], "data", &b.data, &b.data_len)) return NULL;
  if (!vstun_arg_int32array(env, argv[1], "meta", &meta, &meta_n)) return NULL;
  if (!vstun_arg_int(env, argv[2], "count", 0, (int64_t)(meta_n / META_STRIDE), &count)) return NULL;
  b.meta = meta;
  if (argc > 3) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t != napi_undefined && t != napi_null) {
      uint8_t *a;
      if (!vstun_arg_bytes(env, argv[3], "addr", &a, &b.addr_len)) return NULL;
      b.addr = a;
    }
  }
  uint32_t sent = 0;
  if (w->closing) {
    w->dropped += (uint64_t)count;
  } else if (w->bl_count > 0 && !backlog_drain(w)) {
    queue_rest(w, &b, 0, (uint32_t)count); /* keep order behind what is already queued */
  } else {
    poll_writable(w, false);
    sent = w->use_sendmmsg ? send_batched(w, &b, (uint32_t)count) : write_each(w, &b, (uint32_t)count);
  }
  napi_value out;
  NAPI_OK_OR_NULL(napi_create_uint32(env, sent, &out));
  return out;
}

static napi_value writer_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  writer_t *w = unwrap_this(env, info, &argc, NULL);
  if (w) writer_begin_close(w);
  return NULL;
}

static napi_value writer_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  writer_t *w = unwrap_this(env, info, &argc, NULL);
  if (!w) return NULL;
  napi_value o, s;
  char buf[16];
  NAPI_OK_OR_NULL(napi_create_object(env, &o));
  vstun_set_num(env, o, "written", (double)w->written);
  vstun_set_num(env, o, "bytes", (double)w->bytes);
  vstun_set_num(env, o, "queued", (double)w->queued);
  vstun_set_num(env, o, "dropped", (double)w->dropped);
  vstun_set_num(env, o, "errors", (double)w->errors);
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, w->last_errno ? vstun_errno_name(w->last_errno, buf, sizeof buf) : "",
                                          NAPI_AUTO_LENGTH, &s));
  NAPI_OK_OR_NULL(napi_set_named_property(env, o, "lastErrno", s));
  vstun_set_num(env, o, "backlogDepth", (double)w->bl_count);
  return o;
}

static napi_value writer_construct(napi_env env, napi_callback_info info) {
  napi_value self;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  return self;
}

/* createWriter({fd, mode, backlog?}) -> NativeWriter */
static napi_value create_writer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts = NULL;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, opts, &t) != napi_ok || t != napi_object)
    return vstun_throw_type(env, "createWriter", "createWriter(options) needs an options object");
  int64_t fd, backlog;
  char mode[16];
  bool has_mode;
  if (!vstun_prop_int(env, opts, "fd", 0, INT32_MAX, -1, &fd)) return NULL;
  if (fd < 0) return vstun_throw_type(env, "fd", "options.fd must be a file descriptor number");
  if (!vstun_prop_string(env, opts, "mode", mode, sizeof mode, &has_mode)) return NULL;
  if (!has_mode || (strcmp(mode, "write") != 0 && strcmp(mode, "sendmmsg") != 0))
    return vstun_throw_range(env, "mode", "options.mode must be 'write' or 'sendmmsg'");
  if (!vstun_prop_int(env, opts, "backlog", 1, 1 << 20, 4096, &backlog)) return NULL;
  int64_t vnet_len;
  if (!vstun_prop_int(env, opts, "vnetHdr", 0, 24, 0, &vnet_len)) return NULL;
  if (vnet_len != 0 && vnet_len != 10 && vnet_len != 12 && vnet_len != 24) return vstun_throw_range(env, "vnetHdr", "vnetHdr must be 0, 10, 12 or 24");
  if (vnet_len != 0 && strcmp(mode, "write") != 0) return vstun_throw_range(env, "vnetHdr", "vnetHdr needs mode 'write' (a TUN/TAP)");
  char target[24];
  snprintf(target, sizeof target, "fd %d", (int)fd);

  int dupfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return vstun_throw_errno(env, errno, "createWriter", target, errno == EBADF ? "the fd is not open" : NULL);
  writer_t *w = calloc(1, sizeof *w);
  if (!w) {
    close(dupfd);
    return vstun_throw_errno(env, ENOMEM, "createWriter", target, NULL);
  }
  w->env = env;
  w->fd = dupfd;
  w->use_sendmmsg = strcmp(mode, "sendmmsg") == 0;
  w->bl_cap = (uint32_t)backlog;
  w->vnet_len = (uint32_t)vnet_len;
  uv_loop_t *loop;
  int rc = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, &w->poll, dupfd) : UV_EINVAL;
  if (rc < 0) {
    close(dupfd);
    free(w);
    return vstun_throw_errno(env, -rc, "createWriter", target, NULL);
  }
  w->poll.data = w;
  napi_value ctor, obj;
  if (napi_get_reference_value(env, vstun_instance_get(env)->writer_ctor, &ctor) != napi_ok ||
      napi_new_instance(env, ctor, 0, NULL, &obj) != napi_ok || napi_wrap(env, obj, w, writer_finalize, NULL, NULL) != napi_ok) {
    w->env_gone = true;
    w->finalized = true;
    writer_begin_close(w);
    return vstun_rethrow_napi(env);
  }
  napi_add_env_cleanup_hook(env, on_env_cleanup, w);
  return obj;
}

bool vstun_init_writer(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"writeBatch", NULL, writer_write_batch, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, writer_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"stats", NULL, writer_stats, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "NativeWriter", NAPI_AUTO_LENGTH, writer_construct, NULL, sizeof methods / sizeof methods[0],
                        methods, &cls) != napi_ok)
    return false;
  if (napi_create_reference(env, cls, 1, &vstun_instance_get(env)->writer_ctor) != napi_ok) return false;
  return vstun_export_fn(env, exports, "createWriter", create_writer);
}
