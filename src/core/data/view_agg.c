/* view_agg.c — group_by and cond_agg (one row per group, or per_row: aggregates added to
 * every row, with outcome columns summarised over the group's earlier rows only), and
 * hml_view_eval_by (column-wise formula functions per group). Rows are ordered by group
 * once; every aggregate is then one pass over each group's slice. */
#include "view_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/stats.h"

enum afn { A_SUM, A_MEAN, A_MIN, A_MAX, A_COUNT, A_STD, A_VAR, A_MEDIAN, A_FIRST, A_LAST, A_NUNIQUE, A__N };
static const char *const afn_names[] = {"sum", "mean", "min", "max", "count", "std", "var", "median",
                                        "first", "last", "nunique", NULL};

struct agg {
    char name[320];
    size_t src;     /* SIZE_MAX: "*" (count rows) */
    int fn;
    uint8_t *mask;  /* cond_agg: rows where the condition holds (owned); NULL = all rows */
    bool shift;     /* per_row over an outcome: earlier rows only */
};

struct aggs {
    struct agg a[HML_VIEW_AGGS_MAX];
    size_t n;
};

static void aggs_free(struct aggs *g)
{
    for (size_t i = 0; i < g->n; i++) hml_free(g->a[i].mask);
    hml_free(g);
}

static bool keeps_type(int fn) { return fn == A_MIN || fn == A_MAX || fn == A_FIRST || fn == A_LAST; }

static enum hml_status check_fn_type(struct vrun *r, const struct hml_frame *f, const struct agg *a,
                                     struct hml_error *err)
{
    if (a->src == SIZE_MAX) {
        if (a->fn == A_COUNT) return HML_OK;
        return hml__vr_fail(r, err, HML_EINVAL, "use \"*:count[:condition]\" to count rows, or name a column",
                            "'*' only works with count, not %s", afn_names[a->fn]);
    }
    const struct hml_column *c = f->cols[a->src];
    bool numeric = hml_column_is_numeric(c);
    if (numeric || keeps_type(a->fn) || a->fn == A_COUNT || a->fn == A_NUNIQUE) return HML_OK;
    return hml__vr_fail(r, err, HML_EINVAL, "min, max, first, last, count and nunique work on any column; cast "
                                            "text to numbers first for the others",
                        "%s needs numbers, but '%s' holds %s values", afn_names[a->fn], f->names[a->src],
                        hml_type_name(c->type));
}

static enum hml_status lookup_fn(struct vrun *r, const char *fn, int *out, struct hml_error *err)
{
    for (int i = 0; i < A__N; i++)
        if (!strcmp(afn_names[i], fn)) return *out = i, HML_OK;
    hml__vr_fail(r, err, HML_EINVAL, NULL, "unknown aggregate '%s'", fn);
    return hml_error_choices(err, fn, afn_names, A__N);
}

static enum hml_status add_agg(struct vrun *r, const struct hml_frame *f, struct aggs *g, const char *name,
                               const char *src, const char *fn, bool per_row, struct hml_error *err)
{
    if (g->n >= HML_VIEW_AGGS_MAX)
        return hml__vr_fail(r, err, HML_ELIMIT, "split the aggregates over several steps (HML_VIEW_AGGS_MAX)",
                            "more than %u aggregates", HML_VIEW_AGGS_MAX);
    struct agg *a = &g->a[g->n];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    enum hml_status rc = hml__vr_newname(r, name, err);
    if (!rc && !strcmp(src, "*")) a->src = SIZE_MAX;
    else if (!rc) rc = hml__vr_col(r, f, src, "aggs", &a->src, err);
    if (!rc) rc = lookup_fn(r, fn, &a->fn, err);
    if (!rc) rc = check_fn_type(r, f, a, err);
    if (rc) return rc;
    a->shift = per_row && a->src != SIZE_MAX && hml__vr_outcome(r, f->names[a->src]);
    if (a->shift && !hml_column_is_numeric(f->cols[a->src]))
        return hml__vr_fail(r, err, HML_EINVAL, "cast the outcome to numbers, or aggregate it without per_row",
                            "per_row aggregates of the outcome '%s' need a numeric column", f->names[a->src]);
    g->n++;
    return HML_OK;
}

