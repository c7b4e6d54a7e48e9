/* tpe.c — search spaces and the TPE study (the algorithm is described in tpe.h).
 *
 * A point is stored as a row of doubles, one per "dim": one dim per continuous,
 * integer or categorical axis (the value itself, or the choice's index) and one per
 * subset item (0 or 1). Rows hold the external value (what the overlay gets), never
 * the log-transformed one: the transform is recomputed from the stored value, so a
 * study rebuilt from its JSON computes bit-identical densities. NaN marks an axis a
 * warm-start point did not give.
 */
#include "harness/tpe.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/alloc.h"

#define W_SPACE "search_space"
#define W_STUDY "tpe"
#define GOOD_MAX 25
#define LOG_TINY (-700.0) /* log of a probability that underflowed */

/* ---------------------------------------------------------------- PRNG
 * xoshiro256** (Blackman & Vigna), seeded by splitmix64 so that nearby seeds give
 * unrelated streams. Both are fixed integer recipes: the same on every machine. */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform on [0, 1) with 53 random bits. */
static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static size_t rng_below(struct rng *r, size_t n)
{
    HML_ASSERT(n > 0);
    size_t k = (size_t)(rng_unit(r) * (double)n);
    return k < n ? k : n - 1;
}

/* Box–Muller, one value per call: no cached second value to save with the study. */
static double rng_normal(struct rng *r)
{
    double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---------------------------------------------------------------- names */

static const char *const type_names[] = {"continuous", "integer", "categorical", "subset"};

const char *hml_tpe_type_name(enum hml_tpe_type t)
{
    HML_ASSERT((unsigned)t < 4);
    return type_names[t];
}

const char *hml_tpe_state_name(enum hml_tpe_state st)
{
    static const char *const n[] = {"pending", "complete", "failed"};
    HML_ASSERT((unsigned)st < 3);
    return n[st];
}

const char *hml_tpe_origin_name(enum hml_tpe_origin o)
{
    static const char *const n[] = {"random", "tpe", "enqueued", "warm_start"};
    HML_ASSERT((unsigned)o < 4);
    return n[o];
}

/* ---------------------------------------------------------------- space parsing */

static const char *const axis_fields[] = {"key",  "param",  "name",       "type",  "low",
                                          "high", "log",    "values",     "choices",
                                          "candidates", "items", "min_size", "max_size"};
static const char *const key_aliases[] = {"key", "param", "name"};
static const char *const values_aliases[] = {"values", "choices", "candidates", "items"};
#define NAMES_N(a) (sizeof(a) / sizeof(a)[0])

#define AXIS_JSON "{\"key\": \"models.xgb.params.max_depth\", \"type\": \"integer\", \"low\": 2, \"high\": 10}"
static const char AXIS_EXAMPLE[] = "e.g. " AXIS_JSON;

/* hml_json_kind, also for an absent value. */
static const char *kind(const json_t *v) { return v ? hml_json_kind(v) : "missing"; }

/* Equal JSON values, with 1 and 1.0 counting as equal. */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

static enum hml_status check_fields(const json_t *a, const char *label, struct hml_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
        bool known = false;
        for (size_t i = 0; i < NAMES_N(axis_fields); i++) known = known || !strcmp(k, axis_fields[i]);
        if (known) continue;
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: unknown field '%s'", label, k);
        return hml_error_choices(err, k, axis_fields, NAMES_N(axis_fields));
    }
    return HML_OK;
}

/* The value of whichever alias is present; two aliases with different values are an error. */
static enum hml_status get_alias(const json_t *a, const char *label, const char *const *names,
                                 size_t n, const json_t **out, struct hml_error *err)
{
    const json_t *found = NULL;
    const char *found_name = NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(a, names[i]);
        if (!v) continue;
        if (found && !json_equal((json_t *)found, (json_t *)v)) {
            hml_fail(err, HML_EINVAL, W_SPACE, "%s: '%s' and '%s' are the same field with different values",
                     label, found_name, names[i]);
            return hml_hint(err, "keep only '%s'", names[0]);
        }
        found = v, found_name = names[i];
    }
    *out = found;
    return HML_OK;
}

static enum hml_status axis_key(const json_t *a, size_t i, const char *dict_key, char **out,
                                struct hml_error *err)
{
    char label[32];
    snprintf(label, sizeof label, "axes[%zu]", i);
    const json_t *k = NULL;
    enum hml_status rc = get_alias(a, label, key_aliases, NAMES_N(key_aliases), &k, err);
    if (rc) return rc;
    if (dict_key && k && !(json_is_string(k) && !strcmp(json_string_value(k), dict_key))) {
        hml_fail(err, HML_EINVAL, W_SPACE, "axis '%s' also names a different key", dict_key);
        return hml_hint(err, "an axis in a dict is keyed by its path; drop its 'key' field");
    }
    const char *key = dict_key ? dict_key : json_string_value(k);
    if (!k && !dict_key) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s has no key", label);
        return hml_hint(err, "name the config path it sets, %s", AXIS_EXAMPLE);
    }
    if (!key) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: key is %s; expected a string", label, kind(k));
        return hml_hint(err, "a key is a dotted config path such as \"models.xgb.params.eta\"");
    }
    size_t len = strlen(key);
    if (len == 0 || len > HML_TPE_KEY_MAX || key[0] == '.' || key[len - 1] == '.' || strstr(key, "..") ||
        strpbrk(key, " \t\r\n")) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: '%.64s' is not a config path", label, key);
        return hml_hint(err, "use dotted names without spaces, at most %d bytes, e.g. \"models.xgb.params.eta\"",
                        HML_TPE_KEY_MAX);
    }
    *out = hml_strdup(key);
    return *out ? HML_OK : hml_fail(err, HML_ENOMEM, W_SPACE, "out of memory");
}

static enum hml_status axis_type(const json_t *a, const char *label, enum hml_tpe_type *out,
                                 struct hml_error *err)
{
    const json_t *t = json_object_get(a, "type");
    const json_t *vals = NULL;
    enum hml_status rc = get_alias(a, label, values_aliases, NAMES_N(values_aliases), &vals, err);
    if (rc) return rc;
    if (!t && vals) return *out = HML_TPE_CATEGORICAL, HML_OK;
    if (!t) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s has no type", label);
        return hml_hint(err, "add \"type\": one of continuous, integer, categorical, subset "
                             "(a range needs it: 0..1 could be either)");
    }
    if (!json_is_string(t)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: type is %s; expected a string", label, kind(t));
        return hml_hint(err, "use one of continuous, integer, categorical, subset");
    }
    const char *s = json_string_value(t);
    static const struct { const char *name; enum hml_tpe_type t; } alias[] = {
        {"continuous", HML_TPE_CONTINUOUS}, {"integer", HML_TPE_INTEGER},
        {"categorical", HML_TPE_CATEGORICAL}, {"subset", HML_TPE_SUBSET},
        {"int", HML_TPE_INTEGER}, {"float", HML_TPE_CONTINUOUS}, {"real", HML_TPE_CONTINUOUS}};
    for (size_t i = 0; i < NAMES_N(alias); i++)
        if (!strcasecmp(s, alias[i].name)) return *out = alias[i].t, HML_OK;
    hml_fail(err, HML_EINVAL, W_SPACE, "%s: unknown type '%s'", label, s);
    return hml_error_choices(err, s, type_names, NAMES_N(type_names));
}

static enum hml_status forbid(const json_t *a, const char *label, const char *field, const char *type,
                              const char *fix, struct hml_error *err)
{
    if (!json_object_get(a, field)) return HML_OK;
    hml_fail(err, HML_EINVAL, W_SPACE, "%s: '%s' does not apply to a %s axis", label, field, type);
    return hml_hint(err, "%s", fix);
}

static bool is_whole(double x) { return x == floor(x) && fabs(x) <= 9007199254740992.0; }

