/* t_data_views.c — the `data` tool's formula edits (derive_column, drop_rows), the
 * outlier report, and views: add/update/remove, batch add, preview, list, DAG and
 * set_features_view. Every change builds the new config (and table) first, checks it,
 * and commits once; view cache files are written only after the action succeeded. */
#include "data_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/expr.h"
#include "harness/stats.h"
#include "harness/view.h"

#define PREVIEW_ROWS_MAX 100
#define PREVIEW_COLS_MAX 12

/* ---- shared ---------------------------------------------------------------------------------- */

static void warn_all(struct hml_result *res, const json_t *warnings)
{
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w) hml_result_warn(res, "%s", json_string_value(w));
}

/* Cache files are a convenience: failing to write them is a warning, never a failure. */
static void flush_cache(struct hml_views *v, struct hml_result *res)
{
    struct hml_error e;
    if (hml_views_flush(v, &e)) hml_result_warn(res, "view cache not written: %s", e.message);
}

static json_t *cell_json(const struct hml_column *c, size_t i)
{
    if (hml_column_is_null(c, i)) return json_null();
    switch (c->type) {
    case HML_TYPE_F64: return isfinite(hml_f64(c)[i]) ? json_real(hml_f64(c)[i]) : json_null();
    case HML_TYPE_I64: return json_integer((json_int_t)hml_i64(c)[i]);
    case HML_TYPE_BOOL: return json_boolean(hml_bool(c)[i]);
    default: {
        char buf[256];
        hml_column_format(c, i, buf, sizeof buf);
        return json_string(buf);
    }
    }
}


/* ---- derive_column ----------------------------------------------------------------------------- */

static void describe_column(const struct hml_column *c, struct hml_result *res)
{
    struct hml_col_stats st;
    struct hml_error e;
    char a[32], b[32], d[32];
    if (hml_col_stats(c, &st, &e)) return;
    if (hml_column_is_numeric(c) && st.n > st.nulls)
        hml_buf_printf(&res->text, "Range %s to %s, mean %s; %zu null(s) of %zu rows.\n", hml__fmt_num(a, st.min),
                       hml__fmt_num(b, st.max), hml__fmt_num(d, st.mean), st.nulls, st.n);
    else
        hml_buf_printf(&res->text, "%zu distinct value(s); %zu null(s) of %zu rows.\n", st.distinct, st.nulls, st.n);
    json_object_set_new(res->data, "nulls", json_integer((json_int_t)st.nulls));
}

static void derive_warnings(const struct hml_project *p, const struct hml_expr *e, size_t nkeys,
                            struct hml_result *res)
{
    const json_t *data = json_object_get(p->cfg->root, "data");
    const char *target = hml_json_str(data, "target_column", NULL);
    size_t n;
    const char *const *cols = hml_expr_columns(e, &n);
    for (size_t i = 0; target && i < n; i++)
        if (!strcmp(cols[i], target))
            hml_result_warn(res, "the formula reads the target '%s': as a feature it would leak the answer", target);
    if (hml_expr_columnwise(e) && !nkeys)
        hml_result_warn(res, "a column-wise function (zscore, minmax, rank_pct, winsorize, pct_of_total) uses every row, "
                             "so each backtest fold sees the others; a declared feature is computed per fold");
    if (!hml_expr_columnwise(e) && nkeys)
        hml_result_warn(res, "group_by has no effect: the formula has no column-wise function to compute per group");
}

DATA_ACTION(hml__data_derive_column)
{
    const char *name = hml_param_str(call, "name", ""), *src = hml_param_str(call, "expression", "");
    json_t *by = hml_param_json(call, "group_by");
    const char *keys[HML_VIEW_KEYS_MAX];
    size_t nk = 0;
    if (!*name || strlen(name) > 256) {
        hml_fail(err, HML_EINVAL, "data.derive_column", "the new column needs a name of 1 to 256 characters");
        return hml_hint(err, "pass name=\"fare_per_person\"");
    }
    if (json_array_size(by) > HML_VIEW_KEYS_MAX) {
        hml_fail(err, HML_ELIMIT, "data.derive_column", "group_by names %zu columns; the limit is %u",
                 json_array_size(by), HML_VIEW_KEYS_MAX);
        return hml_hint(err, "group by fewer columns");
    }
    for (size_t i = 0; i < json_array_size(by); i++) keys[nk++] = json_string_value(json_array_get(by, i));
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    struct hml_expr *e = NULL;
    struct hml_column *c = NULL;
    struct hml_frame *t = NULL;
    rc = hml_expr_parse(src, &e, err);
    for (size_t i = 0; !rc && i < nk; i++) {
        size_t idx;
        rc = hml_frame_lookup(p->table, keys[i], &idx, err);
        if (rc) hml_error_prefix(err, "group_by");
    }
    if (!rc) rc = hml_view_eval_by(e, p->table, keys, nk, &c, err);
    bool replaced = !rc && hml_frame_find(p->table, name) >= 0;
    if (!rc && !(t = hml_frame_clone(p->table))) rc = hml_fail(err, HML_ENOMEM, "data.derive_column", "out of memory");
    if (!rc) {
        long j = hml_frame_find(t, name);
        rc = j >= 0 ? hml_frame_replace(t, (size_t)j, c, err) : hml_frame_add(t, name, c, err);
    }
    if (!rc) rc = hml__commit(p, t, NULL, err);
    if (!rc) {
        hml_buf_printf(&res->text, "%s column '%s' (%s) = %s%s.\n", replaced ? "Replaced" : "Added", name,
                       hml_type_name(c->type), src, nk ? " (column-wise parts per group)" : "");
        if (replaced) hml_result_warn(res, "the existing column '%s' was replaced", name);
        derive_warnings(p, e, nk, res);
        describe_column(c, res);
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set_new(res->data, "type", json_string(hml_type_name(c->type)));
        json_object_set_new(res->data, "replaced", json_boolean(replaced));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)t->nrows));
    }
    hml_column_unref(c);
    hml_expr_free(e);
    hml_frame_free(t);
    hml__project_free(p);
    return rc;
}

