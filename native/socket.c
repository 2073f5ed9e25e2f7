/* Raw and UDP sockets for the data path (non-blocking, close-on-exec), and closeFd. */
#define _GNU_SOURCE
#include "vstun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *sock_hint(int err) {
  switch (err) {
    case EPERM:
    case EACCES: return "run as root or grant CAP_NET_RAW (raw sockets) / CAP_NET_ADMIN (forced buffers, bind to device)";
    case ENODEV: return "no network interface has this name (check `ip link`)";
    case EADDRINUSE: return "the port is taken; stop the other process or pass reusePort to every socket sharing it";
    case EADDRNOTAVAIL: return "the address is not assigned to any interface in this network namespace";
    case EAFNOSUPPORT: return "this address family is disabled on the host";
    default: return NULL;
  }
}

struct common_opts {
  int64_t rcvbuf, sndbuf;
  char device[IFNAMSIZ];
  bool has_device;
};

static bool read_common(napi_env env, napi_value opts, struct common_opts *o) {
  if (!vstun_prop_int(env, opts, "rcvbuf", 0, INT32_MAX, 0, &o->rcvbuf)) return false;
  if (!vstun_prop_int(env, opts, "sndbuf", 0, INT32_MAX, 0, &o->sndbuf)) return false;
  napi_value dev;
  if (!vstun_prop(env, opts, "bindDevice", &dev, &o->has_device)) return false;
  if (o->has_device && !vstun_arg_ifname(env, dev, o->device)) return false;
  return true;
}

/* Applies buffer sizes and device binding; on failure closes fd, throws, returns false. */
static bool apply_common(napi_env env, int fd, const struct common_opts *o, const char *target) {
  int v;
  const char *op = NULL;
  if (o->rcvbuf > 0) {
    v = (int)o->rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0) op = "setsockopt SO_RCVBUFFORCE";
  }
  if (!op && o->sndbuf > 0) {
    v = (int)o->sndbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0) op = "setsockopt SO_SNDBUFFORCE";
  }
  if (!op && o->has_device &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->device, (socklen_t)strlen(o->device) + 1) < 0)
    op = "setsockopt SO_BINDTODEVICE";
  if (!op) return true;
  int err = errno;
  close(fd);
  vstun_throw_errno(env, err, op, o->has_device && err == ENODEV ? o->device : target, sock_hint(err));
  return false;
}

static bool arg_family(napi_env env, napi_value v, int *af) {
  int64_t fam;
  if (!vstun_arg_int(env, v, "family", 4, 6, &fam)) return false;
  if (fam == 5) {
    vstun_throw_range(env, "family", "family must be 4 or 6");
    return false;
  }
  *af = fam == 4 ? AF_INET : AF_INET6;
  return true;
}

/* rawSocketOpen(family, protocol, options?) -> fd */
static napi_value raw_socket_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "rawSocketOpen", "rawSocketOpen(family, protocol, options?) takes at least 2 arguments");
  int af;
  int64_t proto;
  struct common_opts o;
  memset(&o, 0, sizeof o);
  bool hdrincl;
  if (!arg_family(env, argv[0], &af) || !vstun_arg_int(env, argv[1], "protocol", 0, 255, &proto)) return NULL;
  napi_value opts = argc > 2 ? argv[2] : NULL;
  if (!read_common(env, opts, &o) || !vstun_prop_bool(env, opts, "hdrincl", false, &hdrincl)) return NULL;
  char target[48];
  snprintf(target, sizeof target, "raw%s/proto%d", af == AF_INET ? "4" : "6", (int)proto);
  if (hdrincl && af != AF_INET) return vstun_throw_range(env, target, "hdrincl is only supported for IPv4 raw sockets");

  int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)proto);
  if (fd < 0) return vstun_throw_errno(env, errno, "socket", target, sock_hint(errno));
  if (!apply_common(env, fd, &o, target)) return NULL;
  if (hdrincl) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0) {
      int err = errno;
      close(fd);
      return vstun_throw_errno(env, err, "setsockopt IP_HDRINCL", target, sock_hint(err));
    }
  }
  return vstun_make_int(env, fd);
}

