/* view_basic.c — row and column steps: filter, select, derive, cast, sort, distinct,
 * isin, head, null_indicator, union, unpivot. */
#include "view_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- formulas -------------------------------------------------------------------------------- */

/* Parses a formula; in a dry pass, a column the data decides stops the pass (HML__VIEW_OPEN)
 * instead of failing. */
static enum hml_status expr_prep(struct vrun *r, const struct hml_frame *f, const char *src, const char *key,
                                 struct hml_expr **e, struct hml_error *err)
{
    enum hml_status rc = hml_expr_parse(src, e, err);
    if (rc) {
        hml_error_prefix(err, "'%s'", key);
        return rc;
    }
    size_t n;
    const char *const *cols = hml_expr_columns(*e, &n);
    for (size_t i = 0; r->dry && i < n; i++) {
        size_t idx;
        struct hml_error tmp;
        if (hml__vr_col(r, f, cols[i], key, &idx, &tmp) == HML__VIEW_OPEN) {
            hml_expr_free(*e);
            *e = NULL;
            return HML__VIEW_OPEN;
        }
    }
    return HML_OK;
}

/* Rows as size_t (what hml_frame_take wants). */
static struct hml_frame *take_u32(const struct hml_frame *f, const uint32_t *perm, size_t n)
{
    size_t *rows = hml_malloc((n + 1) * sizeof *rows);
    if (!rows) return NULL;
    for (size_t i = 0; i < n; i++) rows[i] = perm[i];
    struct hml_frame *g = hml_frame_take(f, rows, n);
    hml_free(rows);
    return g;
}

static enum hml_status replace_frame(struct hml_frame **f, struct hml_frame *g, struct hml_error *err)
{
    if (!g) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    hml_frame_free(*f);
    *f = g;
    return HML_OK;
}

/* Keeps the rows whose keep[] is set, in order. */
static enum hml_status keep_rows(struct hml_frame **f, const uint8_t *keep, struct hml_error *err)
{
    size_t n = (*f)->nrows, k = 0;
    for (size_t i = 0; i < n; i++) k += keep[i] != 0;
    if (k == n) return HML_OK;
    size_t *rows = hml_malloc((k + 1) * sizeof *rows);
    if (!rows) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i]) rows[k++] = i;
    struct hml_frame *g = hml_frame_take(*f, rows, k);
    hml_free(rows);
    return replace_frame(f, g, err);
}

VSTEP(hml__vs_filter)
{
    struct hml_expr *e = NULL;
    enum hml_status rc = expr_prep(r, *f, hml_json_str(step, "expr", ""), "expr", &e, err);
    if (rc) return rc;
    size_t *rows = NULL, n = 0;
    rc = hml_expr_filter(e, *f, NULL, &rows, &n, err);
    hml_expr_free(e);
    if (!rc && n != (*f)->nrows) rc = replace_frame(f, hml_frame_take(*f, rows, n), err);
    hml_free(rows);
    return rc;
}

VSTEP(hml__vs_derive)
{
    const json_t *map;
    enum hml_status rc = hml__vr_map(r, step, "columns", &map, err);
    const char *name;
    json_t *v;
    if (rc) return rc;
    json_object_foreach((json_t *)map, name, v) {
        const char *src = json_string_value(v);
        if (!src)
            return hml__vr_fail(r, err, HML_EINVAL, "write {\"new_column\": \"formula\"}, e.g. {\"ratio\": \"a / b\"}",
                                "the formula of '%s' must be a string", name);
        rc = hml__vr_newname(r, name, err);
        struct hml_expr *e = NULL;
        if (!rc) rc = expr_prep(r, *f, src, name, &e, err);
        struct hml_column *c = NULL;
        if (!rc) rc = hml_expr_eval(e, *f, NULL, &c, err);
        if (rc == HML_ENOTFOUND || rc == HML_EINVAL) hml_error_prefix(err, "formula of '%s'", name);
        if (!rc) {
            size_t nc;
            const char *const *cols = hml_expr_columns(e, &nc);
            for (size_t i = 0; i < nc; i++)
                if (hml__vr_outcome(r, cols[i]))
                    hml__vr_warn(r, "'%s' reads the outcome '%s': as a feature it would leak the answer", name,
                                 cols[i]);
            if (hml_expr_columnwise(e))
                hml__vr_warn(r, "'%s' uses a column-wise function, so each row's value depends on every row of "
                                "the view (all backtest folds)", name);
            rc = hml__vr_put(*f, name, c, err);
        }
        hml_expr_free(e);
        if (rc) return rc;
    }
    return HML_OK;
}

