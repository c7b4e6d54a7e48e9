/* json.h — thin wrappers over jansson, with limits.
 *
 * jansson allocates through the shim (alloc.h), so strings it returns (json_dumps)
 * are freed with hml_free. Parsing rejects duplicate keys, documents larger than
 * HML_JSON_BYTES_MAX and nesting deeper than HML_JSON_DEPTH_MAX.
 */
#ifndef HML_JSON_H
#define HML_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "harness/err.h"

#define HML_JSON_BYTES_MAX (64u << 20)
#define HML_JSON_DEPTH_MAX 64

/* Routes jansson's allocations through the shim. Idempotent; also run at load. */
void hml_json_init(void);

/* Parses one JSON value. Errors say where ("line 3, column 7") and what to do. */
enum hml_status hml_json_parse(const char *text, size_t len, json_t **out, struct hml_error *err);
/* Compact text with sorted keys (canonical: equal values give equal bytes).
 * Caller frees with hml_free. NULL on OOM. */
char *hml_json_canonical(const json_t *v);
/* Indented text, keys in insertion order. Caller frees with hml_free. */
char *hml_json_pretty(const json_t *v);
/* Depth of nesting (scalars are 0). */
size_t hml_json_depth(const json_t *v);

/* Typed getters on an object; return dflt when absent or null. */
const char *hml_json_str(const json_t *obj, const char *key, const char *dflt);
int64_t hml_json_int(const json_t *obj, const char *key, int64_t dflt);
double hml_json_num(const json_t *obj, const char *key, double dflt);
bool hml_json_bool(const json_t *obj, const char *key, bool dflt);

/* "an object", "a list", "a string", "an integer", "a number", "a boolean", "null":
 * for messages that say what was given. */
const char *hml_json_kind(const json_t *v);

/* Sets obj[key] = v, stealing v; false on OOM (v is freed). */
bool hml_json_set(json_t *obj, const char *key, json_t *v);

#endif