/* ---- drop_rows -------------------------------------------------------------------------------- */

/* keep[i] = 0 for the rows to drop; *dropped counts them. */
static enum hml_status rows_to_drop(const struct hml_call *call, const struct hml_frame *t, uint8_t *keep,
                                    size_t *dropped, struct hml_result *res, struct hml_error *err)
{
    const char *column = hml_param_str(call, "column", NULL), *cond = hml_param_str(call, "condition", NULL);
    *dropped = 0;
    memset(keep, 1, t->nrows);
    if (!cond || !strcasecmp(cond, "null")) {
        size_t j;
        if (!column) {
            hml_fail(err, HML_EINVAL, "data.drop_rows", "say which rows to drop");
            return hml_hint(err, "pass condition=\"fare < 0\" (a formula), or column=age to drop rows where age is null");
        }
        enum hml_status rc = hml_frame_lookup(t, column, &j, err);
        if (rc) return rc;
        const struct hml_column *c = t->cols[j];
        for (size_t i = 0; i < t->nrows; i++)
            if (hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]))) keep[i] = 0, ++*dropped;
        return HML_OK;
    }
    if (column) hml_result_warn(res, "column '%s' ignored: the condition formula names the columns it reads", column);
    struct hml_expr *e = NULL;
    size_t *rows = NULL, n = 0;
    enum hml_status rc = hml_expr_parse(cond, &e, err);
    if (!rc) rc = hml_expr_filter(e, t, NULL, &rows, &n, err);
    for (size_t i = 0; !rc && i < n; i++) keep[rows[i]] = 0;
    *dropped = n;
    hml_free(rows);
    hml_expr_free(e);
    if (rc == HML_EINVAL && strstr(err->message, "bool")) hml_hint(err, "write a condition that is true for the rows to drop, e.g. \"fare < 0\", or condition=null with column");
    return rc;
}

DATA_ACTION(hml__data_drop_rows)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    size_t n = p->table->nrows, dropped = 0, k = 0;
    uint8_t *keep = hml_malloc(n + 1);
    size_t *rows = hml_malloc((n + 1) * sizeof *rows);
    struct hml_frame *t = NULL;
    if (!keep || !rows) rc = hml_fail(err, HML_ENOMEM, "data.drop_rows", "out of memory");
    if (!rc) rc = rows_to_drop(call, p->table, keep, &dropped, res, err);
    if (!rc && dropped == n && n) {
        hml_fail(err, HML_EINVAL, "data.drop_rows", "the condition matches all %zu rows; nothing would be left", n);
        rc = hml_hint(err, "the rows matching the condition are dropped: check its direction (e.g. \"age < 0\", not \"age >= 0\")");
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (keep[i]) rows[k++] = i;
    if (!rc && dropped) {
        t = hml_frame_take(p->table, rows, k);
        rc = t ? hml__commit(p, t, NULL, err) : hml_fail(err, HML_ENOMEM, "data.drop_rows", "out of memory");
    }
    if (!rc) {
        char a[32], b[32];
        if (dropped)
            hml_buf_printf(&res->text, "Dropped %s row(s); %s remain.\n", hml__fmt_count(a, dropped), hml__fmt_count(b, k));
        else hml_buf_puts(&res->text, "No row matched; the table is unchanged.\n");
        json_object_set_new(res->data, "dropped", json_integer((json_int_t)dropped));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)k));
    }
    hml_free(keep);
    hml_free(rows);
    hml_frame_free(t);
    hml__project_free(p);
    return rc;
}

/* ---- detect_outliers ---------------------------------------------------------------------------- */

struct outliers {
    const char *column;
    double lower, upper;
    size_t below, above, n;
};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile by linear interpolation between order statistics (numpy/pandas default). */
static double quantile(const double *s, size_t m, double q)
{
    double h = (double)(m - 1) * q, fl = floor(h);
    size_t i = (size_t)fl;
    return i + 1 >= m ? s[m - 1] : s[i] + (h - fl) * (s[i + 1] - s[i]);
}

