/* Event-loop delay, measured to the microsecond without a JS call per sample: a periodic
 * timerfd (CLOCK_MONOTONIC) watched by a uv_poll on the JS thread's loop. When its callback
 * runs, the earliest expiry it reports was due (expirations * interval - time left to the next)
 * nanoseconds ago: how long a packet arriving at that moment would have waited for the
 * loop. libuv's own timers work in whole milliseconds, so a setTimeout sampler cannot see
 * the sub-millisecond delays a packet path cares about; a timerfd fires on an hrtimer.
 * Samples go into fixed buckets (upper bounds in ns, given once) plus a running sum, count
 * and a window (count, sum, max) that read() can reset; JS turns them into a Prometheus
 * histogram at scrape time (src/metrics/event-loop-delay.ts). The interval should not divide
 * the periods of the daemon's own timers, or the sampler would always or never see them. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BOUNDS 32

typedef struct sampler {
  uv_poll_t poll;
  int fd;
  uint64_t interval_ns;
  uint32_t nbounds;
  uint64_t bounds[MAX_BOUNDS];
  double counts[MAX_BOUNDS + 1]; /* the last one: above every bound */
  double sum_ns, count;
  double win_count, win_sum_ns, win_max_ns;
  napi_env env;
  bool closing, handle_closed, finalized, env_gone;
} sampler_t;

static void sampler_free(sampler_t *s) { free(s); }

static void on_handle_closed(uv_handle_t *h) {
  sampler_t *s = h->data;
  s->handle_closed = true;
  if (s->finalized) sampler_free(s);
}

static void on_env_cleanup(void *arg);

static void sampler_begin_close(sampler_t *s) {
  if (s->closing) return;
  s->closing = true;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  close(s->fd);
  s->fd = -1;
  if (!s->env_gone) napi_remove_env_cleanup_hook(s->env, on_env_cleanup, s);
}

static void on_env_cleanup(void *arg) {
  sampler_t *s = arg;
  s->env_gone = true;
  sampler_begin_close(s);
}

static void sampler_finalize(napi_env env, void *data, void *hint) {
  sampler_t *s = data;
  sampler_begin_close(s);
  s->finalized = true;
  if (s->handle_closed) sampler_free(s);
}

static void record(sampler_t *s, uint64_t late_ns) {
  uint32_t b = 0;
  while (b < s->nbounds && late_ns > s->bounds[b]) b++;
  s->counts[b] += 1;
  s->sum_ns += (double)late_ns;
  s->count += 1;
  s->win_count += 1;
  s->win_sum_ns += (double)late_ns;
  if ((double)late_ns > s->win_max_ns) s->win_max_ns = (double)late_ns;
}

static void on_expired(uv_poll_t *h, int status, int events) {
  sampler_t *s = h->data;
  if (s->closing || status < 0) return;
  uint64_t expirations;
  if (read(s->fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations || expirations == 0) return;
  struct itimerspec left;
  if (timerfd_gettime(s->fd, &left) != 0) return;
  uint64_t to_next = (uint64_t)left.it_value.tv_sec * 1000000000ull + (uint64_t)left.it_value.tv_nsec;
  uint64_t since_first = expirations * s->interval_ns;
  record(s, since_first > to_next ? since_first - to_next : 0);
}

static sampler_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return vstun_rethrow_napi(env), NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    vstun_throw_type(env, "loopDelay", "this is not a LoopDelaySampler");
    return NULL;
  }
  return p;
}

/* read(out: Float64Array, resetWindow: boolean): out = [count per bucket (bounds + 1)..., sum s,
 * count, window count, window sum s, window max s]; out must hold bounds + 6 numbers. */
static napi_value sampler_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sampler_t *s = unwrap_this(env, info, &argc, argv);
  if (!s) return NULL;
  if (argc < 2) return vstun_throw_type(env, "read", "read(out, resetWindow) takes 2 arguments");
  double *out;
  size_t length;
  if (!vstun_arg_float64array(env, argv[0], "out", &out, &length)) return NULL;
  if (length < s->nbounds + 6) return vstun_throw_range(env, "out", "out must hold %u numbers", s->nbounds + 6);
  bool reset;
  if (!vstun_arg_bool(env, argv[1], "resetWindow", &reset)) return NULL;
  for (uint32_t b = 0; b <= s->nbounds; b++) out[b] = s->counts[b];
  out[s->nbounds + 1] = s->sum_ns / 1e9;
  out[s->nbounds + 2] = s->count;
  out[s->nbounds + 3] = s->win_count;
  out[s->nbounds + 4] = s->win_sum_ns / 1e9;
  out[s->nbounds + 5] = s->win_max_ns / 1e9;
  if (reset) s->win_count = s->win_sum_ns = s->win_max_ns = 0;
  return NULL;
}