static enum hml_status range_bound(const json_t *a, const char *label, const char *field, bool integer,
                                   double *out, struct hml_error *err)
{
    const json_t *v = json_object_get(a, field);
    if (!v) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: a %s axis needs '%s'", label,
                 integer ? "integer" : "continuous", field);
        return hml_hint(err, "give both low and high, %s", AXIS_EXAMPLE);
    }
    if (!json_is_number(v)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: %s is %s; expected a number", label, field, kind(v));
        return hml_hint(err, "write the bound as a bare number, e.g. \"%s\": 0.1", field);
    }
    *out = json_number_value(v);
    if (integer && !is_whole(*out)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: %s (%.17g) is not a whole number", label, field, *out);
        return hml_hint(err, "an integer axis takes whole bounds; use type continuous for fractions");
    }
    return HML_OK;
}

static enum hml_status parse_range(const json_t *a, const char *label, struct hml_tpe_axis *ax,
                                   struct hml_error *err)
{
    const char *tn = hml_tpe_type_name(ax->type);
    const char *fix = "use type categorical to choose among values, or drop the field";
    enum hml_status rc = HML_OK;
    for (size_t i = 0; i < NAMES_N(values_aliases) && !rc; i++)
        rc = forbid(a, label, values_aliases[i], tn, fix, err);
    if (!rc) rc = forbid(a, label, "min_size", tn, "min_size and max_size belong to subset axes", err);
    if (!rc) rc = forbid(a, label, "max_size", tn, "min_size and max_size belong to subset axes", err);
    bool integer = ax->type == HML_TPE_INTEGER;
    if (!rc) rc = range_bound(a, label, "low", integer, &ax->low, err);
    if (!rc) rc = range_bound(a, label, "high", integer, &ax->high, err);
    if (rc) return rc;
    const json_t *lg = json_object_get(a, "log");
    if (lg && !json_is_boolean(lg)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: log is %s; expected true or false", label, kind(lg));
        return hml_hint(err, "\"log\": true searches the range log-uniformly");
    }
    ax->log = json_is_true(lg);
    if (!isfinite(ax->high - ax->low)) {
        hml_fail(err, HML_ELIMIT, W_SPACE, "%s: the range [%.17g, %.17g] is too wide", label, ax->low, ax->high);
        return hml_hint(err, "use \"log\": true with a positive low, or narrower bounds");
    }
    if (!(ax->low < ax->high)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: low (%.17g) must be below high (%.17g)", label, ax->low, ax->high);
        return hml_hint(err, "swap them if reversed; a fixed value belongs in the overlay, not the search space");
    }
    if (ax->log && !(ax->low > 0)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: a log axis needs low > 0 (got %.17g)", label, ax->low);
        return hml_hint(err, "use a small positive low such as %s, or drop \"log\"", integer ? "1" : "1e-4");
    }
    return HML_OK;
}

static enum hml_status check_items(const json_t *v, const char *label, bool subset, struct hml_error *err)
{
    size_t n = json_array_size(v);
    if (n == 0) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: values is empty", label);
        return hml_hint(err, "list the %s, e.g. \"values\": [\"gbtree\", \"dart\"]", subset ? "items" : "choices");
    }
    if (n > HML_TPE_VALUES_MAX) {
        hml_fail(err, HML_ELIMIT, W_SPACE, "%s: %zu values (limit %d)", label, n, HML_TPE_VALUES_MAX);
        return hml_hint(err, "split the axis or search fewer values");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (subset && !json_is_string(x) && !json_is_number(x)) {
            hml_fail(err, HML_EINVAL, W_SPACE, "%s: subset item %zu is %s", label, i, kind(x));
            return hml_hint(err, "subset items are names (strings) or numbers");
        }
        for (size_t j = 0; j < i; j++)
            if (values_equal(x, json_array_get(v, j))) {
                hml_fail(err, HML_EINVAL, W_SPACE, "%s: values %zu and %zu are the same", label, j, i);
                return hml_hint(err, "list each value once");
            }
    }
    return HML_OK;
}

static enum hml_status size_limit(const json_t *a, const char *label, const char *field, size_t dflt,
                                  size_t n, size_t *out, struct hml_error *err)
{
    const json_t *v = json_object_get(a, field);
    *out = dflt;
    if (!v) return HML_OK;
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!is_whole(d) || d < 0 || d > (double)n) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s: %s must be a whole number in [0, %zu] (the number of items)",
                 label, field, n);
        return hml_hint(err, "e.g. \"min_size\": 1, \"max_size\": %zu", n);
    }
    *out = (size_t)d;
    return HML_OK;
}

static enum hml_status parse_values(const json_t *a, const char *label, struct hml_tpe_axis *ax,
                                    struct hml_error *err)
{
    const char *tn = hml_tpe_type_name(ax->type);
    const char *fix = "low, high and log belong to continuous and integer axes";
    enum hml_status rc = forbid(a, label, "low", tn, fix, err);
    if (!rc) rc = forbid(a, label, "high", tn, fix, err);
    if (!rc && json_is_true(json_object_get(a, "log"))) rc = forbid(a, label, "log", tn, fix, err);
    if (!rc && ax->type == HML_TPE_CATEGORICAL) rc = forbid(a, label, "min_size", tn, "min_size and max_size belong to subset axes", err);
    if (!rc && ax->type == HML_TPE_CATEGORICAL) rc = forbid(a, label, "max_size", tn, "min_size and max_size belong to subset axes", err);
    const json_t *v = NULL;
    if (!rc) rc = get_alias(a, label, values_aliases, NAMES_N(values_aliases), &v, err);
    if (rc) return rc;
    if (!json_is_array(v)) {
        hml_fail(err, HML_EINVAL, W_SPACE, v ? "%s: values is %s; expected a list" : "%s: a %s axis needs values",
                 label, v ? kind(v) : tn);
        return hml_hint(err, "e.g. \"values\": [\"gbtree\", \"dart\"]");
    }
    rc = check_items(v, label, ax->type == HML_TPE_SUBSET, err);
    size_t n = json_array_size(v);
    if (!rc && ax->type == HML_TPE_SUBSET) {
        rc = size_limit(a, label, "min_size", 1, n, &ax->min_size, err);
        if (!rc) rc = size_limit(a, label, "max_size", n, n, &ax->max_size, err);
        if (!rc && ax->min_size > ax->max_size) {
            hml_fail(err, HML_EINVAL, W_SPACE, "%s: min_size (%zu) is above max_size (%zu)", label, ax->min_size,
                     ax->max_size);
            return hml_hint(err, "min_size defaults to 1 and max_size to the number of items");
        }
    }
    if (rc) return rc;
    ax->values = json_deep_copy(v);
    return ax->values ? HML_OK : hml_fail(err, HML_ENOMEM, W_SPACE, "out of memory");
}

static enum hml_status parse_axis(const json_t *a, size_t i, const char *dict_key, struct hml_tpe_axis *ax,
                                  struct hml_error *err)
{
    char label[HML_TPE_KEY_MAX + 32];
    if (dict_key) snprintf(label, sizeof label, "axes['%.*s']", HML_TPE_KEY_MAX, dict_key);
    else snprintf(label, sizeof label, "axes[%zu]", i);
    if (!json_is_object(a)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "%s is %s; expected an object", label, kind(a));
        return hml_hint(err, "%s", AXIS_EXAMPLE);
    }
    enum hml_status rc = check_fields(a, label, err);
    if (!rc) rc = axis_key(a, i, dict_key, &ax->key, err);
    if (rc) return rc;
    snprintf(label, sizeof label, "axes[%zu] ('%s')", i, ax->key);
    rc = axis_type(a, label, &ax->type, err);
    if (rc) return rc;
    if (ax->type == HML_TPE_CONTINUOUS || ax->type == HML_TPE_INTEGER) return parse_range(a, label, ax, err);
    return parse_values(a, label, ax, err);
}

static size_t axis_dims(const struct hml_tpe_axis *ax)
{
    return ax->type == HML_TPE_SUBSET ? json_array_size(ax->values) : 1;
}

static enum hml_status check_space(const struct hml_tpe_space *s, struct hml_error *err)
{
    size_t dims = 0;
    for (size_t i = 0; i < s->n; i++) {
        dims += axis_dims(&s->axes[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->axes[i].key, s->axes[j].key)) {
                hml_fail(err, HML_EINVAL, W_SPACE, "axes[%zu] and axes[%zu] both set '%s'", j, i, s->axes[i].key);
                return hml_hint(err, "each config path may be searched by one axis only");
            }
    }
    if (dims > HML_TPE_DIMS_MAX) {
        hml_fail(err, HML_ELIMIT, W_SPACE, "the search space has %zu dimensions (limit %d)", dims, HML_TPE_DIMS_MAX);
        return hml_hint(err, "each subset item counts as one; search fewer items or axes");
    }
    return HML_OK;
}

