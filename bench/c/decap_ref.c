/*
 * C reference for `npm run bench:agent`, two roles in one file:
 *
 *   decap_ref decap TUN DIRECTOR VIP SECONDS
 *       The work vstun-agent does, one packet at a time: recv() from a raw IPPROTO_IPIP
 *       socket, check the outer header and that its source is DIRECTOR, check the inner
 *       IPv4 header (version, IHL, total length against what the outer carried, header
 *       checksum) and that its destination is VIP, then write() the inner packet to TUN.
 *       Prints {"received":N,"written":N,"dropped":N} after SECONDS.
 *
 *   decap_ref gen SRC DST VIP SECONDS
 *       Load generator: IPIP (SRC -> DST) around a small UDP datagram to VIP, sent as fast
 *       as sendmmsg allows for SECONDS through an IPPROTO_RAW socket. Prints {"sent":N}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *p, int len) {
  uint32_t sum = 0;
  for (int i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static int tun_open(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR);
  if (fd < 0) { perror("open /dev/net/tun"); exit(1); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { perror("SIOCGIFFLAGS"); exit(1); }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { perror("SIOCSIFFLAGS"); exit(1); }
  close(s);
  return fd;
}

static int decap(const char *tun, const char *director, const char *vip, double seconds) {
  struct in_addr dir, v;
  if (!inet_aton(director, &dir) || !inet_aton(vip, &v)) { fprintf(stderr, "bad address\n"); return 2; }
  int tfd = tun_open(tun);
  int rfd = socket(AF_INET, SOCK_RAW, IPPROTO_IPIP);
  if (rfd < 0) { perror("socket raw"); return 1; }
  int rcvbuf = 4 << 20;
  setsockopt(rfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  struct timeval tv = { 0, 100000 };
  setsockopt(rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("ready\n");
  fflush(stdout);
  uint8_t buf[2048];
  unsigned long received = 0, written = 0, dropped = 0;
  double end = now() + seconds;
  while (now() < end) {
    ssize_t n = recv(rfd, buf, sizeof buf, 0);
    if (n < 0) continue;
    received++;
    if (n < 20 || (buf[0] >> 4) != 4) { dropped++; continue; }
    int ihl = (buf[0] & 15) * 4;
    if (ihl < 20 || ihl > n || ((buf[2] << 8) | buf[3]) != n || buf[9] != IPPROTO_IPIP) { dropped++; continue; }
    if (memcmp(buf + 12, &dir, 4) != 0) { dropped++; continue; }
    uint8_t *in = buf + ihl;
    int avail = (int)n - ihl;
    if (avail < 20 || (in[0] >> 4) != 4) { dropped++; continue; }
    int iihl = (in[0] & 15) * 4;
    if (iihl < 20 || iihl > avail || ((in[2] << 8) | in[3]) != avail) { dropped++; continue; }
    if (csum(in, iihl) != 0) { dropped++; continue; }
    if (memcmp(in + 16, &v, 4) != 0) { dropped++; continue; }
    if (write(tfd, in, avail) == avail) written++;
    else dropped++;
  }
  printf("{\"received\":%lu,\"written\":%lu,\"dropped\":%lu}\n", received, written, dropped);
  return 0;
}

static int gen(const char *src, const char *dst, const char *vip, double seconds) {
  enum { BATCH = 64, PAYLOAD = 18 };
  struct in_addr s, d, v;
  if (!inet_aton(src, &s) || !inet_aton(dst, &d) || !inet_aton(vip, &v)) { fprintf(stderr, "bad address\n"); return 2; }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) { perror("socket raw"); return 1; }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  static uint8_t pkts[BATCH][128];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = d };
  int inner_len = 20 + 8 + PAYLOAD, total = 20 + inner_len;
  for (int i = 0; i < BATCH; i++) {
    uint8_t *p = pkts[i], *in = p + 20, *u = in + 20;
    memset(p, 0, 128);
    p[0] = 0x45; p[2] = total >> 8; p[3] = total & 255; p[8] = 64; p[9] = IPPROTO_IPIP;
    memcpy(p + 12, &s, 4); memcpy(p + 16, &d, 4);
    uint16_t c = csum(p, 20); p[10] = c >> 8; p[11] = c & 255;
    in[0] = 0x45; in[2] = inner_len >> 8; in[3] = inner_len & 255; in[5] = i; in[8] = 64; in[9] = 17;
    in[12] = 10; in[13] = 74; in[14] = 0; in[15] = 2 + i % 200; /* made-up clients */
    memcpy(in + 16, &v, 4);
    c = csum(in, 20); in[10] = c >> 8; in[11] = c & 255;
    u[0] = 0x9c; u[1] = 0x40 + i; u[2] = 0x00; u[3] = 9; /* UDP to port 9 (discard) */
    u[4] = (8 + PAYLOAD) >> 8; u[5] = (8 + PAYLOAD) & 255;
    iov[i].iov_base = p; iov[i].iov_len = total;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to; msgs[i].msg_hdr.msg_namelen = sizeof to;
  }
  printf("ready\n");
  fflush(stdout);
  unsigned long sent = 0;
  double end = now() + seconds;
  while (now() < end) {
    int r = sendmmsg(fd, msgs, BATCH, 0);
    if (r > 0) sent += r;
  }
  printf("{\"sent\":%lu}\n", sent);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "decap") == 0) return decap(argv[2], argv[3], argv[4], atof(argv[5]));
  if (argc == 6 && strcmp(argv[1], "gen") == 0) return gen(argv[2], argv[3], argv[4], atof(argv[5]));
  fprintf(stderr, "usage: decap_ref decap TUN DIRECTOR VIP SECONDS | decap_ref gen SRC DST VIP SECONDS\n");
  return 2;
}
