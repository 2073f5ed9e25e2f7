/* The VS/TUN work of a minimal C director, shared by the C references tap_fwd.c (one frame
 * at a time) and io_ref.c (batched, the addon's structure), so both do exactly the same
 * per-frame work and differ only in how they read and write.
 *
 * A frame is read IPIP_HEADROOM bytes into its buffer: the new Ethernet + outer IPv4 headers
 * (34 bytes) then end exactly where the old Ethernet header (14 bytes) did, so the inner
 * packet never moves. ipip_encap() fills the headers in front and returns the length of the
 * frame to write from the start of the buffer, or 0 when the frame is not IPv4 (skipped).
 * The destination is `rip`, or `rip2` for UDP to `port2` (0: never), so that a benchmark can
 * send probes and background load to different real servers, as the director's services do. */
#ifndef VSTUN_BENCH_IPIP_H
#define VSTUN_BENCH_IPIP_H
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define IPIP_HEADROOM 20

struct ipip_path {
  uint8_t mine[6], kernel[6];
  struct in_addr dip, rip, rip2;
  uint16_t port2;
  uint16_t id;
};

static uint16_t ipip_csum(const uint8_t *p, int len) {
  uint32_t sum = 0;
  for (int i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static size_t ipip_encap(struct ipip_path *path, uint8_t *buf, ssize_t n) {
  uint8_t *frame = buf + IPIP_HEADROOM;
  if (n < 34 || frame[12] != 0x08 || frame[13] != 0x00) return 0;
  const uint8_t *inner_ip = frame + 14;
  struct in_addr to = path->rip;
  int ihl = (inner_ip[0] & 15) * 4;
  if (path->port2 && inner_ip[9] == IPPROTO_UDP && n >= 14 + ihl + 4 && (inner_ip[ihl + 2] << 8 | inner_ip[ihl + 3]) == path->port2) to = path->rip2;
  int inner = (int)n - 14, total = inner + 20;
  uint8_t df = inner_ip[6] & 0x40; /* copied from the inner header before it is overwritten */
  uint8_t *ip = buf + 14;
  memcpy(buf, path->kernel, 6);
  memcpy(buf + 6, path->mine, 6);
  buf[12] = 0x08;
  buf[13] = 0x00;
  ip[0] = 0x45;
  ip[1] = 0;
  ip[2] = (uint8_t)(total >> 8);
  ip[3] = (uint8_t)total;
  ip[4] = (uint8_t)(path->id >> 8);
  ip[5] = (uint8_t)path->id++;
  ip[6] = df;
  ip[7] = 0;
  ip[8] = 64;
  ip[9] = 4;
  ip[10] = ip[11] = 0;
  memcpy(ip + 12, &path->dip, 4);
  memcpy(ip + 16, &to, 4);
  uint16_t c = ipip_csum(ip, 20);
  ip[10] = (uint8_t)(c >> 8);
  ip[11] = (uint8_t)c;
  return (size_t)total + 14;
}

/* Parses MY_MAC DIP RIP [UDP_PORT RIP2] (argc 3 or 5); 0 on success. */
static int ipip_path_parse(struct ipip_path *path, int argc, char **argv) {
  memset(path, 0, sizeof *path);
  uint8_t *m = path->mine;
  if (argc != 3 && argc != 5) return -1;
  if (sscanf(argv[0], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return -1;
  if (!inet_aton(argv[1], &path->dip) || !inet_aton(argv[2], &path->rip)) return -1;
  if (argc == 5) {
    int port = atoi(argv[3]);
    if (port < 1 || port > 65535 || !inet_aton(argv[4], &path->rip2)) return -1;
    path->port2 = (uint16_t)port;
  }
  return 0;
}

/* Opens (creates) the TAP `name`, or one more queue of it when `multi_queue` (IFF_MULTI_QUEUE),
 * with extra open(2) `flags`, and reads the kernel side's MAC
 * into path->kernel; exits with a message on failure. */
static int ipip_tap_open_queue(const char *name, int flags, int multi_queue, struct ipip_path *path) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | flags);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
    perror("open TAP");
    exit(1);
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
    perror("SIOCGIFHWADDR");
    exit(1);
  }
  close(s);
  memcpy(path->kernel, ifr.ifr_hwaddr.sa_data, 6);
  return fd;
}

static inline int ipip_tap_open(const char *name, int flags, struct ipip_path *path) {
  return ipip_tap_open_queue(name, flags, 0, path);
}

#endif
