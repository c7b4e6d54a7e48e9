/* view.c — running a step list: the op table, the shape check of every step (op, keys,
 * types) before anything runs, the parameter helpers steps share, and column builders. */
#include "view_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- the op table ----------------------------------------------------------------------- */

enum vk {
    VK_STR,   /* a string                              */
    VK_NAMES, /* a string or a list of strings         */
    VK_NMAP,  /* a list of strings or an object        */
    VK_INT,   /* an integer                            */
    VK_NUM,   /* a number                              */
    VK_BOOL,  /* true/false                            */
    VK_BOOLS, /* a bool or a list of bools             */
    VK_OBJ,   /* an object                             */
    VK_LIST   /* a list                                */
};

struct vkey {
    const char *name;
    enum vk type;
    bool required;
};

#define VOP_KEYS_MAX 8

struct vop {
    const char *name;
    hml__vstep_fn fn;
    struct vkey keys[VOP_KEYS_MAX];
    const char *example;
};

static const struct vop ops[] = {
    {"filter", hml__vs_filter, {{"expr", VK_STR, true}}, "{\"op\": \"filter\", \"expr\": \"age >= 18\"}"},
    {"select", hml__vs_select, {{"columns", VK_NMAP, true}},
     "{\"op\": \"select\", \"columns\": [\"a\", \"b\"]} or {\"columns\": {\"new_name\": \"a\"}}"},
    {"derive", hml__vs_derive, {{"columns", VK_OBJ, true}},
     "{\"op\": \"derive\", \"columns\": {\"ratio\": \"a / b\"}}"},
    {"group_by", hml__vs_group_by,
     {{"keys", VK_NAMES, true}, {"aggs", VK_OBJ, true}, {"per_row", VK_BOOL, false}, {"order_by", VK_NAMES, false}},
     "{\"op\": \"group_by\", \"keys\": [\"team\"], \"aggs\": {\"score\": [\"mean\", \"max\"]}}"},
    {"join", hml__vs_join,
     {{"other", VK_STR, true}, {"on", VK_NMAP, true}, {"how", VK_STR, false}, {"select", VK_NAMES, false},
      {"prefix", VK_STR, false}},
     "{\"op\": \"join\", \"other\": \"teams\", \"on\": [\"team_id\"], \"how\": \"left\"}"},
    {"union", hml__vs_union, {{"other", VK_STR, true}}, "{\"op\": \"union\", \"other\": \"games_2024\"}"},
    {"unpivot", hml__vs_unpivot,
     {{"unpivot_columns", VK_OBJ, true}, {"id_columns", VK_NAMES, false}, {"names_column", VK_STR, false},
      {"names_map", VK_OBJ, false}},
     "{\"op\": \"unpivot\", \"id_columns\": [\"game\"], \"unpivot_columns\": {\"team\": [\"home\", \"away\"]}, "
     "\"names_column\": \"side\"}"},
    {"cast", hml__vs_cast, {{"columns", VK_OBJ, true}}, "{\"op\": \"cast\", \"columns\": {\"season\": \"int\"}}"},
    {"sort", hml__vs_sort, {{"by", VK_NAMES, true}, {"ascending", VK_BOOLS, false}},
     "{\"op\": \"sort\", \"by\": [\"date\"], \"ascending\": true}"},
    {"distinct", hml__vs_distinct, {{"columns", VK_NAMES, false}, {"keep", VK_STR, false}},
     "{\"op\": \"distinct\", \"columns\": [\"id\"], \"keep\": \"last\"}"},
    {"rolling", hml__vs_rolling,
     {{"aggs", VK_OBJ, true}, {"window", VK_INT, true}, {"keys", VK_NAMES, false}, {"order_by", VK_NAMES, false},
      {"min_periods", VK_INT, false}},
     "{\"op\": \"rolling\", \"keys\": [\"team\"], \"order_by\": \"date\", \"window\": 5, \"aggs\": "
     "{\"pts_avg5\": \"pts:mean\"}}"},
    {"head", hml__vs_head,
     {{"keys", VK_NAMES, false}, {"n", VK_INT, false}, {"order_by", VK_NAMES, false}, {"ascending", VK_BOOLS, false},
      {"position", VK_STR, false}},
     "{\"op\": \"head\", \"keys\": [\"team\"], \"order_by\": \"date\", \"n\": 1, \"position\": \"last\"}"},
    {"rank", hml__vs_rank,
     {{"columns", VK_OBJ, true}, {"keys", VK_NAMES, false}, {"method", VK_STR, false}, {"ascending", VK_BOOL, false},
      {"pct", VK_BOOL, false}},
     "{\"op\": \"rank\", \"columns\": {\"pts_rank\": \"pts\"}, \"keys\": [\"season\"]}"},
    {"cond_agg", hml__vs_cond_agg,
     {{"keys", VK_NAMES, true}, {"aggs", VK_OBJ, true}, {"per_row", VK_BOOL, false}, {"order_by", VK_NAMES, false}},
     "{\"op\": \"cond_agg\", \"keys\": [\"team\"], \"aggs\": {\"home_pts\": \"pts:mean:is_home\"}}"},
    {"isin", hml__vs_isin, {{"column", VK_STR, true}, {"values", VK_LIST, true}, {"negate", VK_BOOL, false}},
     "{\"op\": \"isin\", \"column\": \"class\", \"values\": [\"1st\", \"2nd\"]}"},
    {"lag", hml__vs_lag, {{"columns", VK_OBJ, true}, {"keys", VK_NAMES, false}, {"order_by", VK_NAMES, false}},
     "{\"op\": \"lag\", \"keys\": [\"team\"], \"order_by\": \"date\", \"columns\": {\"pts_prev\": \"pts:1\"}}"},
    {"ewm", hml__vs_ewm,
     {{"aggs", VK_OBJ, true}, {"span", VK_NUM, true}, {"keys", VK_NAMES, false}, {"order_by", VK_NAMES, false},
      {"min_periods", VK_INT, false}},
     "{\"op\": \"ewm\", \"keys\": [\"team\"], \"order_by\": \"date\", \"span\": 5, \"aggs\": {\"pts_ewm\": "
     "\"pts:mean\"}}"},
    {"diff", hml__vs_diff,
     {{"columns", VK_OBJ, true}, {"keys", VK_NAMES, false}, {"order_by", VK_NAMES, false}, {"pct", VK_BOOL, false}},
     "{\"op\": \"diff\", \"keys\": [\"team\"], \"order_by\": \"date\", \"columns\": {\"pts_change\": \"pts:1\"}}"},
    {"trend", hml__vs_trend,
     {{"columns", VK_OBJ, true}, {"window", VK_INT, true}, {"keys", VK_NAMES, false}, {"order_by", VK_NAMES, false},
      {"min_periods", VK_INT, false}},
     "{\"op\": \"trend\", \"keys\": [\"team\"], \"order_by\": \"date\", \"window\": 5, \"columns\": "
     "{\"pts_trend\": \"pts\"}}"},
    {"encode", hml__vs_encode,
     {{"column", VK_STR, true}, {"method", VK_STR, true}, {"output", VK_STR, false}, {"target", VK_STR, false},
      {"order_by", VK_NAMES, false}},
     "{\"op\": \"encode\", \"column\": \"city\", \"method\": \"frequency\"}"},
    {"bin", hml__vs_bin,
     {{"column", VK_STR, true}, {"method", VK_STR, false}, {"n_bins", VK_INT, false}, {"boundaries", VK_LIST, false},
      {"output", VK_STR, false}},
     "{\"op\": \"bin\", \"column\": \"age\", \"method\": \"quantile\", \"n_bins\": 5}"},
    {"datetime", hml__vs_datetime,
     {{"column", VK_STR, true}, {"extract", VK_NAMES, false}, {"cyclical", VK_NAMES, false}},
     "{\"op\": \"datetime\", \"column\": \"date\", \"extract\": [\"year\", \"month\"], \"cyclical\": [\"month\"]}"},
    {"null_indicator", hml__vs_null_indicator, {{"columns", VK_NAMES, false}, {"prefix", VK_STR, false}},
     "{\"op\": \"null_indicator\", \"columns\": [\"age\"], \"prefix\": \"missing_\"}"},
};