static enum hml_status outliers_of(const struct hml_column *c, bool zscore, double t, struct outliers *o,
                                   struct hml_error *err)
{
    double *s = hml_malloc((c->n + 1) * sizeof *s);
    if (!s) return hml_fail(err, HML_ENOMEM, "data.detect_outliers", "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++) {
        double v = hml_column_num(c, i);
        if (!isnan(v)) s[m++] = v;
    }
    o->n = m;
    o->below = o->above = 0;
    o->lower = o->upper = NAN;
    if (m >= 2) {
        if (zscore) {
            double mean = 0, ss = 0;
            for (size_t i = 0; i < m; i++) mean += s[i];
            mean /= (double)m;
            for (size_t i = 0; i < m; i++) ss += (s[i] - mean) * (s[i] - mean);
            double sd = sqrt(ss / (double)(m - 1));
            o->lower = mean - t * sd;
            o->upper = mean + t * sd;
        } else {
            qsort(s, m, sizeof *s, cmp_d);
            double q1 = quantile(s, m, 0.25), q3 = quantile(s, m, 0.75);
            o->lower = q1 - t * (q3 - q1);
            o->upper = q3 + t * (q3 - q1);
        }
        for (size_t i = 0; i < m; i++) o->below += s[i] < o->lower, o->above += s[i] > o->upper;
    }
    hml_free(s);
    return HML_OK;
}

static int cmp_outliers(const void *a, const void *b)
{
    const struct outliers *x = a, *y = b;
    size_t nx = x->below + x->above, ny = y->below + y->above;
    return (nx < ny) - (nx > ny);
}

DATA_ACTION(hml__data_detect_outliers)
{
    const char *method = hml_param_str(call, "method", "iqr"), *column = hml_param_str(call, "column", NULL);
    bool z = !strcmp(method, "zscore");
    double t = hml_param_num(call, "threshold", z ? 3.0 : 1.5);
    if (!(t > 0) || t > 1e6) {
        hml_fail(err, HML_EINVAL, "data.detect_outliers", "threshold must be a positive number, got %g", t);
        return hml_hint(err, "typical thresholds: 1.5 (iqr; 3 for extreme ones) or 3 (zscore)");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    const struct hml_frame *f = p->table;
    struct outliers *o = hml_calloc(f->ncols + 1, sizeof *o);
    size_t n = 0;
    if (!o) rc = hml_fail(err, HML_ENOMEM, "data.detect_outliers", "out of memory");
    for (size_t j = 0; !rc && j < f->ncols; j++) {
        const struct hml_column *c = f->cols[j];
        if (column && strcmp(f->names[j], column)) continue;
        if (!column && (c->type == HML_TYPE_BOOL || !hml_column_is_numeric(c))) continue;
        if (!hml_column_is_numeric(c)) {
            hml_fail(err, HML_EINVAL, "data.detect_outliers", "'%s' holds %s values; outliers need numbers", column,
                     hml_type_name(c->type));
            rc = hml_hint(err, "pick a numeric column, or leave column out to check every numeric column");
            break;
        }
        o[n].column = f->names[j];
        rc = outliers_of(c, z, t, &o[n++], err);
    }
    size_t idx;
    if (!rc && column && !n) rc = hml_frame_lookup(f, column, &idx, err);
    if (!rc) {
        qsort(o, n, sizeof *o, cmp_outliers);
        json_t *list = json_array();
        hml_buf_printf(&res->text, "Outliers by %s (threshold %g); nothing was changed.\n\n", z ? "z-score" : "IQR", t);
        hml_buf_puts(&res->text, "| column | lower bound | upper bound | below | above | share |\n|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++) {
            char a[32], b[32];
            double share = o[i].n ? 100.0 * (double)(o[i].below + o[i].above) / (double)o[i].n : 0;
            if (i < 20)
                hml_buf_printf(&res->text, "| %s | %s | %s | %zu | %zu | %.1f%% |\n", o[i].column, hml__fmt_num(a, o[i].lower),
                               hml__fmt_num(b, o[i].upper), o[i].below, o[i].above, share);
            json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:I,s:I,s:I}", "column", o[i].column, "lower",
                                                  isnan(o[i].lower) ? json_null() : json_real(o[i].lower), "upper",
                                                  isnan(o[i].upper) ? json_null() : json_real(o[i].upper), "below",
                                                  (json_int_t)o[i].below, "above", (json_int_t)o[i].above, "values",
                                                  (json_int_t)o[i].n));
        }
        if (n > 20) hml_buf_printf(&res->text, "… %zu more columns in the JSON result\n", n - 20);
        if (!n) hml_buf_puts(&res->text, "(no numeric columns)\n");
        hml_buf_puts(&res->text, "\ndrop_rows --condition \"<column> > <bound>\" removes them; a clip() formula caps them.\n");
        json_object_set_new(res->data, "method", json_string(z ? "zscore" : "iqr"));
        json_object_set_new(res->data, "threshold", json_real(t));
        json_object_set_new(res->data, "columns", list);
    }
    hml_free(o);
    hml__project_free(p);
    return rc;
}

/* ---- views: shared --------------------------------------------------------------------------------- */

