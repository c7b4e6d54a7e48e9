/* feature_eval.c — materialising features into the prediction table: each feature's
 * cache key, its computation by type, and the refresh that walks the set in
 * dependency order and recomputes only what changed. */
#include "feature_int.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/join.h"

/* Bump when what a definition computes changes meaning: every cached feature misses once. */
#define FEATURE_ENGINE "hml-feature-1"

static _Atomic uint64_t computations;

uint64_t hml_feature_computations(void)
{
    return atomic_load(&computations);
}

void hml_feature_report_fini(struct hml_feature_report *r)
{
    if (!r) return;
    json_decref(r->items);
    json_decref(r->warnings);
    memset(r, 0, sizeof *r);
}

struct loaded {
    char name[128];
    struct hml_frame *f;
};

#define SOURCES_MAX 64

struct refresh {
    const struct hml_feature_opts *o;
    struct hml_feature_set *set;
    struct hml_frame *work;
    struct hml_target target;
    bool have_target;
    struct loaded src[SOURCES_MAX];
    size_t nsrc;
    struct hml_feature_report *rep;
};

/* ---- keys --------------------------------------------------------------------------------------- */

static void sha_str(struct hml_sha256 *s, const char *str)
{
    uint64_t n = str ? strlen(str) : UINT64_MAX;
    hml_sha256_update(s, &n, sizeof n);
    if (str) hml_sha256_update(s, str, strlen(str));
}

/* Fingerprint of the named columns of f (absent ones count as absent). */
static enum hml_status columns_fp(const struct hml_frame *f, const char *const *names, size_t n, uint64_t *fp,
                                  struct hml_error *err)
{
    size_t idx[4];
    size_t k = 0;
    HML_ASSERT(n <= 4);
    for (size_t i = 0; i < n; i++) {
        long j = names[i] ? hml_frame_find(f, names[i]) : -1;
        if (j >= 0) idx[k++] = (size_t)j;
    }
    struct hml_frame *sel = hml_frame_select(f, idx, k);
    if (!sel) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    *fp = hml_frame_fingerprint(sel);
    hml_frame_free(sel);
    return HML_OK;
}

static enum hml_status sha_column(struct hml_sha256 *s, const struct hml_frame *w, const char *name,
                                  struct hml_error *err)
{
    uint64_t fp;
    sha_str(s, name);
    enum hml_status rc = columns_fp(w, &name, 1, &fp, err);
    hml_sha256_update(s, &fp, sizeof fp);
    return rc;
}

static enum hml_status get_source(struct refresh *r, const char *name, struct hml_frame **out, struct hml_error *err)
{
    for (size_t i = 0; i < r->nsrc; i++)
        if (!strcmp(r->src[i].name, name)) return *out = r->src[i].f, HML_OK;
    if (!r->o->load_source) {
        hml_fail(err, HML_ENOTFOUND, "features", "no source named '%s' is available", name);
        return hml_hint(err, "register it first: data add_source --name %s --data_path <file>", name);
    }
    if (r->nsrc == SOURCES_MAX) {
        hml_fail(err, HML_ELIMIT, "features", "entity features read more than %d sources", SOURCES_MAX);
        return hml_hint(err, "combine sources into fewer files");
    }
    struct hml_frame *f;
    enum hml_status rc = r->o->load_source(r->o->source_ctx, name, &f, err);
    if (rc) return rc;
    snprintf(r->src[r->nsrc].name, sizeof r->src[r->nsrc].name, "%s", name);
    r->src[r->nsrc++].f = f;
    *out = f;
    return HML_OK;
}

