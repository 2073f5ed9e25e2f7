/* Queue steering of a multi-queue TAP: loads a socket-filter eBPF program (instructions built
 * in TypeScript, src/director/steering-program.ts), attaches it to the TAP with
 * TUNSETSTEERINGEBPF (the kernel picks the queue as its return value % queues), and runs a
 * loaded program over a frame in user space (BPF_PROG_TEST_RUN) for tests. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BPF_INSN_SIZE 8
#define MAX_STEER_INSNS 4096
#define VERIFIER_LOG_SIZE 8192
#define ETH_HEADER_LEN 14
#define MAX_TEST_FRAME 65535

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

static const char *bpf_hint(int err) {
  switch (err) {
    case EPERM: return "needs CAP_BPF or CAP_SYS_ADMIN (run as root), and a kernel without bpf() locked down";
    case ENOSYS: return "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL)";
    case EINVAL: return "the kernel verifier refused the program";
    default: return NULL;
  }
}

/* bpfLoadSteering(insns: Uint8Array) -> fd. Throws with the verifier's log on refusal. */
static napi_value bpf_load_steering(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return vstun_throw_type(env, "bpfLoadSteering", "bpfLoadSteering(insns) takes 1 argument");
  uint8_t *code;
  size_t len;
  if (!vstun_arg_bytes(env, argv[0], "insns", &code, &len)) return NULL;
  if (len == 0 || len % BPF_INSN_SIZE != 0 || len / BPF_INSN_SIZE > MAX_STEER_INSNS)
    return vstun_throw_range(env, "insns", "insns must be 1..%d instructions of 8 bytes, got %zu bytes", MAX_STEER_INSNS, len);
  char *log = calloc(1, VERIFIER_LOG_SIZE);
  if (log == NULL) return vstun_throw_errno(env, ENOMEM, "bpf BPF_PROG_LOAD", "steering program", NULL);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = (uint64_t)(uintptr_t)code;
  attr.insn_cnt = (uint32_t)(len / BPF_INSN_SIZE);
  attr.license = (uint64_t)(uintptr_t) "GPL";
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = VERIFIER_LOG_SIZE;
  attr.log_level = 0;
  long fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0 && errno == EINVAL) {
    /* Again with the log on, so that the error says what the verifier refused. */
    attr.log_level = 1;
    log[0] = 0;
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
  }
  if (fd < 0) {
    int err = errno;
    char hint[512];
    const char *h = bpf_hint(err);
    if (log[0] != 0) {
      /* The last lines say where it stopped. */
      size_t n = strnlen(log, VERIFIER_LOG_SIZE - 1);
      const char *tail = n > 400 ? log + n - 400 : log;
      snprintf(hint, sizeof hint, "%s; verifier: %s", h != NULL ? h : "refused", tail);
      h = hint;
    }
    free(log);
    return vstun_throw_errno(env, err, "bpf BPF_PROG_LOAD", "steering program", h);
  }
  free(log);
  /* Close-on-exec like every other fd of the addon. */
  int flags = fcntl((int)fd, F_GETFD);
  if (flags >= 0) fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
  return vstun_make_int(env, (double)fd);
}

/* tunSetSteering(queueFd, progFd) -> undefined: attaches (replacing atomically) or, with
 * progFd -1, detaches the TAP's steering program. */
static napi_value tun_set_steering(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "tunSetSteering", "tunSetSteering(queueFd, progFd) takes 2 arguments");
  int64_t fd, prog;
  if (!vstun_arg_int(env, argv[0], "queueFd", 0, INT32_MAX, &fd)) return NULL;
  if (!vstun_arg_int(env, argv[1], "progFd", -1, INT32_MAX, &prog)) return NULL;
  int p = (int)prog;
  if (ioctl((int)fd, TUNSETSTEERINGEBPF, &p) < 0) {
    int err = errno;
    char target[24];
    snprintf(target, sizeof target, "fd %d", (int)fd);
    return vstun_throw_errno(env, err, "TUNSETSTEERINGEBPF", target,
                             err == ENOTTY || err == EBADF ? "the fd is not an open TUN/TAP queue" : NULL);
  }
  return NULL;
}

/* bpfTestRun(progFd, frame: Uint8Array) -> the program's return value over an Ethernet frame,
 * with loads relative to the frame's first byte as on the TAP's transmit path. */
static napi_value bpf_test_run(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "bpfTestRun", "bpfTestRun(progFd, frame) takes 2 arguments");
  int64_t prog;
  uint8_t *frame;
  size_t len;
  if (!vstun_arg_int(env, argv[0], "progFd", 0, INT32_MAX, &prog)) return NULL;
  if (!vstun_arg_bytes(env, argv[1], "frame", &frame, &len)) return NULL;
  if (len > MAX_TEST_FRAME - ETH_HEADER_LEN) return vstun_throw_range(env, "frame", "frame is %zu bytes, at most %d", len, MAX_TEST_FRAME - ETH_HEADER_LEN);
  /* The test run strips an Ethernet header before a socket filter sees the data (the filter
   * sees the network header on receive); a throw-away one in front leaves the real frame. */
  uint8_t *buf = calloc(1, len + ETH_HEADER_LEN);
  if (buf == NULL) return vstun_throw_errno(env, ENOMEM, "bpf BPF_PROG_TEST_RUN", "steering program", NULL);
  buf[12] = 0x88; /* a local experimental ethertype (0x88b5): not IP, nothing parses further */
  buf[13] = 0xb5;
  memcpy(buf + ETH_HEADER_LEN, frame, len);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = (uint32_t)prog;
  attr.test.data_in = (uint64_t)(uintptr_t)buf;
  attr.test.data_size_in = (uint32_t)(len + ETH_HEADER_LEN);
  attr.test.repeat = 1;
  long r = sys_bpf(BPF_PROG_TEST_RUN, &attr);
  int err = errno;
  free(buf);
  if (r < 0) return vstun_throw_errno(env, err, "bpf BPF_PROG_TEST_RUN", "steering program", bpf_hint(err));
  return vstun_make_int(env, (double)attr.test.retval);
}

bool vstun_init_steer(napi_env env, napi_value exports) {
  return vstun_export_fn(env, exports, "bpfLoadSteering", bpf_load_steering) && vstun_export_fn(env, exports, "tunSetSteering", tun_set_steering) &&
         vstun_export_fn(env, exports, "bpfTestRun", bpf_test_run);
}
