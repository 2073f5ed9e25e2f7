/* Argument readers: every public function validates its inputs here and throws a
 * TypeError/RangeError naming the argument, never crashes on bad input. */
#include "vstun.h"

#include <math.h>
#include <net/if.h>
#include <string.h>

bool vstun_arg_string(napi_env env, napi_value v, const char *what, char *out, size_t cap) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    vstun_throw_type(env, what, "%s must be a string", what);
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return vstun_rethrow_napi(env), false;
  if (len + 1 > cap) {
    vstun_throw_range(env, what, "%s is too long (%zu bytes, at most %zu)", what, len, cap - 1);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) return vstun_rethrow_napi(env), false;
  if (strlen(out) != len) {
    vstun_throw_range(env, what, "%s must not contain NUL characters", what);
    return false;
  }
  return true;
}

bool vstun_arg_ifname(napi_env env, napi_value v, char *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    vstun_throw_type(env, "ifname", "interface name must be a string");
    return false;
  }
  char buf[64];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok) return vstun_rethrow_napi(env), false;
  if (len == 0 || len >= IFNAMSIZ || strlen(buf) != len) {
    vstun_throw_range(env, buf, "interface name '%s' must be 1 to %d bytes long", buf, IFNAMSIZ - 1);
    return false;
  }
  memcpy(out, buf, len + 1);
  return true;
}

bool vstun_arg_int(napi_env env, napi_value v, const char *what, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
    vstun_throw_type(env, what, "%s must be a number", what);
    return false;
  }
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) {
    vstun_throw_range(env, what, "%s must be an integer from %lld to %lld, got %g", what, (long long)min, (long long)max, d);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool vstun_arg_bool(napi_env env, napi_value v, const char *what, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean || napi_get_value_bool(env, v, out) != napi_ok) {
    vstun_throw_type(env, what, "%s must be a boolean", what);
    return false;
  }
  return true;
}

bool vstun_prop(napi_env env, napi_value obj, const char *key, napi_value *out, bool *present) {
  *present = false;
  napi_valuetype t;
  if (obj == NULL) return true;
  if (napi_typeof(env, obj, &t) != napi_ok) return vstun_rethrow_napi(env), false;
  if (t == napi_undefined || t == napi_null) return true;
  if (t != napi_object) {
    vstun_throw_type(env, "options", "options must be an object");
    return false;
  }
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return vstun_rethrow_napi(env), false;
  if (napi_typeof(env, *out, &t) != napi_ok) return vstun_rethrow_napi(env), false;
  *present = t != napi_undefined;
  return true;
}

bool vstun_prop_int(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t dflt, int64_t *out) {
  napi_value v;
  bool present;
  if (!vstun_prop(env, obj, key, &v, &present)) return false;
  if (!present) {
    *out = dflt;
    return true;
  }
  return vstun_arg_int(env, v, key, min, max, out);
}

bool vstun_prop_bool(napi_env env, napi_value obj, const char *key, bool dflt, bool *out) {
  napi_value v;
  bool present;
  if (!vstun_prop(env, obj, key, &v, &present)) return false;
  if (!present) {
    *out = dflt;
    return true;
  }
  return vstun_arg_bool(env, v, key, out);
}

bool vstun_prop_string(napi_env env, napi_value obj, const char *key, char *out, size_t cap, bool *present) {
  napi_value v;
  if (!vstun_prop(env, obj, key, &v, present)) return false;
  if (!*present) return true;
  return vstun_arg_string(env, v, key, out, cap);
}

bool vstun_arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  bool is;
  void *p = NULL;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) return vstun_rethrow_napi(env), false;
    *data = p;
    return true;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &n, &p, &ab, &off) != napi_ok) return vstun_rethrow_napi(env), false;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *data = p; /* napi returns the pointer at the view's start */
    *len = n * elem;
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t off;
    if (napi_get_dataview_info(env, v, len, &p, &ab, &off) != napi_ok) return vstun_rethrow_napi(env), false;
    *data = p;
    return true;
  }
  vstun_throw_type(env, what, "%s must be an ArrayBuffer or a Uint8Array", what);
  return false;
}

/* A TypedArray of `want` type; `name` is the type's name for the error message. */
static bool arg_typedarray(napi_env env, napi_value v, const char *what, napi_typedarray_type want, const char *name, void **data,
                           size_t *count) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, count, data, &ab, &off) != napi_ok || type != want) {
    vstun_throw_type(env, what, "%s must be a%s %s", what, name[0] == 'I' ? "n" : "", name);
    return false;
  }
  return true;
}

bool vstun_arg_int32array(napi_env env, napi_value v, const char *what, int32_t **data, size_t *count) {
  void *p;
  if (!arg_typedarray(env, v, what, napi_int32_array, "Int32Array", &p, count)) return false;
  *data = p;
  return true;
}

bool vstun_arg_float64array(napi_env env, napi_value v, const char *what, double **data, size_t *count) {
  void *p;
  if (!arg_typedarray(env, v, what, napi_float64_array, "Float64Array", &p, count)) return false;
  *data = p;
  return true;
}

napi_value vstun_make_int(napi_env env, double v) {
  napi_value out = NULL;
  napi_create_double(env, v, &out);
  return out;
}

bool vstun_set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  return napi_create_double(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

bool vstun_export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}