/* ---- select ----------------------------------------------------------------------------------- */

static enum hml_status select_rename(struct vrun *r, struct hml_frame **f, const json_t *map, struct hml_error *err)
{
    size_t n = json_object_size(map), k = 0, idx[HML_VIEW_AGGS_MAX];
    const char *names[HML_VIEW_AGGS_MAX], *name;
    json_t *v;
    if (!n || n > HML_VIEW_AGGS_MAX)
        return hml__vr_fail(r, err, n ? HML_ELIMIT : HML_EINVAL, "keep between 1 and 256 columns",
                            "'columns' has %zu entries", n);
    json_object_foreach((json_t *)map, name, v) {
        const char *src = json_string_value(v);
        if (!src)
            return hml__vr_fail(r, err, HML_EINVAL, "write {\"new_name\": \"source_column\"}",
                                "'columns' entry '%s' must name a source column", name);
        long j = hml_frame_find(*f, src);
        if (j < 0 && hml_frame_find(*f, name) >= 0) {
            hml__vr_fail(r, err, HML_ENOTFOUND, NULL, "unknown column '%s' in 'columns'", src);
            return hml_hint(err, "select renames as {new_name: source_column}: did you mean {\"%s\": \"%s\"}?", src,
                            name);
        }
        enum hml_status rc = hml__vr_col(r, *f, src, "columns", &idx[k], err);
        if (!rc) rc = hml__vr_newname(r, name, err);
        if (rc) return rc;
        names[k++] = name;
    }
    struct hml_frame *g = hml_frame_select(*f, idx, k);
    if (!g) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; i < k; i++) {
        char *copy = hml_strdup(names[i]);
        if (!copy) {
            hml_frame_free(g);
            return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        }
        hml_free(g->names[i]);
        g->names[i] = copy;
    }
    return replace_frame(f, g, err);
}

VSTEP(hml__vs_select)
{
    const json_t *cols = json_object_get(step, "columns");
    if (json_is_object(cols)) return select_rename(r, f, cols, err);
    json_t *one = json_is_string(cols) ? json_pack("[O]", cols) : NULL;
    if (json_is_string(cols) && !one) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (one) cols = one;
    size_t n = json_array_size(cols), *idx = hml_malloc((n + 1) * sizeof *idx);
    if (!idx) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    enum hml_status rc = n ? HML_OK
                           : hml__vr_fail(r, err, HML_EINVAL, "list the columns to keep, e.g. [\"id\", \"score\"]",
                                          "'columns' is empty");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = hml__vr_col(r, *f, json_string_value(json_array_get(cols, i)), "columns", &idx[i], err);
        for (size_t k = 0; !rc && k < i; k++)
            if (idx[k] == idx[i])
                rc = hml__vr_fail(r, err, HML_EINVAL, "name each column once", "'columns' names '%s' twice",
                                  (*f)->names[idx[i]]);
    }
    if (!rc) rc = replace_frame(f, hml_frame_select(*f, idx, n), err);
    hml_free(idx);
    json_decref(one);
    return rc;
}

/* ---- cast ------------------------------------------------------------------------------------ */

static bool parse_bool_text(const char *s, uint8_t *out)
{
    static const char *const yes[] = {"true", "1", "yes", "y", "t"}, *const no[] = {"false", "0", "no", "n", "f"};
    for (size_t i = 0; i < 5; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, true;
        if (!strcasecmp(s, no[i])) return *out = 0, true;
    }
    return false;
}