/* udpSocketOpen(family, address, port, options?) -> fd, bound to address:port */
static napi_value udp_socket_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return vstun_throw_type(env, "udpSocketOpen", "udpSocketOpen(family, address, port, options?) takes at least 3 arguments");
  int af;
  char addr[64];
  int64_t port;
  struct common_opts o;
  memset(&o, 0, sizeof o);
  bool reuse;
  if (!arg_family(env, argv[0], &af) || !vstun_arg_string(env, argv[1], "address", addr, sizeof addr) ||
      !vstun_arg_int(env, argv[2], "port", 0, 65535, &port))
    return NULL;
  napi_value opts = argc > 3 ? argv[3] : NULL;
  if (!read_common(env, opts, &o) || !vstun_prop_bool(env, opts, "reusePort", false, &reuse)) return NULL;
  char target[96];
  snprintf(target, sizeof target, af == AF_INET ? "udp %s:%d" : "udp [%s]:%d", addr, (int)port);

  struct sockaddr_storage ss;
  socklen_t slen;
  memset(&ss, 0, sizeof ss);
  if (af == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) return vstun_throw_range(env, target, "'%s' is not an IPv4 address", addr);
    slen = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) return vstun_throw_range(env, target, "'%s' is not an IPv6 address", addr);
    slen = sizeof *sin6;
  }
  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return vstun_throw_errno(env, errno, "socket", target, sock_hint(errno));
  if (!apply_common(env, fd, &o, target)) return NULL;
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return vstun_throw_errno(env, err, "setsockopt SO_REUSEPORT", target, sock_hint(err));
  }
  if (bind(fd, (struct sockaddr *)&ss, slen) < 0) {
    int err = errno;
    close(fd);
    return vstun_throw_errno(env, err, "bind", target, sock_hint(err));
  }
  return vstun_make_int(env, fd);
}

/* closeFd(fd): EBADF (already closed) is not an error; EINTR still released the fd on Linux. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return vstun_throw_type(env, "closeFd", "closeFd(fd) takes 1 argument");
  if (!vstun_arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (close((int)fd) < 0 && errno != EBADF && errno != EINTR) {
    char target[24];
    snprintf(target, sizeof target, "fd %d", (int)fd);
    return vstun_throw_errno(env, errno, "close", target, NULL);
  }
  return NULL;
}

/* socketAddress(fd) -> {family, address, port} via getsockname (learn the port bound for 0). */
static napi_value socket_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return vstun_throw_type(env, "socketAddress", "socketAddress(fd) takes 1 argument");
  if (!vstun_arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  char target[24];
  snprintf(target, sizeof target, "fd %d", (int)fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getsockname((int)fd, (struct sockaddr *)&ss, &len) < 0) return vstun_throw_errno(env, errno, "getsockname", target, NULL);
  char text[INET6_ADDRSTRLEN] = "";
  int family, port;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    family = 4;
    port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    family = 6;
    port = ntohs(sin6->sin6_port);
  } else {
    return vstun_throw_errno(env, EAFNOSUPPORT, "getsockname", target, "not an IPv4 or IPv6 socket");
  }
  napi_value o, a;
  NAPI_OK_OR_NULL(napi_create_object(env, &o));
  vstun_set_num(env, o, "family", family);
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &a));
  NAPI_OK_OR_NULL(napi_set_named_property(env, o, "address", a));
  vstun_set_num(env, o, "port", port);
  return o;
}

bool vstun_init_socket(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "rawSocketOpen", raw_socket_open) &&
         vstun_export_fn(env, exports, "udpSocketOpen", udp_socket_open) &&
         vstun_export_fn(env, exports, "socketAddress", socket_address) &&
         vstun_export_fn(env, exports, "closeFd", close_fd);
}