#define OPS_N (sizeof ops / sizeof *ops)

const char *const hml_view_ops[] = {
    "filter", "select", "derive", "group_by", "join", "union", "unpivot", "cast", "sort", "distinct",
    "rolling", "head", "rank", "cond_agg", "isin", "lag", "ewm", "diff", "trend", "encode", "bin",
    "datetime", "null_indicator", NULL,
};

static const char *vk_name(enum vk t)
{
    switch (t) {
    case VK_STR: return "a string";
    case VK_NAMES: return "a column name or a list of them";
    case VK_NMAP: return "a name, a list of names or an object";
    case VK_INT: return "an integer";
    case VK_NUM: return "a number";
    case VK_BOOL: return "true or false";
    case VK_BOOLS: return "true/false or a list of them";
    case VK_OBJ: return "an object";
    case VK_LIST: return "a list";
    }
    return "?";
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a bool";
    case JSON_NULL: return "null";
    }
    return "?";
}

static bool all_of(const json_t *a, int type)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) if ((int)json_typeof(x) != type && !(type == JSON_TRUE && json_is_boolean(x))) return false;
    return true;
}

static bool type_ok(const json_t *v, enum vk t)
{
    switch (t) {
    case VK_STR: return json_is_string(v);
    case VK_NAMES: return json_is_string(v) || (json_is_array(v) && all_of(v, JSON_STRING));
    case VK_NMAP: return json_is_object(v) || json_is_string(v) || (json_is_array(v) && all_of(v, JSON_STRING));
    case VK_INT: return json_is_integer(v);
    case VK_NUM: return json_is_number(v);
    case VK_BOOL: return json_is_boolean(v);
    case VK_BOOLS: return json_is_boolean(v) || (json_is_array(v) && all_of(v, JSON_TRUE));
    case VK_OBJ: return json_is_object(v);
    case VK_LIST: return json_is_array(v);
    }
    return false;
}