static bool parse_num_text(const char *s, double *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* One value of c (row i, non-null) converted into row i of o: 1 done, 0 does not convert,
 * -1 out of memory. */
static int cast_value(const struct hml_column *c, size_t i, struct hml_column *o)
{
    const char *s = c->type == HML_TYPE_STR ? hml_column_str(c, i) : NULL;
    double v = s ? NAN : hml_column_num(c, i);
    switch (o->type) {
    case HML_TYPE_F64:
        if (s && !parse_num_text(s, &v)) return false;
        hml_f64(o)[i] = v;
        return true;
    case HML_TYPE_I64:
        if (s && !parse_num_text(s, &v)) return false;
        if (!(fabs(v) < 9.2e18)) return false;
        hml_i64(o)[i] = (int64_t)v; /* toward zero */
        return true;
    case HML_TYPE_BOOL:
        if (s) return parse_bool_text(s, &hml_bool(o)[i]);
        hml_bool(o)[i] = v != 0;
        return true;
    case HML_TYPE_DATE: {
        int32_t d;
        size_t len = strlen(s);
        if (len > 10 && (s[10] == ' ' || s[10] == 'T')) len = 10;
        if (!hml_date_parse(s, len, &d)) return false;
        hml_days(o)[i] = d;
        return true;
    }
    case HML_TYPE_STR: {
        char buf[64];
        size_t len = hml_column_format(c, i, buf, sizeof buf);
        int32_t code = hml_dict_intern(o->dict, buf, len);
        if (code < 0) return -1;
        hml_codes(o)[i] = code;
        return true;
    }
    }
    return false;
}

static enum hml_status cast_column(struct vrun *r, struct hml_frame *f, size_t j, enum hml_type t,
                                   struct hml_error *err)
{
    const struct hml_column *c = f->cols[j];
    if (c->type == t) return HML_OK;
    if (t == HML_TYPE_STR && c->type == HML_TYPE_STR) return HML_OK;
    if (t == HML_TYPE_DATE && c->type != HML_TYPE_STR)
        return hml__vr_fail(r, err, HML_EINVAL, "dates are read from text like '2024-01-31'; cast numbers to int instead",
                            "cannot cast the %s column '%s' to date", hml_type_name(c->type), f->names[j]);
    struct hml_column *o = hml_column_new(t, c->n);
    if (!o) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    size_t lost = 0;
    for (size_t i = 0; i < c->n; i++) {
        bool null = hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]));
        int done = null ? 0 : cast_value(c, i, o);
        if (done > 0) continue;
        if (done < 0 || !hml_column_set_null(o, i)) {
            hml_column_unref(o);
            return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        }
        lost += !null;
    }
    if (lost)
        hml__vr_warn(r, "%zu value(s) of '%s' did not convert to %s and became null", lost, f->names[j],
                     hml_type_name(t));
    enum hml_status rc = hml_frame_replace(f, j, o, err);
    hml_column_unref(o);
    return rc;
}

VSTEP(hml__vs_cast)
{
    const json_t *map;
    enum hml_status rc = hml__vr_map(r, step, "columns", &map, err);
    const char *name;
    json_t *v;
    if (rc) return rc;
    static const char *const types[] = {"float", "int", "bool", "string", "date"};
    json_object_foreach((json_t *)map, name, v) {
        size_t j;
        enum hml_type t;
        const char *tn = json_string_value(v);
        rc = hml__vr_col(r, *f, name, "columns", &j, err);
        if (rc) return rc;
        if (!tn || !hml_type_parse(tn, &t)) {
            hml__vr_fail(r, err, HML_EINVAL, NULL, "unknown type '%s' for '%s'", tn ? tn : "(not a string)", name);
            return hml_error_choices(err, tn ? tn : "", types, 5);
        }
        rc = cast_column(r, *f, j, t, err);
        if (rc) return rc;
    }
    return HML_OK;
}

/* ---- sort, distinct, head ---------------------------------------------------------------------- */