static enum hml_status parse_group_aggs(struct vrun *r, const struct hml_frame *f, const json_t *step,
                                        bool per_row, struct aggs *g, struct hml_error *err)
{
    const json_t *map;
    enum hml_status rc = hml__vr_map(r, step, "aggs", &map, err);
    const char *col;
    json_t *v;
    if (rc) return rc;
    json_object_foreach((json_t *)map, col, v) {
        if (!json_is_string(v) && !(json_is_array(v) && json_array_size(v)))
            return hml__vr_fail(r, err, HML_EINVAL, "write {\"column\": \"mean\"} or {\"column\": [\"mean\", \"max\"]}",
                                "'aggs' entry '%s' must be a function name or a list of them", col);
        for (size_t i = 0; i < (json_is_string(v) ? 1 : json_array_size(v)); i++) {
            const char *fn = json_is_string(v) ? json_string_value(v) : json_string_value(json_array_get(v, i));
            char name[320];
            if (!fn) return hml__vr_fail(r, err, HML_EINVAL, "list function names", "'aggs' entry '%s' lists a non-string", col);
            snprintf(name, sizeof name, "%s_%s", col, fn);
            rc = add_agg(r, f, g, name, col, fn, per_row, err);
            if (rc) return rc;
        }
    }
    return HML_OK;
}

/* "col:fn[:condition]" → an aggregate with its mask. */
static enum hml_status parse_cond_aggs(struct vrun *r, const struct hml_frame *f, const json_t *step,
                                       bool per_row, struct aggs *g, struct hml_error *err)
{
    const json_t *map;
    enum hml_status rc = hml__vr_map(r, step, "aggs", &map, err);
    const char *name;
    json_t *v;
    if (rc) return rc;
    json_object_foreach((json_t *)map, name, v) {
        const char *spec = json_string_value(v), *rest = NULL;
        char src[256], fn[64];
        if (!spec || !hml__vr_split(spec, src, sizeof src, &rest) || !rest)
            return hml__vr_fail(r, err, HML_EINVAL, "write {\"new\": \"column:function[:condition]\"}, e.g. "
                                                    "{\"home_wins\": \"won:sum:is_home\"}",
                                "'aggs' entry '%s' must be \"column:function[:condition]\"", name);
        const char *cond = NULL;
        if (!hml__vr_split(rest, fn, sizeof fn, &cond))
            return hml__vr_fail(r, err, HML_EINVAL, "use a known function name", "'%s' has an unknown function", spec);
        rc = add_agg(r, f, g, name, src, fn, per_row, err);
        if (rc || !cond) {
            if (rc) return rc;
            continue;
        }
        struct hml_expr *e = NULL;
        size_t *rows = NULL, n = 0;
        rc = hml_expr_parse(cond, &e, err);
        if (!rc) rc = hml_expr_filter(e, f, NULL, &rows, &n, err);
        hml_expr_free(e);
        if (rc) {
            if (rc != HML_ENOMEM) hml_error_prefix(err, "condition of '%s'", name);
            hml_free(rows);
            return rc;
        }
        struct agg *a = &g->a[g->n - 1];
        a->mask = hml_calloc(f->nrows + 1, 1);
        if (!a->mask) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t i = 0; !rc && i < n; i++) a->mask[rows[i]] = 1;
        hml_free(rows);
        if (rc) return rc;
    }
    return HML_OK;
}

/* ---- per-group results --------------------------------------------------------------------------- */

/* A result per group: a row to gather (keeps type) or a number; or per row when shifted. */
struct result {
    size_t *rows;    /* keeps_type fns: a source row, SIZE_MAX = null */
    double *num;     /* otherwise: NaN = null                           */
    bool is_int;     /* count, nunique, int sums                        */
    bool overflow;
};

static inline bool present(const struct agg *a, const double *x, size_t row)
{
    if (a->mask && !a->mask[row]) return false;
    return a->src == SIZE_MAX || !isnan(x[row]);
}

static double seg_median(const struct agg *a, const double *x, const uint32_t *perm, size_t s, size_t e, double *buf)
{
    size_t m = 0;
    for (size_t q = s; q < e; q++)
        if (present(a, x, perm[q])) buf[m++] = x[perm[q]];
    return hml_median_inplace(buf, m);
}