static const struct vop *find_op(const char *name)
{
    for (size_t i = 0; i < OPS_N; i++)
        if (!strcmp(ops[i].name, name)) return &ops[i];
    return NULL;
}

/* Op, keys and key types of one step; messages say which step. */
static enum hml_status check_shape(const json_t *step, size_t i, const struct vop **out, struct hml_error *err)
{
    if (!json_is_object(step)) {
        hml_fail(err, HML_EINVAL, "view", "step %zu is %s, not an object", i, json_kind(step));
        return hml_hint(err, "each step is an object with an op, e.g. {\"op\": \"filter\", \"expr\": \"age >= 18\"}");
    }
    const char *name = hml_json_str(step, "op", NULL);
    if (!name) {
        hml_fail(err, HML_EINVAL, "view", "step %zu has no 'op'", i);
        hml_error_choices(err, "", hml_view_ops, OPS_N);
        return hml_hint(err, "add \"op\": one of %s", "filter, select, derive, group_by, join, … (see valid values)");
    }
    const struct vop *op = find_op(name);
    if (!op) {
        hml_fail(err, HML_EINVAL, "view", "step %zu: unknown op '%s'", i, name);
        return hml_error_choices(err, name, hml_view_ops, OPS_N);
    }
    const char *valid[VOP_KEYS_MAX + 2] = {"op", "description"};
    size_t nvalid = 2;
    for (size_t k = 0; k < VOP_KEYS_MAX && op->keys[k].name; k++) valid[nvalid++] = op->keys[k].name;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)step, key, v) {
        bool known = false;
        for (size_t k = 0; k < nvalid; k++) known |= !strcmp(valid[k], key);
        if (!known) {
            hml_fail(err, HML_EINVAL, "view", "step %zu (%s): unknown key '%s'", i, name, key);
            return hml_error_choices(err, key, valid, nvalid);
        }
    }
    for (size_t k = 0; k < VOP_KEYS_MAX && op->keys[k].name; k++) {
        const struct vkey *vk = &op->keys[k];
        json_t *x = json_object_get(step, vk->name);
        if (!x || json_is_null(x)) {
            if (!vk->required) continue;
            hml_fail(err, HML_EINVAL, "view", "step %zu (%s): '%s' is required", i, name, vk->name);
            return hml_hint(err, "e.g. %s", op->example);
        }
        if (!type_ok(x, vk->type)) {
            hml_fail(err, HML_EINVAL, "view", "step %zu (%s): '%s' must be %s, not %s", i, name, vk->name,
                     vk_name(vk->type), json_kind(x));
            return hml_hint(err, "e.g. %s", op->example);
        }
    }
    *out = op;
    return HML_OK;
}

