/* Minimal C TAP forwarder, the one-frame-at-a-time bar for vstun-director in `npm run bench`:
 * blocking read(2) from the TAP, add an outer IPv4 header (DIP -> RIP, protocol 4) in the
 * headroom in front of the inner packet (ipip.h), write(2) the frame back to the kernel.
 * No scheduling, no connection table, no ARP: the runner pins the kernel's neighbour entry
 * for the link address, so this is the least work a user-space VS/TUN director can do.
 * (io_ref.c ... ipip does the same work batched, the addon's structure.)
 * usage: tap_fwd TAP MY_MAC DIP RIP [QUEUES]
 *        tap_fwd TAP MY_MAC DIP RIP UDP_PORT RIP2 [QUEUES]   (UDP to UDP_PORT goes to RIP2)
 * QUEUES > 1 opens a multi-queue TAP (IFF_MULTI_QUEUE) and forwards each queue in its own
 * thread, the bar for vstun-director --queues N (bench/queues.mjs).
 * Prints "ready" once the TAP exists; runs until SIGTERM/SIGINT, then prints
 * {"read":R,"written":W,"skipped":S,"writeErrors":E} summed over the queues. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include "ipip.h"

#define MAX_QUEUES 16

static volatile sig_atomic_t stop; /* set by the main thread on SIGTERM/SIGINT */

/* One queue's loop, its own copy of the path (IP ids) and its counters. */
typedef struct {
  int fd;
  struct ipip_path path;
  unsigned long long nread, written, skipped, werr;
} queue_t;

static void *forward(void *arg) {
  queue_t *q = arg;
  static __thread uint8_t buf[IPIP_HEADROOM + 65536];
  while (!stop) {
    ssize_t n = read(q->fd, buf + IPIP_HEADROOM, sizeof buf - IPIP_HEADROOM);
    if (n <= 0) continue;
    q->nread++;
    size_t len = ipip_encap(&q->path, buf, n);
    if (!len) q->skipped++;
    else if (write(q->fd, buf, len) >= 0) q->written++;
    else q->werr++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  /* argc 5/7: no queue count; 6/8: the last argument is the queue count. */
  int queues = 1;
  int path_args = argc - 2;
  if (argc == 6 || argc == 8) {
    queues = atoi(argv[argc - 1]);
    path_args--;
  }
  struct ipip_path path;
  if (argc < 5 || argc > 8 || queues < 1 || queues > MAX_QUEUES || ipip_path_parse(&path, path_args, argv + 2) != 0) {
    fprintf(stderr, "usage: %s TAP MY_MAC DIP RIP [UDP_PORT RIP2] [QUEUES 1..%d]\n", argv[0], MAX_QUEUES);
    return 2;
  }
  /* Only the main thread takes the signals; the forwarding threads end with the process. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  static queue_t q[MAX_QUEUES];
  for (int i = 0; i < queues; i++) {
    q[i].path = path;
    q[i].fd = ipip_tap_open_queue(argv[1], 0, queues > 1, &q[i].path);
  }
  for (int i = 0; i < queues; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, forward, &q[i]) != 0) {
      fprintf(stderr, "tap_fwd: pthread_create failed\n");
      return 1;
    }
  }
  printf("ready\n");
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  stop = 1;
  unsigned long long nread = 0, written = 0, skipped = 0, werr = 0;
  for (int i = 0; i < queues; i++) {
    nread += q[i].nread;
    written += q[i].written;
    skipped += q[i].skipped;
    werr += q[i].werr;
  }
  printf("{\"read\":%llu,\"written\":%llu,\"skipped\":%llu,\"writeErrors\":%llu}\n", nread, written, skipped, werr);
  fflush(stdout);
  _exit(0);
}
