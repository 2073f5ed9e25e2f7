/* tunOpen: opens a TUN or TAP device through /dev/net/tun, one non-blocking fd per queue. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_QUEUES 256

static const char *tun_hint(int err, bool opening) {
  switch (err) {
    case EPERM:
    case EACCES:
      return "run as root or grant CAP_NET_ADMIN";
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return opening ? "/dev/net/tun is missing: load the tun module (modprobe tun) or create the node "
                       "(mkdir -p /dev/net && mknod /dev/net/tun c 10 200)"
                     : NULL;
    case EBUSY:
      return "the device is already open by another process (or all its queues are taken)";
    case EINVAL:
      return "an interface with this name may already exist as another kind (tun/tap) or with a different "
             "queue setting, or the name is not valid";
    case EEXIST:
      return "an interface with this name exists and is not a tun/tap device";
    default:
      return NULL;
  }
}

/* tunOpen(name, kind, queues, {vnetHdr?}) -> { name, fds, vnetHdrLen }
 * vnetHdr: 0 (none), 10, 12 or 24 bytes of virtio-net header in front of every frame read or
 * written (24: struct virtio_net_hdr_v1_hash_tunnel, whose outer/inner offsets Linux 6.17+ reads
 * for GSO over UDP tunnels). */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return vstun_throw_type(env, "tunOpen", "tunOpen(name, kind, queues) takes 3 arguments");
  char name[IFNAMSIZ];
  char kind[8];
  int64_t queues;
  if (!vstun_arg_ifname(env, argv[0], name)) return NULL;
  if (!vstun_arg_string(env, argv[1], "kind", kind, sizeof kind)) return NULL;
  bool tap = strcmp(kind, "tap") == 0;
  if (!tap && strcmp(kind, "tun") != 0) return vstun_throw_range(env, name, "kind must be 'tun' or 'tap', got '%s'", kind);
  if (!vstun_arg_int(env, argv[2], "queues", 1, MAX_QUEUES, &queues)) return NULL;
  int64_t vnet_hdr = 0;
  if (argc > 3) {
    napi_valuetype t;
    NAPI_OK_OR_NULL(napi_typeof(env, argv[3], &t));
    if (t == napi_object && !vstun_prop_int(env, argv[3], "vnetHdr", 0, 24, 0, &vnet_hdr)) return NULL;
    if (t != napi_object && t != napi_undefined) return vstun_throw_type(env, "options", "tunOpen options must be an object");
  }
  if (vnet_hdr != 0 && vnet_hdr != 10 && vnet_hdr != 12 && vnet_hdr != 24)
    return vstun_throw_range(env, "vnetHdr", "vnetHdr must be 0, 10, 12 or 24, got %lld", (long long)vnet_hdr);

  int fds[MAX_QUEUES];
  int opened = 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  ifr.ifr_flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0) | (vnet_hdr ? IFF_VNET_HDR : 0);
  for (; opened < queues; opened++) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      for (int i = 0; i < opened; i++) close(fds[i]);
      return vstun_throw_errno(env, err, "open /dev/net/tun for", name, tun_hint(err, true));
    }
    /* After the first queue the kernel has resolved any %d template; reuse its name. */
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      int err = errno;
      close(fd);
      for (int i = 0; i < opened; i++) close(fds[i]);
      return vstun_throw_errno(env, err, "TUNSETIFF", name, tun_hint(err, false));
    }
    int sz = (int)vnet_hdr;
    if (vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int err = errno;
      close(fd);
      for (int i = 0; i < opened; i++) close(fds[i]);
      return vstun_throw_errno(env, err, "TUNSETVNETHDRSZ", name, NULL);
    }
    fds[opened] = fd;
  }

  napi_value result, jsname, jsfds;
  NAPI_OK_OR_NULL(napi_create_object(env, &result));
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &jsname));
  NAPI_OK_OR_NULL(napi_create_array_with_length(env, (size_t)opened, &jsfds));
  for (int i = 0; i < opened; i++) {
    napi_value v;
    NAPI_OK_OR_NULL(napi_create_int32(env, fds[i], &v));
    NAPI_OK_OR_NULL(napi_set_element(env, jsfds, (uint32_t)i, v));
  }
  NAPI_OK_OR_NULL(napi_set_named_property(env, result, "name", jsname));
  NAPI_OK_OR_NULL(napi_set_named_property(env, result, "fds", jsfds));
  if (!vstun_set_num(env, result, "vnetHdrLen", (double)vnet_hdr)) return vstun_rethrow_napi(env);
  return result;
}

/* tunSetOffload(fd, flags) -> true, or the errno name when the kernel refuses this set
 * (EINVAL for a bit it does not know): the caller probes smaller sets, it is not an error. */
static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "tunSetOffload", "tunSetOffload(fd, flags) takes 2 arguments");
  int64_t fd, flags;
  if (!vstun_arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (!vstun_arg_int(env, argv[1], "flags", 0, 0x1ff, &flags)) return NULL;
  napi_value out;
  if (ioctl((int)fd, TUNSETOFFLOAD, (unsigned long)flags) == 0) {
    NAPI_OK_OR_NULL(napi_get_boolean(env, true, &out));
    return out;
  }
  int err = errno;
  if (err == EBADF || err == ENOTTY) {
    char target[24];
    snprintf(target, sizeof target, "fd %d", (int)fd);
    return vstun_throw_errno(env, err, "TUNSETOFFLOAD", target, "the fd is not an open TUN/TAP queue");
  }
  char buf[16];
  NAPI_OK_OR_NULL(napi_create_string_utf8(env, vstun_errno_name(err, buf, sizeof buf), NAPI_AUTO_LENGTH, &out));
  return out;
}

/* tunSetVnetHdrSize(fd, bytes): TUNSETVNETHDRSZ on an fd opened with a virtio-net header (the
 * size is the device's, shared by its queues). 10, 12 or 24; throws with the errno when refused. */
static napi_value tun_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "tunSetVnetHdrSize", "tunSetVnetHdrSize(fd, bytes) takes 2 arguments");
  int64_t fd, bytes;
  if (!vstun_arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (!vstun_arg_int(env, argv[1], "bytes", 10, 24, &bytes)) return NULL;
  if (bytes != 10 && bytes != 12 && bytes != 24) return vstun_throw_range(env, "bytes", "bytes must be 10, 12 or 24, got %lld", (long long)bytes);
  int sz = (int)bytes;
  if (ioctl((int)fd, TUNSETVNETHDRSZ, &sz) < 0) {
    char target[24];
    snprintf(target, sizeof target, "fd %d", (int)fd);
    return vstun_throw_errno(env, errno, "TUNSETVNETHDRSZ", target, NULL);
  }
  return NULL;
}

bool vstun_init_tun(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "tunOpen", tun_open) && vstun_export_fn(env, exports, "tunSetOffload", tun_set_offload) &&
         vstun_export_fn(env, exports, "tunSetVnetHdrSize", tun_set_vnet_hdr_size);
}