static enum hml_status check_view_name(const char *name, const json_t *root, bool must_exist, const char *where,
                                       struct hml_error *err)
{
    const json_t *views = json_object_get(root, "views");
    if (must_exist) {
        if (json_object_get(views, name)) return HML_OK;
        const char *names[HML_VIEW_VIEWS_MAX];
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)views, k, v) if (n < HML_VIEW_VIEWS_MAX) names[n++] = k;
        hml_fail(err, HML_ENOTFOUND, where, "no view named '%s'", name);
        if (!n) return hml_hint(err, "there are no views yet; data add_view makes one");
        return hml_error_choices(err, name, names, n);
    }
    size_t len = strlen(name);
    for (const char *s = name; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')) {
            hml_fail(err, HML_EINVAL, where, "view name '%s' has the character '%c'", name, *s);
            return hml_hint(err, "use letters, digits, '_' and '-' only");
        }
    if (!len || len > HML_VIEW_NAME_MAX) {
        hml_fail(err, HML_EINVAL, where, "a view name has 1 to %u characters", HML_VIEW_NAME_MAX);
        return hml_hint(err, "pass a short name, e.g. name=\"team_form\"");
    }
    if (json_object_get(views, name)) {
        hml_fail(err, HML_ECONFLICT, where, "a view named '%s' exists already", name);
        return hml_hint(err, "change it with data update_view --name %s, or pick another name", name);
    }
    if (json_object_get(json_object_get(root, "sources"), name)) {
        hml_fail(err, HML_ECONFLICT, where, "a source is named '%s'; views and sources share one set of names", name);
        return hml_hint(err, "pick another name for the view, e.g. '%s_view'", name);
    }
    return HML_OK;
}

/* The view definition from the fields given (merged onto `base` when updating). */
static enum hml_status view_def(const json_t *src, const json_t *base, json_t **out, const char *where,
                                struct hml_error *err)
{
    json_t *def = base ? json_deep_copy(base) : json_object();
    if (!def) return hml_fail(err, HML_ENOMEM, where, "out of memory");
    const json_t *source = json_object_get(src, "source"), *steps = json_object_get(src, "steps");
    const json_t *desc = json_object_get(src, "description");
    if (source && !json_is_string(source)) goto bad_source;
    if (source) json_object_set(def, "source", (json_t *)source);
    if (!json_object_get(def, "source")) goto bad_source;
    if (steps && !json_is_array(steps)) {
        json_decref(def);
        hml_fail(err, HML_EINVAL, where, "'steps' must be a list of step objects");
        return hml_hint(err, "e.g. steps=[{\"op\": \"filter\", \"expr\": \"season >= 2010\"}]");
    }
    if (steps) json_object_set(def, "steps", (json_t *)steps);
    else if (!json_object_get(def, "steps")) json_object_set_new(def, "steps", json_array());
    if (desc && !json_is_string(desc)) {
        json_decref(def);
        hml_fail(err, HML_EINVAL, where, "'description' must be text");
        return hml_hint(err, "pass description=\"what the view is for\"");
    }
    if (desc) json_object_set(def, "description", (json_t *)desc);
    *out = def;
    return HML_OK;
bad_source:
    json_decref(def);
    hml_fail(err, HML_EINVAL, where, "a view needs a source: the name of a data source or another view");
    return hml_hint(err, "pass source=<name> (data list_sources and data list_views show the names)");
}

/* Views that read `name` (directly), in config order. */
static size_t readers_of(const json_t *root, const char *name, const char **out, size_t cap)
{
    size_t n = 0;
    const char *k;
    json_t *def;
    json_object_foreach(json_object_get(root, "views"), k, def) {
        if (!strcmp(k, name)) continue;
        bool reads = !strcmp(hml_json_str(def, "source", ""), name);
        const json_t *steps = json_object_get(def, "steps");
        const char *refs[HML_VIEW_STEPS_MAX];
        size_t m = json_is_array(steps) ? hml_view_step_refs(steps, refs, HML_VIEW_STEPS_MAX) : 0;
        for (size_t i = 0; i < m; i++) reads |= !strcmp(refs[i], name);
        if (reads && n < cap) out[n++] = k;
    }
    return n;
}

/* Checks the graph and the dry schema pass of `name` and of every view downstream of it. */
static enum hml_status check_views(const struct hml_project *p, const json_t *root, const char *name,
                                   struct hml_frame **schema, struct hml_result *res, struct hml_views **out,
                                   struct hml_error *err)
{
    struct hml_views *v = NULL;
    enum hml_status rc = hml_views_open(p->dir, root, &v, err);
    if (!rc) rc = hml_views_schema(v, name, schema, err);
    /* Downstream views: breadth-first over readers. */
    const char *queue[HML_VIEW_VIEWS_MAX];
    size_t qn = 0, qi = 0;
    if (!rc) qn = readers_of(root, name, queue, HML_VIEW_VIEWS_MAX);
    while (!rc && qi < qn) {
        const char *d = queue[qi++];
        rc = hml_views_schema(v, d, NULL, err);
        if (rc) {
            hml_error_prefix(err, "this breaks view '%s', which reads '%s'", d, name);
            break;
        }
        const char *more[HML_VIEW_VIEWS_MAX];
        size_t m = readers_of(root, d, more, HML_VIEW_VIEWS_MAX);
        for (size_t i = 0; i < m && qn < HML_VIEW_VIEWS_MAX; i++) {
            bool seen = false;
            for (size_t k = 0; k < qn; k++) seen |= !strcmp(queue[k], more[i]);
            if (!seen) queue[qn++] = more[i];
        }
    }
    if (!rc) warn_all(res, hml_views_warnings(v));
    if (rc) {
        hml_views_free(v);
        return rc;
    }
    *out = v;
    return HML_OK;
}

