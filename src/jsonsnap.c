/* jsonsnap.c - the legacy JSON snapshot reader (see jsonsnap.h). */
#include "jsonsnap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int visit(json_t *root, jsonsnap_fn fn, void *ctx, struct kv_err *err)
{
    const char *key;
    size_t klen;
    json_t *v;
    void *tmp;
    json_object_keylen_foreach_safe(root, tmp, key, klen, v)
    {
        int rc;
        if (json_is_string(v)) {
            rc = fn(ctx, key, klen, json_string_value(v), json_string_length(v), err);
        } else {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (!text) return kv_err_set(err, KV_EINVAL, "cannot encode the value of a key");
            rc = fn(ctx, key, klen, text, strlen(text), err);
            free(text);
        }
        if (rc != 0) return -1;
    }
    return 0;
}

int jsonsnap_load(const char *path, jsonsnap_fn fn, void *ctx, size_t *count, struct kv_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return kv_err_sys(err, "cannot open %s", path);
    if ((unsigned long long)st.st_size > JSONSNAP_MAX_BYTES)
        return kv_err_set(err, KV_ELIMIT, "%s: %lld bytes, over the %llu-byte limit", path,
                          (long long)st.st_size, JSONSNAP_MAX_BYTES);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!root)
        return kv_err_set(err, KV_EINVAL, "%s: malformed JSON at line %d, column %d (byte %d): %s",
                          path, je.line, je.column, je.position, je.text);
    int rc = 0;
    if (!json_is_object(root))
        rc = kv_err_set(err, KV_EINVAL, "%s: expected a JSON object mapping keys to values", path);
    else
        rc = visit(root, fn, ctx, err);
    if (rc == 0 && count) *count = json_object_size(root);
    json_decref(root);
    return rc;
}