/* The inputs an entity feature reads: the table's key columns and the source's columns. */
static enum hml_status sha_entity(struct refresh *r, const struct hml_feature *f, struct hml_sha256 *s,
                                  struct hml_error *err)
{
    const char *keys[] = {f->entity_a_column, f->entity_b_column, f->period_column};
    enum hml_status rc = HML_OK;
    for (size_t k = 0; !rc && k < 3; k++) rc = sha_column(s, r->work, keys[k], err);
    struct hml_frame *src = NULL;
    if (!rc) rc = get_source(r, f->source, &src, err);
    uint64_t fp = 0;
    const char *cols[] = {f->entity_column, f->period_column, f->column};
    if (!rc) rc = columns_fp(src, cols, 3, &fp, err);
    hml_sha256_update(s, &fp, sizeof fp);
    return rc;
}

static enum hml_status feature_key(struct refresh *r, const struct hml_feature *f, char hex[65], struct hml_error *err)
{
    struct hml_sha256 s;
    hml_sha256_init(&s);
    const char *fields[] = {FEATURE_ENGINE, f->name, hml_feature_type_names[f->type], f->formula, f->column,
                            f->source, f->condition, hml_pairwise_mode_names[f->pairwise_mode]};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) sha_str(&s, fields[i]);
    enum hml_status rc = HML_OK;
    size_t n;
    if (f->expr) {
        const char *const *cols = hml_expr_columns(f->expr, &n);
        for (size_t k = 0; !rc && k < n; k++) rc = sha_column(&s, r->work, cols[k], err);
        const char *const *refs = hml_expr_refs(f->expr, &n);
        for (size_t k = 0; !rc && k < n; k++) {
            long j = hml_features_find(r->set, refs[k]);
            HML_ASSERT(j >= 0);
            sha_str(&s, refs[k]);
            rc = sha_column(&s, r->work, r->set->items[j].outputs[0], err);
        }
    }
    if (!rc && f->type == HML_FEATURE_INSTANCE && f->column) rc = sha_column(&s, r->work, f->column, err);
    if (!rc && f->type == HML_FEATURE_ENTITY) rc = sha_entity(r, f, &s, err);
    unsigned char d[32];
    hml_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return rc;
}

/* ---- computing one feature ------------------------------------------------------------------------ */

static struct hml_column *ref_lookup(void *ctx, const char *name)
{
    const struct refresh *r = ctx;
    long j = hml_features_find(r->set, name);
    if (j < 0 || !r->set->items[j].enabled) return NULL;
    long c = hml_frame_find(r->work, r->set->items[j].outputs[0]);
    return c < 0 ? NULL : r->work->cols[c];
}

static enum hml_status compute_regime(struct refresh *r, const struct hml_feature *f, const struct hml_expr_env *env,
                                      struct hml_column **out, struct hml_error *err)
{
    enum hml_type t;
    enum hml_status rc = hml_expr_check(f->expr, r->work, env, &t, err);
    if (rc) return rc;
    if (t != HML_TYPE_BOOL) {
        hml_fail(err, HML_EINVAL, "features", "the condition of regime '%s' gives %s values, not true/false", f->name,
                 hml_type_name(t));
        return hml_hint(err, "write a comparison, e.g. condition=\"age < 12\" or \"class == '1st'\"");
    }
    struct hml_column *b, *c = hml_column_new(HML_TYPE_I64, r->work->nrows);
    if (!c) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if ((rc = hml_expr_eval(f->expr, r->work, env, &b, err))) {
        hml_column_unref(c);
        return rc;
    }
    /* 1 where the condition holds; false and null (unknown) are both 0, as in filters. */
    for (size_t i = 0; i < c->n; i++) hml_i64(c)[i] = !hml_column_is_null(b, i) && hml_bool(b)[i];
    hml_column_unref(b);
    *out = c;
    return HML_OK;
}

