/* Minimal C TAP forwarder, the bar for vstun-director in `npm run bench`: one frame at a
 * time, blocking read(2) from the TAP, add an outer IPv4 header (DIP -> RIP, protocol 4)
 * in the headroom in front of the inner packet, write(2) the frame back to the kernel.
 * No scheduling, no connection table, no ARP: the runner pins the kernel's neighbour entry
 * for the link address, so this is the least work a user-space VS/TUN director can do.
 * usage: tap_fwd TAP MY_MAC DIP RIP [QUEUES]
 * QUEUES > 1 opens a multi-queue TAP (IFF_MULTI_QUEUE) and forwards each queue in its own
 * thread, the bar for vstun-director --queues N (bench/queues.mjs).
 * Prints "ready" once the TAP exists; runs until SIGTERM/SIGINT, then prints
 * {"read":R,"written":W,"skipped":S,"writeErrors":E} summed over the queues. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUEUES 16

static volatile sig_atomic_t stop; /* set by the main thread on SIGTERM/SIGINT */

static uint8_t mine[6], kernel[6];
static struct in_addr dip, rip;

/* One queue's loop and counters (each thread its own buffer and IP ids). */
typedef struct {
  int fd;
  unsigned long long nread, written, skipped, werr;
} queue_t;

static uint16_t csum(const uint8_t *p, int len) {
  uint32_t sum = 0;
  for (int i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void *forward(void *arg) {
  queue_t *q = arg;
  /* The frame is read 20 bytes in: the new Ethernet + outer IPv4 headers (34 bytes) end
   * exactly where the old Ethernet header (14 bytes) did, so the inner packet never moves. */
  static __thread uint8_t buf[20 + 65536];
  uint16_t id = 0;
  while (!stop) {
    ssize_t n = read(q->fd, buf + 20, sizeof buf - 20);
    if (n <= 0) continue;
    q->nread++;
    uint8_t *frame = buf + 20;
    if (n < 34 || frame[12] != 0x08 || frame[13] != 0x00) {
      q->skipped++;
      continue;
    }
    int inner = (int)n - 14, total = inner + 20;
    uint8_t *ip = buf + 14;
    memcpy(buf, kernel, 6);
    memcpy(buf + 6, mine, 6);
    buf[12] = 0x08;
    buf[13] = 0x00;
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[4] = (uint8_t)(id >> 8);
    ip[5] = (uint8_t)id++;
    ip[6] = frame[14 + 6] & 0x40; /* copy DF from the inner header */
    ip[7] = 0;
    ip[8] = 64;
    ip[9] = 4;
    ip[10] = ip[11] = 0;
    memcpy(ip + 12, &dip, 4);
    memcpy(ip + 16, &rip, 4);
    uint16_t c = csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    if (write(q->fd, buf, (size_t)total + 14) >= 0) q->written++;
    else q->werr++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s TAP MY_MAC DIP RIP [QUEUES]\n", argv[0]);
    return 2;
  }
  int queues = argc == 6 ? atoi(argv[5]) : 1;
  if (sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mine[0], &mine[1], &mine[2], &mine[3], &mine[4], &mine[5]) != 6 ||
      !inet_aton(argv[3], &dip) || !inet_aton(argv[4], &rip) || queues < 1 || queues > MAX_QUEUES) {
    fprintf(stderr, "tap_fwd: bad MAC, address or queue count (1..%d)\n", MAX_QUEUES);
    return 2;
  }
  /* Only the main thread takes the signals; the forwarding threads end with the process. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  static queue_t q[MAX_QUEUES];
  struct ifreq ifr;
  for (int i = 0; i < queues; i++) {
    q[i].fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0);
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (q[i].fd < 0 || ioctl(q[i].fd, TUNSETIFF, &ifr) < 0) {
      perror("tap_fwd: open TAP");
      return 1;
    }
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
    perror("tap_fwd: SIOCGIFHWADDR");
    return 1;
  }
  memcpy(kernel, ifr.ifr_hwaddr.sa_data, 6);
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