/* Sum of ints with overflow detection. */
static double seg_int_sum(const struct agg *a, const struct hml_column *c, const double *x, const uint32_t *perm,
                          size_t s, size_t e, bool *overflow)
{
    int64_t sum = 0;
    for (size_t q = s; q < e; q++) {
        size_t row = perm[q];
        if (!present(a, x, row)) continue;
        int64_t v = c->type == HML_TYPE_I64 ? hml_i64(c)[row] : hml_bool(c)[row];
        if (__builtin_add_overflow(sum, v, &sum)) {
            *overflow = true;
            return NAN;
        }
    }
    return (double)sum;
}

static double seg_number(const struct agg *a, const struct hml_column *c, const double *x, const uint32_t *perm,
                         size_t s, size_t e, double *buf, bool *overflow)
{
    if (a->fn == A_MEDIAN) return seg_median(a, x, perm, s, e, buf);
    if (a->fn == A_SUM && c && c->type != HML_TYPE_F64) return seg_int_sum(a, c, x, perm, s, e, overflow);
    double sum = 0, comp = 0;
    size_t cnt = 0;
    for (size_t q = s; q < e; q++) {
        size_t row = perm[q];
        if (!present(a, x, row)) continue;
        cnt++;
        if (a->src == SIZE_MAX) continue;
        double v = x[row], t = sum + v;
        comp += fabs(sum) >= fabs(v) ? (sum - t) + v : (v - t) + sum;
        sum = t;
    }
    sum += comp;
    if (a->fn == A_COUNT) return (double)cnt;
    if (a->fn == A_SUM) return sum;
    if (!cnt) return NAN;
    double mean = sum / (double)cnt;
    if (a->fn == A_MEAN) return mean;
    if (cnt < 2) return NAN;
    double ss = 0;
    for (size_t q = s; q < e; q++)
        if (present(a, x, perm[q])) ss += (x[perm[q]] - mean) * (x[perm[q]] - mean);
    double var = ss / (double)(cnt - 1);
    return a->fn == A_VAR ? var : sqrt(var);
}

/* min/max by order key (first on ties), first/last present row. */
static size_t seg_row(const struct agg *a, const double *x, const uint64_t *keys, const uint32_t *perm, size_t s,
                      size_t e)
{
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < e - s; k++) {
        size_t q = a->fn == A_LAST ? e - 1 - k : s + k, row = perm[q];
        if (!present(a, x, row)) continue;
        if (a->fn == A_FIRST || a->fn == A_LAST) return row;
        if (best == SIZE_MAX || (a->fn == A_MIN ? keys[row] < keys[best] : keys[row] > keys[best])) best = row;
    }
    return best;
}

/* Distinct present values: stamp[id] remembers the last segment that saw the value. */
static double seg_nunique(const struct agg *a, const double *x, const uint32_t *ids, uint32_t *stamp, uint32_t tag,
                          const uint32_t *perm, size_t s, size_t e)
{
    size_t n = 0;
    for (size_t q = s; q < e; q++) {
        size_t row = perm[q];
        if (!present(a, x, row) || ids[row] == VG_NULL) continue;
        if (stamp[ids[row]] != tag) stamp[ids[row]] = tag, n++;
    }
    return (double)n;
}

/* Inputs of one aggregate: values as doubles (NaN = null; strings: 0 where present). */
struct ainput {
    double *x;
    bool borrowed; /* x is the column's own data (a float column without nulls) */
    uint64_t *keys;
    uint8_t *nullk;
    uint32_t *ids, *stamp;
    double *buf;
};

static void ainput_free(struct ainput *in)
{
    if (!in->borrowed) hml_free(in->x);
    hml_free(in->keys);
    hml_free(in->nullk);
    hml_free(in->ids);
    hml_free(in->stamp);
    hml_free(in->buf);
    memset(in, 0, sizeof *in);
}