static enum hml_status check_steps(const json_t *steps, const struct vop **opv, struct hml_error *err)
{
    if (!json_is_array(steps)) {
        hml_fail(err, HML_EINVAL, "view", "steps must be a list, not %s", steps ? json_kind(steps) : "missing");
        return hml_hint(err, "pass steps as a JSON list, e.g. [{\"op\": \"filter\", \"expr\": \"age >= 18\"}]");
    }
    if (json_array_size(steps) > HML_VIEW_STEPS_MAX) {
        hml_fail(err, HML_ELIMIT, "view", "a view has at most %u steps, got %zu", HML_VIEW_STEPS_MAX,
                 json_array_size(steps));
        return hml_hint(err, "split the work over several views that build on each other (HML_VIEW_STEPS_MAX)");
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        enum hml_status rc = check_shape(json_array_get(steps, i), i + 1, &opv[i], err);
        if (rc) return rc;
    }
    return HML_OK;
}

static enum hml_status run(struct vrun *r, const struct hml_frame *in, const json_t *steps,
                           struct hml_frame **out, struct hml_error *err)
{
    const struct vop *opv[HML_VIEW_STEPS_MAX];
    enum hml_status rc = check_steps(steps, opv, err);
    if (rc) return rc;
    struct hml_frame *f = r->dry ? hml_frame_take(in, NULL, 0) : hml_frame_clone(in);
    if (!f) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        if (r->ctx->cancel && *r->ctx->cancel) {
            rc = hml_fail(err, HML_ECONFLICT, "view", "cancelled");
            hml_hint(err, "run the action again to finish the view");
            break;
        }
        r->step_i = i + 1;
        r->op = opv[i]->name;
        rc = opv[i]->fn(r, json_array_get(steps, i), &f, err);
        if (rc == HML__VIEW_OPEN && r->dry) {
            hml__vr_warn(r, "the columns this step makes depend on the data, so steps after it are checked when "
                            "the view runs");
            rc = HML_OK;
            break;
        }
        HML_ASSERT(rc != HML__VIEW_OPEN);
        if (rc) {
            if (strncmp(err->message, "step ", 5)) hml_error_prefix(err, "step %zu (%s)", i + 1, opv[i]->name);
            snprintf(err->where, sizeof err->where, "view");
            break;
        }
        HML_ASSERT(f != NULL);
    }
    if (rc) {
        hml_frame_free(f);
        return rc;
    }
    *out = f;
    return HML_OK;
}

enum hml_status hml_view_apply(const struct hml_frame *in, const json_t *steps,
                               const struct hml_view_ctx *ctx, struct hml_frame **out,
                               struct hml_error *err)
{
    static const struct hml_view_ctx none = {0};
    struct vrun r = {.ctx = ctx ? ctx : &none};
    return run(&r, in, steps, out, err);
}

enum hml_status hml_view_check(const struct hml_frame *schema, const json_t *steps,
                               const struct hml_view_ctx *ctx, struct hml_frame **out,
                               struct hml_error *err)
{
    static const struct hml_view_ctx none = {0};
    struct vrun r = {.ctx = ctx ? ctx : &none, .dry = true};
    struct hml_frame *f = NULL;
    enum hml_status rc = run(&r, schema, steps, &f, err);
    if (!rc && out) *out = f;
    else hml_frame_free(f);
    return rc;
}

size_t hml_view_step_refs(const json_t *steps, const char **names, size_t cap)
{
    size_t n = 0, i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        const char *op = hml_json_str(s, "op", "");
        if (strcmp(op, "join") && strcmp(op, "union")) continue;
        const char *o = hml_json_str(s, "other", NULL);
        bool seen = !o;
        for (size_t k = 0; !seen && k < n; k++) seen = !strcmp(names[k], o);
        if (!seen && n < cap) names[n++] = o;
    }
    return n;
}

