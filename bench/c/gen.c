/* UDP load generator for bench/io.mjs: blasts small datagrams at DST:PORT with sendmmsg for
 * a fixed time, from inside the benchmark's namespace (the route to DST goes out a TAP).
 * usage: gen DST PORT SECONDS PAYLOAD_BYTES [FLOWS]
 * FLOWS (default 1) sockets, each its own source port, take turns: several flows, which a
 * multi-queue TAP spreads over its queues (bench/queues.mjs).
 * Prints {"sent":N,"errors":E} on exit. Bounded by SECONDS; also stops on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FLOWS 256

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s DST PORT SECONDS PAYLOAD_BYTES [FLOWS]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
    fprintf(stderr, "gen: bad address %s\n", argv[1]);
    return 2;
  }
  double seconds = atof(argv[3]);
  size_t payload = (size_t)atoi(argv[4]);
  int flows = argc == 6 ? atoi(argv[5]) : 1;
  if (seconds <= 0 || seconds > 120 || payload < 1 || payload > 1400 || flows < 1 || flows > MAX_FLOWS) {
    fprintf(stderr, "gen: SECONDS must be in (0,120], PAYLOAD_BYTES in [1,1400], FLOWS in [1,%d]\n", MAX_FLOWS);
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  static int fds[MAX_FLOWS];
  for (int f = 0; f < flows; f++) {
    fds[f] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[f] < 0 || connect(fds[f], (struct sockaddr *)&dst, sizeof dst) < 0) {
      perror("gen: socket/connect");
      return 1;
    }
  }
  static char buf[BATCH][1400];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    memset(buf[i], 0x5a, payload);
    iov[i].iov_base = buf[i];
    iov[i].iov_len = payload;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0, errors = 0;
  double end = now() + seconds;
  for (int f = 0; !stop; f = (f + 1) % flows) {
    int r = sendmmsg(fds[f], msgs, BATCH, 0);
    if (r > 0) sent += (unsigned)r;
    else if (errno != EINTR) errors++; /* ENOBUFS when the TAP queue is full: keep going */
    if (((sent + errors) & 1023) < BATCH && now() > end) break;
  }
  printf("{\"sent\":%llu,\"errors\":%llu}\n", sent, errors);
  return 0;
}
