/* JS errors for the addon: errno failures carry a stable `code` (errno's name), the numeric
 * errno and the device or socket they concern, so callers can branch on code and users
 * read what to fix. */
#define _GNU_SOURCE
#include "vstun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *vstun_errno_name(int err, char *buf, size_t len) {
  const char *name = strerrorname_np(err);
  if (name) return name;
  snprintf(buf, len, "E%d", err);
  return buf;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

napi_value vstun_throw_errno(napi_env env, int err, const char *op, const char *target, const char *hint) {
  char namebuf[16];
  char msg[512];
  const char *name = vstun_errno_name(err, namebuf, sizeof namebuf);
  if (hint && *hint)
    snprintf(msg, sizeof msg, "%s %s: %s (%s): %s", op, target, strerror(err), name, hint);
  else
    snprintf(msg, sizeof msg, "%s %s: %s (%s)", op, target, strerror(err), name);
  napi_value code, message, error, errnum;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &errnum) == napi_ok) napi_set_named_property(env, error, "errno", errnum);
  set_str(env, error, "target", target);
  set_str(env, error, "syscall", op);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_arg(napi_env env, bool range, const char *target, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  napi_value code, message, error;
  const char *c = range ? "ERR_INVALID_ARG_VALUE" : "ERR_INVALID_ARG_TYPE";
  if (napi_create_string_utf8(env, c, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  napi_status st = range ? napi_create_range_error(env, code, message, &error) : napi_create_type_error(env, code, message, &error);
  if (st != napi_ok) return NULL;
  set_str(env, error, "target", target);
  napi_throw(env, error);
  return NULL;
}

napi_value vstun_throw_type(napi_env env, const char *target, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_arg(env, false, target, fmt, ap);
  va_end(ap);
  return NULL;
}

napi_value vstun_throw_range(napi_env env, const char *target, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_arg(env, true, target, fmt, ap);
  va_end(ap);
  return NULL;
}

napi_value vstun_rethrow_napi(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, "ERR_NAPI", info && info->error_message ? info->error_message : "N-API call failed");
  }
  return NULL;
}
