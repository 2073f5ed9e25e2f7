/* Minimal C TAP forwarder, the one-frame-at-a-time bar for vstun-director in `npm run bench`:
 * blocking read(2) from the TAP, add an outer IPv4 header (DIP -> RIP, protocol 4) in the
 * headroom in front of the inner packet (ipip.h), write(2) the frame back to the kernel.
 * No scheduling, no connection table, no ARP: the runner pins the kernel's neighbour entry
 * for the link address, so this is the least work a user-space VS/TUN director can do.
 * (io_ref.c ... ipip does the same work batched, the addon's structure.)
 * usage: tap_fwd TAP MY_MAC DIP RIP [UDP_PORT RIP2]   (UDP to UDP_PORT goes to RIP2)
 * Prints "ready" once the TAP exists; runs until SIGTERM/SIGINT, then prints
 * {"read":R,"written":W,"skipped":S,"writeErrors":E}. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include "ipip.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  struct ipip_path path;
  if ((argc != 5 && argc != 7) || ipip_path_parse(&path, argc - 2, argv + 2) != 0) {
    fprintf(stderr, "usage: %s TAP MY_MAC DIP RIP [UDP_PORT RIP2]\n", argv[0]);
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: the blocking read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int fd = ipip_tap_open(argv[1], 0, &path);
  printf("ready\n");
  fflush(stdout);

  static uint8_t buf[IPIP_HEADROOM + 65536];
  unsigned long long nread = 0, written = 0, skipped = 0, werr = 0;
  while (!stop) {
    ssize_t n = read(fd, buf + IPIP_HEADROOM, sizeof buf - IPIP_HEADROOM);
    if (n <= 0) continue;
    nread++;
    size_t len = ipip_encap(&path, buf, n);
    if (!len) skipped++;
    else if (write(fd, buf, len) >= 0) written++;
    else werr++;
  }
  printf("{\"read\":%llu,\"written\":%llu,\"skipped\":%llu,\"writeErrors\":%llu}\n", nread, written, skipped, werr);
  return 0;
}