static enum hml_status ainput_make(const struct hml_frame *f, const struct agg *a, struct ainput *in,
                                   struct hml_error *err)
{
    size_t n = f->nrows;
    memset(in, 0, sizeof *in);
    const struct hml_column *c = a->src == SIZE_MAX ? NULL : f->cols[a->src];
    if (!c) {
        in->x = hml_calloc(n + 1, sizeof *in->x);
        return in->x ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    in->borrowed = c->type == HML_TYPE_F64 && !c->valid && a->fn != A_MEDIAN;
    in->x = in->borrowed ? hml_f64(c) : hml__vcol_doubles(c);
    if (in->x && c->type == HML_TYPE_STR)
        for (size_t i = 0; i < n; i++) in->x[i] = hml_column_is_null(c, i) ? NAN : 0;
    if (!in->x) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    enum hml_status rc = HML_OK;
    bool by_value = c->type == HML_TYPE_F64 || c->type == HML_TYPE_BOOL;
    if ((a->fn == A_MIN || a->fn == A_MAX) && !by_value) rc = hml__vg_keys(c, &in->keys, &in->nullk, err);
    if (!rc && a->fn == A_MEDIAN && !(in->buf = hml_malloc((n + 1) * sizeof *in->buf)))
        rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (!rc && a->fn == A_NUNIQUE) {
        size_t nid;
        rc = hml__vg_factorize(f, &a->src, 1, false, &in->ids, &nid, err);
        if (!rc && !(in->stamp = hml_calloc(nid + 1, sizeof *in->stamp)))
            rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    if (rc) ainput_free(in);
    return rc;
}

/* Aggregates that do not depend on the order inside a group, in one pass over the rows
 * in row order: the per-group accumulators stay in cache, the rows are read sequentially. */
static bool order_free(const struct agg *a, bool ordered)
{
    switch (a->fn) {
    case A_SUM: case A_MEAN: case A_COUNT: case A_STD: case A_VAR: case A_MIN: case A_MAX: return true;
    case A_FIRST: case A_LAST: return !ordered;
    default: return false;
    }
}

struct accs {
    double *sum, *comp, *m2;
    size_t *cnt;
    int64_t *isum;
    uint8_t *ovf;
};

static void accs_free(struct accs *s)
{
    hml_free(s->sum);
    hml_free(s->comp);
    hml_free(s->m2);
    hml_free(s->cnt);
    hml_free(s->isum);
    hml_free(s->ovf);
}

static void rows_pick(const struct agg *a, const struct ainput *in, const uint32_t *gid, size_t n, size_t *best)
{
    const double *x = in->x;
    for (size_t i = 0; i < n; i++) {
        if (!present(a, x, i)) continue;
        size_t *b = &best[gid[i]];
        if (a->fn == A_FIRST) {
            if (*b == SIZE_MAX) *b = i;
        } else if (a->fn == A_LAST || *b == SIZE_MAX) {
            *b = i;
        } else if (in->keys ? (a->fn == A_MIN ? in->keys[i] < in->keys[*b] : in->keys[i] > in->keys[*b])
                            : (a->fn == A_MIN ? x[i] < x[*b] : x[i] > x[*b])) {
            *b = i;
        }
    }
}

static enum hml_status rows_numbers(const struct hml_column *c, const struct agg *a, const struct ainput *in,
                                    const struct hml__wplan *p, size_t n, struct result *res, struct hml_error *err)
{
    size_t ng = p->ng;
    bool ints = a->fn == A_SUM && c && c->type != HML_TYPE_F64;
    struct accs s = {0};
    s.cnt = hml_calloc(ng + 1, sizeof *s.cnt);
    if (ints) s.isum = hml_calloc(ng + 1, sizeof *s.isum), s.ovf = hml_calloc(ng + 1, 1);
    else s.sum = hml_calloc(ng + 1, sizeof *s.sum), s.comp = hml_calloc(ng + 1, sizeof *s.comp);
    if (a->fn == A_STD || a->fn == A_VAR) s.m2 = hml_calloc(ng + 1, sizeof *s.m2);
    if (!s.cnt || (ints && (!s.isum || !s.ovf)) || (!ints && (!s.sum || !s.comp)) ||
        ((a->fn == A_STD || a->fn == A_VAR) && !s.m2)) {
        accs_free(&s);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    const double *x = in->x;
    const uint32_t *gid = p->gid;
    for (size_t i = 0; i < n; i++) {
        if (!present(a, x, i)) continue;
        uint32_t g = gid[i];
        s.cnt[g]++;
        if (a->src == SIZE_MAX || a->fn == A_COUNT) continue;
        if (ints) {
            int64_t v = c->type == HML_TYPE_I64 ? hml_i64(c)[i] : hml_bool(c)[i];
            s.ovf[g] |= __builtin_add_overflow(s.isum[g], v, &s.isum[g]);
            continue;
        }
        double v = x[i], t = s.sum[g] + v;
        s.comp[g] += fabs(s.sum[g]) >= fabs(v) ? (s.sum[g] - t) + v : (v - t) + s.sum[g];
        s.sum[g] = t;
    }
    if (s.m2)
        for (size_t i = 0; i < n; i++) {
            if (!present(a, x, i)) continue;
            uint32_t g = gid[i];
            double d = x[i] - (s.sum[g] + s.comp[g]) / (double)s.cnt[g];
            s.m2[g] += d * d;
        }
    for (size_t g = 0; g < ng; g++) {
        double cnt = (double)s.cnt[g], sum = ints ? (double)s.isum[g] : s.sum[g] + s.comp[g];
        switch (a->fn) {
        case A_COUNT: res->num[g] = cnt; break;
        case A_SUM:
            res->num[g] = ints && s.ovf[g] ? NAN : sum;
            res->overflow |= ints && s.ovf[g];
            break;
        case A_MEAN: res->num[g] = s.cnt[g] ? sum / cnt : NAN; break;
        default: {
            double var = s.cnt[g] >= 2 ? s.m2[g] / (cnt - 1) : NAN;
            res->num[g] = a->fn == A_VAR ? var : sqrt(var);
        }
        }
    }
    accs_free(&s);
    return HML_OK;
}

/* One result per group (ng of them) into res. */
static enum hml_status reduce(const struct hml_frame *f, const struct agg *a, const struct hml__wplan *p,
                              struct result *res, struct hml_error *err)
{
    struct ainput in;
    memset(res, 0, sizeof *res);
    enum hml_status rc = ainput_make(f, a, &in, err);
    if (rc) return rc;
    const struct hml_column *c = a->src == SIZE_MAX ? NULL : f->cols[a->src];
    if (keeps_type(a->fn)) res->rows = hml_malloc((p->ng + 1) * sizeof *res->rows);
    else res->num = hml_malloc((p->ng + 1) * sizeof *res->num);
    if (!res->rows && !res->num) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    res->is_int = a->fn == A_COUNT || a->fn == A_NUNIQUE || (a->fn == A_SUM && c && c->type != HML_TYPE_F64);
    if (!rc && p->gid && order_free(a, p->ordered)) {
        if (res->rows) {
            for (size_t g = 0; g < p->ng; g++) res->rows[g] = SIZE_MAX;
            rows_pick(a, &in, p->gid, f->nrows, res->rows);
        } else {
            rc = rows_numbers(c, a, &in, p, f->nrows, res, err);
        }
        ainput_free(&in);
        return rc;
    }
    for (size_t g = 0; !rc && g < p->ng; g++) {
        size_t s = p->starts[g], e = p->starts[g + 1];
        if (res->rows) res->rows[g] = seg_row(a, in.x, in.keys, p->perm, s, e);
        else if (a->fn == A_NUNIQUE) res->num[g] = seg_nunique(a, in.x, in.ids, in.stamp, (uint32_t)g + 1, p->perm, s, e);
        else res->num[g] = seg_number(a, c, in.x, p->perm, s, e, in.buf, &res->overflow);
    }
    ainput_free(&in);
    return rc;
}

/* Per row, over the rows before it in its group (the shifted, expanding aggregate). */
static enum hml_status expanding(const struct hml_frame *f, const struct agg *a, const struct hml__wplan *p,
                                 struct result *res, struct hml_error *err)
{
    static const enum hml__wfn map[A__N] = {WF_SUM, WF_MEAN, WF_MIN, WF_MAX, WF_COUNT, WF_STD, WF_VAR,
                                            WF_MEDIAN, WF_FIRST, WF_LAST, WF__N};
    size_t n = f->nrows;
    struct ainput in;
    memset(res, 0, sizeof *res);
    enum hml_status rc = ainput_make(f, a, &in, err);
    double *xs = hml_malloc((n + 1) * sizeof *xs), *ys = hml_malloc((n + 1) * sizeof *ys);
    res->num = hml_malloc((n + 1) * sizeof *res->num);
    res->is_int = a->fn == A_COUNT || a->fn == A_NUNIQUE;
    if (!rc && (!xs || !ys || !res->num)) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t q = 0; !rc && q < n; q++) {
        size_t row = p->perm[q];
        xs[q] = a->mask && !a->mask[row] ? NAN : in.x[row];
    }
    for (size_t g = 0; !rc && g < p->ng; g++) {
        size_t s = p->starts[g], e = p->starts[g + 1], len = e - s;
        if (a->fn == A_NUNIQUE) {
            size_t distinct = 0;
            for (size_t q = s; q < e; q++) {
                ys[q] = (double)distinct;
                size_t row = p->perm[q];
                if (!isnan(xs[q]) && in.ids[row] != VG_NULL && in.stamp[in.ids[row]] != (uint32_t)g + 1)
                    in.stamp[in.ids[row]] = (uint32_t)g + 1, distinct++;
            }
            continue;
        }
        rc = hml__win_roll(xs + s, len, len, 1, map[a->fn], ys + s, err);
        memmove(ys + s + 1, ys + s, (len - 1) * sizeof *ys);
        ys[s] = NAN;
        if (a->fn == A_SUM || a->fn == A_COUNT)
            for (size_t q = s; q < e; q++)
                if (isnan(ys[q])) ys[q] = 0;
    }
    for (size_t q = 0; !rc && q < n; q++) res->num[p->perm[q]] = ys[q];
    hml_free(xs);
    hml_free(ys);
    ainput_free(&in);
    return rc;
}

static void result_free(struct result *r)
{
    hml_free(r->rows);
    hml_free(r->num);
}

/* Builds the output column: entry i of the result for output row i, through idx (idx[i] =
 * which result entry; NULL = identity). */
static struct hml_column *result_column(const struct hml_frame *f, const struct agg *a, const struct result *res,
                                        const size_t *idx, size_t n)
{
    if (res->rows) {
        size_t *rows = hml_malloc((n + 1) * sizeof *rows);
        if (!rows) return NULL;
        for (size_t i = 0; i < n; i++) rows[i] = res->rows[idx ? idx[i] : i];
        struct hml_column *c = hml__vcol_gather(f->cols[a->src], rows, n);
        hml_free(rows);
        return c;
    }
    if (res->is_int) {
        int64_t *y = hml_malloc((n + 1) * sizeof *y);
        uint8_t *null = hml_calloc(n + 1, 1);
        if (!y || !null) {
            hml_free(y);
            hml_free(null);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            double v = res->num[idx ? idx[i] : i];
            null[i] = isnan(v);
            y[i] = null[i] ? 0 : (int64_t)v;
        }
        struct hml_column *c = hml__vcol_from_i64(y, null, n);
        hml_free(null);
        return c;
    }
    double *y = hml_malloc((n + 1) * sizeof *y);
    if (!y) return NULL;
    for (size_t i = 0; i < n; i++) y[i] = res->num[idx ? idx[i] : i];
    return hml__vcol_from_doubles(y, n);
}

/* ---- the two steps ---------------------------------------------------------------------------------- */

/* One output row per group, ordered by the key values (nulls last). */
static enum hml_status reduce_frame(struct vrun *r, struct hml_frame **f, const size_t *keys, size_t nk,
                                    const struct aggs *g, const struct hml__wplan *p, struct hml_error *err)
{
    size_t ng = p->ng, *reps = hml_malloc((ng + 1) * sizeof *reps), *order = hml_malloc((ng + 1) * sizeof *order);
    struct hml_frame *kf = hml_frame_select(*f, keys, nk), *rep = NULL, *out = NULL;
    uint32_t *gperm = NULL;
    enum hml_status rc = reps && order && kf ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (!rc && p->perm)
        for (size_t q = 0; q < ng; q++) reps[q] = p->perm[p->starts[q]];
    else if (!rc) {
        /* ids are in first-appearance order: group q first shows up after group q-1 */
        for (size_t i = 0, q = 0; i < (*f)->nrows && q < ng; i++)
            if (p->gid[i] == q) reps[q++] = i;
    }
    if (!rc && !(rep = hml_frame_take(kf, reps, ng))) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    size_t all[HML_VIEW_KEYS_MAX];
    bool desc[HML_VIEW_KEYS_MAX] = {0};
    for (size_t k = 0; k < nk; k++) all[k] = k;
    if (!rc) rc = hml__vg_order(rep, NULL, 0, all, desc, nk, &gperm, NULL, err);
    for (size_t q = 0; !rc && q < ng; q++) order[q] = gperm[q];
    if (!rc && !(out = hml_frame_take(rep, order, ng))) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < g->n; i++) {
        struct result res;
        const struct agg *a = &g->a[i];
        if (hml_frame_find(out, a->name) >= 0) {
            rc = hml__vr_fail(r, err, HML_ECONFLICT, "aggregate the key column under another name (cond_agg), or "
                                                     "drop it from keys",
                              "the output '%s' is also a key column", a->name);
            break;
        }
        rc = reduce(*f, a, p, &res, err);
        if (!rc && res.overflow) hml__vr_warn(r, "an integer sum in '%s' overflowed; those groups are null", a->name);
        if (!rc) rc = hml__vr_put(out, a->name, result_column(*f, a, &res, order, ng), err);
        result_free(&res);
    }
    hml_free(reps);
    hml_free(order);
    hml_free(gperm);
    hml_frame_free(kf);
    hml_frame_free(rep);
    if (rc) {
        hml_frame_free(out);
        return rc;
    }
    hml_frame_free(*f);
    *f = out;
    return HML_OK;
}

/* Every row keeps its place and gets its group's aggregates (earlier rows only when shifted). */
static enum hml_status per_row_frame(struct vrun *r, struct hml_frame **f, const struct aggs *g,
                                     const struct hml__wplan *p, struct hml_error *err)
{
    size_t n = (*f)->nrows;
    struct hml_frame *in = hml_frame_clone(*f);
    enum hml_status rc = in ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    size_t *idx = hml_malloc((n + 1) * sizeof *idx);
    if (!rc && !idx) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) idx[i] = p->gid ? p->gid[i] : 0;
    for (size_t i = 0; !rc && i < g->n; i++) {
        const struct agg *a = &g->a[i];
        struct result res;
        if (a->shift) {
            hml__vr_warn(r, "'%s' summarises the outcome '%s', so each row sees only earlier rows of its group",
                         a->name, in->names[a->src]);
            rc = expanding(in, a, p, &res, err);
            if (!rc) rc = hml__vr_put(*f, a->name, result_column(in, a, &res, NULL, n), err);
        } else {
            rc = reduce(in, a, p, &res, err);
            if (!rc) rc = hml__vr_put(*f, a->name, result_column(in, a, &res, idx, n), err);
        }
        result_free(&res);
    }
    hml_free(idx);
    hml_frame_free(in);
    return rc;
}