VSTEP(hml__vs_sort)
{
    size_t by[HML_VIEW_KEYS_MAX], n = 0;
    bool asc[HML_VIEW_KEYS_MAX], desc[HML_VIEW_KEYS_MAX];
    enum hml_status rc = hml__vr_cols(r, *f, step, "by", by, &n, err);
    if (!rc && !n) rc = hml__vr_fail(r, err, HML_EINVAL, "name the column(s) to sort by", "'by' is empty");
    if (!rc) rc = hml__vr_bools(r, step, "ascending", n, true, asc, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) desc[i] = !asc[i];
    uint32_t *perm = NULL;
    rc = hml__vg_order(*f, NULL, 0, by, desc, n, &perm, NULL, err);
    if (!rc) rc = replace_frame(f, take_u32(*f, perm, (*f)->nrows), err);
    hml_free(perm);
    return rc;
}

VSTEP(hml__vs_distinct)
{
    static const char *const keeps[] = {"first", "last", NULL};
    size_t cols[HML_VIEW_KEYS_MAX], n = 0;
    int keep;
    enum hml_status rc = hml__vr_cols(r, *f, step, "columns", cols, &n, err);
    if (!rc) rc = hml__vr_choice(r, step, "keep", keeps, 0, &keep, err);
    if (rc) return rc;
    size_t *all = NULL;
    if (!n) {
        /* Every column: more than HML_VIEW_KEYS_MAX is fine here. */
        all = hml_malloc(((*f)->ncols + 1) * sizeof *all);
        if (!all) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t j = 0; j < (*f)->ncols; j++) all[j] = j;
    }
    uint32_t *gid = NULL;
    size_t ng = 0, rows = (*f)->nrows;
    rc = hml__vg_factorize(*f, all ? all : cols, all ? (*f)->ncols : n, true, &gid, &ng, err);
    hml_free(all);
    uint8_t *keepv = rc ? NULL : hml_calloc(rows + 1, 1);
    uint8_t *seen = rc ? NULL : hml_calloc(ng + 1, 1);
    if (!rc && (!keepv || !seen)) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t k = 0; !rc && k < rows; k++) {
        size_t i = keep ? rows - 1 - k : k;
        if (!seen[gid[i]]) seen[gid[i]] = 1, keepv[i] = 1;
    }
    if (!rc) rc = keep_rows(f, keepv, err);
    hml_free(gid);
    hml_free(keepv);
    hml_free(seen);
    return rc;
}

VSTEP(hml__vs_head)
{
    static const char *const positions[] = {"first", "last", NULL};
    long long n;
    int pos;
    size_t no;
    const char *names[HML_VIEW_KEYS_MAX];
    bool asc[HML_VIEW_KEYS_MAX], desc[HML_VIEW_KEYS_MAX];
    enum hml_status rc = hml__vr_int(r, step, "n", 1, HML_VIEW_WINDOW_MAX, 1, &n, err);
    if (!rc) rc = hml__vr_choice(r, step, "position", positions, 0, &pos, err);
    if (!rc) rc = hml__vr_names(r, step, "order_by", names, &no, err);
    if (!rc) rc = hml__vr_bools(r, step, "ascending", no, true, asc, err);
    for (size_t i = 0; i < no; i++) desc[i] = !asc[i];
    struct hml__wplan p;
    if (!rc) rc = hml__vr_plan(r, *f, step, "order_by", desc, &p, err);
    if (rc) return rc;
    uint8_t *keep = hml_calloc((*f)->nrows + 1, 1);
    if (!keep) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t g = 0; !rc && g < p.ng; g++) {
        size_t a = p.starts[g], b = p.starts[g + 1], k = (size_t)n < b - a ? (size_t)n : b - a;
        size_t from = pos ? b - k : a;
        for (size_t q = from; q < from + k; q++) keep[p.perm[q]] = 1;
    }
    if (!rc) rc = keep_rows(f, keep, err);
    hml_free(keep);
    hml__wplan_free(&p);
    return rc;
}