/* ---- parameter helpers -------------------------------------------------------------------- */

enum hml_status hml__vr_fail(struct vrun *r, struct hml_error *err, enum hml_status code,
                             const char *hint, const char *fmt, ...)
{
    (void)r;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hml_fail(err, code, "view", "%s", msg);
    if (hint) hml_hint(err, "%s", hint);
    return code;
}

void hml__vr_warn(struct vrun *r, const char *fmt, ...)
{
    if (!r->ctx->warnings) return;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "step %zu (%s): ", r->step_i, r->op ? r->op : "?");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    json_array_append_new(r->ctx->warnings, json_string(msg));
}

bool hml__vr_outcome(const struct vrun *r, const char *name)
{
    if (r->ctx->target && !strcmp(r->ctx->target, name)) return true;
    for (size_t i = 0; i < r->ctx->outcomes_n; i++)
        if (r->ctx->outcomes[i] && !strcmp(r->ctx->outcomes[i], name)) return true;
    return false;
}

enum hml_status hml__vr_col(struct vrun *r, const struct hml_frame *f, const char *name,
                            const char *key, size_t *idx, struct hml_error *err)
{
    long j = hml_frame_find(f, name);
    if (j >= 0) {
        *idx = (size_t)j;
        return HML_OK;
    }
    for (size_t k = 0; r->dry && k < r->open_n; k++)
        if (!strncmp(name, r->open_prefix[k], strlen(r->open_prefix[k]))) return HML__VIEW_OPEN;
    hml_fail(err, HML_ENOTFOUND, "view", "unknown column '%s' in '%s'", name, key);
    return hml_error_choices(err, name, (const char *const *)f->names, f->ncols);
}

enum hml_status hml__vr_names(struct vrun *r, const json_t *step, const char *key,
                              const char **names, size_t *n, struct hml_error *err)
{
    const json_t *v = json_object_get(step, key);
    *n = 0;
    if (!v || json_is_null(v)) return HML_OK;
    if (json_is_string(v)) {
        names[(*n)++] = json_string_value(v);
        return HML_OK;
    }
    if (json_array_size(v) > HML_VIEW_KEYS_MAX)
        return hml__vr_fail(r, err, HML_ELIMIT, "use fewer columns (HML_VIEW_KEYS_MAX)",
                            "'%s' names %zu columns; the limit is %u", key, json_array_size(v), HML_VIEW_KEYS_MAX);
    for (size_t i = 0; i < json_array_size(v); i++) names[(*n)++] = json_string_value(json_array_get(v, i));
    return HML_OK;
}

enum hml_status hml__vr_cols(struct vrun *r, const struct hml_frame *f, const json_t *step,
                             const char *key, size_t *idx, size_t *n, struct hml_error *err)
{
    const char *names[HML_VIEW_KEYS_MAX];
    enum hml_status rc = hml__vr_names(r, step, key, names, n, err);
    for (size_t i = 0; !rc && i < *n; i++) {
        rc = hml__vr_col(r, f, names[i], key, &idx[i], err);
        for (size_t k = 0; !rc && k < i; k++)
            if (idx[k] == idx[i])
                rc = hml__vr_fail(r, err, HML_EINVAL, "name each column once", "'%s' names '%s' twice", key, names[i]);
    }
    return rc;
}

enum hml_status hml__vr_choice(struct vrun *r, const json_t *step, const char *key,
                               const char *const *choices, int dflt, int *out,
                               struct hml_error *err)
{
    (void)r;
    const char *s = hml_json_str(step, key, NULL);
    *out = dflt;
    if (!s) return HML_OK;
    size_t n = 0;
    while (choices[n]) n++;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(choices[i], s)) {
            *out = (int)i;
            return HML_OK;
        }
    hml_fail(err, HML_EINVAL, "view", "'%s' cannot be '%s'", key, s);
    return hml_error_choices(err, s, choices, n);
}