static napi_value sampler_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sampler_t *s = unwrap_this(env, info, &argc, NULL);
  if (s) sampler_begin_close(s);
  return NULL;
}

static napi_value sampler_construct(napi_env env, napi_callback_info info) {
  napi_value self;
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  return self;
}

/* createLoopDelaySampler(intervalUs, boundsNs: Float64Array ascending) -> LoopDelaySampler */
static napi_value create_sampler(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return vstun_throw_type(env, "createLoopDelaySampler", "createLoopDelaySampler(intervalUs, boundsNs) takes 2 arguments");
  int64_t interval_us;
  if (!vstun_arg_int(env, argv[0], "intervalUs", 100, 10000000, &interval_us)) return NULL;
  double *bounds;
  size_t n;
  if (!vstun_arg_float64array(env, argv[1], "boundsNs", &bounds, &n)) return NULL;
  if (n == 0 || n > MAX_BOUNDS) return vstun_throw_range(env, "boundsNs", "boundsNs must hold 1 to %d bounds", MAX_BOUNDS);
  for (size_t i = 0; i < n; i++)
    if (!(bounds[i] > 0 && bounds[i] < 1e12) || (i > 0 && !(bounds[i] > bounds[i - 1])))
      return vstun_throw_range(env, "boundsNs", "boundsNs must be ascending, each in (0, 1e12)");

  sampler_t *s = calloc(1, sizeof *s);
  if (!s) return vstun_throw_errno(env, ENOMEM, "createLoopDelaySampler", "timerfd", NULL);
  s->env = env;
  s->interval_ns = (uint64_t)interval_us * 1000u;
  s->nbounds = (uint32_t)n;
  for (size_t i = 0; i < n; i++) s->bounds[i] = (uint64_t)bounds[i];
  s->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (s->fd < 0) {
    int err = errno;
    free(s);
    return vstun_throw_errno(env, err, "timerfd_create", "event-loop delay sampler", NULL);
  }
  struct itimerspec its;
  its.it_interval.tv_sec = (time_t)(s->interval_ns / 1000000000ull);
  its.it_interval.tv_nsec = (long)(s->interval_ns % 1000000000ull);
  its.it_value = its.it_interval;
  uv_loop_t *loop;
  int rc = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, &s->poll, s->fd) : UV_EINVAL;
  if (rc < 0) {
    close(s->fd);
    free(s);
    return vstun_throw_errno(env, -rc, "createLoopDelaySampler", "timerfd", NULL);
  }
  s->poll.data = s;
  rc = timerfd_settime(s->fd, 0, &its, NULL) == 0 ? uv_poll_start(&s->poll, UV_READABLE, on_expired) : -errno;
  if (rc < 0) {
    /* The handle is initialised: libuv frees nothing of ours, but s may go only after its close callback. */
    s->env_gone = true;
    s->finalized = true;
    sampler_begin_close(s);
    return vstun_throw_errno(env, -rc, "createLoopDelaySampler", "timerfd", NULL);
  }
  uv_unref((uv_handle_t *)&s->poll); /* the sampler must never keep the process alive */
  napi_value ctor, obj;
  if (napi_get_reference_value(env, vstun_instance_get(env)->loop_delay_ctor, &ctor) != napi_ok ||
      napi_new_instance(env, ctor, 0, NULL, &obj) != napi_ok || napi_wrap(env, obj, s, sampler_finalize, NULL, NULL) != napi_ok) {
    s->env_gone = true;
    s->finalized = true;
    sampler_begin_close(s);
    return vstun_rethrow_napi(env);
  }
  napi_add_env_cleanup_hook(env, on_env_cleanup, s);
  return obj;
}

bool vstun_init_loop_delay(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"read", NULL, sampler_read, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, sampler_close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "LoopDelaySampler", NAPI_AUTO_LENGTH, sampler_construct, NULL, sizeof methods / sizeof methods[0],
                        methods, &cls) != napi_ok)
    return false;
  if (napi_create_reference(env, cls, 1, &vstun_instance_get(env)->loop_delay_ctor) != napi_ok) return false;
  return vstun_export_fn(env, exports, "createLoopDelaySampler", create_sampler);
}
