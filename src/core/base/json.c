/* json.c — jansson behind limits: size, depth, duplicate keys; canonical text. */
#include "harness/json.h"
#include "harness/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void hml_json_init(void)
{
    json_set_alloc_funcs(hml_malloc, hml_free);
}

/* Priority 101 runs before ordinary constructors, so no jansson object can be
 * created with libc malloc and later freed by the shim. */
__attribute__((constructor(101))) static void json_init_at_load(void)
{
    hml_json_init();
}

/* jansson's own depth limit (2048) is far above ours and it recurses on the C
 * stack, so the nesting is measured before jansson sees the text. */
static enum hml_status check_depth(const char *text, size_t len, struct hml_error *err)
{
    size_t depth = 0, line = 1, col = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        col++;
        if (c == '\n') line++, col = 0;
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == ']' || c == '}') depth -= depth > 0;
        else if ((c == '[' || c == '{') && ++depth > HML_JSON_DEPTH_MAX) {
            hml_fail(err, HML_ELIMIT, "json",
                     "JSON nests deeper than %d levels at line %zu, column %zu",
                     HML_JSON_DEPTH_MAX, line, col);
            return hml_hint(err, "flatten the structure; at most %d nested objects/arrays are allowed",
                            HML_JSON_DEPTH_MAX);
        }
    }
    return HML_OK;
}

enum hml_status hml_json_parse(const char *text, size_t len, json_t **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    HML_ASSERT(text != NULL || len == 0);
    if (len > HML_JSON_BYTES_MAX) {
        hml_fail(err, HML_ELIMIT, "json", "JSON document is %zu bytes, over the limit of %u",
                 len, HML_JSON_BYTES_MAX);
        return hml_hint(err, "send a smaller document, or point to a file instead of inlining data");
    }
    enum hml_status rc = check_depth(text ? text : "", len, err);
    if (rc) return rc;
    /* jansson 2.14 may leave the error unset when it fails early, and reports most
     * allocation failures as syntax errors: zero it, and ask the shim instead. */
    json_error_t je;
    memset(&je, 0, sizeof je);
    uint64_t failures = hml_alloc_failures();
    json_t *v = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v && hml_alloc_failures() != failures) { /* a token may have been cut short */
        json_decref(v);
        v = NULL;
    }
    if (!v) {
        if (json_error_code(&je) == json_error_out_of_memory || hml_alloc_failures() != failures)
            return hml_fail(err, HML_ENOMEM, "json", "out of memory parsing JSON");
        hml_fail(err, HML_EINVAL, "json", "invalid JSON at line %d, column %d: %s", je.line,
                 je.column, je.text);
        if (json_error_code(&je) == json_error_duplicate_key)
            return hml_hint(err, "each key may appear once per object; remove or merge the repeated key");
        return hml_hint(err, "check quotes, commas and brackets near that position "
                             "(strings use double quotes; no trailing commas)");
    }
    *out = v;
    return HML_OK;
}

char *hml_json_canonical(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

char *hml_json_pretty(const json_t *v)
{
    return json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

size_t hml_json_depth(const json_t *v)
{
    size_t best = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t d = hml_json_depth(x);
            if (d > best) best = d;
        }
        return best + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = hml_json_depth(json_array_get(v, i));
            if (d > best) best = d;
        }
        return best + 1;
    }
    return 0;
}

const char *hml_json_str(const json_t *obj, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t hml_json_int(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    /* A whole-valued real (5.0 from an agent's JSON) means the integer. */
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) return (int64_t)d;
    }
    return dflt;
}

double hml_json_num(const json_t *obj, const char *key, double dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool hml_json_bool(const json_t *obj, const char *key, bool dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

bool hml_json_set(json_t *obj, const char *key, json_t *v)
{
    if (!v) return false;
    /* json_object_set_new releases v itself when it fails. */
    return json_object_set_new(obj, key, v) == 0;
}

const char *hml_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}