enum hml_status hml__vr_int(struct vrun *r, const json_t *step, const char *key, long long lo,
                            long long hi, long long dflt, long long *out, struct hml_error *err)
{
    const json_t *v = json_object_get(step, key);
    *out = v && json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
    if (*out < lo || *out > hi) {
        char hint[96];
        snprintf(hint, sizeof hint, "pass %s between %lld and %lld", key, lo, hi);
        return hml__vr_fail(r, err, *out > hi && hi == HML_VIEW_WINDOW_MAX ? HML_ELIMIT : HML_EINVAL, hint,
                            "'%s' is %lld; it must be between %lld and %lld", key, *out, lo, hi);
    }
    return HML_OK;
}

enum hml_status hml__vr_bools(struct vrun *r, const json_t *step, const char *key, size_t n,
                              bool dflt, bool *out, struct hml_error *err)
{
    const json_t *v = json_object_get(step, key);
    for (size_t i = 0; i < n; i++) out[i] = v && json_is_boolean(v) ? json_is_true(v) : dflt;
    if (!json_is_array(v)) return HML_OK;
    if (json_array_size(v) != n)
        return hml__vr_fail(r, err, HML_EINVAL, "give one true/false per column, or a single true/false",
                            "'%s' has %zu values for %zu columns", key, json_array_size(v), n);
    for (size_t i = 0; i < n; i++) out[i] = json_is_true(json_array_get(v, i));
    return HML_OK;
}

enum hml_status hml__vr_map(struct vrun *r, const json_t *step, const char *key,
                            const json_t **out, struct hml_error *err)
{
    const json_t *m = json_object_get(step, key);
    *out = m;
    if (!json_object_size(m))
        return hml__vr_fail(r, err, HML_EINVAL, "name at least one output, e.g. {\"new_column\": \"...\"}",
                            "'%s' is empty", key);
    if (json_object_size(m) > HML_VIEW_AGGS_MAX)
        return hml__vr_fail(r, err, HML_ELIMIT, "split the outputs over several steps (HML_VIEW_AGGS_MAX)",
                            "'%s' has %zu entries; the limit is %u", key, json_object_size(m), HML_VIEW_AGGS_MAX);
    return HML_OK;
}

bool hml__vr_split(const char *spec, char *src, size_t cap, const char **rest)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n + 1 > cap) return false;
    memcpy(src, spec, n);
    src[n] = 0;
    *rest = colon ? colon + 1 : NULL;
    return true;
}

enum hml_status hml__vr_newname(struct vrun *r, const char *name, struct hml_error *err)
{
    if (!*name || strlen(name) > 256)
        return hml__vr_fail(r, err, HML_EINVAL, "name new columns with 1 to 256 characters",
                            "the new column name '%.40s' is %s", name, *name ? "too long" : "empty");
    return HML_OK;
}

enum hml_status hml__vr_numeric(struct vrun *r, const struct hml_frame *f, size_t j,
                                const char *what, struct hml_error *err)
{
    if (hml_column_is_numeric(f->cols[j])) return HML_OK;
    char hint[160];
    snprintf(hint, sizeof hint, "cast it first ({\"op\": \"cast\", \"columns\": {\"%.60s\": \"float\"}}) or pick a "
                                "numeric column", f->names[j]);
    return hml__vr_fail(r, err, HML_EINVAL, hint, "%s needs numbers, but '%s' holds %s values", what, f->names[j],
                        hml_type_name(f->cols[j]->type));
}

/* ---- column builders ------------------------------------------------------------------------ */

enum hml_status hml__vr_put(struct hml_frame *f, const char *name, struct hml_column *c,
                            struct hml_error *err)
{
    if (!c) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    long j = hml_frame_find(f, name);
    enum hml_status rc;
    if (j >= 0) rc = hml_frame_replace(f, (size_t)j, c, err);
    else rc = hml_frame_add(f, name, c, err);
    hml_column_unref(c);
    return rc;
}

