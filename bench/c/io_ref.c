/* C reference forwarder for bench/io.mjs: reads Ethernet frames from one TAP and writes them
 * to another, doing the same work as the addon's reader + writer so their rates compare.
 * usage: io_ref IN_TAP OUT_TAP batch|single
 *   batch : epoll wake-up, drain up to 256 frames with read(2) into a ring, then write(2)
 *           each — the addon's exact structure minus the JS call per batch.
 *   single: blocking read(2) then write(2), one frame at a time (the minimal C forwarder).
 * Prints "ready" once both TAPs exist, runs until SIGTERM/SIGINT, then prints
 * {"read":R,"written":W,"writeErrors":E}. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

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
  if (argc != 4 || (strcmp(argv[3], "batch") != 0 && strcmp(argv[3], "single") != 0)) {
    fprintf(stderr, "usage: %s IN_TAP OUT_TAP batch|single\n", argv[0]);
    return 2;
  }
  int batch = strcmp(argv[3], "batch") == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocking read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int in = tap_open(argv[1], batch ? O_NONBLOCK : 0);
  int out = tap_open(argv[2], 0);
  if (in < 0 || out < 0) {
    perror("io_ref: open TAP");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  static unsigned char ring[SLOTS][SLOT_SIZE];
  static ssize_t len[SLOTS];
  unsigned long long nread = 0, written = 0, werr = 0;
  if (batch) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = in};
    epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev);
    while (!stop) {
      if (epoll_wait(ep, &ev, 1, 200) <= 0) continue;
      int n = 0;
      while (n < SLOTS) {
        ssize_t k = read(in, ring[n], SLOT_SIZE);
        if (k <= 0) break;
        len[n++] = k;
      }
      nread += (unsigned)n;
      for (int i = 0; i < n; i++) {
        if (write(out, ring[i], (size_t)len[i]) >= 0) written++;
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
  printf("{\"read\":%llu,\"written\":%llu,\"writeErrors\":%llu}\n", nread, written, werr);
  return 0;
}