/* ---- isin ---------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The values as numbers for a numeric or date column; false with a message otherwise. */
static enum hml_status isin_numbers(struct vrun *r, const struct hml_column *c, const json_t *values, double *set,
                                    size_t *n, bool *has_null, struct hml_error *err)
{
    size_t i;
    json_t *v;
    *n = 0;
    json_array_foreach(values, i, v) {
        double x;
        int32_t d;
        if (json_is_null(v)) *has_null = true;
        else if (c->type == HML_TYPE_DATE && json_is_string(v) &&
                 hml_date_parse(json_string_value(v), strlen(json_string_value(v)), &d))
            set[(*n)++] = d;
        else if (c->type != HML_TYPE_DATE && json_is_number(v)) set[(*n)++] = json_number_value(v);
        else if (c->type != HML_TYPE_DATE && json_is_boolean(v)) set[(*n)++] = json_is_true(v);
        else if (c->type != HML_TYPE_DATE && json_is_string(v) && parse_num_text(json_string_value(v), &x))
            set[(*n)++] = x;
        else
            return hml__vr_fail(r, err, HML_EINVAL,
                                c->type == HML_TYPE_DATE ? "list dates as 'YYYY-MM-DD' strings" : "list numbers",
                                "value %zu of 'values' does not fit the %s column", i + 1, hml_type_name(c->type));
    }
    qsort(set, *n, sizeof *set, cmp_double);
    return HML_OK;
}

VSTEP(hml__vs_isin)
{
    size_t j;
    const json_t *values = json_object_get(step, "values");
    enum hml_status rc = hml__vr_col(r, *f, hml_json_str(step, "column", ""), "column", &j, err);
    if (rc) return rc;
    if (json_array_size(values) > 100000)
        return hml__vr_fail(r, err, HML_ELIMIT, "filter with a join against a view of the values instead",
                            "'values' has %zu entries; the limit is 100000", json_array_size(values));
    const struct hml_column *c = (*f)->cols[j];
    bool negate = hml_json_bool(step, "negate", false), has_null = false;
    size_t rows = (*f)->nrows, nset = 0;
    uint8_t *keep = hml_calloc(rows + 1, 1), *codes = NULL;
    double *set = hml_malloc((json_array_size(values) + 1) * sizeof *set);
    if (!keep || !set) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (!rc && c->type == HML_TYPE_STR) {
        codes = hml_calloc(hml_dict_size(c->dict) + 1, 1);
        size_t i;
        json_t *v;
        if (!codes) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        json_array_foreach(values, i, v) {
            char buf[64];
            const char *s = json_string_value(v);
            if (json_is_null(v)) {
                has_null = true;
                continue;
            }
            if (!s && json_is_integer(v)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)), s = buf;
            else if (!s && json_is_real(v)) snprintf(buf, sizeof buf, "%.17g", json_real_value(v)), s = buf;
            if (!s) {
                rc = hml__vr_fail(r, err, HML_EINVAL, "list strings", "value %zu of 'values' is not text", i + 1);
                break;
            }
            int32_t code = codes ? hml_dict_find(c->dict, s, strlen(s)) : -1;
            if (code >= 0) codes[code] = 1;
        }
    } else if (!rc) {
        rc = isin_numbers(r, c, values, set, &nset, &has_null, err);
    }
    for (size_t i = 0; !rc && i < rows; i++) {
        bool in;
        if (hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]))) in = has_null;
        else if (codes) in = codes[hml_codes(c)[i]];
        else {
            double x = hml_column_num(c, i);
            in = bsearch(&x, set, nset, sizeof *set, cmp_double) != NULL;
        }
        keep[i] = in != negate;
    }
    if (!rc) rc = keep_rows(f, keep, err);
    hml_free(keep);
    hml_free(codes);
    hml_free(set);
    return rc;
}

/* ---- null_indicator ---------------------------------------------------------------------------- */