double *hml__vcol_doubles(const struct hml_column *c)
{
    double *x = hml_malloc((c->n ? c->n : 1) * sizeof *x);
    if (!x) return NULL;
    size_t n = c->n;
    switch (c->type) {
    case HML_TYPE_F64: memcpy(x, c->data, n * sizeof *x); break;
    case HML_TYPE_I64:
        for (size_t i = 0; i < n; i++) x[i] = (double)hml_i64(c)[i];
        break;
    case HML_TYPE_BOOL:
        for (size_t i = 0; i < n; i++) x[i] = hml_bool(c)[i];
        break;
    case HML_TYPE_DATE:
        for (size_t i = 0; i < n; i++) x[i] = hml_days(c)[i];
        break;
    case HML_TYPE_STR:
        for (size_t i = 0; i < n; i++) x[i] = NAN;
        break;
    }
    if (c->valid)
        for (size_t i = 0; i < n; i++)
            if (hml_column_is_null(c, i)) x[i] = NAN;
    return x;
}

struct hml_column *hml__vcol_from_doubles(double *y, size_t n)
{
    size_t nulls = 0;
    for (size_t i = 0; i < n; i++) nulls += !isfinite(y[i]);
    uint8_t *valid = NULL;
    if (nulls) {
        valid = hml_malloc(hml__bitmap_bytes(n) + 1);
        if (!valid) {
            hml_free(y);
            return NULL;
        }
        memset(valid, 0, hml__bitmap_bytes(n) + 1);
        for (size_t i = 0; i < n; i++) {
            if (isfinite(y[i])) valid[i >> 3] |= (uint8_t)(1u << (i & 7));
            else y[i] = 0;
        }
    }
    return hml__column_wrap(HML_TYPE_F64, n, y, valid, nulls, NULL);
}

struct hml_column *hml__vcol_from_i64(int64_t *y, const uint8_t *null, size_t n)
{
    size_t nulls = 0;
    for (size_t i = 0; null && i < n; i++) nulls += null[i] != 0;
    uint8_t *valid = NULL;
    if (nulls) {
        valid = hml_malloc(hml__bitmap_bytes(n) + 1);
        if (!valid) {
            hml_free(y);
            return NULL;
        }
        memset(valid, 0, hml__bitmap_bytes(n) + 1);
        for (size_t i = 0; i < n; i++) {
            if (!null[i]) valid[i >> 3] |= (uint8_t)(1u << (i & 7));
            else y[i] = 0;
        }
    }
    return hml__column_wrap(HML_TYPE_I64, n, y, valid, nulls, NULL);
}

static struct hml_dict *dict_clone(const struct hml_dict *src)
{
    struct hml_dict *d = hml_dict_new();
    for (size_t k = 0; d && k < hml_dict_size(src); k++) {
        if (hml_dict_intern(d, hml_dict_get(src, (int32_t)k), hml_dict_len(src, (int32_t)k)) != (int32_t)k) {
            hml_dict_free(d);
            return NULL;
        }
    }
    return d;
}

struct hml_column *hml__vcol_gather(const struct hml_column *c, const size_t *rows, size_t n)
{
    size_t w = hml__type_width(c->type), nulls = 0;
    void *data = hml_malloc((n ? n : 1) * w);
    uint8_t *valid = hml_malloc(hml__bitmap_bytes(n) + 1);
    struct hml_dict *dict = c->type == HML_TYPE_STR ? dict_clone(c->dict) : NULL;
    if (!data || !valid || (c->type == HML_TYPE_STR && !dict)) {
        hml_free(data);
        hml_free(valid);
        hml_dict_free(dict);
        return NULL;
    }
    memset(valid, 0xff, hml__bitmap_bytes(n) + 1);
    char *dst = data;
    const char *src = c->data;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        if (r == SIZE_MAX || hml_column_is_null(c, r)) {
            memset(dst + i * w, 0, w);
            valid[i >> 3] &= (uint8_t)~(1u << (i & 7));
            nulls++;
        } else if (w == 8) {
            memcpy(dst + i * 8, src + r * 8, 8);
        } else if (w == 4) {
            memcpy(dst + i * 4, src + r * 4, 4);
        } else {
            dst[i] = src[r];
        }
    }
    if (!nulls) {
        hml_free(valid);
        valid = NULL;
    }
    return hml__column_wrap(c->type, n, data, valid, nulls, dict);
}
