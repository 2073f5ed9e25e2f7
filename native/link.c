/* Link configuration through ioctl on a short-lived control socket: MTU, flags, MAC,
 * addresses, txqueuelen, ifindex. Control plane only; every failure is a typed JS error. */
#define _GNU_SOURCE
#include "vstun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* linux/ipv6.h's struct in6_ifreq; declared here because that header clashes with glibc's. */
struct vstun_in6_ifreq {
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

static const char *link_hint(int err) {
  switch (err) {
    case ENODEV: return "no network interface has this name (check `ip link`)";
    case EPERM:
    case EACCES: return "run as root or grant CAP_NET_ADMIN";
    case EADDRNOTAVAIL: return "the address is not valid for this interface";
    case EAFNOSUPPORT: return "IPv6 is disabled on this host";
    default: return NULL;
  }
}

/* Runs one ioctl on a fresh control socket of `family`; on failure throws and returns false. */
static bool link_ioctl(napi_env env, int family, unsigned long req, void *arg, const char *op, const char *ifname) {
  int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int err = errno;
    vstun_throw_errno(env, err, op, ifname, link_hint(err));
    return false;
  }
  int rc = ioctl(s, req, arg);
  int err = errno;
  close(s);
  if (rc < 0) {
    vstun_throw_errno(env, err, op, ifname, link_hint(err));
    return false;
  }
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return vstun_rethrow_napi(env), false;
  if (argc < want) {
    vstun_throw_type(env, fn, "%s takes %zu argument(s), got %zu", fn, want, argc);
    return false;
  }
  return true;
}

static void ifr_init(struct ifreq *ifr, const char *name) {
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
}

static napi_value link_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  int64_t mtu;
  if (!get_args(env, info, 2, argv, "linkSetMtu") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_int(env, argv[1], "mtu", 68, 65535, &mtu))
    return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  ifr.ifr_mtu = (int)mtu;
  link_ioctl(env, AF_INET, SIOCSIFMTU, &ifr, "SIOCSIFMTU", name);
  return NULL;
}

static napi_value link_get_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, "linkGetMtu") || !vstun_arg_ifname(env, argv[0], name)) return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  if (!link_ioctl(env, AF_INET, SIOCGIFMTU, &ifr, "SIOCGIFMTU", name)) return NULL;
  return vstun_make_int(env, ifr.ifr_mtu);
}

static napi_value link_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  bool up;
  if (!get_args(env, info, 2, argv, "linkSetUp") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_bool(env, argv[1], "up", &up))
    return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  if (!link_ioctl(env, AF_INET, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS", name)) return NULL;
  if (up)
    ifr.ifr_flags |= IFF_UP;
  else
    ifr.ifr_flags &= ~IFF_UP;
  link_ioctl(env, AF_INET, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS", name);
  return NULL;
}

static napi_value link_is_up(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, "linkIsUp") || !vstun_arg_ifname(env, argv[0], name)) return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  if (!link_ioctl(env, AF_INET, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS", name)) return NULL;
  napi_value out;
  NAPI_OK_OR_NULL(napi_get_boolean(env, (ifr.ifr_flags & IFF_UP) != 0, &out));
  return out;
}

static napi_value link_set_mac(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  uint8_t *mac;
  size_t len;
  if (!get_args(env, info, 2, argv, "linkSetMac") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_bytes(env, argv[1], "mac", &mac, &len))
    return NULL;
  if (len != 6) return vstun_throw_range(env, name, "mac must be 6 bytes, got %zu", len);
  struct ifreq ifr;
  ifr_init(&ifr, name);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
  link_ioctl(env, AF_INET, SIOCSIFHWADDR, &ifr, "SIOCSIFHWADDR", name);
  return NULL;
}

static napi_value link_get_mac(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, "linkGetMac") || !vstun_arg_ifname(env, argv[0], name)) return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  if (!link_ioctl(env, AF_INET, SIOCGIFHWADDR, &ifr, "SIOCGIFHWADDR", name)) return NULL;
  napi_value ab, arr;
  void *p;
  NAPI_OK_OR_NULL(napi_create_arraybuffer(env, 6, &p, &ab));
  memcpy(p, ifr.ifr_hwaddr.sa_data, 6);
  NAPI_OK_OR_NULL(napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &arr));
  return arr;
}

