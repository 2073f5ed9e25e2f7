/* C reference forwarders with the addon's batch structure (epoll wake-up, drain up to 256
 * frames with read(2) into a ring, then write(2) each: what the native reader + writeBatch do,
 * minus the JS call per batch).
 * usage: io_ref IN_TAP OUT_TAP batch|single                       (bench/io.mjs)
 *   batch : the structure above, frames copied unchanged from one TAP to the other;
 *   single: blocking read(2) then write(2), one frame at a time (the minimal C forwarder).
 * usage: io_ref TAP MY_MAC DIP RIP ipip [UDP_PORT RIP2]          (npm run bench)
 *   ipip  : the batched structure on one TAP doing a director's work per frame (ipip.h, the
 *           same as tap_fwd.c): the batched C baseline for vstun-director's 64-byte pps.
 * Prints "ready" once the TAP(s) exist, runs until SIGTERM/SIGINT, then prints
 * {"read":R,"written":W,"writeErrors":E,"batches":B}. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include "ipip.h"

#define SLOTS 256
#define SLOT_SIZE 2048

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int tap_open(const char *name, int flags) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | flags);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  int ipip = (argc == 6 || argc == 8) && strcmp(argv[5], "ipip") == 0;
  struct ipip_path path;
  if (ipip) {
    char *rest[5] = {argv[2], argv[3], argv[4], argc == 8 ? argv[6] : NULL, argc == 8 ? argv[7] : NULL};
    if (ipip_path_parse(&path, argc == 8 ? 5 : 3, rest) != 0) ipip = -1;
  }
  if (ipip < 0 || (!ipip && (argc != 4 || (strcmp(argv[3], "batch") != 0 && strcmp(argv[3], "single") != 0)))) {
    fprintf(stderr, "usage: %s IN_TAP OUT_TAP batch|single | %s TAP MY_MAC DIP RIP ipip [UDP_PORT RIP2]\n", argv[0], argv[0]);
    return 2;
  }
  int batch = ipip || strcmp(argv[3], "batch") == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocking read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int in, out;
  if (ipip) {
    in = out = ipip_tap_open(argv[1], O_NONBLOCK, &path);
  } else {
    in = tap_open(argv[1], batch ? O_NONBLOCK : 0);
    out = tap_open(argv[2], 0);
  }
  if (in < 0 || out < 0) {
    perror("io_ref: open TAP");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  /* Each slot keeps IPIP_HEADROOM bytes in front of the frame for the outer headers. */
  static unsigned char ring[SLOTS][IPIP_HEADROOM + SLOT_SIZE];
  static size_t len[SLOTS];
  unsigned long long nread = 0, written = 0, werr = 0, batches = 0;
  if (batch) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = in};
    epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev);
    while (!stop) {
      if (epoll_wait(ep, &ev, 1, 200) <= 0) continue;
      int n = 0;
      while (n < SLOTS) {
        ssize_t k = read(in, ring[n] + IPIP_HEADROOM, SLOT_SIZE);
        if (k <= 0) break;
        len[n++] = (size_t)k;
      }
      nread += (unsigned)n;
      batches += n > 0;
      for (int i = 0; i < n; i++) {
        unsigned char *frame = ring[i] + IPIP_HEADROOM;
        size_t l = len[i];
        if (ipip) {
          l = ipip_encap(&path, ring[i], (ssize_t)len[i]);
          frame = ring[i];
          if (!l) continue;
        }
        if (write(out, frame, l) >= 0) written++;
        else werr++;
      }
    }
  } else {
    while (!stop) {
      ssize_t k = read(in, ring[0], SLOT_SIZE);
      if (k <= 0) continue;
      nread++;
      if (write(out, ring[0], (size_t)k) >= 0) written++;
      else werr++;
    }
  }
  printf("{\"read\":%llu,\"written\":%llu,\"writeErrors\":%llu,\"batches\":%llu}\n", nread, written, werr, batches);
  return 0;
}