enum hml_status hml_tpe_space_parse(const json_t *spec, struct hml_tpe_space **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    const json_t *axes = spec;
    if (json_is_object(spec) && json_object_get(spec, "axes")) axes = json_object_get(spec, "axes");
    size_t n = json_is_array(axes) ? json_array_size(axes) : json_is_object(axes) ? json_object_size(axes) : 0;
    if (!json_is_array(axes) && !json_is_object(axes)) {
        hml_fail(err, HML_EINVAL, W_SPACE, "the search space is %s; expected {\"axes\": [...]}", kind(axes));
        return hml_hint(err, "e.g. {\"axes\": [" AXIS_JSON "]}");
    }
    if (n == 0) {
        hml_fail(err, HML_EINVAL, W_SPACE, "the search space has no axes");
        return hml_hint(err, "add at least one, e.g. {\"axes\": [" AXIS_JSON "]}");
    }
    if (n > HML_TPE_AXES_MAX) {
        hml_fail(err, HML_ELIMIT, W_SPACE, "the search space has %zu axes (limit %d)", n, HML_TPE_AXES_MAX);
        return hml_hint(err, "search fewer axes at once; fix the settled ones in the overlay");
    }
    struct hml_tpe_space *s = hml_calloc(1, sizeof *s);
    if (s) s->axes = hml_calloc(n, sizeof *s->axes);
    if (!s || !s->axes) {
        hml_free(s);
        return hml_fail(err, HML_ENOMEM, W_SPACE, "out of memory");
    }
    enum hml_status rc = HML_OK;
    const char *k;
    json_t *v;
    if (json_is_array(axes))
        for (size_t i = 0; i < n && !rc; i++) s->n = i + 1, rc = parse_axis(json_array_get(axes, i), i, NULL, &s->axes[i], err);
    else
        json_object_foreach((json_t *)axes, k, v) {
            if (rc) break;
            rc = parse_axis(v, s->n, k, &s->axes[s->n], err);
            s->n++;
        }
    if (!rc) rc = check_space(s, err);
    if (rc) {
        hml_tpe_space_free(s);
        return rc;
    }
    *out = s;
    return HML_OK;
}

void hml_tpe_space_free(struct hml_tpe_space *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        hml_free(s->axes[i].key);
        json_decref(s->axes[i].values);
    }
    hml_free(s->axes);
    hml_free(s);
}

static json_t *axis_to_json(const struct hml_tpe_axis *ax)
{
    json_t *o = json_object();
    bool ok = o && hml_json_set(o, "key", json_string(ax->key)) &&
              hml_json_set(o, "type", json_string(hml_tpe_type_name(ax->type)));
    switch (ax->type) {
    case HML_TPE_CONTINUOUS:
        ok = ok && hml_json_set(o, "low", json_real(ax->low)) && hml_json_set(o, "high", json_real(ax->high));
        ok = ok && hml_json_set(o, "log", json_boolean(ax->log));
        break;
    case HML_TPE_INTEGER:
        ok = ok && hml_json_set(o, "low", json_integer((json_int_t)ax->low)) &&
             hml_json_set(o, "high", json_integer((json_int_t)ax->high)) && hml_json_set(o, "log", json_boolean(ax->log));
        break;
    case HML_TPE_SUBSET:
        ok = ok && hml_json_set(o, "min_size", json_integer((json_int_t)ax->min_size)) &&
             hml_json_set(o, "max_size", json_integer((json_int_t)ax->max_size));
        /* fall through */
    case HML_TPE_CATEGORICAL:
        ok = ok && hml_json_set(o, "values", json_deep_copy(ax->values));
        break;
    }
    if (!ok) json_decref(o);
    return ok ? o : NULL;
}