static void describe_schema(const char *name, const json_t *def, const struct hml_frame *schema, struct hml_result *res)
{
    json_object_set_new(res->data, "name", json_string(name));
    json_object_set_new(res->data, "source", json_string(hml_json_str(def, "source", "")));
    json_object_set_new(res->data, "steps", json_integer((json_int_t)json_array_size(json_object_get(def, "steps"))));
    json_object_set_new(res->data, "columns", hml__columns_json(schema));
    hml_buf_puts(&res->text, "\nOutput columns (checked without computing the view):\n\n");
    hml_buf_puts(&res->text, "| column | type |\n|---|---|\n");
    for (size_t j = 0; j < schema->ncols && j < 30; j++)
        hml_buf_printf(&res->text, "| %s | %s |\n", schema->names[j], hml_type_name(schema->cols[j]->type));
    if (schema->ncols > 30) hml_buf_printf(&res->text, "… and %zu more\n", schema->ncols - 30);
}

/* Is `name` the features view or upstream of it? */
static bool feeds_features(const json_t *root, const char *name)
{
    const char *fv = hml_json_str(json_object_get(root, "data"), "features_view", NULL);
    if (!fv) return false;
    const char *queue[HML_VIEW_VIEWS_MAX];
    size_t qn = 1, qi = 0;
    queue[0] = name;
    while (qi < qn) {
        const char *d = queue[qi++];
        if (!strcmp(d, fv)) return true;
        const char *more[HML_VIEW_VIEWS_MAX];
        size_t m = readers_of(root, d, more, HML_VIEW_VIEWS_MAX);
        for (size_t i = 0; i < m && qn < HML_VIEW_VIEWS_MAX; i++) {
            bool seen = false;
            for (size_t k = 0; k < qn; k++) seen |= !strcmp(queue[k], more[i]);
            if (!seen) queue[qn++] = more[i];
        }
    }
    return false;
}

/* ---- add_view / update_view --------------------------------------------------------------------- */

/* Adds or updates one view in root (checked), without committing. */
static enum hml_status stage_view(const struct hml_project *p, json_t *root, const json_t *item, bool update,
                                  const char *where, struct hml_result *res, struct hml_views **v_out,
                                  struct hml_frame **schema, struct hml_error *err)
{
    const char *name = hml_json_str(item, "name", "");
    enum hml_status rc = check_view_name(name, root, update, where, err);
    json_t *def = NULL, *views = json_object_get(root, "views");
    if (!rc && update && !json_object_get(item, "source") && !json_object_get(item, "steps") &&
        !json_object_get(item, "description")) {
        hml_fail(err, HML_EINVAL, where, "nothing to update: pass source, steps or description");
        rc = hml_hint(err, "e.g. data update_view --name %s --steps '[...]' (steps replace the list)", name);
    }
    if (!rc) rc = view_def(item, update ? json_object_get(views, name) : NULL, &def, where, err);
    if (!rc && !views) json_object_set_new(root, "views", views = json_object());
    if (!rc && !views) rc = hml_fail(err, HML_ENOMEM, where, "out of memory");
    if (!rc) json_object_set_new(views, name, def);
    if (!rc) rc = check_views(p, root, name, schema, res, v_out, err);
    return rc;
}