/* One side of an entity join: the source's value for each table row's (entity, period). */
static enum hml_status entity_side(const struct hml_frame *work, const struct hml_frame *src, const struct hml_feature *f,
                                   const char *side_col, bool by_period, struct hml_column **out, struct hml_error *err)
{
    size_t idx[2], si[3], n = by_period ? 2 : 1;
    enum hml_status rc = hml_frame_lookup(work, side_col, &idx[0], err);
    if (!rc && by_period) rc = hml_frame_lookup(work, f->period_column, &idx[1], err);
    if (rc) return hml_error_prefix(err, "the prediction table"), rc;
    rc = hml_frame_lookup(src, f->entity_column, &si[0], err);
    if (!rc && by_period) rc = hml_frame_lookup(src, f->period_column, &si[1], err);
    if (!rc) rc = hml_frame_lookup(src, f->column, &si[n], err);
    if (rc) return hml_error_prefix(err, "source '%s'", f->source), rc;
    if (!hml_column_is_numeric(src->cols[si[n]])) {
        hml_fail(err, HML_EINVAL, "features", "column '%s' of source '%s' is %s, not numeric", f->column, f->source,
                 hml_type_name(src->cols[si[n]]->type));
        return hml_hint(err, "entity features take differences and ratios, so pick a numeric column");
    }
    struct hml_frame *left = hml_frame_new(), *right = hml_frame_select(src, si, n + 1), *joined = NULL;
    rc = left && right ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    /* The table's side keys take the source's key names, so the join matches them up. */
    if (!rc) rc = hml_frame_add(left, f->entity_column, work->cols[idx[0]], err);
    if (!rc && by_period) rc = hml_frame_add(left, f->period_column, work->cols[idx[1]], err);
    const char *keys[] = {f->entity_column, f->period_column};
    struct hml_join_report jr;
    if (!rc) rc = hml_frame_join(left, right, keys, n, HML_JOIN_LEFT, NULL, &joined, &jr, err);
    if (rc) hml_error_prefix(err, "joining source '%s' on '%s'", f->source, side_col);
    if (!rc) {
        *out = joined->cols[joined->ncols - 1];
        hml_column_ref(*out);
    }
    hml_frame_free(left);
    hml_frame_free(right);
    hml_frame_free(joined);
    return rc;
}

static struct hml_column *combine(const struct hml_column *a, const struct hml_column *b, bool ratio)
{
    struct hml_column *c = hml_column_new(HML_TYPE_F64, a->n);
    for (size_t i = 0; c && i < a->n; i++) {
        double x = hml_column_num(a, i), y = hml_column_num(b, i);
        double v = ratio ? (y == 0 ? NAN : x / y) : x - y;
        if (isfinite(v)) hml_f64(c)[i] = v;
        else if (!hml_column_set_null(c, i)) return hml_column_unref(c), NULL;
    }
    return c;
}

