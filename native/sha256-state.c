/*
 * A SHA-256 whose state can be saved and resumed, for iso-build's in-place ISO writer (src/sha256-state.ts): Node's
 * crypto Hash cannot export its state. The state is OpenSSL's SHA256_CTX, held in a JS Buffer the caller owns; the
 * functions are the ones the node binary exports from the OpenSSL it links (the same SHA-NI code crypto uses).
 * Built by scripts/build-native.mjs with the C compiler and Node's own headers; optional at run time.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>

/*
 * The call's arguments (up to 2) and the state Buffer in the first one: exactly sizeof(SHA256_CTX) bytes; NULL (with
 * a JS exception pending) otherwise.
 */
static SHA256_CTX *state_of(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc, const char *fn) {
  void *data;
  size_t len;
  bool is_buffer = false;
  *argc = 2;
  napi_get_cb_info(env, info, argc, argv, NULL, NULL);
  if (*argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len != sizeof(SHA256_CTX)) {
    napi_throw_error(env, NULL, fn);
    return NULL;
  }
  return (SHA256_CTX *)data;
}

/* init(state) */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc;
  SHA256_CTX *c = state_of(env, info, argv, &argc, "sha256-state init: expected the state buffer");
  if (c) SHA256_Init(c);
  return NULL;
}

/* update(state, data: Buffer or Uint8Array) */
static napi_value js_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc;
  SHA256_CTX *c = state_of(env, info, argv, &argc, "sha256-state update: expected the state buffer");
  if (!c) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_error(env, NULL, "sha256-state update: expected a Buffer");
    return NULL;
  }
  SHA256_Update(c, data, length);
  return NULL;
}

/* digest(state) -> Buffer(32); the state is consumed (OpenSSL clears it). */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  size_t argc;
  SHA256_CTX *c = state_of(env, info, argv, &argc, "sha256-state digest: expected the state buffer");
  if (!c) return NULL;
  unsigned char md[SHA256_DIGEST_LENGTH];
  void *copy;
  SHA256_Final(md, c);
  if (napi_create_buffer_copy(env, sizeof md, md, &copy, &out) != napi_ok) {
    napi_throw_error(env, NULL, "sha256-state digest: out of memory");
    return NULL;
  }
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn, size;
  napi_create_function(env, "init", NAPI_AUTO_LENGTH, js_init, NULL, &fn);
  napi_set_named_property(env, exports, "init", fn);
  napi_create_function(env, "update", NAPI_AUTO_LENGTH, js_update, NULL, &fn);
  napi_set_named_property(env, exports, "update", fn);
  napi_create_function(env, "digest", NAPI_AUTO_LENGTH, js_digest, NULL, &fn);
  napi_set_named_property(env, exports, "digest", fn);
  napi_create_uint32(env, (uint32_t)sizeof(SHA256_CTX), &size);
  napi_set_named_property(env, exports, "stateBytes", size);
  return exports;
}