static enum hml_status add_or_update(struct hml_call *call, struct hml_result *res, bool update, struct hml_error *err)
{
    const char *where = update ? "data.update_view" : "data.add_view";
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    struct hml_views *v = NULL;
    struct hml_frame *schema = NULL;
    const char *name = hml_param_str(call, "name", "");
    if (!root) rc = hml_fail(err, HML_ENOMEM, where, "out of memory");
    if (!rc) rc = stage_view(p, root, call->params, update, where, res, &v, &schema, err);
    if (!rc) rc = hml__commit(p, NULL, root, err);
    if (!rc) {
        const json_t *def = json_object_get(json_object_get(root, "views"), name);
        hml_buf_printf(&res->text, "%s view '%s' ← '%s' (%zu step(s)).\n", update ? "Updated" : "Added", name,
                       hml_json_str(def, "source", ""), json_array_size(json_object_get(def, "steps")));
        describe_schema(name, def, schema, res);
        if (update && feeds_features(root, name))
            hml_result_warn(res, "the prediction table was built from this view; run data set_features_view --name %s "
                                 "to refresh it",
                            hml_json_str(json_object_get(root, "data"), "features_view", ""));
        flush_cache(v, res);
    }
    hml_frame_free(schema);
    hml_views_free(v);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

DATA_ACTION(hml__data_add_view) { return add_or_update(call, res, false, err); }

DATA_ACTION(hml__data_update_view) { return add_or_update(call, res, true, err); }

DATA_ACTION(hml__data_add_views_batch)
{
    json_t *items = hml_param_json(call, "views");
    if (!json_is_array(items) || !json_array_size(items)) {
        hml_fail(err, HML_EINVAL, "data.add_views_batch", "'views' must be a non-empty list");
        return hml_hint(err, "pass views=[{\"name\": \"recent\", \"source\": \"games\", \"steps\": [...]}, …]");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    bool atomic = hml_param_bool(call, "atomic", false);
    json_t *root = json_deep_copy(p->cfg->root), *results = json_array();
    size_t i, ok = 0;
    json_t *item;
    json_array_foreach(items, i, item) {
        struct hml_error ierr;
        struct hml_views *v = NULL;
        struct hml_frame *schema = NULL;
        hml_error_clear(&ierr);
        const char *name = json_is_object(item) ? hml_json_str(item, "name", "?") : "?";
        json_t *try_root = json_deep_copy(root);
        enum hml_status irc = HML_OK;
        if (!json_is_object(item)) {
            hml_fail(&ierr, HML_EINVAL, "data.add_views_batch", "item %zu is not an object", i + 1);
            irc = hml_hint(&ierr, "each item is {\"name\", \"source\", \"steps\"?, \"description\"?}");
        } else if (!try_root) {
            irc = hml_fail(&ierr, HML_ENOMEM, "data.add_views_batch", "out of memory");
        }
        if (!irc) irc = stage_view(p, try_root, item, false, "data.add_views_batch", res, &v, &schema, &ierr);
        if (!irc && !atomic) irc = hml__commit(p, NULL, try_root, &ierr);
        if (!irc) {
            json_decref(root);
            root = try_root;
            try_root = NULL;
            ok++;
            if (!atomic) flush_cache(v, res);
            json_array_append_new(results, json_pack("{s:s,s:b,s:I}", "name", name, "ok", 1, "columns",
                                                     (json_int_t)schema->ncols));
            hml_buf_printf(&res->text, "- %s: added (%zu columns)\n", name, schema->ncols);
        } else {
            json_array_append_new(results, json_pack("{s:s,s:b,s:s,s:s}", "name", name, "ok", 0, "error", ierr.message,
                                                     "hint", ierr.hint));
            hml_buf_printf(&res->text, "- %s: error: %s (%s)\n", name, ierr.message, ierr.hint);
            if (atomic) *err = ierr, rc = ierr.code;
        }
        json_decref(try_root);
        hml_frame_free(schema);
        hml_views_free(v);
        if (rc) break;
    }
    if (!rc && atomic) rc = hml__commit(p, NULL, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Added %zu of %zu view(s).\n", ok, json_array_size(items));
        json_object_set_new(res->data, "added", json_integer((json_int_t)ok));
        json_object_set(res->data, "results", results);
    } else {
        hml_error_prefix(err, "nothing added (atomic)");
    }
    json_decref(results);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- remove_view ------------------------------------------------------------------------------------ */

static void remove_cache_files(const char *dir, const char *name)
{
    char *cache = hml_path_join(dir, ".harness/cache/views");
    DIR *d = cache ? opendir(cache) : NULL;
    size_t len = strlen(name);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t el = strlen(e->d_name);
        if (el != len + 21 || strncmp(e->d_name, name, len) || e->d_name[len] != '-' || strcmp(e->d_name + el - 4, ".hfr"))
            continue;
        char *path = hml_path_join(cache, e->d_name);
        if (path) unlink(path);
        hml_free(path);
    }
    if (d) closedir(d);
    hml_free(cache);
}

DATA_ACTION(hml__data_remove_view)
{
    const char *name = hml_param_str(call, "name", "");
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    rc = root ? check_view_name(name, root, true, "data.remove_view", err)
              : hml_fail(err, HML_ENOMEM, "data.remove_view", "out of memory");
    const char *readers[HML_VIEW_VIEWS_MAX];
    size_t n = rc ? 0 : readers_of(root, name, readers, HML_VIEW_VIEWS_MAX);
    const char *fv = hml_json_str(json_object_get(root, "data"), "features_view", NULL);
    bool is_features = fv && !strcmp(fv, name);
    if (!rc && (n || is_features)) {
        struct hml_buf b = HML_BUF_INIT;
        for (size_t i = 0; i < n; i++) hml_buf_printf(&b, "%s'%s'", i ? ", " : "", readers[i]);
        hml_fail(err, HML_ECONFLICT, "data.remove_view", "view '%s' is still used: %s%s%s%s", name,
                 n ? "read by view(s) " : "", hml_buf_str(&b), n && is_features ? "; " : "",
                 is_features ? "it is the features view (data.features_view)" : "");
        rc = hml_hint(err, "%s", n ? "remove or update those views first (data remove_view / update_view)"
                                   : "point the project at another view first (data set_features_view --name <view>)");
        hml_buf_free(&b);
    }
    if (!rc) {
        json_object_del(json_object_get(root, "views"), name);
        rc = hml__commit(p, NULL, root, err);
    }
    if (!rc) {
        remove_cache_files(p->dir, name);
        hml_buf_printf(&res->text, "Removed view '%s'.\n", name);
        json_object_set_new(res->data, "name", json_string(name));
    }
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- preview_view ----------------------------------------------------------------------------------- */

DATA_ACTION(hml__data_preview_view)
{
    const char *name = hml_param_str(call, "name", "");
    long long nrows = hml_param_int(call, "n_rows", 5);
    if (nrows < 1 || nrows > PREVIEW_ROWS_MAX) {
        hml_fail(err, HML_EINVAL, "data.preview_view", "n_rows must be between 1 and %d, got %lld", PREVIEW_ROWS_MAX, nrows);
        return hml_hint(err, "pass n_rows=10; the whole view is cached and set_features_view uses all of it");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    struct hml_views *v = NULL;
    struct hml_frame *f = NULL;
    char fp[65] = "";
    rc = check_view_name(name, p->cfg->root, true, "data.preview_view", err);
    if (!rc) rc = hml_views_open(p->dir, p->cfg->root, &v, err);
    if (!rc) rc = hml_views_materialise(v, name, &f, err);
    if (!rc) rc = hml_views_fingerprint(v, name, fp, err);
    if (!rc) {
        char a[32];
        const json_t *computed = hml_views_computed(v);
        bool fresh = json_array_size(computed) > 0;
        hml_buf_printf(&res->text, "View '%s': %s rows × %zu columns (%s).\n\n", name, hml__fmt_count(a, f->nrows),
                       f->ncols, fresh ? "computed" : "from cache");
        hml__preview_rows(f, (size_t)nrows, PREVIEW_COLS_MAX, &res->text);
        hml_buf_puts(&res->text, "\n");
        hml__columns_table(f, 30, &res->text);
        warn_all(res, hml_views_warnings(v));
        json_t *rows = json_array();
        for (size_t i = 0; i < (size_t)nrows && i < f->nrows; i++) {
            json_t *row = json_object();
            for (size_t j = 0; j < f->ncols; j++) json_object_set_new(row, f->names[j], cell_json(f->cols[j], i));
            json_array_append_new(rows, row);
        }
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)f->nrows));
        json_object_set_new(res->data, "columns", hml__columns_json(f));
        json_object_set_new(res->data, "preview", rows);
        json_object_set_new(res->data, "fingerprint", json_string(fp));
        json_object_set(res->data, "computed", (json_t *)computed);
        json_object_set(res->data, "from_cache", (json_t *)hml_views_loaded(v));
        flush_cache(v, res);
    }
    hml_frame_free(f);
    hml_views_free(v);
    hml__project_free(p);
    return rc;
}

/* ---- list_views / view_dag ----------------------------------------------------------------------------- */

static void step_ops(const json_t *def, char *out, size_t cap)
{
    size_t i, len = 0;
    json_t *s;
    out[0] = 0;
    json_array_foreach(json_object_get(def, "steps"), i, s) {
        if (len + 24 >= cap) {
            snprintf(out + len, cap - len, ", …");
            return;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", hml_json_str(s, "op", "?"));
    }
}

DATA_ACTION(hml__data_list_views)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const json_t *views = json_object_get(p->cfg->root, "views");
    const char *fv = hml_json_str(json_object_get(p->cfg->root, "data"), "features_view", NULL);
    json_t *list = json_array();
    if (!json_object_size(views)) {
        hml_buf_puts(&res->text, "No views yet: data add_view --name <name> --source <source> --steps '[...]'\n");
    } else {
        hml_buf_puts(&res->text, "| view | source | steps | description |\n|---|---|---|---|\n");
    }
    const char *name;
    json_t *def;
    json_object_foreach((json_t *)views, name, def) {
        char ops[160];
        step_ops(def, ops, sizeof ops);
        bool is_fv = fv && !strcmp(fv, name);
        hml_buf_printf(&res->text, "| %s%s | %s | %s | %s |\n", name, is_fv ? " (features view)" : "",
                       hml_json_str(def, "source", ""), ops[0] ? ops : "—", hml_json_str(def, "description", ""));
        json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:s,s:b}", "name", name, "source",
                                              hml_json_str(def, "source", ""), "steps",
                                              (json_int_t)json_array_size(json_object_get(def, "steps")), "description",
                                              hml_json_str(def, "description", ""), "features_view", is_fv));
    }
    json_object_set_new(res->data, "views", list);
    json_object_set_new(res->data, "features_view", fv ? json_string(fv) : json_null());
    hml__project_free(p);
    return HML_OK;
}