json_t *hml_tpe_space_to_json(const struct hml_tpe_space *s)
{
    HML_ASSERT(s != NULL);
    json_t *axes = json_array();
    for (size_t i = 0; axes && i < s->n; i++) {
        json_t *a = axis_to_json(&s->axes[i]);
        if (!a || json_array_append_new(axes, a)) {
            json_decref(axes);
            return NULL;
        }
    }
    json_t *o = axes ? json_object() : NULL;
    if (!o || !hml_json_set(o, "axes", axes)) {
        if (!o) json_decref(axes);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- study */

struct trial {
    double value;
    enum hml_tpe_state state;
    enum hml_tpe_origin origin;
};

struct hml_tpe_study {
    struct hml_tpe_space *space;
    struct hml_tpe_options opt;
    size_t dims;
    size_t off[HML_TPE_AXES_MAX + 1]; /* axis a owns dims [off[a], off[a+1]) */
    size_t *axis_of;                  /* dims: the owning axis                   */
    double *lo, *hi;                  /* dims: search interval in kernel space   */
    struct trial *t;                  /* n trials                                */
    double *rows;                     /* n × dims points                         */
    size_t n, cap;
    double *queue;                    /* queue_n × dims enqueued points          */
    size_t queue_n;
    struct rng rng;
};

void hml_tpe_options_default(struct hml_tpe_options *o)
{
    HML_ASSERT(o != NULL);
    memset(o, 0, sizeof *o);
    o->seed = 42;
}

static void resolve_options(struct hml_tpe_options *o)
{
    if (!o->n_candidates) o->n_candidates = HML_TPE_CANDIDATES_DEFAULT;
    if (!(o->prior_weight > 0)) o->prior_weight = 1.0;
    if (!o->n_startup) {
        size_t k = HML_TPE_STARTUP_DEFAULT;
        if (o->budget) {
            size_t third = (o->budget + 2) / 3;
            if (third < 2) third = 2;
            if (third < k) k = third;
        }
        o->n_startup = k;
    }
}

/* The kernel space of a numeric axis: log for log axes; integers own [k-0.5, k+0.5]. */
static double fwd(const struct hml_tpe_axis *ax, double x) { return ax->log ? log(x) : x; }
static double inv(const struct hml_tpe_axis *ax, double u) { return ax->log ? exp(u) : u; }
static bool numeric(const struct hml_tpe_axis *ax)
{
    return ax->type == HML_TPE_CONTINUOUS || ax->type == HML_TPE_INTEGER;
}

static enum hml_status layout(struct hml_tpe_study *s, struct hml_error *err)
{
    const struct hml_tpe_space *sp = s->space;
    s->dims = 0;
    for (size_t a = 0; a < sp->n; a++) s->off[a] = s->dims, s->dims += axis_dims(&sp->axes[a]);
    s->off[sp->n] = s->dims;
    s->axis_of = hml_malloc(s->dims * sizeof *s->axis_of);
    s->lo = hml_malloc(s->dims * sizeof *s->lo);
    s->hi = hml_malloc(s->dims * sizeof *s->hi);
    if (!s->axis_of || !s->lo || !s->hi) return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    for (size_t a = 0; a < sp->n; a++) {
        const struct hml_tpe_axis *ax = &sp->axes[a];
        double pad = ax->type == HML_TPE_INTEGER ? 0.5 : 0.0;
        for (size_t d = s->off[a]; d < s->off[a + 1]; d++) {
            s->axis_of[d] = a;
            s->lo[d] = numeric(ax) ? fwd(ax, ax->low - pad) : 0;
            s->hi[d] = numeric(ax) ? fwd(ax, ax->high + pad) : 1;
        }
    }
    return HML_OK;
}

enum hml_status hml_tpe_study_new(struct hml_tpe_space *space, const struct hml_tpe_options *opt,
                                  struct hml_tpe_study **out, struct hml_error *err)
{
    HML_ASSERT(space != NULL);
    HML_ASSERT(out != NULL);
    struct hml_tpe_options o;
    if (opt) o = *opt;
    else hml_tpe_options_default(&o);
    if (o.n_candidates > HML_TPE_CANDIDATES_MAX || !(isfinite(o.prior_weight) || isnan(o.prior_weight))) {
        hml_tpe_space_free(space);
        hml_fail(err, o.n_candidates > HML_TPE_CANDIDATES_MAX ? HML_ELIMIT : HML_EINVAL, W_STUDY,
                 "n_candidates (%zu) or prior_weight (%g) out of range", o.n_candidates, o.prior_weight);
        return hml_hint(err, "n_candidates ≤ %d (default %d); prior_weight a positive number (default 1)",
                        HML_TPE_CANDIDATES_MAX, HML_TPE_CANDIDATES_DEFAULT);
    }
    resolve_options(&o);
    struct hml_tpe_study *s = hml_calloc(1, sizeof *s);
    if (!s) {
        hml_tpe_space_free(space);
        return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    }
    s->space = space;
    s->opt = o;
    rng_seed(&s->rng, o.seed);
    enum hml_status rc = layout(s, err);
    if (rc) {
        hml_tpe_study_free(s);
        return rc;
    }
    *out = s;
    return HML_OK;
}

void hml_tpe_study_free(struct hml_tpe_study *s)
{
    if (!s) return;
    hml_tpe_space_free(s->space);
    hml_free(s->axis_of);
    hml_free(s->lo);
    hml_free(s->hi);
    hml_free(s->t);
    hml_free(s->rows);
    hml_free(s->queue);
    hml_free(s);
}

const struct hml_tpe_space *hml_tpe_study_space(const struct hml_tpe_study *s) { return s->space; }
struct hml_tpe_options hml_tpe_study_options(const struct hml_tpe_study *s) { return s->opt; }
size_t hml_tpe_trial_count(const struct hml_tpe_study *s) { return s->n; }

/* ---------------------------------------------------------------- points <-> JSON */

static json_t *axis_value_json(const struct hml_tpe_axis *ax, const double *v)
{
    switch (ax->type) {
    case HML_TPE_CONTINUOUS: return json_real(v[0]);
    case HML_TPE_INTEGER: return json_integer((json_int_t)v[0]);
    case HML_TPE_CATEGORICAL: return json_deep_copy(json_array_get(ax->values, (size_t)v[0]));
    case HML_TPE_SUBSET: break;
    }
    json_t *arr = json_array();
    for (size_t j = 0; arr && j < json_array_size(ax->values); j++)
        if (v[j] > 0.5 && json_array_append_new(arr, json_deep_copy(json_array_get(ax->values, j)))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

/* The point as {key: value}, skipping axes it does not give. NULL on OOM. */
static json_t *point_json(const struct hml_tpe_study *s, const double *v)
{
    json_t *o = json_object();
    for (size_t a = 0; o && a < s->space->n; a++) {
        const double *x = v + s->off[a];
        if (isnan(x[0])) continue;
        if (!hml_json_set(o, s->space->axes[a].key, axis_value_json(&s->space->axes[a], x))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static enum hml_status bad_value(const struct hml_tpe_axis *ax, const json_t *x, const char *why,
                                 struct hml_error *err)
{
    char *txt = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
    hml_fail(err, HML_EINVAL, W_STUDY, "'%s' = %.80s: %s", ax->key, txt ? txt : "?", why);
    hml_free(txt);
    if (numeric(ax))
        return hml_hint(err, "the axis is %s in [%.17g, %.17g]; widen it or fix the point",
                        hml_tpe_type_name(ax->type), ax->low, ax->high);
    char *vals = json_dumps(ax->values, JSON_COMPACT);
    hml_hint(err, "the %s axis's values are %.400s", hml_tpe_type_name(ax->type), vals ? vals : "?");
    hml_free(vals);
    return err->code;
}

static bool find_item(const struct hml_tpe_axis *ax, const json_t *x, size_t *idx)
{
    for (size_t j = 0; j < json_array_size(ax->values); j++)
        if (values_equal(x, json_array_get(ax->values, j))) return *idx = j, true;
    return false;
}

static enum hml_status subset_value(const struct hml_tpe_axis *ax, const json_t *x, double *v,
                                    struct hml_error *err)
{
    if (!json_is_array(x)) return bad_value(ax, x, "a subset axis takes a list of its items", err);
    size_t n = json_array_size(ax->values), idx = 0;
    for (size_t j = 0; j < n; j++) v[j] = 0;
    for (size_t i = 0; i < json_array_size(x); i++) {
        if (!find_item(ax, json_array_get(x, i), &idx)) return bad_value(ax, x, "an item is not one of the axis's values", err);
        if (v[idx] > 0.5) return bad_value(ax, x, "an item appears twice", err);
        v[idx] = 1;
    }
    size_t k = json_array_size(x);
    if (k < ax->min_size || k > ax->max_size) {
        hml_fail(err, HML_EINVAL, W_STUDY, "'%s' has %zu items; the axis allows %zu to %zu", ax->key, k,
                 ax->min_size, ax->max_size);
        return hml_hint(err, "change the point or the axis's min_size/max_size");
    }
    return HML_OK;
}

static enum hml_status axis_value(const struct hml_tpe_axis *ax, const json_t *x, double *v, struct hml_error *err)
{
    size_t idx = 0;
    switch (ax->type) {
    case HML_TPE_CONTINUOUS:
    case HML_TPE_INTEGER:
        if (!json_is_number(x)) return bad_value(ax, x, "expected a number", err);
        v[0] = json_number_value(x);
        if (ax->type == HML_TPE_INTEGER && !is_whole(v[0])) return bad_value(ax, x, "expected a whole number", err);
        if (!(v[0] >= ax->low && v[0] <= ax->high)) return bad_value(ax, x, "outside the axis's range", err);
        return HML_OK;
    case HML_TPE_CATEGORICAL:
        if (!find_item(ax, x, &idx)) return bad_value(ax, x, "not one of the axis's values", err);
        v[0] = (double)idx;
        return HML_OK;
    case HML_TPE_SUBSET: return subset_value(ax, x, v, err);
    }
    return hml_fail(err, HML_EINTERNAL, W_STUDY, "bad axis type");
}

/* Parses {key: value} into a row (NaN where a key is absent). */
static enum hml_status point_parse(const struct hml_tpe_study *s, const json_t *params, double *v,
                                   struct hml_error *err)
{
    if (!json_is_object(params) || json_object_size(params) == 0) {
        hml_fail(err, HML_EINVAL, W_STUDY, "a point is %s; expected an object {key: value}",
                 json_is_object(params) ? "an empty object" : kind(params));
        return hml_hint(err, "e.g. {\"%s\": …} with keys from the search space", s->space->axes[0].key);
    }
    for (size_t d = 0; d < s->dims; d++) v[d] = NAN;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)params, k, x) {
        size_t a = 0;
        while (a < s->space->n && strcmp(s->space->axes[a].key, k)) a++;
        if (a == s->space->n) {
            const char *names[HML_TPE_AXES_MAX];
            for (size_t i = 0; i < s->space->n; i++) names[i] = s->space->axes[i].key;
            hml_fail(err, HML_EINVAL, W_STUDY, "'%s' is not an axis of the search space", k);
            return hml_error_choices(err, k, names, s->space->n);
        }
        enum hml_status rc = axis_value(&s->space->axes[a], x, v + s->off[a], err);
        if (rc) return rc;
    }
    return HML_OK;
}

/* ---------------------------------------------------------------- random draws */

static void subset_repair(struct rng *r, const struct hml_tpe_axis *ax, double *x)
{
    size_t n = json_array_size(ax->values), k = 0;
    for (size_t j = 0; j < n; j++) k += x[j] > 0.5;
    /* Add (or drop) the r-th excluded (or included) item until the size fits. */
    while (k < ax->min_size || k > ax->max_size) {
        bool add = k < ax->min_size;
        size_t pick = rng_below(r, add ? n - k : k);
        for (size_t j = 0; j < n; j++) {
            if ((x[j] > 0.5) == add) continue;
            if (pick-- == 0) {
                x[j] = add ? 1 : 0;
                break;
            }
        }
        k += add ? 1 : (size_t)-1;
    }
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* The point value for a kernel-space draw u: clamped, rounded for integers. */
static double from_kernel(const struct hml_tpe_axis *ax, double u)
{
    double x = inv(ax, u);
    if (ax->type == HML_TPE_INTEGER) x = round(x);
    return clampd(x, ax->low, ax->high);
}

static void sample_uniform(struct hml_tpe_study *s, size_t a, double *x)
{
    const struct hml_tpe_axis *ax = &s->space->axes[a];
    size_t d = s->off[a], n = axis_dims(ax);
    if (numeric(ax)) {
        x[0] = from_kernel(ax, s->lo[d] + (s->hi[d] - s->lo[d]) * rng_unit(&s->rng));
    } else if (ax->type == HML_TPE_CATEGORICAL) {
        x[0] = (double)rng_below(&s->rng, n);
    } else {
        /* A uniform size, then a uniform subset of that size: every size is tried. */
        size_t k = ax->min_size + rng_below(&s->rng, ax->max_size - ax->min_size + 1);
        for (size_t j = 0; j < n; j++) x[j] = 0;
        for (size_t i = 0; i < k; i++) {
            size_t pick = rng_below(&s->rng, n - i);
            for (size_t j = 0; j < n; j++)
                if (x[j] < 0.5 && pick-- == 0) {
                    x[j] = 1;
                    break;
                }
        }
    }
}

/* ---------------------------------------------------------------- Parzen groups */

struct group {
    size_t m;            /* components: [0] is the prior, then one per trial */
    double *logw;        /* m: log of the normalised weight                 */
    double *cumw;        /* m: cumulative normalised weight, for drawing   */
    double *mu, *sg;     /* m × dims: centre and width (numeric dims); centre
                            is the choice/bit for the others, NaN = uniform */
    double *lc;          /* m × dims: log normaliser of a continuous kernel */
    double *lz;          /* m × dims: log truncation mass                   */
    double n;            /* trials in the group                             */
    /* per axis, categorical and subset: log k for a match with the trial's
     * choice (or an item's bit), for a mismatch, and under the prior */
    double lhit[HML_TPE_AXES_MAX], lmiss[HML_TPE_AXES_MAX], lprior[HML_TPE_AXES_MAX];
};

static void group_free(struct group *g)
{
    hml_free(g->logw);
    hml_free(g->cumw);
    hml_free(g->mu);
    hml_free(g->sg);
    hml_free(g->lc);
    hml_free(g->lz);
    memset(g, 0, sizeof *g);
}

/* P(za < Z < zb) for a standard normal, accurate in either tail. */
static double norm_mass(double za, double zb)
{
    if (za >= 0) return 0.5 * (erfc(za / M_SQRT2) - erfc(zb / M_SQRT2));
    if (zb <= 0) return 0.5 * (erfc(-zb / M_SQRT2) - erfc(-za / M_SQRT2));
    return 1.0 - 0.5 * erfc(-za / M_SQRT2) - 0.5 * erfc(zb / M_SQRT2);
}

static double safe_log(double p) { return p > 0 ? log(p) : LOG_TINY; }

/* The share ε of a categorical kernel spread evenly over its k choices (k = 2 for a
 * subset item): 4k pseudo-trials against the group's n, so kernels sharpen as the
 * group grows, and the large bad group is sharper than the small good one. */
static double smooth(const struct group *g, double k)
{
    return 4.0 * k / (g->n + 1.0 + 4.0 * k);
}

/* Scott's rule over the whole point, as the multivariate TPE uses, clipped so a
 * kernel is never narrower than range/min(100, n+1) nor wider than the range. */
static double bandwidth(size_t n_obs, size_t n_axes, double range)
{
    double nn = n_obs ? (double)n_obs : 1.0;
    double sg = 0.1 * pow(nn, -1.0 / ((double)n_axes + 4.0)) * range;
    double floor_div = nn + 1 < 100 ? nn + 1 : 100;
    return clampd(sg, range / floor_div, range);
}

static void set_kernel(const struct hml_tpe_study *s, struct group *g, size_t c, size_t d, double mu, double sg)
{
    size_t i = c * s->dims + d;
    g->mu[i] = mu;
    g->sg[i] = sg;
    g->lz[i] = safe_log(norm_mass((s->lo[d] - mu) / sg, (s->hi[d] - mu) / sg));
    g->lc[i] = -log(sg) - 0.5 * log(2.0 * M_PI) - g->lz[i];
}

static void group_kernels(const struct hml_tpe_study *s, struct group *g, const size_t *rows, size_t n)
{
    for (size_t d = 0; d < s->dims; d++) {
        const struct hml_tpe_axis *ax = &s->space->axes[s->axis_of[d]];
        if (!numeric(ax)) {
            g->mu[d] = NAN;
            for (size_t c = 1; c <= n; c++) g->mu[c * s->dims + d] = s->rows[rows[c - 1] * s->dims + d];
            continue;
        }
        double range = s->hi[d] - s->lo[d], mid = 0.5 * (s->lo[d] + s->hi[d]);
        size_t seen = 0;
        for (size_t c = 0; c < n; c++) seen += !isnan(s->rows[rows[c] * s->dims + d]);
        double sg = bandwidth(seen, s->space->n, range);
        set_kernel(s, g, 0, d, mid, range);
        for (size_t c = 1; c <= n; c++) {
            double x = s->rows[rows[c - 1] * s->dims + d];
            if (isnan(x)) set_kernel(s, g, c, d, mid, range);
            else set_kernel(s, g, c, d, fwd(ax, x), sg);
        }
    }
}

static void group_discrete(const struct hml_tpe_study *s, struct group *g)
{
    for (size_t a = 0; a < s->space->n; a++) {
        const struct hml_tpe_axis *ax = &s->space->axes[a];
        double k = ax->type == HML_TPE_CATEGORICAL ? (double)json_array_size(ax->values) : 2.0;
        double eps = smooth(g, k);
        g->lhit[a] = log(1.0 - eps + eps / k);
        g->lmiss[a] = log(eps / k);
        g->lprior[a] = -log(k);
    }
}

static enum hml_status group_build(const struct hml_tpe_study *s, struct group *g, const size_t *rows, size_t n,
                                   struct hml_error *err)
{
    memset(g, 0, sizeof *g);
    g->m = n + 1;
    size_t cells = g->m * s->dims;
    g->logw = hml_malloc(g->m * sizeof *g->logw);
    g->cumw = hml_malloc(g->m * sizeof *g->cumw);
    g->mu = hml_malloc(cells * sizeof *g->mu);
    g->sg = hml_malloc(cells * sizeof *g->sg);
    g->lc = hml_malloc(cells * sizeof *g->lc);
    g->lz = hml_malloc(cells * sizeof *g->lz);
    if (!g->logw || !g->cumw || !g->mu || !g->sg || !g->lc || !g->lz) {
        group_free(g);
        return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    }
    double total = s->opt.prior_weight + (double)n, acc = 0;
    for (size_t c = 0; c < g->m; c++) {
        double w = (c ? 1.0 : s->opt.prior_weight) / total;
        g->logw[c] = log(w);
        g->cumw[c] = (acc += w);
    }
    g->cumw[g->m - 1] = 1.0;
    g->n = (double)n;
    group_kernels(s, g, rows, n);
    group_discrete(s, g);
    return HML_OK;
}

/* A candidate: the point value x, its kernel-space image u, and for integers the
 * kernel-space edges [ua, ub] of its bin. */
struct cand {
    double *x, *u, *ua, *ub;
};

static void cand_fill(const struct hml_tpe_study *s, struct cand *k, size_t a)
{
    const struct hml_tpe_axis *ax = &s->space->axes[a];
    size_t d = s->off[a];
    if (!numeric(ax)) return;
    k->u[d] = fwd(ax, k->x[d]);
    if (ax->type == HML_TPE_INTEGER) {
        k->ua[d] = fwd(ax, k->x[d] - 0.5);
        k->ub[d] = fwd(ax, k->x[d] + 0.5);
    }
}

/* log k_c(x) summed over the dims of axis a. */
static double kernel_log(const struct hml_tpe_study *s, const struct group *g, size_t c, size_t a,
                         const struct cand *k)
{
    const struct hml_tpe_axis *ax = &s->space->axes[a];
    size_t d0 = s->off[a], i = c * s->dims + d0;
    double mu = g->mu[i], sg = g->sg[i];
    if (ax->type == HML_TPE_CONTINUOUS) {
        double z = (k->u[d0] - mu) / sg;
        return g->lc[i] - 0.5 * z * z;
    }
    if (ax->type == HML_TPE_INTEGER)
        return safe_log(norm_mass((k->ua[d0] - mu) / sg, (k->ub[d0] - mu) / sg)) - g->lz[i];
    if (ax->type == HML_TPE_CATEGORICAL) return isnan(mu) ? g->lprior[a] : k->x[d0] == mu ? g->lhit[a] : g->lmiss[a];
    double sum = 0;
    for (size_t d = d0; d < s->off[a + 1]; d++) {
        double b = g->mu[c * s->dims + d];
        sum += isnan(b) ? g->lprior[a] : (k->x[d] > 0.5) == (b > 0.5) ? g->lhit[a] : g->lmiss[a];
    }
    return sum;
}

/* log of the mixture density of group g at k (over all na axes). */
static double mixture_log(const struct hml_tpe_study *s, const struct group *g, size_t na, const struct cand *k,
                          double *scratch)
{
    double top = -INFINITY;
    for (size_t c = 0; c < g->m; c++) {
        double v = g->logw[c];
        for (size_t a = 0; a < na; a++) v += kernel_log(s, g, c, a, k);
        scratch[c] = v;
        if (v > top) top = v;
    }
    double sum = 0;
    for (size_t c = 0; c < g->m; c++) sum += exp(scratch[c] - top);
    return top + log(sum);
}

static double trunc_normal(struct rng *r, double mu, double sg, double lo, double hi)
{
    /* Kernels are centred inside [lo, hi] with sg ≤ hi-lo, so a draw lands inside
     * with probability ≥ 1/3; 64 misses in a row do not happen in practice. */
    for (int i = 0; i < 64; i++) {
        double u = mu + sg * rng_normal(r);
        if (u >= lo && u <= hi) return u;
    }
    return lo + (hi - lo) * rng_unit(r);
}

/* Draws axis a of a candidate from component c of group g. */
static void kernel_draw(struct hml_tpe_study *s, const struct group *g, size_t c, size_t a, struct cand *k)
{
    const struct hml_tpe_axis *ax = &s->space->axes[a];
    size_t d0 = s->off[a], i = c * s->dims + d0;
    if (numeric(ax)) {
        k->x[d0] = from_kernel(ax, trunc_normal(&s->rng, g->mu[i], g->sg[i], s->lo[d0], s->hi[d0]));
    } else if (ax->type == HML_TPE_CATEGORICAL) {
        bool spread = isnan(g->mu[i]) || rng_unit(&s->rng) < smooth(g, (double)json_array_size(ax->values));
        k->x[d0] = spread ? (double)rng_below(&s->rng, json_array_size(ax->values)) : g->mu[i];
    } else {
        for (size_t d = d0; d < s->off[a + 1]; d++) {
            double b = g->mu[c * s->dims + d];
            double p = isnan(b) ? 0.5 : b > 0.5 ? 1.0 - 0.5 * smooth(g, 2) : 0.5 * smooth(g, 2);
            k->x[d] = rng_unit(&s->rng) < p ? 1 : 0;
        }
        subset_repair(&s->rng, ax, k->x + d0);
    }
    cand_fill(s, k, a);
}

static size_t draw_component(struct rng *r, const struct group *g)
{
    double u = rng_unit(r);
    size_t c = 0;
    while (c + 1 < g->m && g->cumw[c] <= u) c++;
    return c;
}

/* ---------------------------------------------------------------- proposals */

struct ranked {
    double value;
    size_t trial;
};

static int cmp_ranked(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return a->trial < b->trial ? -1 : a->trial > b->trial;
}

static size_t n_good(size_t n)
{
    size_t k = (n + 4) / 5; /* ceil(0.2·n) */
    if (k > GOOD_MAX) k = GOOD_MAX;
    return k ? k : n;
}

/* Splits the finished trials: rows[0..*ng) good, rows[*ng..*nr) bad. */
static enum hml_status split(const struct hml_tpe_study *s, size_t **rows, size_t *ng, size_t *nr,
                             struct hml_error *err)
{
    struct ranked *rk = hml_malloc((s->n ? s->n : 1) * sizeof *rk);
    *rows = hml_malloc((s->n ? s->n : 1) * sizeof **rows);
    if (!rk || !*rows) {
        hml_free(rk);
        hml_free(*rows);
        *rows = NULL;
        return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    }
    size_t nc = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].state == HML_TPE_COMPLETE) rk[nc++] = (struct ranked){s->t[i].value, i};
    qsort(rk, nc, sizeof *rk, cmp_ranked);
    *ng = n_good(nc);
    HML_ASSERT(*ng <= nc);
    for (size_t i = 0; i < nc; i++) (*rows)[i] = rk[i].trial;
    *nr = nc;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].state == HML_TPE_FAILED) (*rows)[(*nr)++] = i;
    hml_free(rk);
    return HML_OK;
}

struct work {
    struct group good, bad;
    struct cand k;
    double *buf;     /* backing store of k's four arrays */
    double *scratch; /* per component */
};

static void work_free(struct work *w)
{
    group_free(&w->good);
    group_free(&w->bad);
    hml_free(w->buf);
    hml_free(w->scratch);
}

static enum hml_status work_init(const struct hml_tpe_study *s, struct work *w, struct hml_error *err)
{
    size_t *rows = NULL, ng = 0, nr = 0;
    memset(w, 0, sizeof *w);
    enum hml_status rc = split(s, &rows, &ng, &nr, err);
    if (!rc) rc = group_build(s, &w->good, rows, ng, err);
    if (!rc) rc = group_build(s, &w->bad, rows + ng, nr - ng, err);
    hml_free(rows);
    size_t m = w->good.m > w->bad.m ? w->good.m : w->bad.m;
    if (!rc) {
        w->buf = hml_calloc(4 * s->dims, sizeof *w->buf);
        w->scratch = hml_malloc(m * sizeof *w->scratch);
        if (!w->buf || !w->scratch) rc = hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    }
    if (rc) {
        work_free(w);
        return rc;
    }
    w->k = (struct cand){w->buf, w->buf + s->dims, w->buf + 2 * s->dims, w->buf + 3 * s->dims};
    return HML_OK;
}

/* Draws n_candidates whole points from l and writes the one with the best l/g. */
static enum hml_status propose_tpe(struct hml_tpe_study *s, double *point, struct hml_error *err)
{
    struct work w;
    enum hml_status rc = work_init(s, &w, err);
    if (rc) return rc;
    double best = -INFINITY;
    size_t na = s->space->n;
    for (size_t i = 0; i < s->opt.n_candidates; i++) {
        size_t c = draw_component(&s->rng, &w.good);
        for (size_t a = 0; a < na; a++) kernel_draw(s, &w.good, c, a, &w.k);
        double score = mixture_log(s, &w.good, na, &w.k, w.scratch) - mixture_log(s, &w.bad, na, &w.k, w.scratch);
        if (score > best || i == 0) {
            best = score;
            memcpy(point, w.k.x, s->dims * sizeof *point);
        }
    }
    work_free(&w);
    return HML_OK;
}

static size_t count_state(const struct hml_tpe_study *s, enum hml_tpe_state st)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += s->t[i].state == st;
    return k;
}

enum hml_status hml_tpe_score(const struct hml_tpe_study *s, const json_t *params, double *log_l, double *log_g,
                              struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    if (!count_state(s, HML_TPE_COMPLETE)) {
        hml_fail(err, HML_ECONFLICT, W_STUDY, "no trial is complete yet, so there is nothing to score against");
        return hml_hint(err, "tell the study at least one trial's value first");
    }
    struct work w;
    enum hml_status rc = work_init(s, &w, err);
    if (rc) return rc;
    rc = point_parse(s, params, w.k.x, err);
    for (size_t a = 0; !rc && a < s->space->n; a++) {
        if (isnan(w.k.x[s->off[a]])) {
            hml_fail(err, HML_EINVAL, W_STUDY, "the point does not give '%s'", s->space->axes[a].key);
            rc = hml_hint(err, "a point to score needs every axis of the search space");
        }
        cand_fill(s, &w.k, a);
    }
    if (!rc) {
        double l = mixture_log(s, &w.good, s->space->n, &w.k, w.scratch);
        double g = mixture_log(s, &w.bad, s->space->n, &w.k, w.scratch);
        if (log_l) *log_l = l;
        if (log_g) *log_g = g;
    }
    work_free(&w);
    return rc;
}


/* ---------------------------------------------------------------- ask / tell */

static enum hml_status grow(struct hml_tpe_study *s, struct hml_error *err)
{
    if (s->n >= HML_TPE_TRIALS_MAX) {
        hml_fail(err, HML_ELIMIT, W_STUDY, "the study has %d trials (the limit)", HML_TPE_TRIALS_MAX);
        return hml_hint(err, "start a new exploration, warm-started from this one's best trials");
    }
    if (s->n < s->cap) return HML_OK;
    size_t cap = s->cap ? 2 * s->cap : 16;
    struct trial *t = hml_realloc(s->t, cap * sizeof *t);
    if (t) s->t = t;
    double *rows = t ? hml_realloc(s->rows, cap * s->dims * sizeof *rows) : NULL;
    if (!rows) return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    s->rows = rows;
    s->cap = cap;
    return HML_OK;
}

static void append(struct hml_tpe_study *s, const double *point, enum hml_tpe_state st, enum hml_tpe_origin o,
                   double value)
{
    HML_ASSERT(s->n < s->cap);
    memcpy(s->rows + s->n * s->dims, point, s->dims * sizeof *point);
    s->t[s->n++] = (struct trial){value, st, o};
}

static enum hml_status propose(struct hml_tpe_study *s, double *point, enum hml_tpe_origin *origin,
                               struct hml_error *err)
{
    *origin = HML_TPE_RANDOM;
    if (count_state(s, HML_TPE_COMPLETE) < s->opt.n_startup || count_state(s, HML_TPE_COMPLETE) == 0) {
        for (size_t a = 0; a < s->space->n; a++) sample_uniform(s, a, point + s->off[a]);
    } else {
        enum hml_status rc = propose_tpe(s, point, err);
        if (rc) return rc;
        *origin = HML_TPE_SAMPLED;
    }
    if (s->queue_n == 0) return HML_OK;
    /* An enqueued point overrides what it gives; the draw above fills the rest. */
    for (size_t d = 0; d < s->dims; d++)
        if (!isnan(s->queue[d])) point[d] = s->queue[d];
    memmove(s->queue, s->queue + s->dims, (s->queue_n - 1) * s->dims * sizeof *s->queue);
    s->queue_n--;
    *origin = HML_TPE_ENQUEUED;
    return HML_OK;
}

enum hml_status hml_tpe_ask(struct hml_tpe_study *s, size_t *trial, json_t **params, struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    HML_ASSERT(params != NULL);
    enum hml_status rc = grow(s, err);
    if (rc) return rc;
    double *point = hml_malloc(s->dims * sizeof *point);
    if (!point) return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    enum hml_tpe_origin origin;
    rc = propose(s, point, &origin, err);
    json_t *p = rc ? NULL : point_json(s, point);
    if (!rc && !p) rc = hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    if (!rc) {
        if (trial) *trial = s->n;
        append(s, point, HML_TPE_PENDING, origin, NAN);
        *params = p;
    }
    hml_free(point);
    return rc;
}

static enum hml_status settle(struct hml_tpe_study *s, size_t trial, enum hml_tpe_state st, double value,
                              struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    if (trial >= s->n) {
        hml_fail(err, HML_ENOTFOUND, W_STUDY, "trial %zu does not exist", trial);
        return hml_hint(err, s->n ? "trials are numbered 0 to %zu" : "ask for a trial first (%zu so far)",
                        s->n ? s->n - 1 : 0);
    }
    if (s->t[trial].state != HML_TPE_PENDING) {
        hml_fail(err, HML_ECONFLICT, W_STUDY, "trial %zu was already told (%s)", trial,
                 hml_tpe_state_name(s->t[trial].state));
        return hml_hint(err, "each trial is told once; ask for a new trial to try again");
    }
    s->t[trial].state = st;
    s->t[trial].value = st == HML_TPE_COMPLETE ? value : NAN;
    return HML_OK;
}

enum hml_status hml_tpe_tell(struct hml_tpe_study *s, size_t trial, double value, struct hml_error *err)
{
    return settle(s, trial, isfinite(value) ? HML_TPE_COMPLETE : HML_TPE_FAILED, value, err);
}

enum hml_status hml_tpe_tell_failed(struct hml_tpe_study *s, size_t trial, struct hml_error *err)
{
    return settle(s, trial, HML_TPE_FAILED, NAN, err);
}

static enum hml_status add_row(struct hml_tpe_study *s, const json_t *params, enum hml_tpe_state st,
                               enum hml_tpe_origin o, double value, struct hml_error *err)
{
    enum hml_status rc = grow(s, err);
    double *point = rc ? NULL : hml_malloc(s->dims * sizeof *point);
    if (!rc && !point) rc = hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    if (!rc) rc = point_parse(s, params, point, err);
    if (!rc) append(s, point, st, o, value);
    hml_free(point);
    return rc;
}

enum hml_status hml_tpe_add_trial(struct hml_tpe_study *s, const json_t *params, double value, bool failed,
                                  size_t *trial, struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    bool ok = !failed && isfinite(value);
    size_t at = s->n;
    enum hml_status rc = add_row(s, params, ok ? HML_TPE_COMPLETE : HML_TPE_FAILED, HML_TPE_WARM,
                                 ok ? value : NAN, err);
    if (!rc && trial) *trial = at;
    return rc;
}

enum hml_status hml_tpe_enqueue(struct hml_tpe_study *s, const json_t *params, struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    if (s->queue_n >= HML_TPE_QUEUE_MAX) {
        hml_fail(err, HML_ELIMIT, W_STUDY, "%d points are already queued (the limit)", HML_TPE_QUEUE_MAX);
        return hml_hint(err, "ask for the queued points first, or queue fewer");
    }
    double *q = hml_realloc(s->queue, (s->queue_n + 1) * s->dims * sizeof *q);
    if (!q) return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    s->queue = q;
    enum hml_status rc = point_parse(s, params, q + s->queue_n * s->dims, err);
    if (!rc) s->queue_n++;
    return rc;
}

enum hml_status hml_tpe_trial_get(const struct hml_tpe_study *s, size_t trial, struct hml_tpe_trial_info *info,
                                  json_t **params, struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    if (trial >= s->n) {
        hml_fail(err, HML_ENOTFOUND, W_STUDY, "trial %zu does not exist", trial);
        return hml_hint(err, "the study has %zu trials, numbered from 0", s->n);
    }
    if (params) {
        *params = point_json(s, s->rows + trial * s->dims);
        if (!*params) return hml_fail(err, HML_ENOMEM, W_STUDY, "out of memory");
    }
    if (info) *info = (struct hml_tpe_trial_info){s->t[trial].state, s->t[trial].origin, s->t[trial].value};
    return HML_OK;
}

enum hml_status hml_tpe_best(const struct hml_tpe_study *s, size_t *trial, double *value, struct hml_error *err)
{
    HML_ASSERT(s != NULL);
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].state == HML_TPE_COMPLETE && (best == SIZE_MAX || s->t[i].value < s->t[best].value)) best = i;
    if (best == SIZE_MAX) {
        hml_fail(err, HML_ENOTFOUND, W_STUDY, "no trial is complete yet");
        return hml_hint(err, "tell the study a trial's value first");
    }
    if (trial) *trial = best;
    if (value) *value = s->t[best].value;
    return HML_OK;
}