static enum hml_status aggregate(struct vrun *r, const json_t *step, struct hml_frame **f, bool cond,
                                 struct hml_error *err)
{
    size_t keys[HML_VIEW_KEYS_MAX], nk = 0;
    bool per_row = hml_json_bool(step, "per_row", false);
    struct aggs *g = hml_calloc(1, sizeof *g);
    struct hml__wplan p = {0};
    enum hml_status rc = g ? hml__vr_cols(r, *f, step, "keys", keys, &nk, err)
                           : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (!rc && !nk) rc = hml__vr_fail(r, err, HML_EINVAL, "name the key column(s)", "'keys' is empty");
    if (!rc) rc = cond ? parse_cond_aggs(r, *f, step, per_row, g, err) : parse_group_aggs(r, *f, step, per_row, g, err);
    if (!rc && json_object_get(step, "order_by") && !per_row)
        hml__vr_warn(r, "order_by only orders first/last here; it matters most with per_row");
    bool need_order = json_object_get(step, "order_by") != NULL;
    for (size_t i = 0; g && i < g->n; i++) need_order |= g->a[i].shift || !order_free(&g->a[i], true);
    if (!rc && need_order) rc = hml__vr_plan(r, *f, step, "order_by", NULL, &p, err);
    else if (!rc) rc = hml__vg_factorize(*f, keys, nk, true, &p.gid, &p.ng, err);
    if (!rc) rc = per_row ? per_row_frame(r, f, g, &p, err) : reduce_frame(r, f, keys, nk, g, &p, err);
    hml__wplan_free(&p);
    if (g) aggs_free(g);
    return rc;
}

