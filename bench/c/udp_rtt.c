/* UDP round trips and paced load for `npm run bench`'s latency figure, three roles:
 *
 *   udp_rtt echo BIND_ADDR PORT SECONDS
 *       echoes every datagram back to its sender (the application on the VIP).
 *   udp_rtt probe DST PORT RATE SECONDS
 *       sends RATE datagrams/s carrying a sequence number and its send time, reads the
 *       echoes on the same socket, and prints
 *       {"sent":S,"received":R,"lost":S-R,"p50us":..,"p90us":..,"p99us":..,"maxus":..}
 *       (an echo later than 0.5 s after the last send counts as lost; the percentiles are
 *       over the echoes received).
 *   udp_rtt load DST PORT RATE SECONDS
 *       background load: RATE datagrams/s (64-byte payload) in paced sendmmsg batches of
 *       up to 32, each batch from a different source port so the load is many flows.
 *       Prints {"sent":S,"droppedLocally":D}: D datagrams the local stack refused (ENOBUFS),
 *       skipped to keep the pace and not counted as sent.
 * Every role is bounded by SECONDS and stops on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static struct sockaddr_in addr_of(const char *ip, const char *port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "udp_rtt: bad address %s\n", ip);
    exit(2);
  }
  return a;
}

static int echo(struct sockaddr_in bind_to, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&bind_to, sizeof bind_to) < 0) {
    perror("udp_rtt echo: bind");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  uint8_t buf[2048];
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
  unsigned long long echoed = 0;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (!stop && now_ns() < end) {
    if (poll(&p, 1, 100) <= 0) continue;
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n > 0 && sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) == n) echoed++;
  }
  printf("{\"echoed\":%llu}\n", echoed);
  return 0;
}

static int probe(struct sockaddr_in dst, double rate, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
    perror("udp_rtt probe: connect");
    return 1;
  }
  size_t max = (size_t)(rate * seconds) + 16;
  uint64_t *rtt = calloc(max, sizeof *rtt);
  uint64_t interval = (uint64_t)(1e9 / rate), start = now_ns(), next = start;
  uint64_t end = start + (uint64_t)(seconds * 1e9), drain_end = end + 500000000ull;
  unsigned long long sent = 0, received = 0;
  uint8_t buf[64];
  while (!stop) {
    uint64_t t = now_ns();
    if (t >= drain_end) break;
    if (t >= next && t < end && sent < max) {
      uint64_t msg[2] = {sent, t};
      memset(buf, 0x42, sizeof buf);
      memcpy(buf, msg, sizeof msg);
      if (send(fd, buf, sizeof buf, 0) == sizeof buf) sent++;
      next += interval;
      continue;
    }
    /* Sleep in poll until the next send is due (no spinning: the machine has two cores). */
    uint64_t wake = t < end && next < drain_end ? next : drain_end;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = wake > t ? (long)(wake - t) : 0};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (ppoll(&p, 1, &ts, NULL) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n >= 16) {
      uint64_t msg[2];
      memcpy(msg, buf, sizeof msg);
      if (received < max) rtt[received++] = now_ns() - msg[1];
    }
  }
  qsort(rtt, received, sizeof *rtt, cmp_u64);
#define PCT(q) (received ? rtt[(size_t)((q) * (received - 1))] / 1000.0 : -1)
  printf("{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"p50us\":%.1f,\"p90us\":%.1f,\"p99us\":%.1f,\"maxus\":%.1f}\n", sent, received, sent - received, PCT(0.5), PCT(0.9), PCT(0.99),
         received ? rtt[received - 1] / 1000.0 : -1);
  return 0;
}

static int load(struct sockaddr_in dst, double rate, double seconds) {
  enum { BATCH = 32, SOCKETS = 64 };
  int fds[SOCKETS];
  for (int i = 0; i < SOCKETS; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0) {
      perror("udp_rtt load: connect");
      return 1;
    }
  }
  static uint8_t payload[BATCH][64];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload[i];
    iov[i].iov_len = sizeof payload[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);
  uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
  unsigned long long sent = 0, dropped = 0;
  int k = 0;
  while (!stop) {
    uint64_t t = now_ns();
    if (t >= end) break;
    unsigned long long due = (unsigned long long)((double)(t - start) / 1e9 * rate);
    if (due <= sent + dropped) {
      struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(BATCH / rate * 1e9 / 2)};
      nanosleep(&ts, NULL);
      continue;
    }
    unsigned long long want = due - sent - dropped;
    int r = sendmmsg(fds[k++ % SOCKETS], msgs, want < BATCH ? (unsigned)want : BATCH, 0);
    if (r > 0) sent += (unsigned)r;
    else if (errno == ENOBUFS || errno == EAGAIN) dropped += want < BATCH ? want : BATCH; /* refused locally: keep the pace, count apart */
  }
  printf("{\"sent\":%llu,\"droppedLocally\":%llu}\n", sent, dropped);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (argc == 5 && strcmp(argv[1], "echo") == 0) return echo(addr_of(argv[2], argv[3]), atof(argv[4]));
  if (argc == 6 && strcmp(argv[1], "probe") == 0) return probe(addr_of(argv[2], argv[3]), atof(argv[4]), atof(argv[5]));
  if (argc == 6 && strcmp(argv[1], "load") == 0) return load(addr_of(argv[2], argv[3]), atof(argv[4]), atof(argv[5]));
  fprintf(stderr, "usage: udp_rtt echo BIND PORT SECONDS | probe DST PORT RATE SECONDS | load DST PORT RATE SECONDS\n");
  return 2;
}