/* ---------------------------------------------------------------- save / load */

#define STUDY_FORMAT "harness.tpe_study"

static json_t *options_json(const struct hml_tpe_options *o)
{
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    json_t *j = json_object();
    bool ok = j && hml_json_set(j, "seed", o->seed <= INT64_MAX ? json_integer((json_int_t)o->seed) : json_string(seed)) &&
              hml_json_set(j, "budget", json_integer((json_int_t)o->budget)) &&
              hml_json_set(j, "n_startup", json_integer((json_int_t)o->n_startup)) &&
              hml_json_set(j, "n_candidates", json_integer((json_int_t)o->n_candidates)) &&
              hml_json_set(j, "prior_weight", json_real(o->prior_weight));
    if (!ok) json_decref(j);
    return ok ? j : NULL;
}

static json_t *trial_json(const struct hml_tpe_study *s, size_t i)
{
    json_t *j = json_object();
    bool ok = j && hml_json_set(j, "number", json_integer((json_int_t)i)) &&
              hml_json_set(j, "state", json_string(hml_tpe_state_name(s->t[i].state))) &&
              hml_json_set(j, "origin", json_string(hml_tpe_origin_name(s->t[i].origin))) &&
              (s->t[i].state != HML_TPE_COMPLETE || hml_json_set(j, "value", json_real(s->t[i].value))) &&
              hml_json_set(j, "params", point_json(s, s->rows + i * s->dims));
    if (!ok) json_decref(j);
    return ok ? j : NULL;
}