static napi_value link_set_ipv4(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[IFNAMSIZ];
  char addr[64];
  int64_t plen;
  if (!get_args(env, info, 3, argv, "linkSetIpv4") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_string(env, argv[1], "address", addr, sizeof addr) ||
      !vstun_arg_int(env, argv[2], "prefixLength", 0, 32, &plen))
    return NULL;
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
    return vstun_throw_range(env, name, "'%s' is not an IPv4 address", addr);
  struct ifreq ifr;
  ifr_init(&ifr, name);
  memcpy(&ifr.ifr_addr, &sin, sizeof sin);
  if (!link_ioctl(env, AF_INET, SIOCSIFADDR, &ifr, "SIOCSIFADDR", name)) return NULL;
  sin.sin_addr.s_addr = plen == 0 ? 0 : htonl(0xffffffffu << (32 - plen));
  ifr_init(&ifr, name);
  memcpy(&ifr.ifr_netmask, &sin, sizeof sin);
  link_ioctl(env, AF_INET, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK", name);
  return NULL;
}

static napi_value link_add_ipv6(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[IFNAMSIZ];
  char addr[64];
  int64_t plen;
  if (!get_args(env, info, 3, argv, "linkAddIpv6") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_string(env, argv[1], "address", addr, sizeof addr) ||
      !vstun_arg_int(env, argv[2], "prefixLength", 0, 128, &plen))
    return NULL;
  struct vstun_in6_ifreq req;
  memset(&req, 0, sizeof req);
  if (inet_pton(AF_INET6, addr, &req.addr) != 1)
    return vstun_throw_range(env, name, "'%s' is not an IPv6 address", addr);
  unsigned idx = if_nametoindex(name);
  if (idx == 0) return vstun_throw_errno(env, errno, "if_nametoindex", name, link_hint(errno));
  req.prefixlen = (uint32_t)plen;
  req.ifindex = (int)idx;
  link_ioctl(env, AF_INET6, SIOCSIFADDR, &req, "SIOCSIFADDR(inet6)", name);
  return NULL;
}

static napi_value link_set_txqlen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  int64_t qlen;
  if (!get_args(env, info, 2, argv, "linkSetTxQueueLen") || !vstun_arg_ifname(env, argv[0], name) ||
      !vstun_arg_int(env, argv[1], "length", 0, INT32_MAX, &qlen))
    return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  ifr.ifr_qlen = (int)qlen;
  link_ioctl(env, AF_INET, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN", name);
  return NULL;
}

static napi_value link_index(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, "linkIndex") || !vstun_arg_ifname(env, argv[0], name)) return NULL;
  struct ifreq ifr;
  ifr_init(&ifr, name);
  if (!link_ioctl(env, AF_INET, SIOCGIFINDEX, &ifr, "SIOCGIFINDEX", name)) return NULL;
  return vstun_make_int(env, ifr.ifr_ifindex);
}

bool vstun_init_link(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "linkSetMtu", link_set_mtu) &&
         vstun_export_fn(env, exports, "linkGetMtu", link_get_mtu) &&
         vstun_export_fn(env, exports, "linkSetUp", link_set_up) &&
         vstun_export_fn(env, exports, "linkIsUp", link_is_up) &&
         vstun_export_fn(env, exports, "linkSetMac", link_set_mac) &&
         vstun_export_fn(env, exports, "linkGetMac", link_get_mac) &&
         vstun_export_fn(env, exports, "linkSetIpv4", link_set_ipv4) &&
         vstun_export_fn(env, exports, "linkAddIpv6", link_add_ipv6) &&
         vstun_export_fn(env, exports, "linkSetTxQueueLen", link_set_txqlen) &&
         vstun_export_fn(env, exports, "linkIndex", link_index);
}
