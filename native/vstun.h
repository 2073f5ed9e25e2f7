/* Shared declarations of the vstun N-API addon (C, N-API 8, no C++ wrapper). */
#ifndef VSTUN_H
#define VSTUN_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Ring layout; must match src/native/addon.ts. */
#define META_STRIDE 4
#define META_OFFSET 0
#define META_LENGTH 1
#define META_FAMILY 2
#define META_PORT 3
#define ADDR_STRIDE 16
/* META_FAMILY bits of TUN/TAP writes; must match src/native/addon.ts. */
#define META_FLAG_VNET_HDR 1
#define META_FLAG_CONTINUES 2
#define MAX_GATHER_SPANS 128

/* Bail out of a napi callback when a napi call fails (the exception is already pending). */
#define NAPI_OK_OR_NULL(call)                                                            \
  do {                                                                                   \
    if ((call) != napi_ok) return vstun_rethrow_napi(env);                               \
  } while (0)

/* ---- errors.c ---- */
/* Throws Error{code: errno name, errno, target} with "<op> <target>: <strerror>[: hint]". */
napi_value vstun_throw_errno(napi_env env, int err, const char *op, const char *target, const char *hint);
/* Throws TypeError{code: ERR_INVALID_ARG_TYPE, target}. */
napi_value vstun_throw_type(napi_env env, const char *target, const char *fmt, ...);
/* Throws RangeError{code: ERR_INVALID_ARG_VALUE, target}. */
napi_value vstun_throw_range(napi_env env, const char *target, const char *fmt, ...);
/* Makes sure an exception is pending after a failed napi call; returns NULL. */
napi_value vstun_rethrow_napi(napi_env env);
/* errno's symbolic name ("EPERM"), or "E<number>" for unknown values. */
const char *vstun_errno_name(int err, char *buf, size_t len);

/* ---- args.c: argument readers; return false with a JS exception pending ---- */
bool vstun_arg_string(napi_env env, napi_value v, const char *what, char *out, size_t cap);
bool vstun_arg_ifname(napi_env env, napi_value v, char *out);
bool vstun_arg_int(napi_env env, napi_value v, const char *what, int64_t min, int64_t max, int64_t *out);
bool vstun_arg_bool(napi_env env, napi_value v, const char *what, bool *out);
/* Reads optional property `key` of an object; *present=false when absent/undefined. */
bool vstun_prop(napi_env env, napi_value obj, const char *key, napi_value *out, bool *present);
bool vstun_prop_int(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t dflt, int64_t *out);
bool vstun_prop_bool(napi_env env, napi_value obj, const char *key, bool dflt, bool *out);
bool vstun_prop_string(napi_env env, napi_value obj, const char *key, char *out, size_t cap, bool *present);
/* Byte span of an ArrayBuffer or any TypedArray/DataView (the view's window only). */
bool vstun_arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len);
/* An Int32Array. */
bool vstun_arg_int32array(napi_env env, napi_value v, const char *what, int32_t **data, size_t *count);
/* A Float64Array. */
bool vstun_arg_float64array(napi_env env, napi_value v, const char *what, double **data, size_t *count);
napi_value vstun_make_int(napi_env env, double v);
bool vstun_set_num(napi_env env, napi_value obj, const char *key, double v);

/* ---- module parts: each registers its functions on exports ---- */
bool vstun_init_tun(napi_env env, napi_value exports);
bool vstun_init_link(napi_env env, napi_value exports);
bool vstun_init_socket(napi_env env, napi_value exports);
bool vstun_init_reader(napi_env env, napi_value exports);
bool vstun_init_writer(napi_env env, napi_value exports);
bool vstun_init_csum(napi_env env, napi_value exports);
bool vstun_init_notify(napi_env env, napi_value exports);
bool vstun_init_loop_delay(napi_env env, napi_value exports);
bool vstun_init_netlink(napi_env env, napi_value exports);
bool vstun_init_steer(napi_env env, napi_value exports);

/* Per-env state (worker threads load the addon once per env). */
typedef struct vstun_instance {
  napi_ref reader_ctor;
  napi_ref writer_ctor;
  napi_ref loop_delay_ctor;
} vstun_instance;
vstun_instance *vstun_instance_get(napi_env env);

bool vstun_export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
