/* SYN flood for `npm run bench`'s new-flow figure: TCP SYNs to DST:PORT from random
 * sources in SRC_NET/16 and random ports (every packet a new flow), sent with sendmmsg on
 * an IPPROTO_RAW socket, at most RATE per second (0 = as fast as possible), for SECONDS.
 * usage: syn_flood SRC_NET DST PORT RATE SECONDS      e.g. syn_flood 10.80.0.0 10.70.100.10 80 0 3
 * Prints "ready", then {"sent":S,"errors":E} at the end; stops early on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define LEN 40

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t sum16(const uint8_t *p, int len, uint32_t sum) {
  for (int i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  return sum;
}
static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s SRC_NET DST PORT RATE SECONDS\n", argv[0]);
    return 2;
  }
  struct in_addr net, dst;
  if (!inet_aton(argv[1], &net) || !inet_aton(argv[2], &dst)) {
    fprintf(stderr, "syn_flood: bad address\n");
    return 2;
  }
  uint16_t port = (uint16_t)atoi(argv[3]);
  double rate = atof(argv[4]), seconds = atof(argv[5]);
  if (seconds <= 0 || seconds > 60) {
    fprintf(stderr, "syn_flood: SECONDS must be in (0, 60]\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("syn_flood: socket");
    return 1;
  }
  static uint8_t pkts[BATCH][LEN];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = pkts[i];
    iov[i].iov_len = LEN;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
  }
  printf("ready\n");
  fflush(stdout);
  uint32_t base = ntohl(net.s_addr) & 0xffff0000u;
  unsigned long long sent = 0, errors = 0;
  double start = now(), end = start + seconds;
  while (!stop) {
    double t = now();
    if (t >= end) break;
    if (rate > 0 && sent >= (t - start) * rate) continue;
    for (int i = 0; i < BATCH; i++) {
      uint8_t *ip = pkts[i], *tcp = ip + 20;
      uint32_t src = htonl(base | (next_random() & 0xffff));
      memset(ip, 0, LEN);
      ip[0] = 0x45;
      ip[3] = LEN;
      ip[6] = 0x40;
      ip[8] = 64;
      ip[9] = 6;
      memcpy(ip + 12, &src, 4);
      memcpy(ip + 16, &dst, 4);
      uint16_t c = fold(sum16(ip, 20, 0));
      ip[10] = (uint8_t)(c >> 8);
      ip[11] = (uint8_t)c;
      uint32_t r = next_random();
      tcp[0] = (uint8_t)(r >> 8) | 0x80; /* source port 32768.. */
      tcp[1] = (uint8_t)r;
      tcp[2] = (uint8_t)(port >> 8);
      tcp[3] = (uint8_t)port;
      memcpy(tcp + 4, &r, 4); /* sequence number */
      tcp[12] = 5 << 4;
      tcp[13] = 0x02; /* SYN */
      tcp[14] = 0xfa;
      tcp[15] = 0xf0;
      uint8_t pseudo[12];
      memcpy(pseudo, ip + 12, 8);
      pseudo[8] = 0;
      pseudo[9] = 6;
      pseudo[10] = 0;
      pseudo[11] = 20;
      c = fold(sum16(tcp, 20, sum16(pseudo, 12, 0)));
      tcp[16] = (uint8_t)(c >> 8);
      tcp[17] = (uint8_t)c;
    }
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += (unsigned)n;
    else if (errno != EINTR) errors++;
  }
  printf("{\"sent\":%llu,\"errors\":%llu}\n", sent, errors);
  return 0;
}
