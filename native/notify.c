/* systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram with the
 * state lines ("READY=1", "RELOADING=1\nMONOTONIC_USEC=…", "STOPPING=1") to the AF_UNIX
 * socket named by $NOTIFY_SOCKET, either a path ("/run/systemd/notify") or an abstract
 * name ("@name", sent with a leading NUL). The caller reads the variable and does nothing
 * when it is unset; every failure here is a typed JS error. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A notify message is a few short lines; systemd takes up to its pipe buffer. */
#define NOTIFY_STATE_MAX 4096

static napi_value sd_notify_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "sdNotify", "sdNotify takes (socketPath, state)");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char path[sizeof sa.sun_path + 1];
  static char state[NOTIFY_STATE_MAX];
  if (!vstun_arg_string(env, argv[0], "socketPath", path, sizeof path) || !vstun_arg_string(env, argv[1], "state", state, sizeof state))
    return NULL;
  size_t plen = strlen(path);
  if (plen < 2 || (path[0] != '/' && path[0] != '@') || plen > sizeof sa.sun_path)
    return vstun_throw_range(env, "socketPath", "NOTIFY_SOCKET must be an absolute path or an @abstract name of at most %zu bytes", sizeof sa.sun_path);
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = '\0'; /* abstract namespace: no trailing NUL counted */
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return vstun_throw_errno(env, errno, "socket(AF_UNIX)", path, NULL);
  ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int err = errno;
  close(fd);
  if (n < 0) return vstun_throw_errno(env, err, "sendto", path, "is the service manager's notify socket there?");
  return NULL;
}

/* CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= wants it (a double is exact to 2^53 µs). */
static napi_value monotonic_usec(napi_env env, napi_callback_info info) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return vstun_make_int(env, (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000));
}

bool vstun_init_notify(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "sdNotify", sd_notify_send) && vstun_export_fn(env, exports, "monotonicUsec", monotonic_usec);
}