/* Depth-first, inputs before the views that read them. */
static void topo_visit(const json_t *views, const char *name, json_t *done, json_t *order, size_t depth)
{
    if (json_object_get(done, name) || depth > HML_VIEW_DEPTH_MAX) return;
    json_object_set_new(done, name, json_true());
    const json_t *def = json_object_get(views, name);
    const char *refs[HML_VIEW_STEPS_MAX];
    size_t m = hml_view_step_refs(json_object_get(def, "steps"), refs, HML_VIEW_STEPS_MAX);
    const char *src = hml_json_str(def, "source", "");
    if (json_object_get(views, src)) topo_visit(views, src, done, order, depth + 1);
    for (size_t i = 0; i < m; i++)
        if (json_object_get(views, refs[i])) topo_visit(views, refs[i], done, order, depth + 1);
    json_array_append_new(order, json_string(name));
}

DATA_ACTION(hml__data_view_dag)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const json_t *root = p->cfg->root, *views = json_object_get(root, "views"), *sources = json_object_get(root, "sources");
    const char *fv = hml_json_str(json_object_get(root, "data"), "features_view", NULL);
    json_t *nodes = json_array(), *edges = json_array(), *order = json_array(), *done = json_object();
    const char *name;
    json_t *def;
    hml_buf_puts(&res->text, "Sources:");
    json_object_foreach((json_t *)sources, name, def) {
        hml_buf_printf(&res->text, " %s", name);
        json_array_append_new(nodes, json_pack("{s:s,s:s}", "name", name, "kind", "source"));
    }
    hml_buf_puts(&res->text, json_object_size(sources) ? "\n" : " (none)\n");
    json_object_foreach((json_t *)views, name, def) topo_visit(views, name, done, order, 0);
    hml_buf_puts(&res->text, json_array_size(order) ? "Views, inputs first:\n" : "No views yet.\n");
    size_t i;
    json_t *vn;
    json_array_foreach(order, i, vn) {
        const char *v = json_string_value(vn);
        def = json_object_get(views, v);
        const char *refs[HML_VIEW_STEPS_MAX + 1];
        size_t m = hml_view_step_refs(json_object_get(def, "steps"), refs + 1, HML_VIEW_STEPS_MAX);
        refs[0] = hml_json_str(def, "source", "");
        char ops[160];
        step_ops(def, ops, sizeof ops);
        hml_buf_printf(&res->text, "  %s ← %s", v, refs[0]);
        for (size_t k = 1; k <= m; k++) hml_buf_printf(&res->text, " + %s", refs[k]);
        hml_buf_printf(&res->text, "  [%s]%s\n", ops[0] ? ops : "no steps", fv && !strcmp(fv, v) ? "  ← features view" : "");
        json_array_append_new(nodes, json_pack("{s:s,s:s,s:b}", "name", v, "kind", "view", "features_view",
                                               fv && !strcmp(fv, v)));
        for (size_t k = 0; k <= m; k++)
            json_array_append_new(edges, json_pack("{s:s,s:s}", "from", refs[k], "to", v));
    }
    if (fv) hml_buf_printf(&res->text, "The prediction table comes from view '%s'.\n", fv);
    json_object_set_new(res->data, "nodes", nodes);
    json_object_set_new(res->data, "edges", edges);
    json_object_set_new(res->data, "order", order);
    json_decref(done);
    hml__project_free(p);
    return HML_OK;
}