VSTEP(hml__vs_group_by) { return aggregate(r, step, f, false, err); }

VSTEP(hml__vs_cond_agg) { return aggregate(r, step, f, true, err); }

/* ---- formulas per group ------------------------------------------------------------------------------ */

/* Writes row i of c into row `row` of o (same type). */
static bool scatter_value(struct hml_column *o, size_t row, const struct hml_column *c, size_t i)
{
    if (hml_column_is_null(c, i)) return hml_column_set_null(o, row);
    switch (o->type) {
    case HML_TYPE_F64: hml_f64(o)[row] = hml_f64(c)[i]; break;
    case HML_TYPE_I64: hml_i64(o)[row] = hml_i64(c)[i]; break;
    case HML_TYPE_BOOL: hml_bool(o)[row] = hml_bool(c)[i]; break;
    case HML_TYPE_DATE: hml_days(o)[row] = hml_days(c)[i]; break;
    case HML_TYPE_STR: {
        int32_t code = hml_codes(c)[i];
        int32_t k = hml_dict_intern(o->dict, hml_dict_get(c->dict, code), hml_dict_len(c->dict, code));
        if (k < 0) return false;
        hml_codes(o)[row] = k;
        break;
    }
    }
    return true;
}

static enum hml_status eval_groups(const struct hml_expr *e, const struct hml_frame *sub, const struct hml__wplan *p,
                                   enum hml_type t, struct hml_column **out, struct hml_error *err)
{
    size_t n = sub->nrows, *rows = hml_malloc((n + 1) * sizeof *rows);
    struct hml_column *o = hml_column_new(t, n);
    enum hml_status rc = rows && o ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t g = 0; !rc && g < p->ng; g++) {
        size_t s = p->starts[g], m = p->starts[g + 1] - s;
        for (size_t q = 0; q < m; q++) rows[q] = p->perm[s + q];
        struct hml_frame *part = hml_frame_take(sub, rows, m);
        struct hml_column *c = NULL;
        rc = part ? hml_expr_eval(e, part, NULL, &c, err) : hml_fail(err, HML_ENOMEM, "view", "out of memory");
        HML_ASSERT(rc || c->type == t);
        for (size_t q = 0; !rc && q < m; q++)
            if (!scatter_value(o, rows[q], c, q)) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        hml_column_unref(c);
        hml_frame_free(part);
    }
    hml_free(rows);
    if (rc) {
        hml_column_unref(o);
        return rc;
    }
    *out = o;
    return HML_OK;
}