static enum hml_status compute_entity(struct refresh *r, const struct hml_feature *f, struct hml_column **outs,
                                      struct hml_error *err)
{
    struct hml_frame *src;
    enum hml_status rc = get_source(r, f->source, &src, err);
    if (rc) return rc;
    bool in_table = hml_frame_find(r->work, f->period_column) >= 0, in_src = hml_frame_find(src, f->period_column) >= 0;
    if (in_table != in_src) {
        hml_fail(err, HML_EINVAL, "features", "the period column '%s' is in the %s but not in the %s", f->period_column,
                 in_table ? "prediction table" : "source", in_table ? "source" : "prediction table");
        return hml_hint(err, "set period_column to a column both have, or give both one (values are matched per period)");
    }
    struct hml_column *a = NULL, *b = NULL;
    rc = entity_side(r->work, src, f, f->entity_a_column, in_table, &a, err);
    if (!rc) rc = entity_side(r->work, src, f, f->entity_b_column, in_table, &b, err);
    if (!rc) {
        switch (f->pairwise_mode) {
        case HML_PAIRWISE_DIFF: outs[0] = combine(a, b, false); break;
        case HML_PAIRWISE_RATIO: outs[0] = combine(a, b, true); break;
        case HML_PAIRWISE_BOTH: outs[0] = combine(a, b, false), outs[1] = combine(a, b, true); break;
        case HML_PAIRWISE_NONE: hml_column_ref(a), hml_column_ref(b), outs[0] = a, outs[1] = b; break;
        }
        for (size_t k = 0; k < f->noutputs; k++)
            if (!outs[k]) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    hml_column_unref(a);
    hml_column_unref(b);
    return rc;
}

/* Computes feature f's outputs into a new frame (one column per output). */
static enum hml_status compute(struct refresh *r, const struct hml_feature *f, struct hml_frame **out,
                               struct hml_error *err)
{
    struct hml_expr_env env = {.features = NULL, .lookup = ref_lookup, .ctx = r};
    struct hml_column *cols[2] = {NULL, NULL};
    enum hml_status rc = HML_OK;
    size_t j;
    if (f->type == HML_FEATURE_ENTITY) rc = compute_entity(r, f, cols, err);
    else if (f->type == HML_FEATURE_REGIME) rc = compute_regime(r, f, &env, &cols[0], err);
    else if (f->expr) rc = hml_expr_eval(f->expr, r->work, &env, &cols[0], err);
    else if (!(rc = hml_frame_lookup(r->work, f->column, &j, err))) hml_column_ref(cols[0] = r->work->cols[j]);
    struct hml_frame *o = rc ? NULL : hml_frame_new();
    if (!rc && !o) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    for (size_t k = 0; !rc && k < f->noutputs; k++) rc = hml_frame_add(o, f->outputs[k], cols[k], err);
    for (size_t k = 0; k < 2; k++) hml_column_unref(cols[k]);
    if (rc) {
        hml_frame_free(o);
        return rc;
    }
    atomic_fetch_add(&computations, 1);
    *out = o;
    return HML_OK;
}

/* ---- the refresh ------------------------------------------------------------------------------------ */

/* Fingerprint of f's outputs as the table holds them; false when one is missing. */
static bool current_fp(const struct refresh *r, const struct hml_feature *f, uint64_t *fp, struct hml_error *err,
                       enum hml_status *rc)
{
    size_t idx[2];
    for (size_t k = 0; k < f->noutputs; k++) {
        long j = hml_frame_find(r->work, f->outputs[k]);
        if (j < 0) return false;
        idx[k] = (size_t)j;
    }
    struct hml_frame *sel = hml_frame_select(r->work, idx, f->noutputs);
    if (!sel) return *rc = hml_fail(err, HML_ENOMEM, "features", "out of memory"), false;
    *fp = hml_frame_fingerprint(sel);
    hml_frame_free(sel);
    return true;
}

static enum hml_status install(struct refresh *r, const struct hml_frame *o, struct hml_error *err)
{
    enum hml_status rc = HML_OK;
    for (size_t k = 0; !rc && k < o->ncols; k++) {
        long j = hml_frame_find(r->work, o->names[k]);
        rc = j >= 0 ? hml_frame_replace(r->work, (size_t)j, o->cols[k], err) : hml_frame_add(r->work, o->names[k], o->cols[k], err);
    }
    return rc;
}

static bool cached_matches(const struct hml_frame *o, const struct hml_feature *f, size_t nrows)
{
    if (o->ncols != f->noutputs || o->nrows != nrows) return false;
    for (size_t k = 0; k < o->ncols; k++)
        if (strcmp(o->names[k], f->outputs[k])) return false;
    return true;
}

static enum hml_status guard_outputs(struct refresh *r, const struct hml_feature *f, const struct hml_frame *o,
                                     struct hml_error *err)
{
    for (size_t k = 0; r->have_target && k < o->ncols; k++) {
        enum hml_status rc = hml_feature_guard_column(f->name, o->names[k], o->cols[k], &r->target, err);
        if (rc) return rc;
    }
    return HML_OK;
}

static const char *const status_names[] = {"computed", "cached", "fresh", "declared"};
enum { ST_COMPUTED, ST_CACHED, ST_FRESH, ST_DECLARED };

static enum hml_status report_item(struct refresh *r, const struct hml_feature *f, int status)
{
    json_t *outs = json_array();
    for (size_t k = 0; outs && k < f->noutputs; k++) json_array_append_new(outs, json_string(f->outputs[k]));
    json_t *item = json_pack("{s:s,s:s,s:o*}", "name", f->name, "status", status_names[status], "outputs", outs);
    if (!item || json_array_append_new(r->rep->items, item)) return HML_ENOMEM;
    if (status == ST_COMPUTED) r->rep->computed++;
    else if (status == ST_CACHED) r->rep->cached++;
    else r->rep->fresh++;
    return HML_OK;
}

/* Brings feature i up to date in r->work. */
static enum hml_status refresh_one(struct refresh *r, size_t i, struct hml_error *err)
{
    const struct hml_feature *f = &r->set->items[i];
    size_t j;
    if (f->declares) {
        enum hml_status rc = hml_frame_lookup(r->work, f->column, &j, err);
        return rc ? rc : report_item(r, f, ST_DECLARED) ? hml_fail(err, HML_ENOMEM, "features", "out of memory") : HML_OK;
    }
    char key[65];
    enum hml_status rc = feature_key(r, f, key, err);
    uint64_t have = 0, want = 0;
    bool present = !rc && current_fp(r, f, &have, err, &rc);
    bool hit = !rc && hml__fcache_lookup(r->o->cache, f->name, key, &want);
    if (rc) return rc;
    if (hit && present && have == want) return report_item(r, f, ST_FRESH) ? hml_fail(err, HML_ENOMEM, "features", "out of memory") : HML_OK;
    struct hml_frame *o = NULL;
    struct hml_error ignored;
    int status = ST_CACHED;
    /* A cache file that does not read back is a miss, not an error: it is rebuilt. */
    if (!hit || hml__fcache_load(r->o->cache, f->name, key, &o, &ignored) || !cached_matches(o, f, r->work->nrows)) {
        hml_frame_free(o);
        o = NULL;
        status = ST_COMPUTED;
        rc = compute(r, f, &o, err);
        if (!rc) rc = guard_outputs(r, f, o, err);
        if (!rc) want = hml_frame_fingerprint(o), rc = hml__fcache_put(r->o->cache, f->name, key, o, want, err);
        if (!rc) hml_feature_notices(r->set, i, r->o->config, r->rep->warnings);
    }
    if (!rc && !(present && hml_frame_fingerprint(o) == have)) {
        r->rep->changed = true;
        rc = install(r, o, err);
    }
    if (!rc && report_item(r, f, status)) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    hml_frame_free(o);
    return rc;
}

enum hml_status hml_features_refresh(const struct hml_feature_opts *o, const struct hml_frame *table,
                                     struct hml_frame **out, struct hml_feature_report *rep, struct hml_error *err)
{
    HML_ASSERT(o && table && out && rep);
    memset(rep, 0, sizeof *rep);
    struct refresh r = {.o = o, .rep = rep};
    rep->items = json_array();
    rep->warnings = json_array();
    enum hml_status rc = rep->items && rep->warnings ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) rc = hml_features_load(o->config, &r.set, err);
    if (!rc) rc = hml_features_guard(r.set, o->config, err);
    if (!rc && !(r.work = hml_frame_clone(table))) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) {
        /* Without a target (none set yet) the statistical guardrails have nothing to compare. */
        struct hml_error terr;
        enum hml_status trc = hml_target_load(table, o->config, &r.target, &terr);
        r.have_target = trc == HML_OK;
        if (trc == HML_ENOMEM) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    for (size_t i = 0; !rc && r.set && i < r.set->n; i++) {
        if (!r.set->items[i].enabled) continue;
        rc = refresh_one(&r, i, err);
        if (rc && rc != HML_ENOMEM) hml_error_prefix(err, "feature '%s'", r.set->items[i].name);
    }
    for (size_t i = 0; i < r.nsrc; i++) hml_frame_free(r.src[i].f);
    if (r.have_target) hml_target_fini(&r.target);
    hml_features_free(r.set);
    if (rc) {
        hml_frame_free(r.work);
        hml_feature_report_fini(rep);
        return rc;
    }
    *out = r.work;
    return HML_OK;
}
