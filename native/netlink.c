/* One netlink exchange (a dump, or a single get) on a fresh socket, run on the libuv thread
 * pool so that the event loop never waits on the kernel and no child process is forked to
 * read kernel state: netlinkRequest(protocol, request) resolves with the answer's messages
 * (those carrying the request's sequence number, NLMSG_DONE or NLMSG_ERROR included) as one
 * buffer. Building the request and reading the answer are JS's (src/host/netlink.ts).
 * Control plane only: one socket and one bounded buffer per call, a receive timeout so that
 * a silent kernel cannot hold a pool thread, every failure a typed rejection. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NL_REQUEST_MAX 4096
/* A dump of every link and address of a big host is well under this; more is refused. */
#define NL_ANSWER_MAX (16u << 20)
/* Dump parts are at most a page or 32 KiB each (the kernel's choice); room to spare. */
#define NL_RECV_BUF (64u << 10)
#define NL_TIMEOUT_S 5

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int protocol;
  uint8_t req[NL_REQUEST_MAX];
  size_t req_len;
  uint8_t *out;
  size_t out_len;
  size_t out_cap;
  int err;
  const char *op;
} nl_job;

static bool append(nl_job *j, const void *p, size_t len) {
  if (j->out_len + len > NL_ANSWER_MAX) return false;
  if (j->out_len + len > j->out_cap) {
    size_t cap = j->out_cap ? j->out_cap : NL_RECV_BUF;
    while (cap < j->out_len + len) cap *= 2;
    uint8_t *grown = realloc(j->out, cap);
    if (!grown) return false;
    j->out = grown;
    j->out_cap = cap;
  }
  memcpy(j->out + j->out_len, p, len);
  j->out_len += len;
  return true;
}

static void fail(nl_job *j, int err, const char *op) {
  j->err = err;
  j->op = op;
}

/* Pool thread: no napi calls here. */
static void nl_execute(napi_env env, void *data) {
  nl_job *j = data;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, j->protocol);
  if (fd < 0) return fail(j, errno, "socket(AF_NETLINK)");
  struct timeval tv = {.tv_sec = NL_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  uint32_t seq = ((const struct nlmsghdr *)j->req)->nlmsg_seq;
  uint8_t *buf = malloc(NL_RECV_BUF);
  if (!buf) {
    close(fd);
    return fail(j, ENOMEM, "malloc");
  }
  if (sendto(fd, j->req, j->req_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    fail(j, errno, "sendto(netlink)");
    goto out;
  }
  for (bool done = false; !done;) {
    struct iovec iov = {.iov_base = buf, .iov_len = NL_RECV_BUF};
    struct sockaddr_nl from;
    struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(j, errno == EAGAIN ? ETIMEDOUT : errno, "recvmsg(netlink)");
      break;
    }
    if (mh.msg_flags & MSG_TRUNC) {
      fail(j, EMSGSIZE, "recvmsg(netlink)");
      break;
    }
    if (from.nl_pid != 0) continue; /* only the kernel answers */
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;
      size_t len = NLMSG_ALIGN(h->nlmsg_len) <= (size_t)left ? NLMSG_ALIGN(h->nlmsg_len) : h->nlmsg_len;
      if (!append(j, h, len)) {
        fail(j, j->out_len + len > NL_ANSWER_MAX ? EMSGSIZE : ENOMEM, "netlink answer");
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR || !(h->nlmsg_flags & NLM_F_MULTI)) {
        done = true;
        break;
      }
    }
  }
out:
  free(buf);
  close(fd);
}

static void nl_complete(napi_env env, napi_status status, void *data) {
  nl_job *j = data;
  napi_value result = NULL;
  if (status != napi_ok && j->err == 0) fail(j, ECANCELED, "netlink request");
  if (j->err == 0) {
    void *copy;
    if (napi_create_buffer_copy(env, j->out_len, j->out_len ? (void *)j->out : (void *)"", &copy, &result) == napi_ok)
      napi_resolve_deferred(env, j->deferred, result);
    else
      fail(j, ENOMEM, "netlink answer");
  }
  if (j->err != 0) {
    char target[32];
    snprintf(target, sizeof target, "protocol %d", j->protocol);
    vstun_throw_errno(env, j->err, j->op, target, j->err == EPERM ? "run as root or grant CAP_NET_ADMIN" : NULL);
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_reject_deferred(env, j->deferred, error);
  }
  napi_delete_async_work(env, j->work);
  free(j->out);
  free(j);
}

static napi_value netlink_request(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "netlinkRequest", "netlinkRequest takes (protocol, request)");
  int64_t protocol;
  uint8_t *bytes;
  size_t len;
  if (!vstun_arg_int(env, argv[0], "protocol", 0, 31, &protocol) || !vstun_arg_bytes(env, argv[1], "request", &bytes, &len)) return NULL;
  if (len < sizeof(struct nlmsghdr) || len > NL_REQUEST_MAX)
    return vstun_throw_range(env, "request", "a netlink request is %zu..%d bytes, got %zu", sizeof(struct nlmsghdr), NL_REQUEST_MAX, len);
  const struct nlmsghdr *h = (const struct nlmsghdr *)bytes;
  uint32_t declared;
  memcpy(&declared, &h->nlmsg_len, sizeof declared);
  if (declared != len) return vstun_throw_range(env, "request", "nlmsg_len says %u bytes, the request has %zu", declared, len);
  nl_job *j = calloc(1, sizeof *j);
  if (!j) return vstun_throw_errno(env, ENOMEM, "calloc", "netlinkRequest", NULL);
  j->protocol = (int)protocol;
  memcpy(j->req, bytes, len);
  j->req_len = len;
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "vstun.netlink", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, nl_execute, nl_complete, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    free(j);
    return vstun_rethrow_napi(env);
  }
  return promise;
}

bool vstun_init_netlink(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "netlinkRequest", netlink_request);
}