static bool append_all(json_t *arr, const struct hml_tpe_study *s, bool queue)
{
    size_t n = queue ? s->queue_n : s->n;
    for (size_t i = 0; i < n; i++) {
        json_t *x = queue ? point_json(s, s->queue + i * s->dims) : trial_json(s, i);
        if (!x || json_array_append_new(arr, x)) return false;
    }
    return true;
}

json_t *hml_tpe_study_to_json(const struct hml_tpe_study *s)
{
    HML_ASSERT(s != NULL);
    char rng[4 * 16 + 1];
    for (int i = 0; i < 4; i++) snprintf(rng + 16 * i, 17, "%016" PRIx64, s->rng.s[i]);
    json_t *j = json_object(), *trials = json_array(), *queue = json_array();
    bool ok = j && trials && queue && append_all(trials, s, false) && append_all(queue, s, true);
    ok = ok && hml_json_set(j, "format", json_string(STUDY_FORMAT)) && hml_json_set(j, "version", json_integer(1)) &&
         hml_json_set(j, "space", hml_tpe_space_to_json(s->space)) && hml_json_set(j, "options", options_json(&s->opt)) &&
         hml_json_set(j, "rng", json_string(rng));
    ok = ok && hml_json_set(j, "trials", json_incref(trials)) && hml_json_set(j, "queue", json_incref(queue));
    json_decref(trials);
    json_decref(queue);
    if (!ok) json_decref(j);
    return ok ? j : NULL;
}