enum hml_status hml_view_eval_by(const struct hml_expr *e, const struct hml_frame *f,
                                 const char *const *keys, size_t nkeys,
                                 struct hml_column **out, struct hml_error *err)
{
    if (!nkeys || !hml_expr_columnwise(e)) return hml_expr_eval(e, f, NULL, out, err);
    if (nkeys > HML_VIEW_KEYS_MAX) {
        hml_fail(err, HML_ELIMIT, "view", "at most %u group_by columns", HML_VIEW_KEYS_MAX);
        return hml_hint(err, "group by fewer columns");
    }
    size_t kidx[HML_VIEW_KEYS_MAX], used[HML_EXPR_NODES_MAX], nu = 0, ncols;
    enum hml_type t;
    enum hml_status rc = hml_expr_check(e, f, NULL, &t, err);
    for (size_t k = 0; !rc && k < nkeys; k++) rc = hml_frame_lookup(f, keys[k], &kidx[k], err);
    if (rc) return rc;
    /* Only the columns the formula reads go into each group's slice. */
    const char *const *cols = hml_expr_columns(e, &ncols);
    for (size_t i = 0; i < ncols && nu < HML_EXPR_NODES_MAX; i++) {
        long j = hml_frame_find(f, cols[i]);
        if (j >= 0) used[nu++] = (size_t)j;
    }
    uint32_t *gid = NULL;
    struct hml__wplan p = {0};
    struct hml_frame *sub = hml_frame_select(f, used, nu);
    if (!sub) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    sub->nrows = f->nrows;
    rc = hml__vg_factorize(f, kidx, nkeys, true, &gid, &p.ng, err);
    if (!rc) rc = hml__vg_order(f, gid, p.ng, NULL, NULL, 0, &p.perm, &p.starts, err);
    p.gid = gid;
    if (!rc) rc = eval_groups(e, sub, &p, t, out, err);
    hml__wplan_free(&p);
    hml_frame_free(sub);
    return rc;
}