/* ---- set_features_view -------------------------------------------------------------------------------- */

DATA_ACTION(hml__data_set_features_view)
{
    const char *name = hml_param_str(call, "name", "");
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    struct hml_views *v = NULL;
    struct hml_frame *f = NULL;
    struct hml_txn *txn = hml_txn_new();
    char *full = hml__project_path(p, HML_TABLE_FULL_FILE);
    if (!root || !txn || !full) rc = hml_fail(err, HML_ENOMEM, "data.set_features_view", "out of memory");
    if (!rc) rc = check_view_name(name, root, true, "data.set_features_view", err);
    if (!rc) rc = hml_views_open(p->dir, root, &v, err);
    if (!rc) rc = hml_views_materialise(v, name, &f, err);
    if (!rc && !f->ncols) {
        hml_fail(err, HML_EINVAL, "data.set_features_view", "view '%s' has no columns", name);
        rc = hml_hint(err, "a prediction table needs columns: check the view's select steps (data preview_view)");
    }
    if (!rc) rc = hml_config_set(root, "data.features_view", json_string(name), err);
    if (!rc) rc = hml_config_validate(root, err);
    if (!rc) rc = hml__stage_table(p, txn, f, HML_TABLE_FILE, err);
    bool was_sample = !rc && hml_path_exists(full);
    if (was_sample) rc = hml_txn_remove(txn, full, err);
    if (!rc) rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    if (!rc) {
        char a[32];
        const char *target = hml_json_str(json_object_get(root, "data"), "target_column", NULL);
        hml_buf_printf(&res->text, "The prediction table is now view '%s': %s rows × %zu columns (%s).\n", name,
                       hml__fmt_count(a, f->nrows), f->ncols, json_array_size(hml_views_computed(v)) ? "computed" : "from cache");
        if (target && hml_frame_find(f, target) < 0)
            hml_result_warn(res, "the view has no target column '%s'; add it to the view or change the target", target);
        if (was_sample) hml_result_warn(res, "the earlier sample was discarded: the view is the full table now");
        warn_all(res, hml_views_warnings(v));
        hml__columns_table(f, 25, &res->text);
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)f->nrows));
        json_object_set_new(res->data, "columns", hml__columns_json(f));
        json_object_set(res->data, "computed", (json_t *)hml_views_computed(v));
        json_object_set(res->data, "from_cache", (json_t *)hml_views_loaded(v));
        flush_cache(v, res);
    }
    hml_free(full);
    hml_txn_free(txn);
    hml_frame_free(f);
    hml_views_free(v);
    json_decref(root);
    hml__project_free(p);
    return rc;
}