static enum hml_status bad_study(struct hml_error *err, const char *fmt, const char *what)
{
    hml_fail(err, HML_EINVAL, W_STUDY, fmt, what);
    return hml_hint(err, "the study file is written by harness; restore it or start a new exploration");
}

static enum hml_status size_field(const json_t *o, const char *key, size_t max, size_t *out, struct hml_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return bad_study(err, "study options: '%s' is missing or out of range", key);
    *out = (size_t)json_integer_value(v);
    return HML_OK;
}

static enum hml_status options_parse(const json_t *o, struct hml_tpe_options *opt, struct hml_error *err)
{
    if (!json_is_object(o)) return bad_study(err, "study: '%s' is missing or not an object", "options");
    hml_tpe_options_default(opt);
    const json_t *seed = json_object_get(o, "seed");
    if (json_is_integer(seed) && json_integer_value(seed) >= 0) {
        opt->seed = (uint64_t)json_integer_value(seed);
    } else {
        const char *t = json_string_value(seed);
        char *end = NULL;
        if (!t || !isdigit((unsigned char)t[0])) return bad_study(err, "study options: '%s' is not a seed", "seed");
        opt->seed = strtoull(t, &end, 10);
        if (*end) return bad_study(err, "study options: '%s' is not a seed", "seed");
    }
    enum hml_status rc = size_field(o, "budget", HML_TPE_TRIALS_MAX * 100, &opt->budget, err);
    if (!rc) rc = size_field(o, "n_startup", HML_TPE_TRIALS_MAX, &opt->n_startup, err);
    if (!rc) rc = size_field(o, "n_candidates", HML_TPE_CANDIDATES_MAX, &opt->n_candidates, err);
    if (rc) return rc;
    const json_t *pw = json_object_get(o, "prior_weight");
    if (!json_is_number(pw) || !(json_number_value(pw) > 0))
        return bad_study(err, "study options: '%s' must be a positive number", "prior_weight");
    opt->prior_weight = json_number_value(pw);
    return HML_OK;
}