VSTEP(hml__vs_null_indicator)
{
    size_t cols[HML_VIEW_KEYS_MAX], n = 0;
    const char *prefix = hml_json_str(step, "prefix", "missing_");
    enum hml_status rc = hml__vr_cols(r, *f, step, "columns", cols, &n, err);
    if (rc) return rc;
    bool given = json_object_get(step, "columns") != NULL;
    if (!given && r->dry && r->open_n < VIEW_OPEN_MAX)
        snprintf(r->open_prefix[r->open_n++], sizeof r->open_prefix[0], "%s", prefix);
    size_t ncols = (*f)->ncols;
    for (size_t j = 0; !rc && j < (given ? n : ncols); j++) {
        size_t k = given ? cols[j] : j;
        const struct hml_column *c = (*f)->cols[k];
        if (!given && !c->null_count) continue;
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, (*f)->names[k]);
        int64_t *y = hml_malloc((c->n + 1) * sizeof *y);
        if (!y) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t i = 0; i < c->n; i++) y[i] = hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]));
        rc = hml__vr_put(*f, name, hml__vcol_from_i64(y, NULL, c->n), err);
    }
    return rc;
}

/* ---- union, unpivot --------------------------------------------------------------------------------- */

static enum hml_status resolve(struct vrun *r, const char *name, struct hml_frame **out, struct hml_error *err)
{
    if (!r->ctx->resolve) {
        hml__vr_fail(r, err, HML_ENOTFOUND, "join and union read other sources or views of a project",
                     "no source or view named '%s'", name);
        return HML_ENOTFOUND;
    }
    enum hml_status rc = r->ctx->resolve(r->ctx->resolve_ud, name, out, err);
    if (!rc && r->dry && (*out)->nrows) {
        struct hml_frame *z = hml_frame_take(*out, NULL, 0);
        hml_frame_free(*out);
        *out = z;
        if (!z) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    return rc;
}

enum hml_status hml__vr_other(struct vrun *r, const json_t *step, struct hml_frame **out, struct hml_error *err)
{
    return resolve(r, hml_json_str(step, "other", ""), out, err);
}

VSTEP(hml__vs_union)
{
    struct hml_frame *o = NULL, *g = NULL;
    enum hml_status rc = hml__vr_other(r, step, &o, err);
    if (!rc) rc = hml_frame_concat(*f, o, &g, err);
    hml_frame_free(o);
    if (!rc) rc = replace_frame(f, g, err);
    return rc;
}

#define UNPIVOT_MAX 64u

struct unpivot {
    size_t nnew, k;
    const char *newname[HML_VIEW_KEYS_MAX];
    size_t src[HML_VIEW_KEYS_MAX][UNPIVOT_MAX];
    size_t ids[HML_VIEW_AGGS_MAX], nids;
};

static enum hml_status unpivot_parse(struct vrun *r, const struct hml_frame *f, const json_t *step,
                                     struct unpivot *u, struct hml_error *err)
{
    const json_t *map = json_object_get(step, "unpivot_columns");
    const char *name;
    json_t *v;
    memset(u, 0, sizeof *u);
    if (!json_object_size(map) || json_object_size(map) > HML_VIEW_KEYS_MAX)
        return hml__vr_fail(r, err, HML_EINVAL, "e.g. {\"team\": [\"home_team\", \"away_team\"]}",
                            "'unpivot_columns' must map 1 to %u new columns to lists of source columns",
                            HML_VIEW_KEYS_MAX);
    json_object_foreach((json_t *)map, name, v) {
        size_t k = json_array_size(v);
        if (!json_is_array(v) || !k || k > UNPIVOT_MAX || (u->nnew && k != u->k))
            return hml__vr_fail(r, err, HML_EINVAL,
                                "give every new column a list of source columns, all lists the same length",
                                "'unpivot_columns' entry '%s' must be a list of %s source columns", name,
                                u->nnew ? "as many" : "1 to 64");
        u->k = k;
        u->newname[u->nnew] = name;
        for (size_t i = 0; i < k; i++) {
            const char *s = json_string_value(json_array_get(v, i));
            if (!s) return hml__vr_fail(r, err, HML_EINVAL, "list column names", "'%s' lists a non-string", name);
            enum hml_status rc = hml__vr_col(r, f, s, "unpivot_columns", &u->src[u->nnew][i], err);
            if (rc) return rc;
        }
        u->nnew++;
    }
    if (json_object_get(step, "id_columns")) {
        const char *names[HML_VIEW_KEYS_MAX];
        size_t n;
        enum hml_status rc = hml__vr_names(r, step, "id_columns", names, &n, err);
        for (size_t i = 0; !rc && i < n; i++) rc = hml__vr_col(r, f, names[i], "id_columns", &u->ids[i], err);
        u->nids = n;
        return rc;
    }
    for (size_t j = 0; j < f->ncols && u->nids < HML_VIEW_AGGS_MAX; j++) {
        bool used = false;
        for (size_t a = 0; a < u->nnew; a++)
            for (size_t i = 0; i < u->k; i++) used |= u->src[a][i] == j;
        if (!used) u->ids[u->nids++] = j;
    }
    return HML_OK;
}

/* The block of output rows for position i: id columns, the i-th sources renamed, and the
 * names column. */
static enum hml_status unpivot_block(struct vrun *r, const struct hml_frame *f, const json_t *step,
                                     const struct unpivot *u, size_t i, struct hml_frame **out, struct hml_error *err)
{
    struct hml_frame *g = hml_frame_select(f, u->ids, u->nids);
    enum hml_status rc = g ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t a = 0; !rc && a < u->nnew; a++) {
        if (hml_frame_find(g, u->newname[a]) >= 0)
            rc = hml__vr_fail(r, err, HML_ECONFLICT, "rename the new column or leave that id column out",
                              "the new column '%s' is also an id column", u->newname[a]);
        else rc = hml_frame_add(g, u->newname[a], f->cols[u->src[a][i]], err);
    }
    const char *names_col = hml_json_str(step, "names_column", NULL);
    if (!rc && names_col) {
        const char *src = f->names[u->src[0][i]];
        const char *label = hml_json_str(json_object_get(step, "names_map"), src, src);
        struct hml_column *c = hml_column_new(HML_TYPE_STR, f->nrows);
        int32_t code = c ? hml_dict_intern(c->dict, label, strlen(label)) : -1;
        if (code < 0) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t q = 0; !rc && q < f->nrows; q++) hml_codes(c)[q] = code;
        if (!rc && hml_frame_find(g, names_col) >= 0)
            rc = hml__vr_fail(r, err, HML_ECONFLICT, "pick another names_column", "names_column '%s' already exists",
                              names_col);
        if (!rc) rc = hml_frame_add(g, names_col, c, err);
        hml_column_unref(c);
    }
    if (rc) {
        hml_frame_free(g);
        return rc;
    }
    *out = g;
    return HML_OK;
}

VSTEP(hml__vs_unpivot)
{
    struct unpivot *u = hml_malloc(sizeof *u);
    if (!u) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    enum hml_status rc = unpivot_parse(r, *f, step, u, err);
    const json_t *nm = json_object_get(step, "names_map");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)nm, k, v) if (!rc && !json_is_string(v))
        rc = hml__vr_fail(r, err, HML_EINVAL, "map source names to labels, e.g. {\"home_team\": \"home\"}",
                          "'names_map' entry '%s' must be a string", k);
    struct hml_frame *acc = NULL;
    for (size_t i = 0; !rc && i < u->k; i++) {
        struct hml_frame *b = NULL, *c = NULL;
        rc = unpivot_block(r, *f, step, u, i, &b, err);
        if (!rc && !acc) acc = b, b = NULL;
        else if (!rc) {
            rc = hml_frame_concat(acc, b, &c, err);
            hml_frame_free(acc);
            acc = c;
        }
        hml_frame_free(b);
    }
    hml_free(u);
    if (rc) {
        hml_frame_free(acc);
        return rc;
    }
    return replace_frame(f, acc, err);
}
