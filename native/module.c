/* Module entry: registers every part of the addon on `exports` (see src/native/addon.ts). */
#define _GNU_SOURCE
#include "vstun.h"

#include <dlfcn.h>
#include <stdlib.h>

/* Worker threads (the director's queue workers): when a worker's environment ends, Node
 * unloads the addons it loaded and only then runs the loop once more to finish closing
 * handles, so a reader's or writer's uv_close callback would jump into unmapped code. Marking
 * this library RTLD_NODELETE keeps its code mapped for the life of the process. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)pin_library, &info) != 0 && info.dli_fname != NULL) dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static void instance_free(napi_env env, void *data, void *hint) {
  vstun_instance *inst = data;
  if (inst->reader_ctor) napi_delete_reference(env, inst->reader_ctor);
  if (inst->writer_ctor) napi_delete_reference(env, inst->writer_ctor);
  if (inst->loop_delay_ctor) napi_delete_reference(env, inst->loop_delay_ctor);
  free(inst);
}

vstun_instance *vstun_instance_get(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

static napi_value init(napi_env env, napi_value exports) {
  pin_library();
  vstun_instance *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, instance_free, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, "ENOMEM", "vstun native addon: out of memory at load");
    return NULL;
  }
  if (!vstun_init_tun(env, exports) || !vstun_init_link(env, exports) || !vstun_init_socket(env, exports) ||
      !vstun_init_reader(env, exports) || !vstun_init_writer(env, exports) || !vstun_init_csum(env, exports) ||
      !vstun_init_notify(env, exports) || !vstun_init_loop_delay(env, exports) || !vstun_init_netlink(env, exports) ||
      !vstun_init_steer(env, exports))
    return vstun_rethrow_napi(env);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