static enum hml_status rng_parse(const json_t *v, struct rng *r, struct hml_error *err)
{
    const char *t = json_string_value(v);
    if (!t || strlen(t) != 64 || strspn(t, "0123456789abcdef") != 64)
        return bad_study(err, "study: '%s' must be 64 lowercase hex digits", "rng");
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, t + 16 * i, 16);
        part[16] = 0;
        r->s[i] = strtoull(part, NULL, 16);
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) return bad_study(err, "study: '%s' is all zero", "rng");
    return HML_OK;
}

static enum hml_status trial_parse(struct hml_tpe_study *s, const json_t *t, size_t i, struct hml_error *err)
{
    static const char *const origins[] = {"random", "tpe", "enqueued", "warm_start"};
    static const char *const states[] = {"pending", "complete", "failed"};
    const char *st = json_string_value(json_object_get(t, "state"));
    const char *og = json_string_value(json_object_get(t, "origin"));
    size_t si = 0, oi = 0;
    while (st && si < 3 && strcmp(st, states[si])) si++;
    while (og && oi < 4 && strcmp(og, origins[oi])) oi++;
    if (!json_is_object(t) || !st || si == 3 || !og || oi == 4)
        return bad_study(err, "study: trial %s needs a known state and origin",
                         json_is_object(t) ? "entry" : "(not an object)");
    const json_t *v = json_object_get(t, "value");
    if (si == HML_TPE_COMPLETE && !(json_is_number(v) && isfinite(json_number_value(v))))
        return bad_study(err, "study: a complete trial (%s) has no finite value", st);
    enum hml_status rc = add_row(s, json_object_get(t, "params"), (enum hml_tpe_state)si, (enum hml_tpe_origin)oi,
                                 si == HML_TPE_COMPLETE ? json_number_value(v) : NAN, err);
    if (rc) hml_error_prefix(err, "study trial %zu", i);
    return rc;
}

static enum hml_status study_fill(struct hml_tpe_study *s, const json_t *j, struct hml_error *err)
{
    enum hml_status rc = rng_parse(json_object_get(j, "rng"), &s->rng, err);
    const json_t *trials = json_object_get(j, "trials"), *queue = json_object_get(j, "queue");
    if (!rc && (!json_is_array(trials) || (queue && !json_is_array(queue))))
        rc = bad_study(err, "study: '%s' must be lists", "trials and queue");
    for (size_t i = 0; !rc && i < json_array_size(trials); i++) rc = trial_parse(s, json_array_get(trials, i), i, err);
    for (size_t i = 0; !rc && i < json_array_size(queue); i++) {
        rc = hml_tpe_enqueue(s, json_array_get(queue, i), err);
        if (rc) hml_error_prefix(err, "study queue %zu", i);
    }
    return rc;
}

enum hml_status hml_tpe_study_from_json(const json_t *j, struct hml_tpe_study **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    const char *fmt = json_string_value(json_object_get(j, "format"));
    if (!fmt || strcmp(fmt, STUDY_FORMAT) || json_integer_value(json_object_get(j, "version")) != 1)
        return bad_study(err, "not a saved study (expected format '%s', version 1)", STUDY_FORMAT);
    struct hml_tpe_options opt;
    enum hml_status rc = options_parse(json_object_get(j, "options"), &opt, err);
    struct hml_tpe_space *space = NULL;
    if (!rc) rc = hml_tpe_space_parse(json_object_get(j, "space"), &space, err);
    struct hml_tpe_study *s = NULL;
    if (!rc) rc = hml_tpe_study_new(space, &opt, &s, err);
    if (!rc) rc = study_fill(s, j, err);
    if (rc) {
        hml_tpe_study_free(s);
        return rc;
    }
    *out = s;
    return HML_OK;
}
